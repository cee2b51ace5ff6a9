//! What a match report says about the data it was matched against: which packages had no data (distro
//! release or ecosystem missing from the database) and when that data was last synced.

use std::path::PathBuf;

use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_vuln::VulnDb;

fn shared() -> PathBuf {
    std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

fn pkg(t: PackageType, name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        package_type: t,
        purl: String::new(),
        source_name: None,
        source_version: None,
        arch: None,
        licenses: vec![],
        location: "/".into(),
        files: vec![],
        layer: None,
    }
}

fn image(distro: Option<(&str, &str)>, packages: Vec<Package>) -> Sbom {
    Sbom {
        distro: distro.map(|(id, v)| Distro {
            id: id.into(),
            version_id: Some(v.into()),
            ..Default::default()
        }),
        packages,
        ..Default::default()
    }
}

#[test]
fn coverage_names_the_packages_without_data_and_the_sync_time_of_the_data_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vuln.db");
    let mut db = VulnDb::open(&path).unwrap();
    let debian = shared().join("vulndata/debian/vuln-list-debian");
    let rust = shared().join("vulndata/osv/rustsec");
    assert!(debian.is_dir() && rust.is_dir(), "shared vulndata missing");
    db.import(debian.to_str().unwrap()).unwrap();
    db.import(rust.to_str().unwrap()).unwrap();
    drop(db);
    // Make the Debian data older than the Rust data, as if its source had stopped syncing.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let n = conn
        .execute(
            "UPDATE provenance SET imported_at = '2020-01-02T03:04:05Z' WHERE source LIKE '%vuln-list-debian'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    drop(conn);
    let db = VulnDb::open(&path).unwrap();

    // A bookworm image with a crate and an npm package: Debian and crates.io have data, npm has none.
    let r = db
        .match_sbom(&image(
            Some(("debian", "12")),
            vec![
                pkg(PackageType::Deb, "libc6", "2.36-9+deb12u2"),
                pkg(PackageType::RustCrate, "smallvec", "1.0.0"),
                pkg(PackageType::Npm, "left-pad", "1.0.0"),
            ],
        ))
        .unwrap();
    let c = r.coverage.expect("coverage recorded");
    assert!(c.distro_covered);
    assert_eq!(c.distro_namespace.as_deref(), Some("debian:12"));
    assert_eq!(c.packages_without_data_count, 1);
    assert_eq!(c.packages_without_data[0].name, "left-pad");
    assert_eq!(c.packages_without_data[0].namespace.as_deref(), Some("npm"));
    // The oldest sync among the data this image used: Debian's.
    assert_eq!(c.synced_at.as_deref(), Some("2020-01-02T03:04:05Z"));

    // Only Rust data used: its own (fresh) sync time.
    let r = db
        .match_sbom(&image(
            None,
            vec![pkg(PackageType::RustCrate, "smallvec", "1.0.0")],
        ))
        .unwrap();
    let c = r.coverage.unwrap();
    assert!(
        c.distro_covered,
        "no distro and no OS packages: nothing to cover"
    );
    assert_ne!(c.synced_at.as_deref(), Some("2020-01-02T03:04:05Z"));
    assert!(c.synced_at.is_some());

    // An rpm distro release the database has no data for: not covered, every OS package listed.
    let r = db
        .match_sbom(&image(
            Some(("acme", "7.1")),
            vec![
                pkg(PackageType::Rpm, "openssl-libs", "1:3.0.7-1.el9"),
                pkg(PackageType::Rpm, "glibc", "2.34-60.el9"),
            ],
        ))
        .unwrap();
    let c = r.coverage.unwrap();
    assert!(!c.distro_covered);
    assert_eq!(c.distro_namespace.as_deref(), Some("acme:7"));
    assert_eq!(c.packages_without_data_count, 2);
    assert!(
        c.packages_without_data
            .iter()
            .all(|p| p.namespace.as_deref() == Some("acme:7"))
    );

    // OS packages but no detectable distro: not covered either.
    let r = db
        .match_sbom(&image(
            None,
            vec![pkg(PackageType::Apk, "musl", "1.2.4-r2")],
        ))
        .unwrap();
    let c = r.coverage.unwrap();
    assert!(!c.distro_covered);
    assert_eq!(c.packages_without_data[0].namespace, None);
}

#[test]
fn an_exported_bundle_installs_atomically_and_a_bad_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src.db");
    let mut db = VulnDb::open(&src).unwrap();
    db.import(shared().join("vulndata/osv/rustsec").to_str().unwrap())
        .unwrap();
    let bundle = dir.path().join("vuln.bundle");
    db.export(&bundle).unwrap();
    assert!(portcullis_vuln::is_bundle(&bundle));
    let version = db.db_version().unwrap();

    let target = dir.path().join("target/vuln.db");
    let st = portcullis_vuln::install_bundle(&bundle, &target).unwrap();
    assert_eq!(st.db_version, version);
    let installed = VulnDb::open(&target).unwrap();
    assert_eq!(
        installed.status().unwrap().sources,
        db.status().unwrap().sources
    );
    drop(installed);

    // Not a bundle, or an empty database: refused, the installed data stays.
    let not = dir.path().join("not.bundle");
    std::fs::write(&not, "hello").unwrap();
    let e = portcullis_vuln::install_bundle(&not, &target).unwrap_err();
    assert!(
        e.to_string()
            .contains("not a vulnerability database bundle"),
        "{e}"
    );
    let empty_src = VulnDb::open(dir.path().join("empty.db")).unwrap();
    let empty = dir.path().join("empty.bundle");
    empty_src.export(&empty).unwrap();
    let e = portcullis_vuln::install_bundle(&empty, &target).unwrap_err();
    assert!(e.to_string().contains("holds no imported data"), "{e}");
    assert_eq!(
        VulnDb::open(&target).unwrap().db_version().unwrap(),
        version
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("target"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
