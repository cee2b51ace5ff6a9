//! The 1,000-package SBOM matched by `benches/vuln.rs` and `tests/figures.rs` (included by both with `#[path]`).

use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_testkit::package;

fn pkg(t: PackageType, name: &str, version: &str, source: Option<String>) -> Package {
    let mut p = package(t, name, version).location("sbom1000").build();
    p.source_name = source;
    p
}

/// The 1,000-package SBOM: this machine's dpkg status (real Debian packages, as `debian:12`, at most 500) filled
/// up with language packages the advisories in `db` name, at low versions (so most of them match: a worst case).
pub fn sbom(db: &rusqlite::Connection) -> Sbom {
    let mut packages = Vec::new();
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap_or_default();
    for para in status.split("\n\n") {
        let field = |k: &str| {
            para.lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
        };
        if let (Some(n), Some(v)) = (field("Package:"), field("Version:")) {
            let src =
                field("Source:").map(|s| s.split_whitespace().next().unwrap_or("").to_string());
            packages.push(pkg(PackageType::Deb, &n, &v, src));
        }
    }
    packages.truncate(500);
    let mut st = db
        .prepare(
            "SELECT DISTINCT namespace, package FROM affected WHERE namespace IN \
             ('pypi','npm','go','crates.io','rubygems') ORDER BY namespace, package",
        )
        .unwrap();
    let rows: Vec<(String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let step = (rows.len() / (1000 - packages.len())).max(1);
    for (ns, name) in rows.iter().step_by(step) {
        if packages.len() >= 1000 {
            break;
        }
        let (t, v) = match ns.as_str() {
            "pypi" => (PackageType::Python, "1.0"),
            "npm" => (PackageType::Npm, "1.0.0"),
            "go" => (PackageType::GoModule, "v0.1.0"),
            "crates.io" => (PackageType::RustCrate, "0.1.0"),
            _ => (PackageType::Gem, "1.0.0"),
        };
        packages.push(pkg(t, name, v, None));
    }
    assert_eq!(packages.len(), 1000, "could not build a 1,000-package SBOM");
    Sbom {
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            ..Default::default()
        }),
        packages,
        ..Default::default()
    }
}
