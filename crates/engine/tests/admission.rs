//! The engine as admission's verdict source: a real captured AdmissionReview (Pod `solo`, its image rewritten
//! to a test tag) decided by `portcullis_admission::decide` over `EngineVerdicts` — first denied as not
//! analysed and queued, then, once the engine analysed and evaluated it, denied with the same STOP rows that
//! `check` reports.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use portcullis_admission::{
    Config, Context, Endpoint, ImageState, ImageVerdicts, Outcome, Review, decide,
};
use portcullis_engine::verdicts::EngineVerdicts;
use portcullis_store::Store;

#[test]
fn webhook_review_is_denied_with_the_check_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::from(portcullis_store::open(&dir.path().join("e.db").display().to_string()).unwrap());
    let (t, stages) = stages("analyser", Duration::from_millis(5));
    let tag = "127.0.0.1:5000/shop/solo:1";
    let d = digest(0x501);
    t.resolver.0.lock().unwrap().insert(tag.into(), d.clone());
    let srv = Server::start(store.clone(), stages, fast_config("r"), true);
    let bundle_path = shared().join("policies/anchore-engine/anchore_default_bundle.json");
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle_path).unwrap()).unwrap();
    srv.engine.add_policy(bundle).unwrap();

    let (_stop, rx) = tokio::sync::watch::channel(false);
    let engine = srv.engine.clone();
    let verdicts = srv
        .rt
        .as_ref()
        .unwrap()
        .block_on(async move { EngineVerdicts::start(engine, Duration::from_millis(50), rx) });

    let path = shared().join("fixtures/admission-review/014-validate-create-pod-main-solo.json");
    let mut raw: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    raw["request"]["object"]["spec"]["containers"][0]["image"] = serde_json::json!(tag);
    let review = Review::parse(&serde_json::to_vec(&raw).unwrap()).unwrap();
    let cfg = Config::parse(
        "default: { mode: policy, policy: default }\n",
        "test config",
    )
    .unwrap();

    let first = decide(
        &review,
        &cfg,
        verdicts.as_ref(),
        &Context::new(Endpoint::Validate),
    );
    assert!(!first.allowed);
    assert_eq!(first.images[0].outcome, Outcome::NotAnalysed, "{first:?}");

    let image = portcullis_admission::parse_image(tag).unwrap();
    let start = Instant::now();
    loop {
        if let ImageState::Analyzed {
            verdict: Some(_), ..
        } = verdicts.lookup(&image, "default", review.namespace())
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no verdict after 30 s: {:?}",
            verdicts.lookup(&image, "default", review.namespace())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(verdicts.ready());
    assert_eq!(verdicts.resolve_cached(&image).as_deref(), Some(d.as_str()));
    let rec = store.get_image(&d).unwrap().unwrap();
    assert!(
        rec.annotations
            .get("requestor")
            .is_some_and(|r| !r.is_empty()),
        "{:?}",
        rec.annotations
    );

    let second = decide(
        &review,
        &cfg,
        verdicts.as_ref(),
        &Context::new(Endpoint::Validate),
    );
    assert!(!second.allowed);
    assert_eq!(second.images[0].outcome, Outcome::Failed, "{second:?}");
    let message = second.message.clone().unwrap_or_default();
    let check = srv.engine.check(&d, Some(tag), None).unwrap();
    assert_eq!(check.status, "fail");
    let stops: Vec<_> = check
        .verdict
        .rows
        .iter()
        .filter(|r| r.gate_action == portcullis_policy::Action::Stop)
        .collect();
    assert!(!stops.is_empty());
    for row in stops {
        let cve = row.trigger_id.split('+').next().unwrap();
        assert!(message.contains(cve), "denial {message:?} lacks {cve}");
    }
    assert_eq!(t.analyser.total_calls(), 1);

    // Both decisions go to the audit trail (in the background).
    verdicts.record(&review, &first);
    verdicts.record(&review, &second);
    let start = Instant::now();
    let trail = loop {
        let trail = store.list_decisions(&Default::default()).unwrap();
        if trail.len() == 2 {
            break trail;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "audit trail has {} entries",
            trail.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let newest = &trail[0].decision;
    assert_eq!(
        (
            newest.kind.as_str(),
            newest.operation.as_str(),
            newest.mode.as_str()
        ),
        ("Pod", "CREATE", "policy")
    );
    assert_eq!((newest.allowed, newest.verdict.as_str()), (false, "fail"));
    assert_eq!(newest.images, vec![tag.to_string()]);
    assert_eq!(newest.digests, vec![d.clone()]);
    assert!(
        newest.reasons.iter().any(|r| r.contains("CVE-2023-0286")),
        "{:?}",
        newest.reasons
    );
    assert_eq!(trail[1].decision.verdict, "unknown");
    assert!(!newest.who.is_empty());
}
