//! The engine through its REST API and client: the seed walkthrough (add → wait → vuln → policy add/activate →
//! check fails with rows → the admission path gives the same verdict → feed sync re-matches without pulling)
//! on both store backends, and bad input to every endpoint.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use portcullis_client::ClientError;
use portcullis_engine::VulnKind;
use portcullis_engine::api::{AnalysisStatus, DecisionQuery, QueueOutcome};
use portcullis_store::{DecisionFilter, NewDecision, Store};
use portcullis_testkit::PgServer;
use serde_json::json;

fn default_bundle() -> serde_json::Value {
    let p = shared().join("policies/anchore-engine/anchore_default_bundle.json");
    serde_json::from_str(&std::fs::read_to_string(&p).expect("default bundle")).expect("json")
}

fn stop_rows(v: &portcullis_policy::Verdict) -> Vec<portcullis_policy::EvalRow> {
    v.rows
        .iter()
        .filter(|r| r.gate_action == portcullis_policy::Action::Stop)
        .cloned()
        .collect()
}

fn walkthrough(store: Arc<dyn Store>) {
    let (t, stages) = stages("analyser-1", Duration::from_millis(10));
    let d = digest(0xabc);
    let tag = "127.0.0.1:5000/shop/web:1.0";
    t.resolver.0.lock().unwrap().insert(tag.into(), d.clone());
    // The first attempt fails transiently: the queue retries it.
    t.analyser.fail_first.lock().unwrap().insert(d.clone(), 1);
    let srv = Server::start(store, stages, fast_config("r1"), true);
    let c = srv.client();

    let added = c
        .add_image(tag, annotations(&[("requestor", "cli")]), false)
        .unwrap();
    assert_eq!(added.queue, QueueOutcome::Queued);
    assert_eq!(added.image.digest, d);
    assert_eq!(added.image.tags, vec![tag]);
    let again = c.add_image(tag, Default::default(), false).unwrap();
    assert!(
        matches!(
            again.queue,
            QueueOutcome::AlreadyQueued | QueueOutcome::AlreadyDone
        ),
        "{:?}",
        again.queue
    );

    let img = c
        .wait_image(tag, Duration::from_secs(30), Duration::from_millis(50))
        .unwrap();
    assert_eq!(img.status, AnalysisStatus::Analyzed);
    assert_eq!(img.annotations["requestor"], "cli");
    assert_eq!(
        t.analyser.calls.lock().unwrap()[&d],
        2,
        "one failed attempt, one success"
    );
    assert_eq!(c.find_image(&d).unwrap().digest, d);
    assert_eq!(c.list_images(Some(tag)).unwrap().len(), 1);

    let all = c.vuln(&d, VulnKind::All).unwrap();
    assert_eq!(all.db_version, "db-1");
    let ossl = all
        .vulnerabilities
        .iter()
        .find(|f| f.id == "CVE-2023-0286")
        .expect("openssl finding");
    assert_eq!(ossl.severity, portcullis_vuln::Severity::High);
    assert_eq!(ossl.fixed_in.as_deref(), Some("3.0.13-1~deb12u1"));
    assert!(ossl.url.as_deref().unwrap().contains("CVE-2023-0286"));
    let os = c.vuln(&d, VulnKind::Os).unwrap();
    let non_os = c.vuln(&d, VulnKind::NonOs).unwrap();
    assert_eq!(os.vulnerabilities.len(), 1);
    assert_eq!(non_os.vulnerabilities[0].package_name, "requests");

    // No bundle yet: check says so.
    match c.check(&d, None, None, true) {
        Err(ClientError::Http {
            status: 409,
            message,
            ..
        }) => assert!(message.contains("no policy bundle"), "{message}"),
        other => panic!("{other:?}"),
    }
    let bundle = default_bundle();
    let added = c.add_policy(&bundle).unwrap();
    assert!(added.active, "the first bundle is active");
    let mut second = bundle.clone();
    second["id"] = json!("second");
    let s2 = c.add_policy(&second).unwrap();
    assert!(!s2.active);
    c.activate_policy("second").unwrap();
    c.activate_policy(added.id.as_str()).unwrap();
    let listed = c.list_policies().unwrap();
    assert_eq!(
        listed
            .iter()
            .filter(|p| p.active)
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        vec![added.id.as_str()]
    );
    assert_eq!(c.get_policy(&added.id).unwrap().bundle, bundle);

    let check = c.check(&d, Some(tag), None, true).unwrap();
    assert_eq!(check.status, "fail");
    let stops = stop_rows(&check.verdict);
    assert_eq!(stops.len(), 1, "{:#?}", check.verdict.rows);
    assert!(
        stops[0].trigger_id.contains("CVE-2023-0286") && stops[0].trigger_id.contains("openssl"),
        "{stops:?}"
    );
    assert_eq!(stops[0].gate, "vulnerabilities");
    let brief = c.check(&d, Some(tag), None, false).unwrap();
    assert!(brief.verdict.rows.is_empty() && brief.status == "fail");

    // The admission path answers from the cache with the same reasons.
    let v = srv.engine.verdict_for(&d, tag).unwrap().expect("verdict");
    assert_eq!(stop_rows(&v), stops);
    assert!(srv.engine.cached_verdicts() >= 1);
    srv.engine
        .record_decision(&NewDecision {
            who: "kube-admin".into(),
            operation: "CREATE".into(),
            kind: "Pod".into(),
            namespace: "shop".into(),
            name: "web".into(),
            uid: "uid-1".into(),
            images: vec![tag.into()],
            digests: vec![d.clone()],
            mode: "policy".into(),
            allowed: false,
            verdict: "fail".into(),
            reasons: stop_rows(&v).iter().map(|r| r.trigger_id.clone()).collect(),
        })
        .unwrap();
    let audit = c
        .decisions(&DecisionQuery {
            namespace: Some("shop".into()),
            allowed: Some(false),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].reasons, vec![stops[0].trigger_id.clone()]);

    // Feed update: re-match and re-evaluate without pulling again; caches invalidated.
    let pulls_before = t.analyser.total_calls();
    let sync = c.sync_feeds().unwrap();
    assert_eq!(sync.rematch.rematched, 1);
    assert_eq!(sync.rematch.reevaluated, 1);
    assert_eq!(sync.feeds[0].db_version, "db-2");
    assert_eq!(c.feeds().unwrap().len(), 1);
    assert_eq!(
        t.analyser.total_calls(),
        pulls_before,
        "no image pulled again"
    );
    assert_eq!(srv.engine.cached_verdicts(), 0, "verdict cache invalidated");
    let after = c.vuln(&d, VulnKind::All).unwrap();
    assert_eq!(after.db_version, "db-2");
    assert!(
        after
            .vulnerabilities
            .iter()
            .any(|f| f.id == "CVE-2023-45853")
    );
    let check2 = c.check(&d, Some(tag), None, true).unwrap();
    assert_eq!(check2.db_version, "db-2");
    let stops2 = stop_rows(&check2.verdict);
    assert_eq!(stops2.len(), 2, "{stops2:?}");
    assert!(
        stops2
            .iter()
            .any(|r| r.trigger_id.contains("CVE-2023-45853"))
    );

    let st = c.status().unwrap();
    assert_eq!(st.queue.done, 1);
    assert_eq!(st.db_version.as_deref(), Some("db-2"));
    assert_eq!(
        c.wait_system(Duration::from_secs(5), Duration::from_millis(50))
            .unwrap()
            .status,
        "ok"
    );

    // Force re-analysis.
    let forced = c.add_image(tag, Default::default(), true).unwrap();
    assert_eq!(forced.queue, QueueOutcome::Queued);
    c.wait_image(tag, Duration::from_secs(30), Duration::from_millis(50))
        .unwrap();
    assert_eq!(t.analyser.calls.lock().unwrap()[&d], 3);
}

#[test]
fn walkthrough_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::from(portcullis_store::open(&dir.path().join("e.db").display().to_string()).unwrap());
    walkthrough(store);
}

#[test]
fn walkthrough_postgres() {
    let pg = PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL for the engine tests: {e}"));
    let url = pg.create_database("engine").unwrap();
    walkthrough(Arc::from(portcullis_store::open(&url).unwrap()));
}

/// Raw HTTP for requests the client would never send.
fn raw(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> (u16, serde_json::Value) {
    let http = reqwest::blocking::Client::new();
    let mut req = http.request(method.parse().unwrap(), format!("{url}{path}"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(json!({"raw": text})),
    )
}

/// (method, path, token, body, expected status, expected message part).
type Case<'a> = (
    &'a str,
    String,
    Option<&'a str>,
    Option<Vec<u8>>,
    u16,
    &'a str,
);

#[test]
fn bad_input_gets_a_precise_4xx_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::from(portcullis_store::open(&dir.path().join("e.db").display().to_string()).unwrap());
    let (t, stages) = stages("a", Duration::ZERO);
    t.resolver
        .0
        .lock()
        .unwrap()
        .insert("reg.example/app:1".into(), digest(1));
    // No workers: the queue state stays observable.
    let srv = Server::start(store.clone(), stages, fast_config("r"), false);
    let c = srv.client();
    c.add_image("reg.example/app:1", Default::default(), false)
        .unwrap();
    c.add_policy(&default_bundle()).unwrap();
    let snapshot = |s: &Arc<dyn Store>| {
        (
            s.list_images(None).unwrap(),
            s.list_policies("admin").unwrap(),
            s.queue_stats().unwrap(),
            s.list_decisions(&DecisionFilter::default()).unwrap(),
            s.list_feeds().unwrap(),
        )
    };
    let before = snapshot(&store);
    let u = srv.url.as_str();
    let tok = Some(TOKEN);
    let d = digest(1);
    let unknown = digest(2);
    let bad_bundle =
        std::fs::read(shared().join("policies/anchore-engine/bad_bundle.json")).unwrap();
    let big = vec![b' '; 300 * 1024];
    let cases: Vec<Case> = vec![
        // Missing and wrong tokens, on every endpoint.
        (
            "GET",
            "/v1/images".into(),
            None,
            None,
            401,
            "missing API token",
        ),
        (
            "POST",
            "/v1/images".into(),
            None,
            Some(br#"{"tag":"x:1"}"#.to_vec()),
            401,
            "missing API token",
        ),
        (
            "GET",
            format!("/v1/images/{d}"),
            Some("wrong"),
            None,
            401,
            "not accepted",
        ),
        (
            "GET",
            format!("/v1/images/{d}/vuln/os"),
            None,
            None,
            401,
            "missing",
        ),
        (
            "GET",
            format!("/v1/images/{d}/check"),
            None,
            None,
            401,
            "missing",
        ),
        ("GET", "/v1/policies".into(), None, None, 401, "missing"),
        (
            "POST",
            "/v1/policies".into(),
            Some("wrong"),
            Some(b"{}".to_vec()),
            401,
            "not accepted",
        ),
        ("PUT", "/v1/policies/x".into(), None, None, 401, "missing"),
        (
            "GET",
            "/v1/system/status".into(),
            None,
            None,
            401,
            "missing",
        ),
        (
            "POST",
            "/v1/system/feeds".into(),
            None,
            None,
            401,
            "missing",
        ),
        ("GET", "/v1/decisions".into(), None, None, 401, "missing"),
        // Malformed JSON and bodies.
        (
            "POST",
            "/v1/images".into(),
            tok,
            Some(b"{\"tag\": ".to_vec()),
            400,
            "EOF while parsing",
        ),
        (
            "POST",
            "/v1/images".into(),
            tok,
            Some(b"".to_vec()),
            400,
            "empty",
        ),
        (
            "POST",
            "/v1/images".into(),
            tok,
            Some(br#"{"tag":"a:1","colour":"red"}"#.to_vec()),
            400,
            "unknown field `colour`",
        ),
        (
            "POST",
            "/v1/images".into(),
            tok,
            Some(br#"{"tag":"has space:1"}"#.to_vec()),
            400,
            "not valid",
        ),
        (
            "POST",
            "/v1/images".into(),
            tok,
            Some(br#"{"tag":"r/a@sha256:1234"}"#.to_vec()),
            400,
            "64 lowercase hex",
        ),
        (
            "POST",
            "/v1/images".into(),
            tok,
            Some(br#"{"tag":"reg.example/unknown:1"}"#.to_vec()),
            400,
            "manifest unknown",
        ),
        (
            "POST",
            "/v1/policies".into(),
            tok,
            Some(b"[1,2".to_vec()),
            400,
            "not valid",
        ),
        (
            "POST",
            "/v1/policies".into(),
            tok,
            Some(bad_bundle),
            400,
            "invalidaction",
        ),
        (
            "POST",
            "/v1/policies".into(),
            tok,
            Some(br#"{"id":"x","version":"0_9","policies":[],"mappings":[]}"#.to_vec()),
            400,
            "0_9",
        ),
        (
            "PUT",
            "/v1/policies/x".into(),
            tok,
            Some(b"{oops".to_vec()),
            400,
            "not valid",
        ),
        (
            "PUT",
            "/v1/policies/x".into(),
            tok,
            Some(br#"{"active":false}"#.to_vec()),
            400,
            "activate another",
        ),
        // Oversize bodies.
        (
            "POST",
            "/v1/images".into(),
            tok,
            Some(big.clone()),
            413,
            "too large",
        ),
        (
            "POST",
            "/v1/policies".into(),
            tok,
            Some(big),
            413,
            "too large",
        ),
        // Unknown and malformed digests, unknown objects.
        (
            "GET",
            format!("/v1/images/{unknown}"),
            tok,
            None,
            404,
            "not known",
        ),
        (
            "GET",
            "/v1/images/sha256:nothex".into(),
            tok,
            None,
            400,
            "not an image digest",
        ),
        (
            "GET",
            format!("/v1/images/{unknown}/vuln"),
            tok,
            None,
            404,
            "not known",
        ),
        (
            "GET",
            format!("/v1/images/{d}/vuln/kernel"),
            tok,
            None,
            404,
            "os, non-os or all",
        ),
        (
            "GET",
            format!("/v1/images/{d}/vuln/all"),
            tok,
            None,
            409,
            "not analysed yet",
        ),
        (
            "GET",
            format!("/v1/images/{unknown}/check"),
            tok,
            None,
            404,
            "not known",
        ),
        (
            "GET",
            format!("/v1/images/{d}/check?tag=other:1"),
            tok,
            None,
            404,
            "never seen with tag",
        ),
        (
            "GET",
            format!("/v1/images/{d}/check?policy=nope"),
            tok,
            None,
            404,
            "does not exist",
        ),
        (
            "GET",
            format!("/v1/images/{d}/check?detail=maybe"),
            tok,
            None,
            400,
            "true or false",
        ),
        (
            "GET",
            format!("/v1/images/{d}/check?colour=1"),
            tok,
            None,
            400,
            "unknown query parameter",
        ),
        (
            "GET",
            "/v1/images?colour=1".into(),
            tok,
            None,
            400,
            "unknown query parameter",
        ),
        (
            "GET",
            "/v1/policies/nope".into(),
            tok,
            None,
            404,
            "does not exist",
        ),
        (
            "PUT",
            "/v1/policies/nope".into(),
            tok,
            None,
            404,
            "does not exist",
        ),
        (
            "GET",
            "/v1/decisions?allowed=perhaps".into(),
            tok,
            None,
            400,
            "true or false",
        ),
        (
            "GET",
            "/v1/decisions?limit=0".into(),
            tok,
            None,
            400,
            "1 to 1000",
        ),
        (
            "GET",
            "/v1/decisions?since=yesterday".into(),
            tok,
            None,
            400,
            "RFC 3339",
        ),
        (
            "GET",
            "/v1/nothing".into(),
            tok,
            None,
            404,
            "no such endpoint",
        ),
        // Another replica holds the feed-update lock.
        (
            "POST",
            "/v1/system/feeds".into(),
            tok,
            None,
            409,
            "another replica",
        ),
    ];
    let feed_lock = store.try_feed_lock().unwrap().expect("feed lock");
    for (method, path, token, body, status, needle) in cases {
        let (got, body) = raw(u, method, &path, token, body);
        let msg = body["message"].as_str().unwrap_or_default().to_string();
        assert_eq!(got, status, "{method} {path}: {body}");
        assert!(
            msg.contains(needle),
            "{method} {path}: message {msg:?} lacks {needle:?}"
        );
        assert_eq!(body["status"], status, "{method} {path}: {body}");
    }
    drop(feed_lock);
    assert_eq!(snapshot(&store), before, "bad requests changed nothing");
    assert!(
        !raw(u, "GET", "/v1/images", tok, None)
            .1
            .to_string()
            .contains(TOKEN)
    );
    // The OpenAPI document is served without a token and documents every route.
    let (st, doc) = raw(u, "GET", "/openapi.json", None, None);
    assert_eq!(st, 200);
    for p in [
        "/v1/images",
        "/v1/images/{digest}/vuln/{type}",
        "/v1/images/{digest}/check",
        "/v1/policies/{id}",
        "/v1/system/feeds",
        "/v1/decisions",
        "/v1/vex",
        "/v1/vex/{id}",
        "/v1/ignore-rules",
        "/v1/ignore-rules/{id}",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from /openapi.json"
        );
    }
}
