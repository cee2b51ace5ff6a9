//! Safe by default, through the real binary: with no bundle added, `portcullis serve` in `policy` mode runs
//! Portcullis's default bundle over a real docker-registry, the embedded SQLite store and a vulnerability
//! database imported from `../shared/vulndata/{debian,osv/ghsa}` — a fixable CVE is denied, an image of a distro release
//! without data is denied as "vulnerability data unavailable", a clean image is admitted (with a warning when
//! the data is stale); `--policy-bundle` files are stored, activated and reloaded; and `/readyz` says
//! precisely why `policy` mode cannot work when its bundle does not exist.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Serve, cli, fixture, https_client, shared, validate, wait_ready};
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage, free_port};

const TOKEN: &str = "defaults-admin-token";

fn dpkg_entry(name: &str, source: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Installed-Size: 100\nMaintainer: Someone <someone@example.org>\nArchitecture: amd64\n\
         Source: {source}\nVersion: {version}\nDescription: test package\n\n"
    )
}

/// Writes a one-layer image with this os-release and dpkg status (and lodash `lodash` in `/app` when given),
/// tagged `v1`, to an OCI layout.
fn write_image(dir: &Path, os_release: &str, status: &str, lodash: Option<&str>) {
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let mut layer = LayerBuilder::new();
    layer
        .file("etc/os-release", os_release)
        .file("var/lib/dpkg/status", status);
    if let Some(v) = lodash {
        layer.file(
            "app/node_modules/lodash/package.json",
            format!(r#"{{"name": "lodash", "version": "{v}"}}"#),
        );
    }
    let m = w
        .image(&TestImage::new(vec![layer.tar()]))
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
}

const BOOKWORM: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                        VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
const ACME: &str =
    "PRETTY_NAME=\"Acme Linux 7.1\"\nNAME=\"Acme Linux\"\nVERSION_ID=\"7.1\"\nID=acme\n";

/// A review of a Pod running `image` (captured from a real kube-apiserver, its image rewritten).
fn review(image: &str, uid: &str) -> serde_json::Value {
    let mut review: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("014-validate-create-pod-main-solo.json")).unwrap(),
    )
    .unwrap();
    let spec = &mut review["request"]["object"]["spec"];
    for c in spec["containers"].as_array_mut().unwrap() {
        c["image"] = serde_json::Value::String(image.to_string());
    }
    if let Some(o) = spec.as_object_mut() {
        o.remove("initContainers");
        o.remove("ephemeralContainers");
    }
    review["request"]["uid"] = serde_json::Value::String(uid.to_string());
    review
}

fn env_for(port: u16, data: &Path) -> [(&'static str, String); 3] {
    [
        ("PORTCULLIS_URL", format!("https://127.0.0.1:{port}")),
        ("PORTCULLIS_TOKEN", TOKEN.to_string()),
        ("PORTCULLIS_DATA_DIR", data.display().to_string()),
    ]
}

/// POSTs the review until its message contains `want` (the snapshot refreshes in the background), 30 s.
fn validate_until(
    http: &reqwest::blocking::Client,
    port: u16,
    review: &serde_json::Value,
    want: &str,
) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let r = validate(http, port, review);
        let m = r["response"]["status"]["message"].as_str().unwrap_or("");
        let w = r["response"]["warnings"].to_string();
        if m.contains(want) || w.contains(want) || t.elapsed() > Duration::from_secs(30) {
            return r;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn the_default_bundle_denies_fixable_cves_and_distros_without_data_and_warns_on_stale_data() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    // lodash 4.17.11: GHSA-jf85-cpcp-j695 (CVE-2019-10744), critical, fixed in 4.17.12.
    let base_files = dpkg_entry("base-files", "base-files", "12.4+deb12u5");
    let images = [
        ("vulnerable", BOOKWORM, base_files.clone(), Some("4.17.11")),
        ("clean", BOOKWORM, base_files, None),
        (
            "acme",
            ACME,
            dpkg_entry("libc6", "glibc", "2.36-9+deb12u2"),
            None,
        ),
    ];
    let mut refs = Vec::new();
    for (name, os, status, lodash) in &images {
        let dir = tmp.path().join(name);
        write_image(&dir, os, status, *lodash);
        reg.push(&dir, "v1", &format!("defaults/{name}:1"), false)
            .expect("push the test image");
        refs.push(format!("{}/defaults/{name}:1", reg.addr));
    }
    let (vulnerable, clean, acme) = (&refs[0], &refs[1], &refs[2]);

    // Vulnerability data whose last sync was 10 days ago (the default bundle warns after 2).
    let vuln_db = tmp.path().join("vuln.db");
    // Debian's tracker records, and GitHub's reviewed advisories (npm lodash among them).
    common::debian_and_ghsa_db(&vuln_db);
    let ten_days_ago = (std::time::SystemTime::now() - Duration::from_secs(10 * 86_400))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let conn = rusqlite::Connection::open(&vuln_db).unwrap();
    let aged = conn
        .execute(
            "UPDATE provenance SET imported_at = strftime('%Y-%m-%dT%H:%M:%SZ', ?1, 'unixepoch')",
            [ten_days_ago as i64],
        )
        .unwrap();
    assert!(aged > 0);
    drop(conn);

    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            vuln_db.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let env = env_for(port, &data);

    // `system status` shows the data's last sync and coverage.
    let (code, out, err) = cli(&env, &["system", "status"]);
    assert_eq!(code, 0, "system status: {out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("Vulnerability data: last synced "))
        .unwrap_or_else(|| panic!("no data line:\n{out}"));
    assert!(line.contains("debian:12") && line.contains("npm"), "{line}");

    // Out of the box the default bundle is the active one.
    let (code, out, err) = cli(&env, &["policy", "list"]);
    assert_eq!(code, 0, "policy list: {out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains("portcullis-default"))
        .unwrap_or_else(|| panic!("default bundle not stored:\n{out}"));
    assert!(line.contains("true"), "default bundle active: {line}");

    for image in &refs {
        let (code, out, err) = cli(&env, &["image", "add", image]);
        assert_eq!(code, 0, "image add {image}: {out}{err}");
    }
    for image in &refs {
        let (code, out, err) = cli(
            &env,
            &[
                "image",
                "wait",
                image,
                "--timeout",
                "120",
                "--interval",
                "1",
            ],
        );
        assert_eq!(code, 0, "image wait {image}: {out}{err}");
    }

    let (code, out, err) = cli(&env, &["evaluate", "check", vulnerable, "--detail"]);
    assert_eq!(code, 1, "a fixable critical CVE fails: {out}{err}");
    assert!(out.contains("GHSA-jf85-cpcp-j695"), "{out}");

    let (code, out, err) = cli(&env, &["evaluate", "check", acme, "--detail"]);
    assert_eq!(code, 1, "a distro without data fails: {out}{err}");
    assert!(out.contains("vulnerability_data_unavailable"), "{out}");
    assert!(out.contains("acme:7.1"), "{out}");

    let (code, out, err) = cli(&env, &["evaluate", "check", clean, "--detail"]);
    assert_eq!(code, 0, "a clean image passes: {out}{err}");
    assert!(out.contains("stale_feed_data"), "stale data warned: {out}");
    assert!(out.contains("WARN"), "{out}");

    // The stored findings say which packages had no data to be matched against.
    let acme_digest = {
        let (code, out, err) = cli(&env, &["image", "get", acme, "--json"]);
        assert_eq!(code, 0, "image get: {out}{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["digest"].as_str().unwrap().to_string()
    };
    let vulns: serde_json::Value = http
        .get(format!(
            "https://localhost:{port}/v1/images/{acme_digest}/vuln"
        ))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.json())
        .expect("coverage");
    let coverage = &vulns["coverage"];
    assert_eq!(coverage["distro_covered"], false, "{vulns}");
    assert_eq!(
        coverage["packages_without_data"][0]["name"], "libc6",
        "{vulns}"
    );
    assert_eq!(
        coverage["packages_without_data"][0]["namespace"], "acme:7",
        "{vulns}"
    );

    // Admission: the webhook answers with the same verdicts.
    let r = validate_until(
        &http,
        port,
        &review(vulnerable, "uid-vuln"),
        "GHSA-jf85-cpcp-j695",
    );
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let r = validate_until(
        &http,
        port,
        &review(acme, "uid-acme"),
        "vulnerability_data_unavailable",
    );
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let m = r["response"]["status"]["message"].as_str().unwrap();
    assert!(
        m.contains("Feed data unavailable") && m.contains("acme"),
        "{m}"
    );
    let r = validate_until(&http, port, &review(clean, "uid-clean"), "stale_feed_data");
    assert_eq!(r["response"]["allowed"], true, "{r}");
}

fn bundle_doc(id: &str, name: &str, active: Option<bool>) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "id": id, "name": name, "version": "1_0", "comment": "",
        "whitelisted_images": [], "blacklisted_images": [], "whitelists": [],
        "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
                      "image": {"type": "tag", "value": "*"}, "policy_id": "p1", "whitelist_ids": []}],
        "policies": [{"id": "p1", "name": "p1", "version": "1_0", "comment": "", "rules": [
            {"id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "STOP",
             "params": [{"name": "package_type", "value": "all"},
                        {"name": "severity_comparison", "value": ">="},
                        {"name": "severity", "value": "critical"}]}]}]
    });
    if let Some(a) = active {
        doc["active"] = serde_json::Value::Bool(a);
    }
    doc
}

/// `policy list` until `pred` holds (10 s); returns the last output.
fn policies_until(env: &[(&str, String)], pred: impl Fn(&str) -> bool) -> String {
    let t = Instant::now();
    loop {
        let (code, out, err) = cli(env, &["policy", "list"]);
        assert_eq!(code, 0, "policy list: {out}{err}");
        if pred(&out) || t.elapsed() > Duration::from_secs(10) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn active_line<'a>(out: &'a str, id: &str) -> Option<&'a str> {
    out.lines()
        .find(|l| l.split_whitespace().next() == Some(id))
}

#[test]
fn policy_bundle_files_are_stored_activated_and_reloaded_and_readyz_names_a_missing_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.json");
    let b = tmp.path().join("b.json");
    std::fs::write(&a, bundle_doc("team-a", "Team A", None).to_string()).unwrap();
    std::fs::write(&b, bundle_doc("team-b", "Team B", Some(false)).to_string()).unwrap();
    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        "default: { mode: policy, policy: default }\n\
         selectors:\n- { resource: namespace, value: '^strict$', mode: policy, policy: strict }\n",
    )
    .unwrap();

    // An invalid bundle file stops the start with a message naming it.
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"id": "bad", "policies": [{"id": "p", "rules": [{"gate": "nope"}]}]}"#,
    )
    .unwrap();
    let (code, _, err) = cli(
        &[(
            "PORTCULLIS_DATA_DIR",
            tmp.path().join("d0").display().to_string(),
        )],
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy-bundle",
            bad.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("bad.json"), "{err}");

    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "-c",
            config.to_str().unwrap(),
            "--policy-bundle",
            a.to_str().unwrap(),
            "--policy-bundle",
            b.to_str().unwrap(),
            "--active-bundle",
            "team-a",
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
    );
    let http = https_client(&data);
    let env = env_for(port, &data);

    // `policy: strict` names no bundle: not ready, and /readyz says why.
    let t = Instant::now();
    let body = loop {
        let r = http.get(format!("https://localhost:{port}/readyz")).send();
        if let Ok(r) = r {
            let status = r.status();
            let body = r.text().unwrap_or_default();
            if status == 503 && body.contains("strict") {
                break body;
            }
            assert_ne!(status, 200, "ready although bundle `strict` does not exist");
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no readiness message:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        body.contains("no policy bundle has id or name \"strict\""),
        "{body}"
    );
    assert!(
        body.contains("team-a") && body.contains("portcullis-default"),
        "{body}"
    );

    let out = policies_until(&env, |o| {
        active_line(o, "team-a").is_some_and(|l| l.contains("true"))
    });
    assert!(
        active_line(&out, "team-a").is_some_and(|l| l.contains("true")),
        "--active-bundle activated team-a:\n{out}"
    );
    assert!(active_line(&out, "team-b").is_some(), "{out}");
    assert!(active_line(&out, "portcullis-default").is_some(), "{out}");

    // Adding `strict` makes policy mode usable: ready.
    let strict = tmp.path().join("strict.json");
    std::fs::write(&strict, bundle_doc("strict", "Strict", None).to_string()).unwrap();
    let (code, out, err) = cli(&env, &["policy", "add", strict.to_str().unwrap()]);
    assert_eq!(code, 0, "policy add: {out}{err}");
    wait_ready(&http, port, &log);

    // Changing a file reloads it; its `"active": true` activates it.
    std::fs::write(
        &b,
        bundle_doc("team-b", "Team B v2", Some(true)).to_string(),
    )
    .unwrap();
    let out = policies_until(&env, |o| {
        active_line(o, "team-b").is_some_and(|l| l.contains("Team B v2") && l.contains("true"))
    });
    let line = active_line(&out, "team-b").unwrap_or_default();
    assert!(line.contains("Team B v2") && line.contains("true"), "{out}");
    assert!(
        !active_line(&out, "team-a")
            .unwrap_or_default()
            .contains("true"),
        "{out}"
    );

    // A file that turns invalid is reported and the stored version stays.
    std::fs::write(&b, "{ not json").unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let (_, out, _) = cli(&env, &["policy", "list"]);
    assert!(
        active_line(&out, "team-b").is_some_and(|l| l.contains("Team B v2")),
        "{out}"
    );
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("b.json") && logged.contains("not JSON"),
        "{logged}"
    );
}

#[test]
fn after_a_restart_the_first_review_after_ready_is_answered_from_loaded_verdicts() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("clean");
    write_image(
        &dir,
        BOOKWORM,
        &dpkg_entry("base-files", "base-files", "12.4+deb12u5"),
        None,
    );
    reg.push(&dir, "v1", "restart/clean:1", false)
        .expect("push the test image");
    let image = format!("{}/restart/clean:1", reg.addr);
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
    // The configuration names its bundle by id (not `default`): its verdicts must be loaded before ready.
    let bundle = tmp.path().join("team.json");
    std::fs::write(&bundle, bundle_doc("team", "Team", Some(true)).to_string()).unwrap();
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: team }\n").unwrap();
    let data = tmp.path().join("data");
    let args = [
        "--vuln-db",
        vuln_db.to_str().unwrap(),
        "-c",
        config.to_str().unwrap(),
        "--policy-bundle",
        bundle.to_str().unwrap(),
    ];

    let log = tmp.path().join("serve-1.log");
    let port = free_port().unwrap();
    let serve = Serve::start(
        port,
        &data,
        &log,
        &args,
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let env = env_for(port, &data);
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
    // The snapshot picks the analysis up in the background.
    let t = Instant::now();
    let r = loop {
        let r = validate(&http, port, &review(&image, "uid-before"));
        if r["response"]["allowed"] == true || t.elapsed() > Duration::from_secs(30) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        r["response"]["allowed"], true,
        "passes before the restart: {r}"
    );
    drop(serve);

    // Restart: poll /readyz as a kubelet does; the first review after ready is admitted.
    let log = tmp.path().join("serve-2.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &args,
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
    );
    let t = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("https://localhost:{port}/readyz")).send()
            && r.status() == 200
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "serve never became ready:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = validate(&http, port, &review(&image, "uid-after"));
    assert_eq!(
        r["response"]["allowed"],
        true,
        "first review after ready: {r}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}

#[test]
fn db_export_writes_one_bundle_that_db_import_and_serve_read() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.db");
    let debian = shared().join("vulndata/debian");
    let (code, _, err) = cli(
        &[],
        &[
            "db",
            "import",
            debian.to_str().unwrap(),
            "--db",
            a.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "db import failed: {err}");
    let bundle = tmp.path().join("vuln.bundle");
    let (code, out, err) = cli(
        &[],
        &[
            "db",
            "export",
            bundle.to_str().unwrap(),
            "--db",
            a.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "db export: {out}{err}");
    let status = |db: &Path| -> serde_json::Value {
        let (code, out, err) = cli(
            &[],
            &["db", "status", "--json", "--db", db.to_str().unwrap()],
        );
        assert_eq!(code, 0, "db status: {err}");
        serde_json::from_str(&out).unwrap()
    };
    let version = status(&a)["db_version"].as_str().unwrap().to_string();
    assert!(!version.is_empty());

    let b = tmp.path().join("b.db");
    let (code, out, err) = cli(
        &[],
        &[
            "db",
            "import",
            bundle.to_str().unwrap(),
            "--db",
            b.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "db import of the bundle: {out}{err}");
    assert_eq!(status(&b)["db_version"], version.as_str());
    assert_eq!(status(&b)["namespaces"], status(&a)["namespaces"]);

    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let c = tmp.path().join("c.db");
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            c.to_str().unwrap(),
            "--vuln-db-bundle",
            bundle.to_str().unwrap(),
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let (code, out, err) = cli(&env_for(port, &data), &["system", "status", "--json"]);
    assert_eq!(code, 0, "system status: {out}{err}");
    let st: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(st["db_version"], version.as_str(), "{st}");
    assert!(
        st["vuln_data"]["namespaces"].get("debian:12").is_some(),
        "{st}"
    );
    assert!(st["vuln_data"]["synced_at"].is_string(), "{st}");
}

/// Digest pinning, the best practice, in policy mode: an image a Pod names only by digest (`repo@sha256:…`,
/// never by tag) is analysed and judged by the default bundle — denied naming its CVE when vulnerable, admitted
/// when clean. Before, bundles were evaluated per tag and such an image had none, so policy mode denied it as
/// "not evaluated against policy yet" for good.
#[test]
fn an_image_named_only_by_digest_is_judged_in_policy_mode() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let base_files = dpkg_entry("base-files", "base-files", "12.4+deb12u5");
    let mut pinned = Vec::new();
    for (name, lodash) in [("pinned-vuln", Some("4.17.11")), ("pinned-clean", None)] {
        let dir = tmp.path().join(name);
        write_image(&dir, BOOKWORM, &base_files, lodash);
        let repo = format!("defaults/{name}");
        reg.push(&dir, "v1", &format!("{repo}:1"), false)
            .expect("push the test image");
        pinned.push(common::pinned(&reg, &repo));
    }
    let vuln_db = tmp.path().join("vuln.db");
    common::debian_and_ghsa_db(&vuln_db);
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            vuln_db.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);

    let r = validate_until(
        &http,
        port,
        &review(&pinned[0], "uid-pinned-vuln"),
        "GHSA-jf85-cpcp-j695",
    );
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let m = r["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(
        m.contains("GHSA-jf85-cpcp-j695") && !m.contains("not been evaluated"),
        "denied by the bundle, naming the advisory: {r}"
    );
    let t = Instant::now();
    let clean = loop {
        let r = validate(&http, port, &review(&pinned[1], "uid-pinned-clean"));
        if r["response"]["allowed"] == true || t.elapsed() > Duration::from_secs(60) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        clean["response"]["allowed"],
        true,
        "a clean image named only by digest is admitted: {clean}\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
