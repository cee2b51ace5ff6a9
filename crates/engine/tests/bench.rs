//! Throughput and latency figures (ignored by default; run with
//! `cargo test -p portcullis-engine --release --test bench -- --ignored --nocapture`):
//! queue round trips (enqueue → claim → finish) on SQLite versus PostgreSQL measured in the same run, and the
//! admission path's in-memory `lookup` latency.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use portcullis_admission::{ImageState, ImageVerdicts};
use portcullis_store::{EnqueueRequest, RateLimits, Store};
use portcullis_testkit::PgServer;

fn queue_round_trips(s: &dyn Store, n: usize) -> Duration {
    let start = Instant::now();
    for k in 0..n {
        let d = digest(k + 1);
        s.upsert_image(
            &d,
            Some(&format!("reg.example/app:{k}")),
            &Default::default(),
        )
        .unwrap();
        s.enqueue(&EnqueueRequest {
            namespace: String::new(),
            digest: d.clone(),
            pull: format!("r/app@{d}"),
            registry: "r".into(),
            force: false,
            max_attempts: 3,
        })
        .unwrap();
        let c = s
            .claim("bench", Duration::from_secs(60), &RateLimits::default())
            .unwrap()
            .unwrap();
        assert!(
            s.finish_analysis(&c, None, &serde_json::json!({"packages": []}), None)
                .unwrap()
        );
    }
    start.elapsed()
}

#[test]
#[ignore]
fn bench_queue_and_lookup() {
    let n = 1000;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = portcullis_store::open(&dir.path().join("b.db").display().to_string()).unwrap();
    let t_sqlite = queue_round_trips(sqlite.as_ref(), n);
    let pg = PgServer::start().unwrap();
    let url = pg.create_database("bench").unwrap();
    let pgs = portcullis_store::open(&url).unwrap();
    let t_pg = queue_round_trips(pgs.as_ref(), n);
    println!(
        "queue round trip (upsert+enqueue+claim+finish), {n} images: SQLite {:.0} µs/image, PostgreSQL {:.0} µs/image, PostgreSQL/SQLite = {:.2}",
        t_sqlite.as_micros() as f64 / n as f64,
        t_pg.as_micros() as f64 / n as f64,
        t_pg.as_secs_f64() / t_sqlite.as_secs_f64()
    );

    // Admission lookups against a snapshot of the 1000 analysed images.
    let store: Arc<dyn Store> = Arc::from(sqlite);
    let (_t, stages) = stages("b", Duration::ZERO);
    let srv = Server::start(store, stages, fast_config("b"), false);
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let e = srv.engine.clone();
    let v = srv.rt.as_ref().unwrap().block_on(async move {
        portcullis_engine::verdicts::EngineVerdicts::start(e, Duration::from_secs(3600), rx)
    });
    // The images were analysed without a namespace's pull secret: every namespace may be told.
    for k in 0..n {
        srv.engine
            .access()
            .record(&digest(k + 1), portcullis_engine::stages::Access::Shared);
    }
    let refresh = Instant::now();
    v.refresh_now().unwrap();
    let refresh = refresh.elapsed();
    let refs: Vec<_> = (0..n)
        .map(|k| portcullis_admission::parse_image(&format!("reg.example/app:{k}")).unwrap())
        .collect();
    let lookups = 200_000;
    let start = Instant::now();
    let mut analysed = 0;
    for i in 0..lookups {
        if matches!(
            v.lookup(&refs[i % n], "default", "bench"),
            ImageState::Analyzed { .. }
        ) {
            analysed += 1;
        }
    }
    let per = start.elapsed().as_nanos() as f64 / lookups as f64;
    assert_eq!(analysed, lookups);
    println!(
        "admission lookup (in-memory snapshot, {n} images): {per:.0} ns/lookup; snapshot refresh {refresh:?}"
    );
}
