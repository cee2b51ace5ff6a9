//! An attested SBOM replaces layer analysis (issue #17 item 2), through the real binary: bookworm images with a
//! vulnerable lodash pushed to a real docker-registry, their CycloneDX SBOMs made by `portcullis sbom -o
//! cyclonedx-json` and attested by the real cosign (`cosign attest --type cyclonedx --tlog-upload=false`). Under
//! a `verify` block with `sbomFromAttestation: true` the image's record says the attested SBOM was used (its
//! signer named) and the vulnerable package from it is found; under a block without the option, or with an
//! attestation by a key the block does not trust, the layers are analysed. Prints the time from first review to
//! analysed both ways. A verified OpenVEX attestation (`cosign attest --type openvex`) suppresses the findings it
//! marks `not_affected` for that image only.

mod common;
#[path = "../../verify/tests/common/mod.rs"]
mod sig;

use std::time::{Duration, Instant};

use common::{
    Serve, cli, debian_and_ghsa_db, https_client, pinned, pod_review, strip_ansi, validate,
    wait_ready, write_bookworm_image,
};
use portcullis_testkit::{Mode, Registry, free_port};

const TOKEN: &str = "attested-sbom-admin-token";

/// Pushes a bookworm image with lodash `lodash` as `repo:1`; returns `addr/repo@digest`.
fn push(reg: &Registry, dir: &std::path::Path, repo: &str, lodash: &str) -> String {
    write_bookworm_image(dir, Some(lodash));
    reg.push(dir, "v1", &format!("{repo}:1"), false).unwrap();
    pinned(reg, repo)
}

/// `cosign attest --type kind --predicate predicate` of `image` with the key in `key_dir`.
fn attest(key_dir: &std::path::Path, kind: &str, predicate: &std::path::Path, image: &str) {
    sig::run_cosign(
        key_dir,
        &[
            "attest",
            "--key",
            "cosign.key",
            "--type",
            kind,
            "--predicate",
            predicate.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-insecure-registry",
            image,
        ],
    );
}

/// Pushes a bookworm image with lodash `lodash` as `repo:1` and attests its CycloneDX SBOM with the key in
/// `key_dir`; returns `addr/repo@digest`.
fn push_attested(
    reg: &Registry,
    dir: &std::path::Path,
    repo: &str,
    lodash: &str,
    key_dir: &std::path::Path,
) -> String {
    let image = push(reg, dir, repo, lodash);
    let (code, sbom, err) = cli(
        &[],
        &[
            "sbom",
            &format!("oci-dir:{}", dir.display()),
            "-o",
            "cyclonedx-json",
        ],
    );
    assert_eq!(code, 0, "portcullis sbom: {err}");
    let predicate = dir.with_extension("cdx.json");
    std::fs::write(&predicate, sbom).unwrap();
    attest(key_dir, "cyclonedx", &predicate, &image);
    image
}

fn get(http: &reqwest::blocking::Client, port: u16, path: &str) -> serde_json::Value {
    http.get(format!("https://localhost:{port}{path}"))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.json())
        .unwrap_or_default()
}

/// Reviews `image` once, then waits until it is analysed; returns its record and the time it took.
fn review_until_analysed(
    http: &reqwest::blocking::Client,
    port: u16,
    image: &str,
    log: &std::path::Path,
) -> (serde_json::Value, Duration) {
    let digest = image.split('@').nth(1).unwrap();
    let t = Instant::now();
    let first = validate(http, port, &pod_review(&[image], "shop", "app"));
    assert_eq!(
        first["response"]["allowed"], false,
        "unknown at first: {first}"
    );
    loop {
        let img = get(http, port, &format!("/v1/images/{digest}"));
        if img["status"] == "analyzed" {
            return (img, t.elapsed());
        }
        assert!(
            img["status"] != "analysis_failed" && t.elapsed() < Duration::from_secs(90),
            "{image} not analysed: {img}\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn serve_uses_an_attested_sbom_instead_of_layers_when_the_verify_block_says_so() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let vuln_db = tmp.path().join("vuln.db");
    debian_and_ghsa_db(&vuln_db);
    let ci = tmp.path().join("ci");
    let ci_pub = sig::key_pair(&ci);
    let rogue = tmp.path().join("rogue");
    sig::key_pair(&rogue);

    // Every lodash below 4.17.12 has GHSA-jf85-cpcp-j695 (CVE-2019-10744); each version makes a distinct image.
    const REPS: usize = 3;
    let mut attested = Vec::new();
    let mut layered = Vec::new();
    for i in 0..REPS {
        let dir = tmp.path().join(format!("att{i}"));
        attested.push(push_attested(
            &reg,
            &dir,
            "shop/att",
            &format!("4.17.{}", 11 - i),
            &ci,
        ));
        let dir = tmp.path().join(format!("lay{i}"));
        layered.push(push_attested(
            &reg,
            &dir,
            "shop/lay",
            &format!("4.17.{}", 5 - i),
            &ci,
        ));
    }
    let untrusted = push_attested(
        &reg,
        &tmp.path().join("rogue-img"),
        "shop/att",
        "4.17.0",
        &rogue,
    );

    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        format!(
            "default: {{ mode: analysis }}\n\
             selectors:\n\
             - {{ resource: image, value: '.*/shop/att@.*', mode: analysis, verify: {{ keys: [{k}], sbomFromAttestation: true }} }}\n\
             - {{ resource: image, value: '.*/shop/lay@.*', mode: analysis, verify: {{ keys: [{k}] }} }}\n",
            k = ci_pub.display()
        ),
    )
    .unwrap();
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
        &[
            ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
            ("PORTCULLIS_LOG", "warn,portcullis_engine=info"),
        ],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);

    let finds_lodash = |image: &str| {
        let digest = image.split('@').nth(1).unwrap();
        let vulns = get(&http, port, &format!("/v1/images/{digest}/vuln"));
        assert!(
            vulns.to_string().contains("GHSA-jf85-cpcp-j695"),
            "the vulnerable lodash is found in {image}: {vulns}"
        );
    };
    let source = |img: &serde_json::Value| {
        img["annotations"]["portcullis.io/sbom-source"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let (mut with_att, mut with_layers) = (Vec::new(), Vec::new());
    for i in 0..REPS {
        let (img, t) = review_until_analysed(&http, port, &attested[i], &log);
        assert_eq!(
            source(&img),
            format!("attestation (cyclonedx, signer {})", ci_pub.display()),
            "{img}"
        );
        finds_lodash(&attested[i]);
        with_att.push(t);
        let (img, t) = review_until_analysed(&http, port, &layered[i], &log);
        assert_eq!(source(&img), "layers", "no sbomFromAttestation: {img}");
        finds_lodash(&layered[i]);
        with_layers.push(t);
    }
    // Attested by a key the block does not trust: its layers are analysed.
    let (img, _) = review_until_analysed(&http, port, &untrusted, &log);
    assert_eq!(
        source(&img),
        "layers",
        "an untrusted signer's SBOM is not used: {img}"
    );
    finds_lodash(&untrusted);
    let used = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("analysis from an attested SBOM"))
        .count();
    assert_eq!(used, REPS, "one attested analysis per trusted image");

    // The SBOM step alone (attestation fetched and verified, or layers pulled and catalogued), from the log.
    let sbom_ms = |wanted: &str| -> Vec<u64> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(strip_ansi)
            .filter(|l| l.contains("image SBOM obtained") && l.contains(wanted))
            .filter_map(|l| {
                l.split("sbom_ms=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    };
    let (att_ms, layer_ms) = (
        sbom_ms("attestation (cyclonedx"),
        sbom_ms("sbom_source=layers"),
    );
    assert_eq!(
        att_ms.len(),
        REPS,
        "the SBOM step is logged for each attested image"
    );
    eprintln!(
        "SBOM step alone: attested {att_ms:?} ms; layers pulled and catalogued (worker process; last: the untrusted-signer image) {layer_ms:?} ms"
    );
    eprintln!(
        "first review to analysed, bookworm test image (1 layer), registry on loopback, debug build, {REPS} \
         images each: attested SBOM {with_att:?} (median {:?}); layer analysis {with_layers:?} (median {:?})",
        median(with_att.clone()),
        median(with_layers.clone())
    );
}

/// An OpenVEX document saying the advisories `ids` do not affect lodash (every version) in the image.
fn openvex(ids: &[String]) -> String {
    let statements: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({
                "vulnerability": {"name": id},
                "products": [{"@id": "pkg:npm/lodash"}],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path"
            })
        })
        .collect();
    serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://acme.example/vex/app-1",
        "author": "acme release pipeline",
        "timestamp": "2026-01-01T00:00:00Z",
        "version": 1,
        "statements": statements
    })
    .to_string()
}

/// A verified OpenVEX attestation applies to that image only: in policy mode, the image whose VEX attestation
/// the trusted key signed is admitted (the critical lodash finding suppressed); the same package in an image
/// without one, or with one signed by a key the block does not trust, is still denied naming the advisory.
#[test]
fn serve_applies_a_verified_openvex_attestation_to_that_image_only() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let vuln_db = tmp.path().join("vuln.db");
    debian_and_ghsa_db(&vuln_db);
    let ci = tmp.path().join("ci");
    let ci_pub = sig::key_pair(&ci);
    let rogue = tmp.path().join("rogue");
    sig::key_pair(&rogue);
    let covered = push(&reg, &tmp.path().join("a"), "shop/vex", "4.17.11");
    // The pipeline's VEX: every advisory `portcullis scan` finds in the image, not affecting it.
    let (_, scan, err) = cli(
        &[],
        &[
            "scan",
            &format!("oci-dir:{}", tmp.path().join("a").display()),
            "--db",
            vuln_db.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    let mut ids: Vec<String> = scan
        .split('"')
        .filter(|t| t.starts_with("GHSA-") && t.len() == 19)
        .map(str::to_string)
        .collect();
    ids.sort();
    ids.dedup();
    assert!(
        ids.iter().any(|i| i == "GHSA-jf85-cpcp-j695"),
        "scan finds the lodash advisories: {ids:?} {err}"
    );
    let vex = tmp.path().join("vex.json");
    std::fs::write(&vex, openvex(&ids)).unwrap();

    let plain = push(&reg, &tmp.path().join("b"), "shop/plain", "4.17.10");
    let rogue_vex = push(&reg, &tmp.path().join("c"), "shop/roguevex", "4.17.9");
    for image in [&covered, &plain, &rogue_vex] {
        sig::sign(&ci, image);
    }
    attest(&ci, "openvex", &vex, &covered);
    attest(&rogue, "openvex", &vex, &rogue_vex);

    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        format!(
            "default: {{ mode: policy, policy: default, verify: {{ keys: [{}], attestations: [{{ type: openvex }}], require: any }} }}\n",
            ci_pub.display()
        ),
    )
    .unwrap();
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

    // Reviewed by tag (a verdict is evaluated per tag).
    let tagged = |image: &str| format!("{}:1", image.split('@').next().unwrap());
    let until = |image: &str, done: &dyn Fn(&serde_json::Value) -> bool| {
        let image = &tagged(image);
        let t = Instant::now();
        loop {
            let r = validate(&http, port, &pod_review(&[image], "shop", "app"));
            if done(&r) {
                return r;
            }
            assert!(
                t.elapsed() < Duration::from_secs(90),
                "no such answer for {image}: {r}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let denied_for_lodash = |r: &serde_json::Value| {
        r["response"]["allowed"] == false
            && r["response"]["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("GHSA-jf85-cpcp-j695")
    };
    until(&covered, &|r| r["response"]["allowed"] == true);
    until(&plain, &denied_for_lodash);
    until(&rogue_vex, &denied_for_lodash);
    // Stable: the covered image stays admitted, the others denied.
    let again = validate(
        &http,
        port,
        &pod_review(&[&tagged(&covered)], "shop", "again"),
    );
    assert_eq!(again["response"]["allowed"], true, "{again}");
    let again = validate(
        &http,
        port,
        &pod_review(&[&tagged(&plain)], "shop", "again"),
    );
    assert!(denied_for_lodash(&again), "{again}");
}
