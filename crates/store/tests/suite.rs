//! The store test suite, run against both real backends: an SQLite file and a throwaway PostgreSQL server
//! (started by `portcullis_testkit::PgServer`; the PostgreSQL tests fail when it is not installed).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_store::{
    AnalysisStatus, Backend, DecisionFilter, EnqueueRequest, Enqueued, Error, FailOutcome,
    FeedRecord, MAX_QUEUED, MAX_QUEUED_PER_NAMESPACE, NewDecision, NewEvaluation, RateLimits,
    RetryPolicy, SCHEMA_VERSION, Store, TriageDocument, TriageKind,
};
use portcullis_testkit::PgServer;
use serde_json::json;

/// A backend under test; `open` opens (another handle on) the same database.
enum Fixture {
    Sqlite(tempfile::TempDir),
    Pg { _server: PgServer, url: String },
}

impl Fixture {
    fn sqlite() -> Fixture {
        Fixture::Sqlite(tempfile::tempdir().expect("temp dir"))
    }
    fn pg() -> Fixture {
        let server =
            PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL for the store tests: {e}"));
        let url = server
            .create_database("portcullis")
            .expect("create database");
        Fixture::Pg {
            _server: server,
            url,
        }
    }
    fn url(&self) -> String {
        match self {
            Fixture::Sqlite(d) => d.path().join("store.db").display().to_string(),
            Fixture::Pg { url, .. } => url.clone(),
        }
    }
    fn open(&self) -> Box<dyn Store> {
        portcullis_store::open(&self.url()).expect("open store")
    }
    /// Tries to change the audit trail behind the store's back; returns the database's error text.
    fn tamper_with_decisions(&self) -> String {
        match self {
            Fixture::Sqlite(_) => {
                let c = rusqlite::Connection::open(self.url()).expect("open");
                let upd = c
                    .execute("UPDATE decisions SET allowed = 1", [])
                    .unwrap_err();
                let del = c.execute("DELETE FROM decisions", []).unwrap_err();
                format!("{upd} / {del}")
            }
            Fixture::Pg { url, .. } => {
                let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
                let upd = c
                    .execute("UPDATE decisions SET allowed = 1", &[])
                    .unwrap_err();
                let del = c.execute("DELETE FROM decisions", &[]).unwrap_err();
                format!("{upd:?} / {del:?}")
            }
        }
    }
}

impl Fixture {
    /// Puts `count` images of `namespace` in the queue behind the store's back, in one statement (so the bound
    /// tests need not enqueue 100,000 images one transaction at a time).
    fn flood_queue(&self, namespace: &str, first: usize, count: usize) {
        let cols = "digest, pull, registry, state, attempts, max_attempts, not_before, enqueued_at, updated_at, \
                    namespace";
        let last = first + count - 1;
        match self {
            Fixture::Sqlite(_) => {
                let c = rusqlite::Connection::open(self.url()).expect("open");
                c.execute(
                    &format!(
                        "WITH RECURSIVE n(x) AS (SELECT {first} UNION ALL SELECT x + 1 FROM n WHERE x < {last}) \
                         INSERT INTO queue ({cols}) SELECT 'sha256:' || printf('%064x', x), 'p', 'r.test', \
                         'queued', 0, 3, 0, 0, 0, ?1 FROM n"
                    ),
                    [namespace],
                )
                .expect("flood the queue");
            }
            Fixture::Pg { url, .. } => {
                let mut c = ::postgres::Client::connect(url, ::postgres::NoTls).expect("connect");
                c.execute(
                    &format!(
                        "INSERT INTO queue ({cols}) SELECT 'sha256:' || lpad(to_hex(x), 64, '0'), 'p', \
                         'r.test', 'queued', 0, 3, 0, 0, 0, $1 FROM generate_series({first}, {last}) x"
                    ),
                    &[&namespace],
                )
                .expect("flood the queue");
            }
        }
    }
}

fn req(digest: &str, registry: &str) -> EnqueueRequest {
    EnqueueRequest {
        namespace: String::new(),
        digest: digest.into(),
        pull: format!("{registry}/app@{digest}"),
        registry: registry.into(),
        force: false,
        max_attempts: 3,
    }
}

fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

const LEASE: Duration = Duration::from_secs(60);

fn migrations_and_persistence(f: &Fixture) {
    let s = f.open();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    s.upsert_image("sha256:aa", Some("r/app:1"), &BTreeMap::new())
        .unwrap();
    drop(s);
    // Reopening runs the migrations again (a no-op) and sees the committed data.
    let s = f.open();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        s.get_image("sha256:aa").unwrap().unwrap().tags,
        vec!["r/app:1"]
    );
    assert_eq!(
        s.backend(),
        if matches!(f, Fixture::Sqlite(_)) {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    );
}

fn images_tags_annotations(f: &Fixture) {
    let s = f.open();
    let mut ann = BTreeMap::new();
    ann.insert("requestor".to_string(), "portcullis-admission".to_string());
    let img = s.upsert_image("sha256:01", Some("reg/a:1"), &ann).unwrap();
    assert_eq!(img.status, AnalysisStatus::NotAnalyzed);
    assert_eq!(img.annotations["requestor"], "portcullis-admission");
    let mut ann2 = BTreeMap::new();
    ann2.insert("team".to_string(), "x".to_string());
    let img = s
        .upsert_image("sha256:01", Some("reg/a:latest"), &ann2)
        .unwrap();
    assert_eq!(img.tags, vec!["reg/a:1", "reg/a:latest"]);
    assert_eq!(img.annotations.len(), 2, "annotations merge");
    s.upsert_image("sha256:02", Some("reg/b:1"), &BTreeMap::new())
        .unwrap();
    assert_eq!(s.list_images(None).unwrap().len(), 2);
    let by_tag = s.list_images(Some("reg/a:latest")).unwrap();
    assert_eq!(by_tag.len(), 1);
    assert_eq!(by_tag[0].digest, "sha256:01");
    assert!(s.list_images(Some("nope:1")).unwrap().is_empty());
    assert!(s.get_image("sha256:ff").unwrap().is_none());
    assert!(s.get_sbom("sha256:01").unwrap().is_none());
    assert!(s.get_findings("sha256:01").unwrap().is_none());
}

fn policies_one_active(f: &Fixture) {
    let s = f.open();
    let b1 = json!({"id": "b1", "version": "1_0"});
    let p1 = s
        .put_policy("admin", "b1", Some("first"), "sha256:p1", &b1)
        .unwrap();
    assert!(p1.active, "the first bundle becomes active");
    let p2 = s
        .put_policy("admin", "b2", None, "sha256:p2", &json!({"id": "b2"}))
        .unwrap();
    assert!(!p2.active);
    assert_eq!(s.active_policy("admin").unwrap().unwrap().id, "b1");
    let act = s.activate_policy("admin", "b2").unwrap();
    assert!(act.active);
    assert_eq!(s.active_policy("admin").unwrap().unwrap().id, "b2");
    let all = s.list_policies("admin").unwrap();
    assert_eq!(all.iter().filter(|p| p.active).count(), 1);
    match s.activate_policy("admin", "missing") {
        Err(Error::NotFound(m)) => assert!(m.contains("missing"), "{m}"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        s.active_policy("admin").unwrap().unwrap().id,
        "b2",
        "unchanged"
    );
    assert!(s.active_policy("other").unwrap().is_none());
    // Replacing a bundle keeps its active flag and updates the document.
    let p2b = s
        .put_policy(
            "admin",
            "b2",
            Some("renamed"),
            "sha256:p2b",
            &json!({"id": "b2", "v": 2}),
        )
        .unwrap();
    assert!(p2b.active);
    assert_eq!(p2b.digest, "sha256:p2b");
    assert_eq!(s.get_policy("admin", "b2").unwrap().unwrap().bundle["v"], 2);
}

fn evaluations_and_findings(f: &Fixture) {
    let s = f.open();
    s.upsert_image("sha256:e1", Some("r/e:1"), &BTreeMap::new())
        .unwrap();
    s.put_findings(
        "sha256:e1",
        "db-1",
        &json!({"findings": [], "db_version": "db-1"}),
    )
    .unwrap();
    s.put_findings(
        "sha256:e1",
        "db-2",
        &json!({"findings": [{"id": "CVE-1"}], "db_version": "db-2"}),
    )
    .unwrap();
    let fnd = s.get_findings("sha256:e1").unwrap().unwrap();
    assert_eq!(fnd.db_version, "db-2");
    assert_eq!(fnd.report["findings"][0]["id"], "CVE-1");
    let e = NewEvaluation {
        digest: "sha256:e1".into(),
        tag: "r/e:1".into(),
        bundle_id: "b".into(),
        bundle_digest: "sha256:b".into(),
        db_version: "db-2".into(),
        final_action: "stop".into(),
        verdict: json!({"final_action": "stop"}),
    };
    let id1 = s.put_evaluation(&e).unwrap();
    let id2 = s
        .put_evaluation(&NewEvaluation {
            final_action: "go".into(),
            ..e.clone()
        })
        .unwrap();
    assert!(id2 > id1);
    let latest = s
        .latest_evaluation("sha256:e1", "r/e:1", "b")
        .unwrap()
        .unwrap();
    assert_eq!(latest.id, id2);
    assert_eq!(latest.evaluation.final_action, "go");
    assert!(
        s.latest_evaluation("sha256:e1", "r/e:2", "b")
            .unwrap()
            .is_none()
    );
}

fn decisions_append_only_and_filtered(f: &Fixture) {
    let s = f.open();
    let d = NewDecision {
        who: "system:serviceaccount:kube-system:replicaset-controller".into(),
        operation: "CREATE".into(),
        kind: "Pod".into(),
        namespace: "shop".into(),
        name: "web-1".into(),
        uid: "u1".into(),
        images: vec!["127.0.0.1:5000/web:1".into()],
        digests: vec!["sha256:abc".into()],
        mode: "policy".into(),
        allowed: false,
        verdict: "fail".into(),
        reasons: vec!["CVE-2023-0286+openssl: STOP".into()],
    };
    let a = s.append_decision(&d).unwrap();
    let b = s
        .append_decision(&NewDecision {
            namespace: "dev".into(),
            allowed: true,
            images: vec!["x_y%z".into()],
            ..d.clone()
        })
        .unwrap();
    assert!(b > a);
    let all = s.list_decisions(&DecisionFilter::default()).unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![b, a],
        "newest first"
    );
    assert_eq!(all[1].decision, d, "round trip");
    let denied = s
        .list_decisions(&DecisionFilter {
            allowed: Some(false),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0].decision.namespace, "shop");
    let by_img = s
        .list_decisions(&DecisionFilter {
            image: Some("sha256:abc".into()),
            namespace: Some("shop".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_img.len(), 1);
    let wildcard = s
        .list_decisions(&DecisionFilter {
            image: Some("_y%".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        wildcard.len(),
        1,
        "LIKE wildcards in the needle are literal"
    );
    let none = s
        .list_decisions(&DecisionFilter {
            image: Some("%".into()),
            namespace: Some("shop".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
    let limited = s
        .list_decisions(&DecisionFilter {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 1);
    let err = f.tamper_with_decisions();
    assert!(err.matches("append-only").count() >= 2, "{err}");
    assert_eq!(
        s.list_decisions(&DecisionFilter::default()).unwrap(),
        all,
        "nothing changed"
    );
}

fn queue_dedup_and_finish(f: &Fixture) {
    let s = f.open();
    s.upsert_image("sha256:q1", Some("r/q:1"), &BTreeMap::new())
        .unwrap();
    assert_eq!(s.enqueue(&req("sha256:q1", "r")).unwrap(), Enqueued::Queued);
    assert_eq!(
        s.enqueue(&req("sha256:q1", "r")).unwrap(),
        Enqueued::AlreadyQueued
    );
    let c = s
        .claim("w1", LEASE, &RateLimits::default())
        .unwrap()
        .expect("claim");
    assert_eq!((c.digest.as_str(), c.attempt), ("sha256:q1", 1));
    assert_eq!(
        s.get_image("sha256:q1").unwrap().unwrap().status,
        AnalysisStatus::Analyzing
    );
    assert!(
        s.claim("w2", LEASE, &RateLimits::default())
            .unwrap()
            .is_none(),
        "claimed once"
    );
    assert_eq!(
        s.enqueue(&req("sha256:q1", "r")).unwrap(),
        Enqueued::AlreadyQueued
    );
    assert!(s.heartbeat(&c, LEASE).unwrap());
    let sbom = json!({"packages": [{"name": "openssl"}]});
    let report = json!({"findings": [], "db_version": "v1"});
    assert!(
        s.finish_analysis(&c, Some("sha256:cfg"), &sbom, Some(("v1", &report)))
            .unwrap()
    );
    let img = s.get_image("sha256:q1").unwrap().unwrap();
    assert_eq!(img.status, AnalysisStatus::Analyzed);
    assert_eq!(img.image_id.as_deref(), Some("sha256:cfg"));
    assert!(img.analyzed_at.is_some());
    assert_eq!(s.get_sbom("sha256:q1").unwrap().unwrap(), sbom);
    assert_eq!(
        s.get_findings("sha256:q1").unwrap().unwrap().db_version,
        "v1"
    );
    assert_eq!(s.sbom_digests().unwrap(), vec!["sha256:q1"]);
    assert!(
        !s.heartbeat(&c, LEASE).unwrap(),
        "finished claims cannot be extended"
    );
    assert_eq!(
        s.enqueue(&req("sha256:q1", "r")).unwrap(),
        Enqueued::AlreadyDone
    );
    assert_eq!(
        s.enqueue(&EnqueueRequest {
            namespace: String::new(),
            force: true,
            ..req("sha256:q1", "r")
        })
        .unwrap(),
        Enqueued::Queued
    );
    assert_eq!(
        s.get_image("sha256:q1").unwrap().unwrap().status,
        AnalysisStatus::NotAnalyzed
    );
    let st = s.queue_stats().unwrap();
    assert_eq!((st.queued, st.claimed, st.done, st.failed), (1, 0, 0, 0));
}

fn queue_retries_with_backoff(f: &Fixture) {
    let s = f.open();
    s.upsert_image("sha256:r1", None, &BTreeMap::new()).unwrap();
    s.enqueue(&req("sha256:r1", "r")).unwrap();
    let slow = RetryPolicy {
        base: Duration::from_secs(3600),
        max: Duration::from_secs(7200),
    };
    let c = s
        .claim("w", LEASE, &RateLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        s.fail_analysis(&c, "registry timeout", false, &slow)
            .unwrap(),
        FailOutcome::Retrying(Duration::from_secs(3600))
    );
    let img = s.get_image("sha256:r1").unwrap().unwrap();
    assert_eq!(img.status, AnalysisStatus::NotAnalyzed);
    assert_eq!(img.error.as_deref(), Some("registry timeout"));
    assert!(
        s.claim("w", LEASE, &RateLimits::default())
            .unwrap()
            .is_none(),
        "backoff respected"
    );
    assert_eq!(
        s.fail_analysis(&c, "again", false, &slow).unwrap(),
        FailOutcome::ClaimLost
    );
    // Force a fresh entry with no backoff to walk through the attempts.
    s.enqueue(&EnqueueRequest {
        namespace: String::new(),
        force: true,
        ..req("sha256:r1", "r")
    })
    .unwrap_or(Enqueued::Queued);
    let fast = RetryPolicy {
        base: Duration::ZERO,
        max: Duration::ZERO,
    };
    let mut outcomes = Vec::new();
    for n in 1..=3 {
        let c = s
            .claim("w", LEASE, &RateLimits::default())
            .unwrap()
            .expect("due");
        assert_eq!(c.attempt, n);
        outcomes.push(
            s.fail_analysis(&c, &format!("boom {n}"), false, &fast)
                .unwrap(),
        );
    }
    assert_eq!(
        outcomes,
        vec![
            FailOutcome::Retrying(Duration::ZERO),
            FailOutcome::Retrying(Duration::ZERO),
            FailOutcome::Failed
        ]
    );
    let img = s.get_image("sha256:r1").unwrap().unwrap();
    assert_eq!(img.status, AnalysisStatus::AnalysisFailed);
    assert_eq!(img.error.as_deref(), Some("boom 3"));
    assert!(
        s.claim("w", LEASE, &RateLimits::default())
            .unwrap()
            .is_none()
    );
    // A permanent error fails at once.
    s.upsert_image("sha256:r2", None, &BTreeMap::new()).unwrap();
    s.enqueue(&req("sha256:r2", "r")).unwrap();
    let c = s
        .claim("w", LEASE, &RateLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        s.fail_analysis(&c, "manifest unknown", true, &fast)
            .unwrap(),
        FailOutcome::Failed
    );
    assert_eq!(s.queue_stats().unwrap().failed, 2);
}

fn queue_stale_claims_recovered(f: &Fixture) {
    let s = f.open();
    for d in ["sha256:s1", "sha256:s2"] {
        s.upsert_image(d, None, &BTreeMap::new()).unwrap();
        s.enqueue(&req(d, "r")).unwrap();
    }
    let short = Duration::from_millis(50);
    let dead = s
        .claim("dead-replica", short, &RateLimits::default())
        .unwrap()
        .unwrap();
    std::thread::sleep(Duration::from_millis(120));
    // Another worker takes the expired claim over; the dead worker can no longer write.
    let taken = s
        .claim("alive", LEASE, &RateLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(taken.digest, dead.digest);
    assert_eq!(taken.attempt, 2);
    assert!(!s.heartbeat(&dead, LEASE).unwrap());
    assert!(
        !s.finish_analysis(&dead, None, &json!({}), None).unwrap(),
        "lost claim writes nothing"
    );
    assert!(s.get_sbom(&dead.digest).unwrap().is_none());
    assert!(
        s.finish_analysis(&taken, None, &json!({"ok": true}), None)
            .unwrap()
    );
    // recover_stale puts an expired claim back and resets the image from `analyzing`.
    let c2 = s
        .claim("dead-replica", short, &RateLimits::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        s.get_image(&c2.digest).unwrap().unwrap().status,
        AnalysisStatus::Analyzing
    );
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(s.recover_stale().unwrap(), 1);
    assert_eq!(
        s.get_image(&c2.digest).unwrap().unwrap().status,
        AnalysisStatus::NotAnalyzed
    );
    assert_eq!(s.queue_stats().unwrap().queued, 1);
    assert_eq!(s.recover_stale().unwrap(), 0);
}

fn queue_rate_limited_per_registry(f: &Fixture) {
    let s = f.open();
    for (d, r) in [
        ("sha256:l1", "slow.example"),
        ("sha256:l2", "slow.example"),
        ("sha256:l3", "fast.example"),
    ] {
        s.upsert_image(d, None, &BTreeMap::new()).unwrap();
        s.enqueue(&req(d, r)).unwrap();
    }
    let mut limits = RateLimits::default();
    limits
        .per_registry
        .insert("slow.example".into(), Duration::from_secs(3600));
    let mut got = Vec::new();
    while let Some(c) = s.claim("w", LEASE, &limits).unwrap() {
        got.push(c.registry);
    }
    got.sort();
    assert_eq!(
        got,
        vec!["fast.example", "slow.example"],
        "one claim per hour from slow.example"
    );
    assert_eq!(s.queue_stats().unwrap().queued, 1);
}

fn queue_concurrent_claims_exactly_once(f: &Fixture) {
    let s: Arc<dyn Store> = Arc::from(f.open());
    let n = 60;
    for k in 0..n {
        let d = format!("sha256:c{k:03}");
        s.upsert_image(&d, None, &BTreeMap::new()).unwrap();
        s.enqueue(&req(&d, "r")).unwrap();
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|w| {
            // Each thread uses its own store handle (its own connection), as replicas would.
            let s: Arc<dyn Store> = if w == 0 {
                s.clone()
            } else {
                Arc::from(f.open())
            };
            let seen = seen.clone();
            std::thread::spawn(move || {
                while let Some(c) = s
                    .claim(&format!("w{w}"), LEASE, &RateLimits::default())
                    .unwrap()
                {
                    assert!(s.finish_analysis(&c, None, &json!({"w": w}), None).unwrap());
                    seen.lock().unwrap().push(c.digest);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread");
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), n, "every entry claimed exactly once");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), n);
    assert_eq!(s.queue_stats().unwrap().done, n as i64);
}

fn feeds_and_singleton_lock(f: &Fixture) {
    let s = f.open();
    let feed = FeedRecord {
        name: "debian".into(),
        db_version: "v1".into(),
        record_count: 10,
        status: "ok".into(),
        updated_at: 5,
    };
    s.put_feed(&feed).unwrap();
    s.put_feed(&FeedRecord {
        db_version: "v2".into(),
        ..feed.clone()
    })
    .unwrap();
    let feeds = s.list_feeds().unwrap();
    assert_eq!(feeds.len(), 1);
    assert_eq!(feeds[0].db_version, "v2");
    let lock = s.try_feed_lock().unwrap().expect("first holder");
    assert!(
        s.try_feed_lock().unwrap().is_none(),
        "second holder refused"
    );
    if matches!(f, Fixture::Pg { .. }) {
        // Another replica (another store on the same database) is refused too.
        assert!(f.open().try_feed_lock().unwrap().is_none());
    }
    drop(lock);
    assert!(s.try_feed_lock().unwrap().is_some(), "released on drop");
}

/// Vulnerability data generations (schema 4): published bundles come back byte for byte across chunk
/// boundaries, numbers increase, and only the newest two are kept.
fn vuln_generations_publish_read_and_prune(f: &Fixture) {
    let s = f.open();
    assert_eq!(s.latest_vuln_generation().unwrap(), None);
    let dir = tempfile::tempdir().unwrap();
    // A bundle over one chunk, with every byte value.
    let bytes: Vec<u8> = (0..portcullis_store::VULN_CHUNK_BYTES + 1000)
        .map(|n| (n % 251) as u8)
        .collect();
    let bundle = dir.path().join("bundle.db");
    std::fs::write(&bundle, &bytes).unwrap();
    let g1 = s
        .publish_vuln_generation(&bundle, "sha-1", "1.a", "replica-a")
        .unwrap();
    assert_eq!(g1.generation, 1);
    assert_eq!(g1.size, bytes.len() as i64);
    let other = f.open();
    assert_eq!(other.latest_vuln_generation().unwrap(), Some(g1.clone()));
    let back = dir.path().join("back.db");
    other.read_vuln_generation(1, &back).unwrap();
    assert!(
        std::fs::read(&back).unwrap() == bytes,
        "bundle bytes differ"
    );
    std::fs::write(&bundle, b"second").unwrap();
    s.publish_vuln_generation(&bundle, "sha-2", "1.b", "replica-b")
        .unwrap();
    let g3 = s
        .publish_vuln_generation(&bundle, "sha-3", "1.c", "replica-a")
        .unwrap();
    assert_eq!(g3.generation, 3);
    assert_eq!(s.latest_vuln_generation().unwrap(), Some(g3));
    other.read_vuln_generation(2, &back).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"second");
    let e = other.read_vuln_generation(1, &back).unwrap_err();
    assert!(e.to_string().contains("generation 1"), "{e}");
}

/// One namespace queueing 1,000 images cannot starve another namespace's single image: claims go round-robin
/// across namespaces (issue #13 item 5).
fn queue_fair_across_namespaces(f: &Fixture) {
    let s = f.open();
    for n in 0..1000 {
        let d = digest(0x10_000 + n);
        s.upsert_image(&d, None, &BTreeMap::new()).unwrap();
        s.enqueue(&EnqueueRequest {
            namespace: "busy".into(),
            ..req(&d, "r.test")
        })
        .unwrap();
    }
    let quiet = digest(0x20_000);
    s.upsert_image(&quiet, None, &BTreeMap::new()).unwrap();
    s.enqueue(&EnqueueRequest {
        namespace: "quiet".into(),
        ..req(&quiet, "r.test")
    })
    .unwrap();
    let limits = RateLimits::default();
    let first: Vec<String> = (0..2)
        .map(|_| s.claim("w", LEASE, &limits).unwrap().unwrap().digest)
        .collect();
    assert!(
        first.contains(&quiet),
        "the quiet namespace's image is among the first two claimed: {first:?}"
    );
    // And the busy namespace keeps its order.
    assert_eq!(first[0], digest(0x10_000));
    assert_eq!(
        s.claim("w", LEASE, &limits).unwrap().unwrap().digest,
        digest(0x10_001)
    );
}

/// The shared analysis queue is bounded per namespace and overall: a namespace at its bound gets a precise
/// `QueueFull`, another namespace still queues, and past the overall bound nobody does (issue #13 item 5).
fn queue_is_bounded_per_namespace_and_overall(f: &Fixture) {
    let s = f.open();
    let per_ns = MAX_QUEUED_PER_NAMESPACE as usize;
    f.flood_queue("flood", 0x100_000, per_ns);
    let one_more = digest(0x900_001);
    let e = s
        .enqueue(&EnqueueRequest {
            namespace: "flood".into(),
            ..req(&one_more, "r.test")
        })
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, Error::QueueFull { limit, .. } if limit == MAX_QUEUED_PER_NAMESPACE),
        "{text}"
    );
    assert!(
        text.contains(r#"for namespace "flood""#) && text.contains(&one_more),
        "{text}"
    );
    assert_eq!(
        s.get_image(&one_more).unwrap(),
        None,
        "a refused image leaves no record"
    );
    let quiet = digest(0x900_002);
    let ok = s.enqueue(&EnqueueRequest {
        namespace: "quiet".into(),
        ..req(&quiet, "r.test")
    });
    assert_eq!(
        ok.unwrap(),
        Enqueued::Queued,
        "another namespace still queues"
    );
    // Fill the rest of the overall bound from many namespaces' worth of rows in one go.
    let rest = MAX_QUEUED as usize - per_ns - 1;
    f.flood_queue("others", 0x200_000, rest);
    let e = s
        .enqueue(&EnqueueRequest {
            namespace: "new".into(),
            ..req(&digest(0x900_003), "r.test")
        })
        .unwrap_err();
    assert!(
        matches!(e, Error::QueueFull { limit, .. } if limit == MAX_QUEUED),
        "{e}"
    );
    // Re-asking for an image already queued is not an addition and never refused.
    assert_eq!(
        s.enqueue(&EnqueueRequest {
            namespace: "quiet".into(),
            ..req(&quiet, "r.test")
        })
        .unwrap(),
        Enqueued::AlreadyQueued
    );
}

/// A replica's workers never all hold one registry's images: with a cap of 1, the second worker of the replica
/// takes the other registry's image even though the first registry's was queued first; another replica has its
/// own count.
fn queue_caps_claims_per_registry_and_replica(f: &Fixture) {
    let s = f.open();
    for (n, registry) in [(1, "tarpit.test"), (2, "tarpit.test"), (3, "good.test")] {
        let d = digest(0x30_000 + n);
        s.upsert_image(&d, None, &BTreeMap::new()).unwrap();
        s.enqueue(&req(&d, registry)).unwrap();
    }
    let limits = RateLimits {
        max_claimed_per_registry: 1,
        ..Default::default()
    };
    let first = s.claim("r1/0", LEASE, &limits).unwrap().unwrap();
    assert_eq!(first.registry, "tarpit.test");
    let second = s.claim("r1/1", LEASE, &limits).unwrap().unwrap();
    assert_eq!(second.registry, "good.test", "{second:?}");
    assert!(s.claim("r1/2", LEASE, &limits).unwrap().is_none());
    let other = s.claim("r2/0", LEASE, &limits).unwrap().unwrap();
    assert_eq!(
        other.registry, "tarpit.test",
        "another replica counts its own"
    );
}

/// Image changes are read incrementally: after one change, only that image comes back; a tag resolved again
/// to an older digest leads to it (the newest resolution wins).
fn image_changes_are_incremental(f: &Fixture) {
    let s = f.open();
    let tag = "r.test/app:1";
    for n in 0..20 {
        s.upsert_image(&digest(n), Some(tag), &BTreeMap::new())
            .unwrap();
    }
    let all = s.image_changes(None).unwrap();
    assert_eq!(all.images.len(), 20);
    assert!(all.images.iter().all(|i| i.tags == [tag]));
    // A read within the overlap window (5 s) sees recent changes again; once it has passed, only new ones.
    assert_eq!(s.image_changes(Some(all.as_of)).unwrap().images.len(), 20);
    std::thread::sleep(Duration::from_millis(5_100));
    let later = s.image_changes(Some(all.as_of)).unwrap();
    let none = s.image_changes(Some(later.as_of)).unwrap();
    assert!(none.images.is_empty(), "{:?}", none.images);
    std::thread::sleep(Duration::from_millis(20));
    assert!(s.record_resolution(&digest(3), tag).unwrap());
    assert!(
        !s.record_resolution(&digest(99), tag).unwrap(),
        "unknown image"
    );
    let one = s.image_changes(Some(none.as_of)).unwrap();
    assert_eq!(
        one.images
            .iter()
            .map(|i| i.digest.clone())
            .collect::<Vec<_>>(),
        [digest(3)]
    );
    let newest = all.tag_times.iter().map(|t| t.at).max().unwrap();
    assert!(
        one.tag_times[0].at > newest,
        "digest 3 was resolved last: {:?}",
        one.tag_times
    );
}

fn access_records_upsert_forget_and_persist(f: &Fixture) {
    let s = f.open();
    assert!(s.list_access(None).unwrap().is_empty());
    s.record_access("sha256:aa", "namespace:team-a").unwrap();
    s.record_access("sha256:aa", "shared").unwrap();
    std::thread::sleep(Duration::from_millis(5));
    // Seen again: one row, newer.
    s.record_access("sha256:aa", "namespace:team-a").unwrap();
    let rows = s.list_access(None).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        (rows[0].digest.as_str(), rows[0].access.as_str()),
        ("sha256:aa", "namespace:team-a"),
        "most recently seen first"
    );
    assert!(rows[0].seen_at > rows[1].seen_at, "{rows:?}");
    // Only what was seen since a point in time (a replica's incremental read).
    let newer = s.list_access(Some(rows[0].seen_at)).unwrap();
    assert_eq!(newer.len(), 1, "{newer:?}");
    assert_eq!(newer[0].access, "namespace:team-a");
    s.forget_access("sha256:aa", "shared").unwrap();
    s.forget_access("sha256:aa", "namespace:never").unwrap();
    drop(s);
    // Kept across reopening (another replica, a restart).
    let s = f.open();
    let rows = s.list_access(None).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].access, "namespace:team-a");
}

fn signature_records_upsert_and_persist(f: &Fixture) {
    let s = f.open();
    assert!(s.list_signatures(None).unwrap().is_empty());
    let facts = |signer: &str| serde_json::json!({"digest": "sha256:aa", "signatures": [{"source": "tag", "signer": signer, "verified": true}]});
    s.put_signatures("sha256:aa", "keys:ci", &facts("old.pub"))
        .unwrap();
    s.put_signatures("sha256:bb", "keys:ci", &facts("ci.pub"))
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    // Verified again: one row, replaced, newest first.
    s.put_signatures("sha256:aa", "keys:ci", &facts("ci.pub"))
        .unwrap();
    s.put_signatures("sha256:aa", "keys:other", &facts("x.pub"))
        .unwrap();
    let rows = s.list_signatures(None).unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let aa = rows
        .iter()
        .find(|r| r.digest == "sha256:aa" && r.requirement == "keys:ci")
        .unwrap();
    assert_eq!(aa.facts["signatures"][0]["signer"], "ci.pub");
    assert!(
        rows[rows.len() - 1].digest == "sha256:bb",
        "oldest last: {rows:?}"
    );
    drop(s);
    let s = f.open();
    assert_eq!(
        s.list_signatures(None).unwrap().len(),
        3,
        "kept across reopening"
    );
}

fn bad_urls_are_explained(f: &Fixture) {
    if let Fixture::Sqlite(d) = f {
        let missing = d.path().join("no/such/dir/x.db");
        let err = portcullis_store::open(&missing.display().to_string())
            .err()
            .expect("error");
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = portcullis_store::open("sqlite:").err().expect("error");
        assert!(err.to_string().contains("not understood"), "{err}");
    } else {
        let err = portcullis_store::open("postgres://nobody:secretpw@127.0.0.1:1/none")
            .err()
            .expect("error");
        let msg = err.to_string();
        assert!(
            msg.contains("127.0.0.1:1") && !msg.contains("secretpw"),
            "{msg}"
        );
    }
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $case() { super::$case(&super::Fixture::sqlite()); } )*
        }
        mod postgres {
            $( #[test] fn $case() { super::$case(&super::Fixture::pg()); } )*
        }
    };
}

suite!(
    migrations_and_persistence,
    images_tags_annotations,
    policies_one_active,
    evaluations_and_findings,
    decisions_append_only_and_filtered,
    queue_dedup_and_finish,
    queue_retries_with_backoff,
    queue_stale_claims_recovered,
    queue_rate_limited_per_registry,
    queue_concurrent_claims_exactly_once,
    feeds_and_singleton_lock,
    access_records_upsert_forget_and_persist,
    signature_records_upsert_and_persist,
    bad_urls_are_explained,
    queue_fair_across_namespaces,
    queue_is_bounded_per_namespace_and_overall,
    queue_caps_claims_per_registry_and_replica,
    image_changes_are_incremental,
    triage_documents_shared_by_every_handle,
    vuln_generations_publish_read_and_prune,
);

fn triage_documents_shared_by_every_handle(f: &Fixture) {
    let a = f.open();
    let b = f.open();
    let doc = |kind, id: &str, name: &str, at| TriageDocument {
        id: id.into(),
        kind,
        name: name.into(),
        content: format!("{{\"doc\": \"{name}\"}}"),
        created_at: at,
    };
    let vex = a
        .put_triage_document(&doc(TriageKind::Vex, "aa11", "app.openvex.json", 10))
        .unwrap();
    assert_eq!(vex.name, "app.openvex.json");
    // The same content again is the same document: the first record stays.
    let again = b
        .put_triage_document(&doc(TriageKind::Vex, "aa11", "renamed.json", 20))
        .unwrap();
    assert_eq!(again, vex);
    b.put_triage_document(&doc(TriageKind::IgnoreRules, "bb22", "team.yaml", 30))
        .unwrap();
    b.put_triage_document(&doc(TriageKind::Vex, "cc33", "later.json", 40))
        .unwrap();
    let names = |s: &dyn Store, k| -> Vec<String> {
        s.list_triage_documents(k)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect()
    };
    assert_eq!(
        names(a.as_ref(), None),
        ["app.openvex.json", "team.yaml", "later.json"]
    );
    assert_eq!(
        names(a.as_ref(), Some(TriageKind::Vex)),
        ["app.openvex.json", "later.json"]
    );
    assert_eq!(
        a.list_triage_documents(Some(TriageKind::IgnoreRules))
            .unwrap()[0]
            .content,
        "{\"doc\": \"team.yaml\"}"
    );
    // Deleting needs the right kind; a second delete finds nothing.
    assert!(
        !a.delete_triage_document(TriageKind::IgnoreRules, "aa11")
            .unwrap()
    );
    assert!(a.delete_triage_document(TriageKind::Vex, "aa11").unwrap());
    assert!(!b.delete_triage_document(TriageKind::Vex, "aa11").unwrap());
    assert_eq!(names(b.as_ref(), None), ["team.yaml", "later.json"]);
    drop((a, b));
    assert_eq!(names(f.open().as_ref(), None), ["team.yaml", "later.json"]);
}
