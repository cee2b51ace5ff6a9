//! Triage documents in the shared store (#15 item 6): `POST /v1/vex` / `/v1/ignore-rules` on one replica is
//! applied by the other replica over the same store (SQLite file and PostgreSQL), stored images are re-matched
//! and re-evaluated without a new analysis, and a bad document gets a precise 400. Real store, real API over
//! HTTP, real vulnerability database (GHSA/PyPA/NVD records of `../shared/vulndata`) and real matcher; the
//! analyser is the stand-in from `common` (an SBOM with requests 2.19.0, affected by CVE-2023-32681).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use portcullis_engine::stages::{IndexMatcher, Matcher};
use portcullis_store::Store;
use portcullis_testkit::{PgServer, shared};
use serde_json::json;

fn vuln_db(dir: &std::path::Path) -> portcullis_vuln::VulnDb {
    let data = shared().join("vulndata");
    let mut db = portcullis_vuln::VulnDb::open(dir.join("vuln.db")).unwrap();
    for rel in [
        "osv/ghsa/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q",
        "pypa/vulns/requests/PYSEC-2023-74.yaml",
        "nvd/vuln-list-nvd/api/2023/CVE-2023-32681.json",
    ] {
        let p: PathBuf = data.join(rel);
        assert!(p.exists(), "{} missing", p.display());
        db.import(p.to_str().unwrap())
            .unwrap_or_else(|e| panic!("import {rel}: {e}"));
    }
    db
}

fn bundle() -> serde_json::Value {
    json!({
        "id": "any-vuln", "name": "any vulnerability", "version": "1_0",
        "policies": [{"id": "p1", "name": "any vulnerability", "version": "1_0", "rules": [{
            "id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "STOP",
            "params": [
                {"name": "package_type", "value": "all"},
                {"name": "severity_comparison", "value": ">="},
                {"name": "severity", "value": "unknown"}
            ]
        }]}],
        "whitelists": [],
        "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
            "image": {"type": "tag", "value": "*"}, "policy_ids": ["p1"], "whitelist_ids": []}],
        "whitelisted_images": [], "blacklisted_images": []
    })
}

const VEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.invalid/vex/requests",
  "author": "ops", "timestamp": "2026-12-04T10:00:00Z", "version": 1,
  "statements": [{
    "vulnerability": {"name": "CVE-2023-32681"},
    "products": [{"@id": "pkg:pypi/requests@2.19.0"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path"
  }]
}"#;

fn http(url: &str, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::new();
    let mut req = client
        .request(method.parse().unwrap(), format!("{url}{path}"))
        .bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(json!({ "raw": text })),
    )
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// One replica: its own matcher over the same vulnerability data, an engine over `store`, triage polling.
fn replica(
    name: &str,
    store: Arc<dyn Store>,
    db: &portcullis_vuln::VulnDb,
    workers: bool,
) -> (Server, Arc<IndexMatcher>) {
    let matcher = Arc::new(IndexMatcher::load(db).unwrap());
    let (_t, mut stages) = stages(name, Duration::ZERO);
    stages.matcher = Some(matcher.clone());
    stages.feeds = None;
    let srv = Server::start(store, stages, fast_config(name), workers);
    let e = srv.engine.clone();
    let (_tx, rx) = tokio::sync::watch::channel(false);
    srv.rt.as_ref().unwrap().block_on(async move {
        portcullis_engine::spawn_triage_watch(e, Duration::from_millis(200), rx);
        // Keeps the watch running for the life of the runtime.
        std::mem::forget(_tx);
    });
    (srv, matcher)
}

fn suppressed_ids(m: &IndexMatcher, sbom: &portcullis_sbom::Sbom) -> (Vec<String>, Vec<String>) {
    let r = m.match_sbom(sbom).unwrap();
    (
        r.findings.iter().map(|f| f.id.clone()).collect(),
        r.suppressed.iter().map(|f| f.id.clone()).collect(),
    )
}

fn two_replicas_agree_and_images_are_rematched(open: impl Fn() -> Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let db = vuln_db(dir.path());
    let (a, ma) = replica("replica-a", open(), &db, true);
    let (b, mb) = replica("replica-b", open(), &db, false);
    a.engine.add_policy(bundle()).unwrap();
    a.engine.activate_policy("any-vuln").unwrap();

    // An image analysed (once) and denied for CVE-2023-32681 before any triage.
    let digest = digest(7);
    let tag = "reg.example/team/app:1";
    let pull = format!("{tag}@{digest}");
    a.rt.as_ref()
        .unwrap()
        .block_on(a.engine.add_image(&pull, Default::default(), false))
        .unwrap();
    wait_for("the analysis", || {
        a.engine
            .image(&digest)
            .is_ok_and(|i| i.status == portcullis_store::AnalysisStatus::Analyzed)
    });
    let before = a.engine.check(&digest, Some(tag), None).unwrap();
    assert_eq!(before.status, "fail", "{before:?}");
    let sbom = a.engine.store().get_sbom(&digest).unwrap().unwrap();
    let sbom: portcullis_sbom::Sbom = serde_json::from_value(sbom).unwrap();
    let (found, _) = suppressed_ids(&mb, &sbom);
    assert!(!found.is_empty(), "requests 2.19.0 is affected: {found:?}");

    // A bad document: a precise 400, nothing stored.
    let (st, body) = http(&a.url, "POST", "/v1/vex", Some(r#"{"statements": []}"#));
    assert_eq!(st, 400, "{body}");
    let msg = body["message"].as_str().unwrap();
    assert!(
        msg.contains("not a VEX document") && msg.contains("OpenVEX"),
        "{msg}"
    );
    let (st, body) = http(
        &a.url,
        "POST",
        "/v1/ignore-rules",
        Some("rules:\n  - reason: x\n"),
    );
    assert_eq!(st, 400, "{body}");
    let (st, body) = http(&a.url, "POST", "/v1/vex?colour=red", Some(VEX));
    assert_eq!(st, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("unknown query parameter")
    );

    // POST on A; B applies it from the store within its poll interval.
    let (st, posted) = http(
        &a.url,
        "POST",
        "/v1/vex?name=requests.openvex.json",
        Some(VEX),
    );
    assert_eq!(st, 200, "{posted}");
    assert_eq!(posted["name"], "requests.openvex.json");
    let id = posted["id"].as_str().unwrap().to_string();
    let (st, listed) = http(&b.url, "GET", "/v1/vex", None);
    assert_eq!(st, 200);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], id.as_str());
    let took = wait_for("replica B applies the stored VEX", || {
        suppressed_ids(&mb, &sbom).0.is_empty()
    });
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(suppressed_ids(&ma, &sbom), suppressed_ids(&mb, &sbom));
    assert_eq!(ma.db_version(), mb.db_version());
    assert!(ma.db_version().contains("+triage."), "{}", ma.db_version());
    // Stored findings and verdicts re-matched without analysing again.
    wait_for("the stored verdict passes", || {
        a.engine
            .check(&digest, Some(tag), None)
            .is_ok_and(|c| c.status == "pass")
    });
    assert_eq!(
        b.engine.check(&digest, Some(tag), None).unwrap().status,
        "pass"
    );
    let vulns = b
        .engine
        .vulns(&digest, portcullis_engine::VulnKind::All)
        .unwrap();
    assert!(
        vulns.vulnerabilities.is_empty(),
        "{:?}",
        vulns.vulnerabilities
    );

    // The same document again is the same document.
    let (st, again) = http(&b.url, "POST", "/v1/vex", Some(VEX));
    assert_eq!((st, again["id"].as_str()), (200, Some(id.as_str())));
    let (_, one) = http(&b.url, "GET", &format!("/v1/vex/{id}"), None);
    assert_eq!(one["content"].as_str(), Some(VEX));

    // DELETE on B; A follows and the image fails again.
    let (st, body) = http(&b.url, "DELETE", &format!("/v1/vex/{id}"), None);
    assert_eq!(st, 200, "{body}");
    let (st, _) = http(&b.url, "DELETE", &format!("/v1/vex/{id}"), None);
    assert_eq!(st, 404);
    wait_for("replica A drops the deleted VEX", || {
        !suppressed_ids(&ma, &sbom).0.is_empty()
    });
    wait_for("the stored verdict fails again", || {
        a.engine
            .check(&digest, Some(tag), None)
            .is_ok_and(|c| c.status == "fail")
    });

    // Ignore rules take the same path.
    let rules =
        "rules:\n  - vulnerability: CVE-2023-32681\n    reason: accepted until the upgrade\n";
    let (st, body) = http(
        &a.url,
        "POST",
        "/v1/ignore-rules?name=team.yaml",
        Some(rules),
    );
    assert_eq!(st, 200, "{body}");
    wait_for("replica B applies the ignore rules", || {
        suppressed_ids(&mb, &sbom).0.is_empty()
    });
    let (_, listed) = http(&b.url, "GET", "/v1/ignore-rules", None);
    assert_eq!(listed[0]["name"], "team.yaml");
    let (_, vex) = http(&b.url, "GET", "/v1/vex", None);
    assert!(vex.as_array().unwrap().is_empty());
}

#[test]
fn triage_documents_shared_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").display().to_string();
    two_replicas_agree_and_images_are_rematched(|| {
        Arc::from(portcullis_store::open(&path).unwrap())
    });
}

#[test]
fn triage_documents_shared_on_postgres() {
    let pg = PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL for the triage test: {e}"));
    let url = pg.create_database("triage").unwrap();
    two_replicas_agree_and_images_are_rematched(|| {
        Arc::from(portcullis_store::open(&url).unwrap())
    });
}

#[test]
fn a_start_with_other_vulnerability_data_rematches_stored_images_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db").display().to_string();
    let open = || -> Arc<dyn Store> { Arc::from(portcullis_store::open(&path).unwrap()) };
    let real = vuln_db(dir.path());
    let empty_dir = tempfile::tempdir().unwrap();
    let empty = portcullis_vuln::VulnDb::open(empty_dir.path().join("vuln.db")).unwrap();
    let digest = digest(9);
    let tag = "reg.example/team/app:2";
    let recorded = |s: &dyn Store| {
        s.list_feeds()
            .unwrap()
            .into_iter()
            .find(|f| f.name == portcullis_engine::STORED_FINDINGS_FEED)
    };
    {
        let (a, _) = replica("first", open(), &real, true);
        a.engine.add_policy(bundle()).unwrap();
        a.engine.activate_policy("any-vuln").unwrap();
        a.rt.as_ref()
            .unwrap()
            .block_on(
                a.engine
                    .add_image(&format!("{tag}@{digest}"), Default::default(), false),
            )
            .unwrap();
        wait_for("the analysis", || {
            a.engine
                .check(&digest, Some(tag), None)
                .is_ok_and(|c| c.status == "fail")
        });
    }
    // Restarted with other data (as after `serve --vuln-db-bundle` with a new bundle): re-matched at start.
    let (b, mb) = replica("second", open(), &empty, false);
    wait_for("the re-match at start", || {
        recorded(b.engine.store().as_ref()).is_some_and(|f| f.db_version == mb.db_version())
    });
    assert_eq!(
        b.engine.check(&digest, Some(tag), None).unwrap().status,
        "pass"
    );
    let first = recorded(b.engine.store().as_ref()).unwrap();
    assert_eq!(first.record_count, 1, "{first:?}");
    drop(b);
    // Restarted with the same data: nothing to re-match.
    let (c, _) = replica("third", open(), &empty, false);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(recorded(c.engine.store().as_ref()).unwrap(), first);
}
