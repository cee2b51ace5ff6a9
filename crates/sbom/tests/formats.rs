//! SBOM formats: our writers round-trip through our reader, and real Syft 1.18.1 documents (Syft JSON,
//! CycloneDX, SPDX) of the same Debian rootfs read into the same package set we catalogue.

mod common;

use std::collections::BTreeSet;

use portcullis_sbom::{OutputFormat, PackageType, Sbom, read_sbom, render};

fn key(s: &Sbom) -> BTreeSet<(String, String, PackageType, Option<String>)> {
    s.packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.version.clone(),
                p.package_type,
                p.source_name.clone(),
            )
        })
        .collect()
}

fn ours() -> Sbom {
    let root = common::bookworm_minbase();
    portcullis_sbom::catalog(
        &common::view_of(&root),
        "dir:bookworm-minbase",
        Default::default(),
    )
    .unwrap()
}

#[test]
fn writers_round_trip_through_reader() {
    let sbom = ours();
    let native = render(&sbom, OutputFormat::Json).unwrap();
    assert_eq!(read_sbom(&native).unwrap(), sbom, "native JSON is lossless");
    for f in [OutputFormat::CycloneDxJson, OutputFormat::SpdxJson] {
        let doc = render(&sbom, f).unwrap();
        let back = read_sbom(&doc).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        assert_eq!(key(&back), key(&sbom), "{f:?}");
        let d = back.distro.expect("distro survives");
        let point =
            std::fs::read_to_string(common::bookworm_minbase().join("etc/debian_version")).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("debian", Some(point.trim()))
        );
        let purls: BTreeSet<&str> = back.packages.iter().map(|p| p.purl.as_str()).collect();
        assert!(
            sbom.packages
                .iter()
                .all(|p| purls.contains(p.purl.as_str())),
            "{f:?} purls"
        );
    }
    let cdx: serde_json::Value =
        serde_json::from_slice(&render(&sbom, OutputFormat::CycloneDxJson).unwrap()).unwrap();
    assert_eq!(cdx["specVersion"], "1.6");
    let spdx: serde_json::Value =
        serde_json::from_slice(&render(&sbom, OutputFormat::SpdxJson).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    let table = String::from_utf8(render(&sbom, OutputFormat::Table).unwrap()).unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("libc6 ") && l.contains("glibc")),
        "{table}"
    );
    assert_eq!(table.lines().count(), sbom.packages.len() + 2);
}

#[test]
fn real_syft_documents_read_into_the_same_packages() {
    let root = common::bookworm_minbase();
    let dir = tempfile::tempdir().unwrap();
    let (sj, cdx, spdx) = (
        dir.path().join("s.json"),
        dir.path().join("c.json"),
        dir.path().join("p.json"),
    );
    common::run_syft(
        &format!("dir:{}", root.display()),
        &[
            ("syft-json", &sj),
            ("cyclonedx-json", &cdx),
            ("spdx-json", &spdx),
        ],
    );
    let ours: BTreeSet<(String, String)> = ours()
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    for (name, path) in [
        ("syft-json", &sj),
        ("cyclonedx-json", &cdx),
        ("spdx-json", &spdx),
    ] {
        let s = read_sbom(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs: BTreeSet<(String, String)> = s
            .packages
            .iter()
            .filter(|p| p.package_type == PackageType::Deb)
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        assert_eq!(theirs, ours, "{name}: Syft's deb packages vs ours");
        assert_eq!(
            s.distro.as_ref().map(|d| d.id.as_str()),
            Some("debian"),
            "{name}"
        );
        if name == "syft-json" {
            let libc = s.packages.iter().find(|p| p.name == "libc6").unwrap();
            assert_eq!(libc.source_name.as_deref(), Some("glibc"));
            assert_eq!(libc.location, "/var/lib/dpkg/status");
        }
    }
}
