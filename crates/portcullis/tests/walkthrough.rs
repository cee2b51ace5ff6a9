//! The seed walkthrough through the real `portcullis` binary: a real `docker-registry`, `portcullis serve` with
//! the embedded SQLite store and a vulnerability database imported from `../shared/vulndata/debian`, then the
//! CLI a user types — image add → wait → vuln → policy add + activate → evaluate check — and finally an
//! AdmissionReview captured from a real kube-apiserver (its image rewritten to the pushed one) that `/validate`
//! denies with the same CVE, recorded in the audit trail. Then the registry is stopped and the database files
//! are unlinked, and the webhook must keep answering from memory.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Serve, cli, shared};
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage, free_port};

const TOKEN: &str = "walkthrough-admin-token";

/// A Debian 12 image whose libc6 (source glibc) is 2.36-9+deb12u2: CVE-2023-4911 is fixed in 2.36-9+deb12u3
/// (DSA-5514-1, in the shared Debian tracker records).
fn write_image(dir: &Path) {
    let status = "Package: libc6\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
                  Installed-Size: 12988\nMaintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n\
                  Architecture: amd64\nMulti-Arch: same\nSource: glibc\nVersion: 2.36-9+deb12u2\n\
                  Description: GNU C Library: Shared libraries\n\n";
    let os_release = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                      VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let m = w
        .image(&TestImage::new(vec![
            LayerBuilder::new()
                .file("etc/os-release", os_release)
                .file("var/lib/dpkg/status", status)
                .tar(),
        ]))
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
}

#[test]
fn seed_walkthrough_through_the_binary() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    write_image(&tmp.path().join("oci"));
    reg.push(&tmp.path().join("oci"), "v1", "walk/app:1", false)
        .expect("push the test image");
    let image = format!("{}/walk/app:1", reg.addr);

    let vuln_db = tmp.path().join("vuln.db");
    let debian = shared().join("vulndata/debian");
    let (code, _, err) = cli(
        &[],
        &[
            "db",
            "import",
            debian.to_str().unwrap(),
            "--db",
            vuln_db.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "db import failed: {err}");

    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        "default: { mode: policy, policy: default, mutate: false }\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let port = free_port().unwrap();
    let _serve = Serve(
        Command::new(BIN)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                // The local registry, allowed explicitly (serve refuses loopback registries otherwise).
                "--insecure-registry",
                &reg.addr,
                "--vuln-db",
            ])
            .arg(&vuln_db)
            .arg("-c")
            .arg(&config)
            .env("PORTCULLIS_DATA_DIR", &data)
            .env("PORTCULLIS_ADMIN_TOKEN", TOKEN)
            // Offline: no sync from the public upstream sources.
            .env("PORTCULLIS_VULN_SYNC_INTERVAL", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start portcullis serve"),
    );
    let env = [
        ("PORTCULLIS_URL", format!("https://127.0.0.1:{port}")),
        ("PORTCULLIS_TOKEN", TOKEN.to_string()),
        ("PORTCULLIS_DATA_DIR", data.display().to_string()),
    ];

    // The engine comes up (the client trusts the CA serve generated in its data directory).
    let started = Instant::now();
    loop {
        let (code, out, err) = cli(&env, &["system", "status", "--json"]);
        if code == 0 {
            assert!(
                out.contains("sqlite"),
                "status names the embedded store: {out}"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not come up: {err}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let (code, out, err) = cli(&env, &["image", "add", &image]);
    assert_eq!(code, 0, "image add: {out}{err}");
    let (code, out, err) = cli(
        &env,
        &[
            "image",
            "wait",
            &image,
            "--timeout",
            "120",
            "--interval",
            "1",
        ],
    );
    assert_eq!(code, 0, "image wait: {out}{err}");
    assert!(out.contains("analyzed"), "{out}");

    let (code, out, err) = cli(&env, &["image", "vuln", &image]);
    assert_eq!(code, 0, "image vuln: {err}");
    let row = out
        .lines()
        .find(|l| l.starts_with("CVE-2023-4911 "))
        .unwrap_or_else(|| panic!("CVE-2023-4911 missing from the vulnerability list:\n{out}"));
    assert!(row.contains("libc6"), "{row}");
    assert!(
        row.contains("2.36-9+deb12u3"),
        "fixed-in version shown: {row}"
    );
    assert!(
        row.contains("https://security-tracker.debian.org/tracker/CVE-2023-4911"),
        "URL shown: {row}"
    );

    let bundle = tmp.path().join("bundle.json");
    std::fs::write(
        &bundle,
        serde_json::json!({
            "id": "walk", "name": "walkthrough", "version": "1_0", "comment": "",
            "whitelisted_images": [], "blacklisted_images": [], "whitelists": [],
            "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
                          "image": {"type": "tag", "value": "*"}, "policy_ids": ["fixable"], "whitelist_ids": []}],
            "policies": [{"id": "fixable", "name": "fixable", "version": "1_0", "comment": "", "rules": [
                {"id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "STOP",
                 "params": [{"name": "package_type", "value": "all"},
                            {"name": "severity_comparison", "value": ">="},
                            {"name": "severity", "value": "unknown"},
                            {"name": "fix_available", "value": "true"}]}]}]
        })
        .to_string(),
    )
    .unwrap();
    let (code, out, err) = cli(&env, &["policy", "add", bundle.to_str().unwrap()]);
    assert_eq!(code, 0, "policy add: {out}{err}");
    let (code, out, err) = cli(&env, &["policy", "activate", "walk"]);
    assert_eq!(code, 0, "policy activate: {out}{err}");
    assert!(out.contains("true"), "walk is active: {out}");

    let (code, out, err) = cli(&env, &["evaluate", "check", &image, "--detail"]);
    assert_eq!(code, 1, "a failing image exits 1: {out}{err}");
    assert!(out.contains("STOP"), "{out}");
    assert!(
        out.contains("CVE-2023-4911+libc6"),
        "the row that caused it: {out}"
    );

    // A Pod review captured from a real kube-apiserver, its image rewritten to the pushed one.
    let fixture = shared().join("fixtures/admission-review/014-validate-create-pod-main-solo.json");
    let mut review: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    let spec = &mut review["request"]["object"]["spec"];
    for c in spec["containers"].as_array_mut().unwrap() {
        c["image"] = serde_json::Value::String(image.clone());
    }
    if let Some(o) = spec.as_object_mut() {
        o.remove("initContainers");
        o.remove("ephemeralContainers");
    }
    let uid = review["request"]["uid"].as_str().unwrap().to_string();
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(data.join("tls/ca.crt")).unwrap()).unwrap();
    let http = reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    // The webhook answers from a verdict snapshot the engine refreshes in the background.
    let started = Instant::now();
    let response = loop {
        let r: serde_json::Value = http
            .post(format!("https://localhost:{port}/validate?timeout=10s"))
            .json(&review)
            .send()
            .and_then(|r| r.json())
            .expect("validate");
        let message = r["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if message.contains("CVE-2023-4911") || started.elapsed() > Duration::from_secs(30) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let resp = &response["response"];
    assert_eq!(resp["uid"], uid.as_str());
    assert_eq!(resp["allowed"], false, "{response}");
    assert_eq!(resp["status"]["code"], 403);
    let message = resp["status"]["message"].as_str().unwrap();
    assert!(message.contains(&image), "{message}");
    assert!(message.contains("CVE-2023-4911"), "{message}");
    assert!(message.contains("fixed in 2.36-9+deb12u3"), "{message}");

    // The decision is in the audit trail.
    let decisions: serde_json::Value = http
        .get(format!("https://localhost:{port}/v1/decisions"))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.json())
        .expect("decisions");
    let recorded = decisions
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["uid"] == uid.as_str() && d["allowed"] == false && d["mode"] == "policy");
    assert!(recorded, "denial recorded in the audit trail: {decisions}");

    // Never the outage: with the registry gone and the store's and vulnerability DB's files unlinked, the webhook
    // keeps deciding from memory with the same reasons. (Unlinking does not close the engine's open SQLite
    // handles; a stopped PostgreSQL server is the stronger test and is still to be written.)
    drop(reg);
    for f in ["portcullis.db", "portcullis.db-wal", "portcullis.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::remove_file(&vuln_db).unwrap();
    for attempt in 0..3 {
        let r: serde_json::Value = http
            .post(format!("https://localhost:{port}/validate?timeout=2s"))
            .json(&review)
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("validate with the backends gone (attempt {attempt}): {e}"));
        assert_eq!(r["response"]["allowed"], false, "{r}");
        let m = r["response"]["status"]["message"].as_str().unwrap_or("");
        assert!(
            m.contains("CVE-2023-4911"),
            "cached verdict still explains itself: {m}"
        );
        std::thread::sleep(Duration::from_millis(1500));
    }
    let ready = http
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .expect("healthz with the backends gone");
    assert!(ready.status().is_success());
}
