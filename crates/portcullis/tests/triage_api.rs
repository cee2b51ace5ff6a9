//! Triage through the REST API, through the real binary (#15 item 6): `portcullis serve` in policy mode over a
//! real docker-registry denies an image for lodash 4.17.11's GHSA-jf85-cpcp-j695 (shown with its CVE id); once
//! an OpenVEX document saying `not_affected` for its two advisories (one named by CVE id, one by GHSA id) is
//! POSTed to `/v1/vex`, the same image is admitted within seconds
//! without being analysed again, and deleting the document denies it again.

mod common;

use std::time::{Duration, Instant};

use common::{
    Serve, cli, debian_and_ghsa_db, https_client, pod_review, validate, wait_ready,
    write_bookworm_image,
};
use portcullis_testkit::{Mode, Registry, free_port};

const TOKEN: &str = "triage-api-admin-token";

const VEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.invalid/vex/lodash",
  "author": "ops", "timestamp": "2026-12-04T10:00:00Z", "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2019-10744"},
    "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }, {
    "vulnerability": {"name": "GHSA-p6mc-m468-83gw"},
    "products": [{"@id": "pkg:npm/lodash@4.17.11"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}"#;

#[test]
fn a_vex_posted_to_the_api_admits_a_denied_image_without_reanalysis() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("vulnerable");
    // lodash 4.17.11: GHSA-jf85-cpcp-j695 (CVE-2019-10744), critical, fixed in 4.17.12.
    write_bookworm_image(&layout, Some("4.17.11"));
    reg.push(&layout, "v1", "triage/app:1", false).unwrap();
    let image = format!("{}/triage/app:1", reg.addr);

    let vuln_db = tmp.path().join("vuln.db");
    debian_and_ghsa_db(&vuln_db);
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
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let api = |method: &str, path: &str, body: Option<&str>| -> (u16, serde_json::Value) {
        let mut req = http
            .request(
                method.parse().unwrap(),
                format!("https://localhost:{port}{path}"),
            )
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.body(b.to_string());
        }
        let r = req.send().expect("API request");
        let status = r.status().as_u16();
        (status, r.json().unwrap_or(serde_json::Value::Null))
    };
    let wait_for = |what: &str, allowed: bool, limit: Duration| -> (serde_json::Value, Duration) {
        let t = Instant::now();
        loop {
            let r = validate(&http, port, &pod_review(&[&image], "shop", "app"));
            if r["response"]["allowed"] == allowed
                && (allowed
                    || r["response"]["status"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("GHSA-jf85-cpcp-j695"))
            {
                return (r, t.elapsed());
            }
            assert!(
                t.elapsed() < limit,
                "{what}: not reached in {limit:?}: {r}\n{}",
                log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };

    // Queued, analysed, denied for the GHSA finding, shown with its CVE id.
    let (denied, _) = wait_for("the first denial", false, Duration::from_secs(90));
    let message = denied["response"]["status"]["message"].as_str().unwrap();
    assert!(
        message.contains("GHSA-jf85-cpcp-j695 (CVE-2019-10744) lodash 4.17.11 (fixed in 4.17.12)"),
        "{message}"
    );
    let (_, images) = api("GET", "/v1/images", None);
    let record = images
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["tags"].to_string().contains("triage/app:1"))
        .unwrap_or_else(|| panic!("{images}"))
        .clone();
    let digest = record["digest"].as_str().unwrap().to_string();

    // A bad document: 400, naming what is wrong.
    let (st, body) = api("POST", "/v1/vex", Some("{\"statements\": 1}"));
    assert_eq!(st, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not a VEX document"),
        "{body}"
    );

    // The VEX through the API: admitted within seconds.
    let (st, posted) = api("POST", "/v1/vex?name=lodash.openvex.json", Some(VEX));
    assert_eq!(st, 200, "{posted}");
    let (admitted, took) = wait_for("admission after the VEX", true, Duration::from_secs(10));
    eprintln!("admitted {took:?} after POST /v1/vex");
    assert!(admitted["response"]["status"].is_null(), "{admitted}");
    // Not analysed again: the analysis time is the one before.
    let (_, after) = api("GET", &format!("/v1/images/{digest}"), None);
    assert_eq!(after["analyzed_at"], record["analyzed_at"], "{after}");
    // The finding is kept as suppressed, with its reason.
    let (_, vulns) = api("GET", &format!("/v1/images/{digest}/vuln/all"), None);
    let text = vulns.to_string();
    assert!(
        text.contains("GHSA-jf85-cpcp-j695") && text.contains("not_affected"),
        "{vulns}"
    );

    // The CLI lists it and deletes it; the image is denied again.
    let id = posted["id"].as_str().unwrap();
    let env = [
        ("PORTCULLIS_URL", format!("https://localhost:{port}")),
        ("PORTCULLIS_TOKEN", TOKEN.to_string()),
        ("PORTCULLIS_DATA_DIR", data.display().to_string()),
    ];
    let (code, out, err) = cli(&env, &["triage", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("lodash.openvex.json") && out.contains(id),
        "{out}"
    );
    let rules = tmp.path().join("rules.yaml");
    std::fs::write(&rules, "rules:\n  - vulnerability: CVE-2020-8203\n").unwrap();
    let (code, _, err) = cli(
        &env,
        &["triage", "add", "ignore-rules", rules.to_str().unwrap()],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("reason"),
        "a rule without a reason is refused: {err}"
    );
    let (code, out, err) = cli(&env, &["triage", "delete", "vex", id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Deleted vex lodash.openvex.json"), "{out}");
    wait_for("the denial after delete", false, Duration::from_secs(10));
}
