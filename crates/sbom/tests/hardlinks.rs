//! Hard links hide nothing: a package database, release file or jar that is a hard link to an unwanted path
//! (in the same layer or a lower one) is catalogued from the link target's content, through an OCI layout and
//! a real `docker-registry`.

use portcullis_image::{ImageRef, PullOptions, Source};
use portcullis_sbom::PackageType;
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage};

const STATUS: &str =
    "Package: hidden-deb\nStatus: install ok installed\nVersion: 1.2-3\nArchitecture: amd64\n\n";
const APK: &str = "P:hidden-apk\nV:4.5-r6\nA:x86_64\n\n";
const OS: &str = "ID=debian\nVERSION_ID=\"12\"\n";

/// Layer 1 holds the contents under unwanted names; layer 2 links the dpkg database to one of them (a link to
/// a lower layer); layer 1 links the others within itself and then rewrites a target after the link.
fn layers() -> Vec<Vec<u8>> {
    let base = LayerBuilder::new()
        .file("tmp/s", STATUS)
        .file("tmp/a", APK)
        .hardlink("lib/apk/db/installed", "tmp/a")
        .file("tmp/o", OS)
        .hardlink("etc/os-release", "tmp/o")
        // The link names the content as of the link: this rewrite of the target comes after it.
        .file("tmp/o", "ID=garbage\n")
        .tar();
    let top = LayerBuilder::new()
        .hardlink("var/lib/dpkg/status", "tmp/s")
        .tar();
    vec![base, top]
}

fn check(sbom: &portcullis_sbom::Sbom) {
    let found: Vec<(PackageType, &str, &str)> = sbom
        .packages
        .iter()
        .map(|p| (p.package_type, p.name.as_str(), p.version.as_str()))
        .collect();
    assert!(
        found.contains(&(PackageType::Deb, "hidden-deb", "1.2-3")),
        "dpkg database behind a hard link to a lower layer: {found:?}"
    );
    assert!(
        found.contains(&(PackageType::Apk, "hidden-apk", "4.5-r6")),
        "apk database behind a hard link: {found:?}"
    );
    let d = sbom.distro.as_ref().expect("os-release behind a hard link");
    assert_eq!(
        d.id, "debian",
        "the link's content as of the link, not the later rewrite"
    );
}

#[tokio::test]
async fn hard_linked_package_databases_are_catalogued_from_layout_and_registry() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("oci");
    let mut w = OciWriter::new(&dir).unwrap();
    let m = w.image(&TestImage::new(layers())).unwrap();
    w.tag("latest", &m).finish().unwrap();

    let work = tempfile::tempdir().unwrap();
    let source = Source::OciLayout(dir.clone(), None);
    let sbom = portcullis_sbom::analyse(&source, &PullOptions::default(), work.path())
        .await
        .unwrap();
    check(&sbom);

    let registry =
        Registry::start(Mode::Plain).expect("docker-registry (scripts/setup.d/20-image.sh)");
    registry
        .push(&dir, "latest", "portcullis/hardlinks:1", false)
        .unwrap();
    let r = ImageRef::parse(&format!("{}/portcullis/hardlinks:1", registry.addr)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let pulled =
        portcullis_sbom::analyse(&Source::Registry(r), &PullOptions::default(), work.path())
            .await
            .unwrap();
    check(&pulled);
    assert_eq!(pulled.packages, sbom.packages);
}
