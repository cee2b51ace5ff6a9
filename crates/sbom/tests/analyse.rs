//! `analyse` end to end: a two-layer OCI image assembled from the debootstrap'd Debian rootfs plus a layer with a
//! real Go binary, opened from an OCI layout and pulled from a real `docker-registry` on loopback.

mod common;

use std::path::PathBuf;
use std::process::Command;

use portcullis_image::{ImageRef, PullOptions, Source, squash::Compression};
use portcullis_sbom::PackageType;
use portcullis_testkit::{
    LayerBuilder, Mode, OciWriter, Registry, TestImage, Written, layer_file_from_dir,
};

fn dpkg_query(root: &std::path::Path) -> Vec<String> {
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args(["-W", "-f", "${Package} ${Version}\\n"])
        .output()
        .expect("dpkg-query");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The OCI layout (cached): layer 1 = the bookworm rootfs, layer 2 = /usr/local/bin/hello + a deleted file.
fn layout() -> (PathBuf, Written) {
    let root = common::bookworm_minbase();
    let hello = common::go_hello_binary();
    let dir = common::build_once(
        "oci-bookworm-minbase-go-v1",
        |d| d.join("written.json").is_file(),
        |tmp| {
            let mut w = OciWriter::new(tmp).unwrap();
            let base =
                layer_file_from_dir(&root, &tmp.join("base.tar.gz"), Compression::Gzip).unwrap();
            let hello = std::fs::read(&hello).unwrap();
            let top = LayerBuilder::new()
                .dir("usr/local/bin")
                .file_mode("usr/local/bin/hello", hello, 0o755)
                .whiteout("etc/debian_version")
                .tar();
            let top_file = tmp.join("top.tar");
            std::fs::write(&top_file, portcullis_testkit::gzip(&top)).unwrap();
            let top_lf = portcullis_testkit::LayerFile {
                path: top_file,
                diff_id: portcullis_image::manifest::sha256(&top),
                digest: portcullis_image::manifest::sha256(
                    &std::fs::read(tmp.join("top.tar")).unwrap(),
                ),
                size: std::fs::metadata(tmp.join("top.tar")).unwrap().len(),
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            };
            let template = TestImage::new(vec![]).config(serde_json::json!({
                "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "APP=hello"],
                "Cmd": ["/usr/local/bin/hello"],
                "User": "1000",
                "Labels": {"org.opencontainers.image.title": "portcullis-test"},
                "ExposedPorts": {"8080/tcp": {}},
            }));
            let written = w.image_from_files(&[base, top_lf], &template).unwrap();
            w.tag("test", &written);
            w.finish().unwrap();
            std::fs::write(
            tmp.join("written.json"),
            serde_json::to_vec(&serde_json::json!({
                "digest": written.digest, "size": written.size, "media_type": written.media_type,
                "config_digest": written.config_digest, "layers": written.layer_digests,
            }))
            .unwrap(),
        )
        .unwrap();
        },
    );
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("written.json")).unwrap()).unwrap();
    let written = Written {
        digest: v["digest"].as_str().unwrap().into(),
        size: v["size"].as_u64().unwrap(),
        media_type: v["media_type"].as_str().unwrap().into(),
        config_digest: v["config_digest"].as_str().unwrap().into(),
        layer_digests: v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().into())
            .collect(),
        platform: None,
    };
    (dir, written)
}

fn check(sbom: &portcullis_sbom::Sbom, written: &Written) {
    let root = common::bookworm_minbase();
    let mut debs: Vec<String> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == PackageType::Deb)
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    debs.sort();
    assert_eq!(debs, dpkg_query(&root));
    assert!(
        sbom.problems.is_empty(),
        "a real Debian image has no unusable manifests: {:#?}",
        sbom.problems
    );
    let (base, top) = (&written.layer_digests[0], &written.layer_digests[1]);
    let libc = sbom.packages.iter().find(|p| p.name == "libc6").unwrap();
    assert_eq!(
        libc.layer.as_ref(),
        Some(base),
        "deb packages come from the base layer"
    );
    let stdlib = sbom
        .packages
        .iter()
        .find(|p| p.package_type == PackageType::GoModule && p.name == "stdlib")
        .expect("Go stdlib from the binary's build info");
    assert_eq!(stdlib.location, "/usr/local/bin/hello");
    assert_eq!(
        stdlib.layer.as_ref(),
        Some(top),
        "the Go binary comes from the top layer"
    );
    let m = &sbom.metadata;
    assert_eq!(m.manifest_digest.as_deref(), Some(written.digest.as_str()));
    assert_eq!(m.image_id.as_deref(), Some(written.config_digest.as_str()));
    assert_eq!(
        (m.os.as_deref(), m.architecture.as_deref()),
        (Some("linux"), Some("amd64"))
    );
    assert_eq!(m.layer_count, 2);
    assert_eq!(&m.layers, &written.layer_digests);
    assert!(m.size > 10 << 20, "{}", m.size);
    assert_eq!(m.cmd, vec!["/usr/local/bin/hello".to_string()]);
    assert!(m.env.contains(&"APP=hello".to_string()));
    assert_eq!(m.user.as_deref(), Some("1000"));
    assert_eq!(m.exposed_ports, vec!["8080/tcp".to_string()]);
    assert_eq!(
        m.labels
            .get("org.opencontainers.image.title")
            .map(String::as_str),
        Some("portcullis-test")
    );
    assert_eq!(m.history.len(), 2);
    assert!(m.dockerfile.is_some());
    assert!(sbom.file_count > 5000, "{}", sbom.file_count);
    // /etc/debian_version was deleted by the top layer: distro still from os-release.
    let d = sbom.distro.as_ref().unwrap();
    assert_eq!(
        (d.id.as_str(), d.version_id.as_deref()),
        ("debian", Some("12"))
    );
}

#[tokio::test]
async fn oci_layout_and_registry_pull() {
    let (dir, written) = layout();
    let work = tempfile::tempdir().unwrap();
    let source = Source::OciLayout(dir.clone(), Some("test".into()));
    let sbom = portcullis_sbom::analyse(&source, &PullOptions::default(), work.path())
        .await
        .unwrap();
    check(&sbom, &written);
    assert!(sbom.source.starts_with("oci-dir:"), "{}", sbom.source);

    let registry =
        Registry::start(Mode::Plain).expect("docker-registry (scripts/setup.d/20-image.sh)");
    registry
        .push(&dir, "test", "portcullis/bookworm:go", false)
        .unwrap();
    let r = ImageRef::parse(&format!("{}/portcullis/bookworm:go", registry.addr)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let pulled =
        portcullis_sbom::analyse(&Source::Registry(r), &PullOptions::default(), work.path())
            .await
            .unwrap();
    check(&pulled, &written);
    assert_eq!(
        pulled.packages, sbom.packages,
        "same packages from the registry as from the layout"
    );
    assert_eq!(
        pulled.source,
        format!("{}/portcullis/bookworm:go", registry.addr)
    );
}

#[tokio::test]
async fn unreachable_registry_and_bad_sources_are_clear_errors() {
    let port = portcullis_testkit::free_port().unwrap();
    let r = ImageRef::parse(&format!("127.0.0.1:{port}/nothing/here:latest")).unwrap();
    let opts = PullOptions {
        timeout: Some(std::time::Duration::from_secs(2)),
        ..PullOptions::default()
    };
    let work = tempfile::tempdir().unwrap();
    let err = portcullis_sbom::analyse(&Source::Registry(r), &opts, work.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let missing = Source::OciLayout("/nonexistent/layout".into(), None);
    let err = portcullis_sbom::analyse(&missing, &opts, work.path())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/layout"), "{err}");
}

/// The cached venv of the reference validators (`scripts/setup.d/21-sbom.sh`).
fn validators_python() -> PathBuf {
    let venv = dirs_home().join(".cache/portcullis/sbom-validators");
    assert!(
        venv.join(".complete").is_file(),
        "{} missing: run scripts/setup.d/21-sbom.sh (pip install spdx-tools cyclonedx-python-lib)",
        venv.display()
    );
    venv.join("bin/python")
}

fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").expect("HOME is set"))
}

/// Runs `python -c script args…` and returns (success, stdout + stderr).
fn validate(python: &std::path::Path, script: &str, file: &std::path::Path) -> (bool, String) {
    let out = Command::new(python)
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("run the validator");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const PYSPDXTOOLS: &str = r#"
import sys
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
messages = validate_full_spdx_document(parse_file(sys.argv[1]))
for m in messages:
    print(m.validation_message)
print(f"{len(messages)} SPDX validation errors")
sys.exit(1 if messages else 0)
"#;

const CYCLONEDX_STRICT: &str = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
with open(sys.argv[1]) as f:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(f.read())
print(error if error else "valid CycloneDX 1.6")
sys.exit(1 if error else 0)
"#;

/// The SPDX 2.3 and CycloneDX 1.6 documents of the test image pass the SPDX project's validator (pyspdxtools'
/// full validation, which checks every licence id against the SPDX list) and cyclonedx-python-lib's strict
/// JSON-schema validation.
#[tokio::test]
async fn spdx_and_cyclonedx_pass_the_reference_validators() {
    let python = validators_python();
    let (dir, _) = layout();
    let work = tempfile::tempdir().unwrap();
    let source = Source::OciLayout(dir, Some("test".into()));
    let sbom = portcullis_sbom::analyse(&source, &PullOptions::default(), work.path())
        .await
        .unwrap();
    // Debian's short licence names are in it (the class the validator rejected)
    assert!(
        sbom.packages
            .iter()
            .any(|p| p.licenses.iter().any(|l| l == "GPL-2+")),
        "no GPL-2+ licence catalogued"
    );
    let out = tempfile::tempdir().unwrap();
    let spdx = out.path().join("sbom.spdx.json");
    let cdx = out.path().join("sbom.cdx.json");
    std::fs::write(
        &spdx,
        portcullis_sbom::render(&sbom, portcullis_sbom::OutputFormat::SpdxJson).unwrap(),
    )
    .unwrap();
    std::fs::write(
        &cdx,
        portcullis_sbom::render(&sbom, portcullis_sbom::OutputFormat::CycloneDxJson).unwrap(),
    )
    .unwrap();
    let (ok, text) = validate(&python, PYSPDXTOOLS, &spdx);
    assert!(ok, "pyspdxtools rejects our SPDX document:\n{text}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&spdx).unwrap()).unwrap();
    let declared: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["licenseDeclared"].as_str())
        .collect();
    assert!(declared.contains(&"GPL-2.0-or-later"), "GPL-2+ not mapped");
    assert!(
        declared
            .iter()
            .any(|d| d.contains("LicenseRef-public-domain")),
        "public-domain not a LicenseRef"
    );
    let (ok, text) = validate(&python, CYCLONEDX_STRICT, &cdx);
    assert!(
        ok,
        "cyclonedx-python-lib rejects our CycloneDX document:\n{text}"
    );
}
