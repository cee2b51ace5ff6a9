//! Figures for issue #15's closing note (ignored: a measurement, not a check; run it in release):
//! `cargo test --release -p portcullis-vuln --test figures -- --ignored --nocapture`.
//!
//! Imports every top-level folder of `../shared/vulndata` as its own source into one fresh SQLite database (in
//! name order, each import timed with `Instant`), prints per source the records read (all formats), the package
//! statements stored, the bad records and the import time, then times matching a 1,000-package SBOM (the one of
//! `benches/vuln.rs`: 500 dpkg packages of this machine as `debian:12` + 500 language packages named in the
//! advisories at low versions) against the full database: median of 50 runs after 5 warm-ups.

use std::time::{Duration, Instant};

use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_testkit::{package, shared};
use portcullis_vuln::VulnDb;

fn pkg(t: PackageType, name: &str, version: &str, source: Option<String>) -> Package {
    let mut p = package(t, name, version).location("figures").build();
    p.source_name = source;
    p
}

/// The 1,000-package SBOM of `benches/vuln.rs`.
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

#[test]
#[ignore = "a measurement for the closing note: run with --release --ignored --nocapture"]
fn per_source_import_and_match_time() {
    let root = shared().join("vulndata");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vuln.db");
    let mut db = VulnDb::open(&path).unwrap();
    let mut folders: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    println!("| source (vulndata/…) | records read | statements | bad | import time |");
    println!("|---|---:|---:|---:|---:|");
    let (mut all_records, mut all_time) = (0usize, Duration::ZERO);
    for f in &folders {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let t = Instant::now();
        let r = db.import(f.to_str().unwrap());
        let took = t.elapsed();
        all_time += took;
        match r {
            Ok(r) => {
                let records: usize = r.provenance.records.values().sum();
                all_records += records;
                let kinds: Vec<String> = r
                    .provenance
                    .records
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                println!(
                    "| {name} | {records} ({}) | {} | {} | {:.2} s |",
                    kinds.join(", "),
                    r.provenance.affected,
                    r.provenance.bad,
                    took.as_secs_f64()
                );
            }
            Err(e) => println!(
                "| {name} | 0 (not advisory data: {}) | 0 | – | {:.2} s |",
                e.to_string().chars().take(60).collect::<String>(),
                took.as_secs_f64()
            ),
        }
    }
    println!(
        "| **all** | {all_records} | | | {:.2} s |",
        all_time.as_secs_f64()
    );
    assert!(all_records > 10_000, "{all_records}");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let sbom = sbom(&conn);
    let db = VulnDb::open(&path).unwrap();
    let findings = db.match_sbom(&sbom).unwrap().findings.len();
    for _ in 0..5 {
        db.match_sbom(&sbom).unwrap();
    }
    let mut times: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(db.match_sbom(std::hint::black_box(&sbom)).unwrap());
            t.elapsed()
        })
        .collect();
    times.sort();
    println!(
        "match 1,000 packages after all sources: median {:.2} ms (min {:.2}, max {:.2}) → {findings} findings",
        times[25].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[49].as_secs_f64() * 1e3
    );
    assert!(findings > 0);
}
