//! Credentials learned from pull secrets against a real docker-registry with basic auth: every candidate is
//! tried in turn, so a bogus credential learned first cannot block a valid one learned later.

use portcullis_engine::stages::{
    Analyser, LearnedCredentials, RegistryAnalyser, RegistryResolver, Resolver,
};
use portcullis_image::{Credential, ImageRef, PullOptions};
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage};

fn credential(registry: &str, password: &str) -> Credential {
    Credential {
        registry: registry.into(),
        username: "puller".into(),
        password: password.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bogus_learned_credential_does_not_block_a_valid_one() {
    let reg = tokio::task::spawn_blocking(|| {
        Registry::start(Mode::TlsBasic {
            user: "puller".into(),
            password: "s3cret-pw".into(),
        })
    })
    .await
    .unwrap()
    .expect("docker-registry with TLS and basic auth (scripts/setup.d/20-image.sh)");
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("oci");
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

    let pull = format!("{}/private/app:1", reg.addr);
    let image = ImageRef::parse(&pull).unwrap();
    let opts = PullOptions {
        ca_certs: vec![reg.ca_pem.clone().expect("TLS registry CA")],
        retries: 0,
        ..Default::default()
    };
    let learned = LearnedCredentials::default();
    let resolver = RegistryResolver {
        opts: opts.clone(),
        learned: learned.clone(),
    };
    let e = resolver.resolve(&image).await.unwrap_err();
    assert!(
        e.message.contains("401"),
        "anonymous pulls are refused: {e}"
    );

    // Someone's wrong credential first, a valid one after it.
    learned.learn(
        &image,
        &[
            credential(&reg.addr, "wrong"),
            credential(&reg.addr, "s3cret-pw"),
        ],
    );
    assert_eq!(learned.for_image(&image)[0].password, "wrong");
    let digest = resolver
        .resolve(&image)
        .await
        .expect("the valid credential is tried too");
    assert_eq!(digest.algorithm(), "sha256", "{digest}");
    let analyser = RegistryAnalyser {
        opts,
        work_dir: tmp.path().to_path_buf(),
        learned,
        platforms: Vec::new(),
    };
    let analysis = analyser
        .analyse(&image)
        .await
        .expect("the analysis pulls with the valid credential");
    assert_eq!(
        analysis.sbom.metadata.manifest_digest,
        Some(digest.into_string())
    );
}
