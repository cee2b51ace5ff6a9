//! Benchmarks of the hot paths (run with `cargo bench -p portcullis-vuln`, or `bench/vuln.sh`):
//! - `match_1000_packages`: matching a 1,000-package SBOM against everything in `../shared/vulndata`
//!   (target ≤ 10 ms). The SBOM is this machine's dpkg status (real Debian packages, as `debian:12`) filled up
//!   with language packages named in the advisories at low versions (so most of them match: a worst case).
//! - `import_all_vulndata`: importing all of `../shared/vulndata` into a fresh SQLite database (target ≤ 30 s).
//! - `load_index`: opening the database and loading the in-memory index.
#![allow(missing_docs)] // criterion's group macros generate undocumented functions

use criterion::{Criterion, criterion_group, criterion_main};
#[path = "support/sbom1000.rs"]
mod sbom1000;

use portcullis_testkit::shared;
use portcullis_vuln::VulnDb;
use sbom1000::sbom;

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
