//! Fairness of admission's queueing (issue #13 item 5), with the real registry stages: images from two tarpit
//! registries on loopback (one accepts and never answers, one answers byte by byte) and an image in a real
//! docker-registry, asked for by another namespace. The real registry's image is analysed and its verdict served
//! within seconds, while the tarpits' lookups hit their deadline, their breakers open (later lookups fail at
//! once) and, after the cool-down, one probe goes through.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use portcullis_admission::{ImageState, ImageVerdicts};
use portcullis_engine::resolve::{BreakerState, ResolveConfig};
use portcullis_engine::stages::{LearnedCredentials, Matcher};
use portcullis_engine::verdicts::EngineVerdicts;
use portcullis_engine::{EngineConfig, Stages};
use portcullis_store::Store;
use portcullis_testkit::{
    LayerBuilder, Mode, OciWriter, Registry, TestImage, silent_tarpit, trickling_tarpit,
};

/// Two workers, at most one of them on one registry's images (serve's default: one less than the workers).
fn config(deadline: Duration, cool_down: Duration) -> EngineConfig {
    EngineConfig {
        resolve: ResolveConfig {
            deadline,
            failures_to_open: 2,
            cool_down,
            ..Default::default()
        },
        workers: 2,
        rate_limits: portcullis_store::RateLimits {
            max_claimed_per_registry: 1,
            ..Default::default()
        },
        ..fast_config("fair")
    }
}

struct Setup {
    _reg: Registry,
    _dir: tempfile::TempDir,
    srv: Server,
    verdicts: Arc<EngineVerdicts>,
    real: String,
    _stop: tokio::sync::watch::Sender<bool>,
}

fn setup(config: EngineConfig) -> Setup {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let mut w = OciWriter::new(&layout).unwrap();
    let m = w
        .image(&TestImage::new(vec![
            LayerBuilder::new()
                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                .tar(),
        ]))
        .unwrap();
    w.tag("v1", &m).finish().unwrap();
    reg.push(&layout, "v1", "quiet/app:1", false).unwrap();
    let store: Arc<dyn Store> =
        Arc::from(portcullis_store::open(&dir.path().join("f.db").display().to_string()).unwrap());
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // The real resolver and analyser with serve's registry options (60 s per request, 3 retries).
    let matcher: Arc<dyn Matcher> = Arc::new(TableMatcher::new());
    let stages = Stages::registry(
        portcullis_image::PullOptions::default(),
        work,
        Some(matcher),
        None,
        LearnedCredentials::default(),
        Vec::new(),
    );
    let srv = Server::start(store, stages, config, true);
    let bundle_path = shared().join("policies/anchore-engine/anchore_default_bundle.json");
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle_path).unwrap()).unwrap();
    srv.engine.add_policy(bundle).unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let engine = srv.engine.clone();
    let verdicts = srv
        .rt
        .as_ref()
        .unwrap()
        .block_on(async move { EngineVerdicts::start(engine, Duration::from_millis(200), rx) });
    Setup {
        real: format!("{}/quiet/app:1", reg.addr),
        _reg: reg,
        _dir: dir,
        srv,
        verdicts,
        _stop: stop,
    }
}

/// Waits until the verdict of `image` is served; returns how long that took.
fn verdict_within(v: &EngineVerdicts, image: &str, limit: Duration) -> Duration {
    let r = portcullis_admission::parse_image(image).unwrap();
    let t = Instant::now();
    loop {
        if let ImageState::Analyzed {
            verdict: Some(_), ..
        } = v.lookup(&r, "default", "quiet")
        {
            return t.elapsed();
        }
        assert!(
            t.elapsed() < limit,
            "no verdict for {image} after {limit:?}: {:?}",
            v.lookup(&r, "default", "quiet")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_tarpit_registry_delays_no_other_registrys_image() {
    let s = setup(config(Duration::from_secs(2), Duration::from_secs(4)));
    let (silent, trickle) = (silent_tarpit(), trickling_tarpit());
    // Images pinned by digest on the silent tarpit go straight to the analysis workers: at most one worker
    // may hold them.
    for n in 0..3 {
        let r = portcullis_admission::parse_image(&format!(
            "{silent}/slow/pinned{n}@sha256:{}",
            format!("{n:x}").repeat(64)
        ))
        .unwrap();
        s.verdicts
            .enqueue(&r, &format!("admission Pod busy/pinned-{n}"), "busy");
    }
    let store = s.srv.engine.store().clone();
    let t = Instant::now();
    while store.queue_stats().unwrap().claimed == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the pinned images were never claimed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // A busy namespace asks for many images from both tarpits first…
    for n in 0..20 {
        for host in [&silent, &trickle] {
            let r = portcullis_admission::parse_image(&format!("{host}/slow/img{n}:1")).unwrap();
            s.verdicts
                .enqueue(&r, &format!("admission Pod busy/pod-{n}"), "busy");
        }
    }
    // …then another namespace asks for one image from a registry that works.
    let real = portcullis_admission::parse_image(&s.real).unwrap();
    s.verdicts
        .enqueue(&real, "admission Pod quiet/web", "quiet");
    let took = verdict_within(&s.verdicts, &s.real, Duration::from_secs(8));
    assert_eq!(
        store.queue_stats().unwrap().claimed,
        1,
        "one worker holds a pinned tarpit image, the other was free"
    );
    eprintln!("verdict of the real registry's image served after {took:?}");

    // The tarpits' lookups hit their deadline and their breakers open.
    let pool = s.srv.engine.resolve_pool();
    let t = Instant::now();
    for host in [&silent, &trickle] {
        while !matches!(pool.breaker(host), BreakerState::Open { .. }) {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "breaker of {host} never opened: {:?}",
                pool.breaker(host)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    // Later lookups fail at once, naming the registry and why.
    let slow = portcullis_image::ImageRef::parse(&format!("{silent}/slow/later:1")).unwrap();
    let rt = s.srv.rt.as_ref().unwrap();
    let t = Instant::now();
    let e = rt.block_on(pool.resolve(&slow, None)).unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(200),
        "took {:?}",
        t.elapsed()
    );
    assert!(
        e.unreachable && e.message.contains(&silent) && e.message.contains("did not answer within"),
        "{e}"
    );
    // After the cool-down one probe goes through (and, the tarpit still silent, takes the deadline and
    // re-opens the breaker).
    while matches!(pool.breaker(&silent), BreakerState::Open { until, .. } if until > Instant::now())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let t = Instant::now();
    let e = rt.block_on(pool.resolve(&slow, None)).unwrap_err();
    if e.message.contains("probe lookup is in flight") {
        // A queued retry took the probe first: only one lookup goes through.
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "took {:?}",
            t.elapsed()
        );
    } else {
        assert!(
            t.elapsed() >= Duration::from_millis(1900),
            "the probe asked the registry: {e} after {:?}",
            t.elapsed()
        );
    }
    let t = Instant::now();
    while !matches!(pool.breaker(&silent), BreakerState::Open { until, .. } if until > Instant::now())
    {
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "the failed probe re-opens the breaker: {:?}",
            pool.breaker(&silent)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The real registry was never affected.
    assert_eq!(
        pool.breaker(&real.registry),
        BreakerState::Closed { failures: 0 }
    );
}
