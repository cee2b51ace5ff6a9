//! Two replicas on one PostgreSQL: 200 distinct images queued through both are each analysed to completion
//! exactly once, and `kill -9` of one replica mid-analysis loses nothing — the other takes over its expired
//! claims. The killed replica is a real child process (this test binary re-executed in replica mode) killed
//! with SIGKILL; store, queue, API and client are real; the analyser is the stand-in from `common` (it builds
//! SBOM values instead of pulling 200 images — the queue is what is under test).

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use portcullis_store::{AnalysisStatus, Store};
use portcullis_testkit::PgServer;

const CHILD_ENV: &str = "PORTCULLIS_TEST_REPLICA_CHILD_URL";
const TEST_NAME: &str = "two_replicas_share_the_queue_and_survive_kill_9";
const IMAGES: usize = 200;

fn pull(k: usize) -> String {
    format!("reg{}.example/team/app{k}@{}", k % 3, digest(k + 1))
}

/// Replica A: queues the even images through its own engine, then analyses slowly until killed.
fn child_replica(url: &str) {
    let store: Arc<dyn Store> = Arc::from(portcullis_store::open(url).expect("child: open store"));
    let (_t, stages) = stages("replica-a", Duration::from_millis(400));
    let srv = Server::start(store, stages, fast_config("replica-a"), false);
    let engine = srv.engine.clone();
    srv.rt.as_ref().expect("runtime").block_on(async move {
        for k in (0..IMAGES).step_by(2) {
            engine
                .add_image(&pull(k), annotations(&[("queued-by", "replica-a")]), false)
                .await
                .expect("child: add image");
        }
    });
    srv.start_workers();
    // Runs until the parent kills it; exits on its own if the parent vanished.
    std::thread::sleep(Duration::from_secs(120));
    std::process::exit(3);
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_replicas_share_the_queue_and_survive_kill_9() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        child_replica(&url);
        return;
    }
    let pg = PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL for the replica test: {e}"));
    let url = pg.create_database("replicas").unwrap();
    let store: Arc<dyn Store> = Arc::from(portcullis_store::open(&url).unwrap());

    let mut child = KillOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start replica A"),
    );

    // Replica B (this process) queues the odd images through its API; its workers start after the kill.
    let (t, stages) = stages("replica-b", Duration::from_millis(20));
    let b = Server::start(store.clone(), stages, fast_config("replica-b"), false);
    let client = b.client();
    for k in (1..IMAGES).step_by(2) {
        client
            .add_image(&pull(k), annotations(&[("queued-by", "replica-b")]), false)
            .unwrap();
    }
    // Queuing an image replica A queued too is deduplicated by digest.
    wait_for(
        "replica A to queue its images",
        Duration::from_secs(60),
        || {
            let s = store.queue_stats().unwrap();
            s.queued + s.claimed + s.done == IMAGES as i64
        },
    );
    let dup = client
        .add_image(&pull(0), Default::default(), false)
        .unwrap();
    assert_ne!(dup.queue, portcullis_engine::api::QueueOutcome::Queued);

    // Let A work for a while, then kill -9 it while it holds claims.
    wait_for(
        "replica A to finish some and hold claims",
        Duration::from_secs(60),
        || {
            let s = store.queue_stats().unwrap();
            s.done >= 8 && s.claimed >= 2
        },
    );
    child.0.kill().expect("SIGKILL replica A");
    let status = child.0.wait().unwrap();
    assert!(!status.success(), "replica A was killed: {status:?}");
    let mut pgc = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let in_flight: BTreeSet<String> = pgc
        .query(
            "SELECT digest FROM queue WHERE state = 'claimed' AND claimed_by LIKE 'replica-a/%'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!in_flight.is_empty(), "A held claims when killed");
    for d in &in_flight {
        assert_eq!(
            store.get_image(d).unwrap().unwrap().status,
            AnalysisStatus::Analyzing
        );
    }

    b.start_workers();
    wait_for(
        "replica B to finish the queue",
        Duration::from_secs(120),
        || store.queue_stats().unwrap().done == IMAGES as i64,
    );

    let stats = store.queue_stats().unwrap();
    assert_eq!((stats.queued, stats.claimed, stats.failed), (0, 0, 0));
    let images = store.list_images(None).unwrap();
    assert_eq!(images.len(), IMAGES);
    assert!(
        images.iter().all(|i| i.status == AnalysisStatus::Analyzed),
        "none stuck in analyzing"
    );
    let mut finished_by_a = BTreeSet::new();
    for img in &images {
        let sbom = store
            .get_sbom(&img.digest)
            .unwrap()
            .expect("every image has an SBOM");
        match sbom["analyser_version"].as_str() {
            Some("replica-a") => {
                finished_by_a.insert(img.digest.clone());
            }
            Some("replica-b") => {}
            other => panic!("{}: analysed by {other:?}", img.digest),
        }
        assert!(store.get_findings(&img.digest).unwrap().is_some());
    }
    let b_calls = t.analyser.calls.lock().unwrap().clone();
    assert!(
        b_calls.values().all(|&n| n == 1),
        "B analysed no image twice"
    );
    assert!(
        finished_by_a.iter().all(|d| !b_calls.contains_key(d)),
        "B never re-analysed what A finished"
    );
    assert_eq!(
        finished_by_a.len() + b_calls.len(),
        IMAGES,
        "each image analysed to completion exactly once"
    );
    assert!(
        in_flight.iter().all(|d| b_calls.contains_key(d)),
        "B finished A's interrupted analyses"
    );
    assert!(finished_by_a.len() >= 8);
}
