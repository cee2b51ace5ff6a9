//! One analysis pipeline: the engine's analyser (what `portcullis serve` runs in the cluster) and the CLI
//! (`portcullis sbom`, which `portcullis scan` shares) analyse the same image from a real `docker-registry` into
//! the same `ImageMetadata` — dockerfile and history included — so the dockerfile and metadata gates judge an
//! image the same offline and in the cluster.

mod common;

use std::path::Path;

use common::{cli, shared};
use portcullis_engine::stages::{
    Analyser, Evaluator, LearnedCredentials, PolicyEvaluator, RegistryAnalyser,
};
use portcullis_image::ImageRef;
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage};
use portcullis_vuln::MatchReport;

/// A Debian 12 image exposing port 22 as root, with labels and environment: the default bundle's dockerfile
/// gate STOPs on the port and WARNs on the missing HEALTHCHECK.
fn write_image(dir: &Path) -> String {
    let os_release =
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n";
    let status = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n\
                  Source: zlib\nVersion: 1:1.2.13.dfsg-1\nDescription: compression library\n\n";
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let m = w
        .image(
            &TestImage::new(vec![
                LayerBuilder::new()
                    .file("etc/os-release", os_release)
                    .file("var/lib/dpkg/status", status)
                    .tar(),
            ])
            .config(serde_json::json!({
                "User": "root",
                "Env": ["PATH=/usr/bin", "APP_MODE=prod"],
                "Labels": {"org.opencontainers.image.source": "https://example.invalid/app"},
                "ExposedPorts": {"22/tcp": {}},
                "Cmd": ["/usr/sbin/sshd", "-D"],
            })),
        )
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
    m.digest
}

#[test]
fn engine_and_cli_build_the_same_metadata_and_verdict() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let digest = write_image(&tmp.path().join("oci"));
    reg.push(&tmp.path().join("oci"), "v1", "pipe/app:1", false)
        .expect("push the test image");
    // The engine pulls by digest; the CLI is given the same reference.
    let pinned = format!("{}/pipe/app@{digest}", reg.addr);

    let out = tmp.path().join("cli.json");
    let (code, _, err) = cli(
        &[],
        &[
            "sbom",
            &pinned,
            "-o",
            "json",
            "--file",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "portcullis sbom: {err}");
    let from_cli = portcullis_sbom::read_sbom(&std::fs::read(&out).unwrap()).expect("native SBOM");

    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let analyser = RegistryAnalyser {
        opts: portcullis_image::PullOptions::default(),
        work_dir: work,
        learned: LearnedCredentials::default(),
        platforms: Vec::new(),
    };
    let reference = ImageRef::parse(&pinned).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let from_engine = rt
        .block_on(analyser.analyse(&reference, &[]))
        .expect("engine analysis")
        .sbom;

    let md = &from_engine.metadata;
    assert_eq!(md.manifest_digest.as_deref(), Some(digest.as_str()));
    assert_eq!(md.user.as_deref(), Some("root"));
    assert!(md.exposed_ports.iter().any(|p| p == "22/tcp"), "{md:?}");
    assert!(
        md.dockerfile.as_deref().is_some_and(|d| !d.is_empty()),
        "the engine keeps the dockerfile guessed from the history: {md:?}"
    );
    assert_eq!(
        &from_cli.metadata, md,
        "the CLI and the engine build the same ImageMetadata"
    );
    assert_eq!(from_cli.packages, from_engine.packages);

    let bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(shared().join("policies/anchore-engine/anchore_default_bundle.json"))
            .unwrap(),
    )
    .unwrap();
    let ev = PolicyEvaluator::default();
    let compiled = ev.compile(&bundle).expect("the default bundle compiles");
    let tag = format!("{}/pipe/app:1", reg.addr);
    let report = MatchReport::default();
    let judge = |sbom: &portcullis_sbom::Sbom| ev.evaluate(&compiled, sbom, &report, &tag, None);
    let (v_cli, v_engine) = (judge(&from_cli), judge(&from_engine));
    let dockerfile_rows: Vec<_> = v_engine
        .rows
        .iter()
        .filter(|r| r.gate == "dockerfile")
        .map(|r| (r.trigger_id.clone(), r.gate_action))
        .collect();
    assert!(
        dockerfile_rows.iter().any(|(t, _)| t == "22"),
        "port 22 is judged from the metadata: {dockerfile_rows:?}"
    );
    assert_eq!(
        v_cli.rows, v_engine.rows,
        "same rows offline and in the cluster"
    );
    assert_eq!(v_cli.final_action, v_engine.final_action);
}
