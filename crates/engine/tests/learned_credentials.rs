//! Credentials learned from pull secrets against a real docker-registry with basic auth (issue #12, hole 7):
//! they are keyed by (namespace, repository), every candidate is tried in turn (a bogus credential learned
//! first cannot block a valid one learned later), and an analysis pulled with namespace A's secret is not
//! reported to namespace B unless B's own credentials (or the shared access) can pull the image.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fast_config;
use portcullis_admission::{
    Config, Context, Endpoint, ImageState, ImageVerdicts, Outcome, Review, decide,
};
use portcullis_engine::Stages;
use portcullis_engine::access::{AccessConfig, Allowed};
use portcullis_engine::stages::{
    Access, Analyser, LearnedCredentials, RegistryAnalyser, RegistryResolver, Resolver,
};
use portcullis_engine::verdicts::EngineVerdicts;
use portcullis_image::{Credential, ImageRef, PullOptions};
use portcullis_store::Store;
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage, shared};

const PASSWORD: &str = "s3cret-pw";
/// How long the first engine trusts an access fact (short, so the test sees one go stale and be re-checked).
const ACCESS_TTL: Duration = Duration::from_secs(3);

fn credential(registry: &str, password: &str) -> Credential {
    Credential {
        registry: registry.into(),
        username: "puller".into(),
        password: password.into(),
    }
}

/// A docker-registry with TLS and basic auth serving `private/app:1`, and pull options trusting its CA.
fn private_registry(layout_dir: &std::path::Path) -> (Registry, ImageRef, PullOptions) {
    let reg = Registry::start(Mode::TlsBasic {
        user: "puller".into(),
        password: PASSWORD.into(),
    })
    .expect("docker-registry with TLS and basic auth (scripts/setup.d/20-image.sh)");
    let layout = layout_dir.join("oci");
    let mut w = OciWriter::new(&layout).unwrap();
    let m = w
        .image(&TestImage::new(vec![
            LayerBuilder::new()
                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                .tar(),
        ]))
        .unwrap();
    w.tag("v1", &m).finish().unwrap();
    reg.push(&layout, "v1", "private/app:1", false).unwrap();
    let image = ImageRef::parse(&format!("{}/private/app:1", reg.addr)).unwrap();
    let opts = PullOptions {
        ca_certs: vec![reg.ca_pem.clone().expect("TLS registry CA")],
        retries: 0,
        ..Default::default()
    };
    (reg, image, opts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learned_credentials_are_per_namespace_and_a_bogus_one_does_not_block_a_valid_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (reg, image, opts) = tokio::task::spawn_blocking(move || private_registry(&dir))
        .await
        .unwrap();
    let learned = LearnedCredentials::default();
    let resolver = RegistryResolver {
        opts: opts.clone(),
        learned: learned.clone(),
    };
    let e = resolver.resolve(&image, Some("team-a")).await.unwrap_err();
    assert!(
        e.message.contains("401"),
        "anonymous pulls are refused: {e}"
    );

    // Someone's wrong credential first, a valid one after it, both from team-a's pull secrets.
    learned.learn(
        "team-a",
        &image,
        &[
            credential(&reg.addr, "wrong"),
            credential(&reg.addr, PASSWORD),
        ],
    );
    assert_eq!(learned.for_image("team-a", &image)[0].password, "wrong");
    assert!(learned.for_image("team-b", &image).is_empty());
    let digest = resolver
        .resolve(&image, Some("team-a"))
        .await
        .expect("the valid credential is tried too");
    assert_eq!(digest.algorithm(), "sha256", "{digest}");
    let e = resolver
        .resolve(&image, Some("team-b"))
        .await
        .expect_err("team-a's secret is not offered for team-b");
    assert!(e.message.contains("401"), "{e}");

    let analyser = RegistryAnalyser {
        opts,
        work_dir: tmp.path().to_path_buf(),
        learned: learned.clone(),
        platforms: Vec::new(),
    };
    let analysis = analyser
        .analyse(&image, &["team-b".into(), "team-a".into()])
        .await
        .expect("the analysis pulls with team-a's valid credential");
    assert_eq!(
        analysis.sbom.metadata.manifest_digest.as_deref(),
        Some(digest.as_str())
    );
    assert_eq!(analysis.pulled_with, Access::Namespace("team-a".into()));
    let e = analyser
        .analyse(&image, &["team-b".into()])
        .await
        .expect_err("team-b has no credential");
    assert!(e.message.contains("401"), "{e}");

    // The cheap manifest check: team-a may pull the digest, team-b may not, until it has its own secret.
    let pinned = ImageRef {
        digest: Some(digest.as_str().to_string()),
        ..image.clone()
    };
    assert_eq!(
        resolver.access(&pinned, Some("team-a")).await.unwrap(),
        Some(Access::Namespace("team-a".into()))
    );
    assert_eq!(
        resolver.access(&pinned, Some("team-b")).await.unwrap(),
        None
    );
    assert_eq!(resolver.access(&pinned, None).await.unwrap(), None);
    learned.learn("team-b", &image, &[credential(&reg.addr, "bogus")]);
    assert_eq!(
        resolver.access(&pinned, Some("team-b")).await.unwrap(),
        None
    );
    learned.learn("team-b", &image, &[credential(&reg.addr, PASSWORD)]);
    assert_eq!(
        resolver.access(&pinned, Some("team-b")).await.unwrap(),
        Some(Access::Namespace("team-b".into()))
    );
}

/// A Pod review for `image` in `namespace` (the captured `solo` Pod, moved).
fn review_in(namespace: &str, image: &str) -> Review {
    let path = shared().join("fixtures/admission-review/014-validate-create-pod-main-solo.json");
    let mut raw: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    raw["request"]["namespace"] = serde_json::json!(namespace);
    raw["request"]["object"]["metadata"]["namespace"] = serde_json::json!(namespace);
    raw["request"]["object"]["spec"]["containers"][0]["image"] = serde_json::json!(image);
    Review::parse(&serde_json::to_vec(&raw).unwrap()).unwrap()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not after {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn an_analysis_pulled_with_one_namespaces_secret_is_not_reported_to_another() {
    let tmp = tempfile::tempdir().unwrap();
    let (reg, image, opts) = private_registry(tmp.path());
    let store: Arc<dyn Store> =
        Arc::from(portcullis_store::open(&tmp.path().join("e.db").display().to_string()).unwrap());
    let learned = LearnedCredentials::default();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let stages = Stages::registry(opts, work, None, None, learned.clone(), Vec::new());
    let config = portcullis_engine::EngineConfig {
        access: AccessConfig { ttl: ACCESS_TTL },
        ..fast_config("creds")
    };
    let srv = common::Server::start(store.clone(), stages, config, true);
    let (_stop, rx) = tokio::sync::watch::channel(false);
    let engine = srv.engine.clone();
    let verdicts = srv
        .rt
        .as_ref()
        .unwrap()
        .block_on(async move { EngineVerdicts::start(engine, Duration::from_millis(50), rx) });
    let cfg = Config::parse("default: { mode: analysis }\n", "test config").unwrap();
    let pull = image.to_string();
    let ctx = Context::new(Endpoint::Validate);

    // team-a's pull secret (as the Kubernetes integration learns it from the workload) pulls the image.
    learned.learn("team-a", &image, &[credential(&reg.addr, PASSWORD)]);
    let a = review_in("team-a", &pull);
    let first = decide(&a, &cfg, verdicts.as_ref(), &ctx);
    assert_eq!(first.images[0].outcome, Outcome::NotAnalysed, "{first:?}");
    assert!(first.images[0].queued);
    wait_until("team-a's analysis", Duration::from_secs(60), || {
        matches!(
            verdicts.lookup(&image, "default", "team-a"),
            ImageState::Analyzed { .. }
        )
    });
    let digest = verdicts.resolve_cached(&image).expect("tag resolved");
    let again = decide(&a, &cfg, verdicts.as_ref(), &ctx);
    assert_eq!(again.images[0].outcome, Outcome::Passed, "{again:?}");
    assert!(again.allowed);

    // team-b has no secret: it is not told about team-a's analysis, by tag or by digest.
    let b = review_in("team-b", &pull);
    let by_digest = ImageRef {
        digest: Some(digest.clone()),
        tag: None,
        ..image.clone()
    };
    for round in 0..2 {
        let d = decide(&b, &cfg, verdicts.as_ref(), &ctx);
        assert_eq!(
            d.images[0].outcome,
            Outcome::NotAnalysed,
            "round {round}: {d:?}"
        );
        assert!(!d.allowed, "analysis mode denies what is not analysed");
        assert!(d.images[0].queued, "queued with team-b's credentials");
        assert_eq!(
            verdicts.lookup(&by_digest, "default", "team-b"),
            ImageState::Unknown
        );
        // Give the background queueing (resolve with team-b's credentials, access check) time to run.
        std::thread::sleep(Duration::from_millis(1500));
    }
    assert_eq!(srv.engine.access().allows(&digest, "team-b"), Allowed::No);

    // A bogus secret in team-b changes nothing.
    learned.learn("team-b", &image, &[credential(&reg.addr, "bogus")]);
    let d = decide(&b, &cfg, verdicts.as_ref(), &ctx);
    assert_eq!(d.images[0].outcome, Outcome::NotAnalysed, "{d:?}");
    std::thread::sleep(Duration::from_millis(1500));
    let d = decide(&b, &cfg, verdicts.as_ref(), &ctx);
    assert_eq!(d.images[0].outcome, Outcome::NotAnalysed, "{d:?}");

    // With its own valid secret, team-b is told (the next review after the background check), without a
    // second analysis.
    learned.learn("team-b", &image, &[credential(&reg.addr, PASSWORD)]);
    let before = store.get_image(&digest).unwrap().unwrap().analyzed_at;
    let d = decide(&b, &cfg, verdicts.as_ref(), &ctx);
    assert!(d.images[0].queued, "{d:?}");
    wait_until("team-b's access check", Duration::from_secs(30), || {
        decide(&b, &cfg, verdicts.as_ref(), &ctx).images[0].outcome == Outcome::Passed
    });
    assert_eq!(srv.engine.access().allows(&digest, "team-b"), Allowed::Yes);
    assert_eq!(
        store.get_image(&digest).unwrap().unwrap().analyzed_at,
        before,
        "team-b's access was checked, the image not analysed again"
    );
    // Past the TTL, team-b's fact still answers while it is checked again in the background (and renewed).
    let seen_b = || {
        store
            .list_access(None)
            .unwrap()
            .into_iter()
            .find(|r| r.digest == digest && r.access == "namespace:team-b")
            .map(|r| r.seen_at)
    };
    let first_seen = seen_b().expect("team-b's access is in the store");
    std::thread::sleep(ACCESS_TTL + Duration::from_millis(500));
    assert_eq!(
        srv.engine.access().allows(&digest, "team-b"),
        Allowed::Stale
    );
    assert!(matches!(
        verdicts.lookup(&image, "default", "team-b"),
        ImageState::Analyzed { .. }
    ));
    wait_until("team-b's re-check", Duration::from_secs(30), || {
        seen_b().is_some_and(|at| at > first_seen)
    });
    assert_eq!(srv.engine.access().allows(&digest, "team-b"), Allowed::Yes);

    // team-c still knows nothing.
    assert_eq!(
        verdicts.lookup(&image, "default", "team-c"),
        ImageState::Unknown
    );

    // Another replica (or this one restarted), with no credentials learned yet: the facts come from the store,
    // so team-a and team-b are answered at once and team-c still is not.
    let (reg_opts, work2) = (
        PullOptions {
            ca_certs: vec![reg.ca_pem.clone().unwrap()],
            retries: 0,
            ..Default::default()
        },
        tmp.path().join("work2"),
    );
    std::fs::create_dir_all(&work2).unwrap();
    let stages2 = Stages::registry(
        reg_opts,
        work2,
        None,
        None,
        LearnedCredentials::default(),
        Vec::new(),
    );
    let srv2 = common::Server::start(store.clone(), stages2, fast_config("creds-2"), false);
    let (_stop2, rx2) = tokio::sync::watch::channel(false);
    let engine2 = srv2.engine.clone();
    let verdicts2 =
        srv2.rt.as_ref().unwrap().block_on(async move {
            EngineVerdicts::start(engine2, Duration::from_secs(3600), rx2)
        });
    verdicts2.refresh_now().unwrap();
    for ns in ["team-a", "team-b"] {
        assert!(
            matches!(
                verdicts2.lookup(&image, "default", ns),
                ImageState::Analyzed { .. }
            ),
            "{ns} on the second replica"
        );
    }
    assert_eq!(
        verdicts2.lookup(&image, "default", "team-c"),
        ImageState::Unknown
    );
}
