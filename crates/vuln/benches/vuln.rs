//! Benchmarks of the hot paths (run with `cargo bench -p portcullis-vuln`, or `bench/vuln.sh`):
//! - `match_1000_packages`: matching a 1,000-package SBOM against everything in `../shared/vulndata`
//!   (target ≤ 10 ms). The SBOM is this machine's dpkg status (real Debian packages, as `debian:12`) filled up
//!   with language packages named in the advisories at low versions (so most of them match: a worst case).
//! - `import_all_vulndata`: importing all of `../shared/vulndata` into a fresh SQLite database (target ≤ 30 s).
//! - `load_index`: opening the database and loading the in-memory index.
#![allow(missing_docs)] // criterion's group macros generate undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_testkit::{package, shared};
use portcullis_vuln::VulnDb;

fn pkg(t: PackageType, name: &str, version: &str, source: Option<String>) -> Package {
    let mut p = package(t, name, version).location("bench").build();
    p.source_name = source;
    p
}

fn sbom(db: &rusqlite::Connection) -> Sbom {
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

fn benches(c: &mut Criterion) {
    let src = shared().join("vulndata");
    let src = src.to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vuln.db");
    VulnDb::open(&path).unwrap().import(&src).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let sbom = sbom(&conn);
    let db = VulnDb::open(&path).unwrap();
    let n = db.match_sbom(&sbom).unwrap().findings.len();
    eprintln!("1,000 packages → {n} findings");

    c.bench_function("match_1000_packages", |b| {
        b.iter(|| db.match_sbom(std::hint::black_box(&sbom)).unwrap())
    });
    let mut g = c.benchmark_group("slow");
    g.sample_size(10);
    g.bench_function("load_index", |b| {
        b.iter(|| {
            let db = VulnDb::open(&path).unwrap();
            db.index().unwrap().db_version().len()
        })
    });
    g.bench_function("import_all_vulndata", |b| {
        b.iter_with_setup(
            || {
                let d = tempfile::tempdir().unwrap();
                let p = d.path().join("v.db");
                (d, p)
            },
            |(_d, p)| VulnDb::open(&p).unwrap().import(&src).unwrap(),
        )
    });
    g.finish();
}

criterion_group!(vuln, benches);
criterion_main!(vuln);
