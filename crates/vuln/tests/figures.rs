//! Figures for issue #15's closing note (ignored: a measurement, not a check; run it in release):
//! `cargo test --release -p portcullis-vuln --test figures -- --ignored --nocapture`.
//!
//! Imports every top-level folder of `../shared/vulndata` as its own source into one fresh SQLite database (in
//! name order, each import timed with `Instant`), prints per source the records read (all formats), the package
//! statements stored, the bad records and the import time, then times matching a 1,000-package SBOM (the one of
//! `benches/vuln.rs`: 500 dpkg packages of this machine as `debian:12` + 500 language packages named in the
//! advisories at low versions) against the full database: median of 50 runs after 5 warm-ups.

use std::time::{Duration, Instant};

#[path = "../benches/support/sbom1000.rs"]
mod sbom1000;

use portcullis_testkit::shared;
use portcullis_vuln::VulnDb;
use sbom1000::sbom;

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
