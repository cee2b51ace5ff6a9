//! Admission's snapshot refreshes incrementally (issue #13 item 5, issue #14): after one analysis a refresh reads
//! and evaluates that one image, not every stored one. The ignored benchmark measures full against incremental
//! refreshes over many analysed images in PostgreSQL, and the snapshot's memory per image.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use portcullis_admission::{ImageState, ImageVerdicts};
use portcullis_engine::stages::Matcher;
use portcullis_engine::verdicts::EngineVerdicts;
use portcullis_sbom::{Distro, Sbom};
use portcullis_store::{EnqueueRequest, RateLimits, Store};

fn default_bundle() -> serde_json::Value {
    let p = shared().join("policies/anchore-engine/anchore_default_bundle.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Stores `n` analysed images (digests from `first`), each tagged `reg.test/app{i}:1`, as a worker would.
fn analysed(store: &dyn Store, first: usize, n: usize) {
    let matcher = TableMatcher::new();
    let analyser = TableAnalyser::new("snapshot", Duration::ZERO);
    let sbom = Sbom {
        schema_version: "1".into(),
        analyser_version: "snapshot".into(),
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            ..Default::default()
        }),
        packages: analyser.packages.clone(),
        ..Default::default()
    };
    let report = matcher.match_sbom(&sbom).unwrap();
    let sbom_doc = serde_json::to_value(&sbom).unwrap();
    let report_doc = serde_json::to_value(&report).unwrap();
    for i in first..first + n {
        let d = digest(i);
        store
            .upsert_image(&d, Some(&format!("reg.test/app{i}:1")), &Default::default())
            .unwrap();
        store
            .enqueue(&EnqueueRequest {
                digest: d.clone(),
                pull: format!("reg.test/app{i}@{d}"),
                registry: "reg.test".into(),
                force: false,
                max_attempts: 3,
                namespace: String::new(),
            })
            .unwrap();
        let c = store
            .claim("bench", Duration::from_secs(60), &RateLimits::default())
            .unwrap()
            .expect("claim");
        // Pulled with the shared access: every namespace may be told about it.
        store.record_access(&d, "shared").unwrap();
        assert!(
            store
                .finish_analysis(&c, None, &sbom_doc, Some((&report.db_version, &report_doc)))
                .unwrap()
        );
    }
}

fn verdicts_over(
    store: Arc<dyn Store>,
) -> (
    Server,
    Arc<EngineVerdicts>,
    tokio::sync::watch::Sender<bool>,
) {
    let (_t, stages) = stages("snapshot", Duration::ZERO);
    let srv = Server::start(store, stages, fast_config("snapshot"), false);
    srv.engine.add_policy(default_bundle()).unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let e = srv.engine.clone();
    // A refresh interval far beyond the test: refreshes run when the test asks.
    let v = srv
        .rt
        .as_ref()
        .unwrap()
        .block_on(async move { EngineVerdicts::start(e, Duration::from_secs(3600), rx) });
    (srv, v, stop)
}

#[test]
fn a_refresh_after_one_analysis_reads_and_evaluates_one_image() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::from(portcullis_store::open(&dir.path().join("s.db").display().to_string()).unwrap());
    analysed(store.as_ref(), 1, 200);
    let (_srv, v, _stop) = verdicts_over(store.clone());
    // The start-up refresh may still be running; wait for it, then let the store's overlap window pass.
    while !v.ready() {
        std::thread::sleep(Duration::from_millis(20));
    }
    v.refresh_now().unwrap();
    std::thread::sleep(Duration::from_millis(5_100));
    v.refresh_now().unwrap();
    let idle = v.refresh_now().unwrap();
    assert_eq!(
        (idle.images_read, idle.evaluated),
        (0, 0),
        "nothing changed"
    );

    analysed(store.as_ref(), 500, 1);
    let one = v.refresh_now().unwrap();
    assert_eq!(
        (one.images_read, one.evaluated),
        (1, 1),
        "one analysis, one image read and evaluated"
    );
    let r = portcullis_admission::parse_image("reg.test/app500:1").unwrap();
    match v.lookup(&r, "default", "team") {
        ImageState::Analyzed {
            verdict: Some(_),
            digest: d,
            ..
        } => assert_eq!(d, digest(500)),
        other => panic!("the new image's verdict is served: {other:?}"),
    }
    // A tag moved to another digest follows the newest resolution.
    let moved = portcullis_admission::parse_image("reg.test/app1:1").unwrap();
    assert_eq!(v.resolve_cached(&moved), Some(digest(1)));
    std::thread::sleep(Duration::from_millis(5));
    store
        .record_resolution(&digest(2), "reg.test/app1:1")
        .unwrap();
    v.refresh_now().unwrap();
    assert_eq!(v.resolve_cached(&moved), Some(digest(2)));
    std::thread::sleep(Duration::from_millis(5));
    store
        .record_resolution(&digest(1), "reg.test/app1:1")
        .unwrap();
    v.refresh_now().unwrap();
    assert_eq!(
        v.resolve_cached(&moved),
        Some(digest(1)),
        "moved back to an older digest: the newest resolution wins"
    );
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `cargo test -p portcullis-engine --test snapshot -- --ignored --nocapture` (PORTCULLIS_BENCH_IMAGES, default
/// 50000): full against incremental refresh in one run, and the snapshot's memory per image.
#[test]
#[ignore = "benchmark: minutes, run by hand"]
fn bench_full_and_incremental_refresh_on_postgres() {
    let n: usize = std::env::var("PORTCULLIS_BENCH_IMAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let pg = portcullis_testkit::PgServer::start().expect("PostgreSQL for the benchmark");
    let store: Arc<dyn Store> = Arc::from(portcullis_store::open(&pg.url()).unwrap());
    let t = Instant::now();
    analysed(store.as_ref(), 1, n);
    eprintln!("stored {n} analysed images in {:?}", t.elapsed());
    // The start-up refresh is a full one: it builds the snapshot from nothing.
    let before = rss_kib();
    let t = Instant::now();
    let (_srv, v, _stop) = verdicts_over(store.clone());
    while !v.ready() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let first = t.elapsed();
    let after = rss_kib();
    let t = Instant::now();
    let full = v.refresh_full().unwrap();
    let full_time = t.elapsed();
    std::thread::sleep(Duration::from_millis(5_100));
    v.refresh_now().unwrap();
    analysed(store.as_ref(), n + 10, 1);
    let t = Instant::now();
    let inc = v.refresh_now().unwrap();
    let inc_time = t.elapsed();
    eprintln!(
        "{n} images: start-up refresh {first:?}; full refresh {full_time:?} ({} images read, {} evaluated); \
         incremental after one analysis {inc_time:?} ({} read, {} evaluated); full/incremental {:.0}x; resident \
         memory {before} KiB before the snapshot, {after} KiB after ({:.2} KiB per image)",
        full.images_read,
        full.evaluated,
        inc.images_read,
        inc.evaluated,
        full_time.as_secs_f64() / inc_time.as_secs_f64().max(1e-9),
        after.saturating_sub(before) as f64 / n as f64,
    );
    assert_eq!((inc.images_read, inc.evaluated), (1, 1));
}
