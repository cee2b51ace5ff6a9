//! Bad input: every class named in the issue is reported per record (source, file, id, reason), the rest is
//! imported, and a failed import leaves the previous data in place.

use std::io::Write;
use std::path::Path;

use portcullis_sbom::{PackageType, Sbom};
use portcullis_vuln::VulnDb;

fn osv(id: &str, eco: &str, name: &str, fixed: &str) -> String {
    format!(
        r#"{{"schema_version":"1.6.0","id":"{id}","modified":"2024-01-01T00:00:00Z","aliases":[],
        "affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},
        "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
    )
}

fn write(dir: &Path, name: &str, text: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn pypi(name: &str, version: &str) -> Sbom {
    Sbom {
        packages: vec![
            portcullis_testkit::package(PackageType::Python, name, version)
                .location("site-packages")
                .build(),
        ],
        ..Default::default()
    }
}

fn ids(db: &VulnDb, s: &Sbom) -> Vec<String> {
    db.match_sbom(s)
        .unwrap()
        .findings
        .into_iter()
        .map(|f| f.id)
        .collect()
}

#[test]
fn each_bad_record_is_reported_and_the_rest_imported() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(
        &src,
        "good/PYSEC-1.json",
        &osv("PYSEC-1", "PyPI", "alpha", "1.2.0"),
    );
    // malformed (truncated) record
    write(
        &src,
        "bad/PYSEC-2.json",
        &osv("PYSEC-2", "PyPI", "beta", "1.0")[..60],
    );
    // unknown ecosystem in one affected entry, a good entry beside it
    write(
        &src,
        "mixed/X-3.json",
        r#"{"schema_version":"1.6.0","id":"X-3","modified":"2024-01-01T00:00:00Z","affected":[
          {"package":{"ecosystem":"Hackage","name":"aeson"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]},
          {"package":{"ecosystem":"PyPI","name":"gamma"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0"}]}]}]}"#,
    );
    // unparsable version
    write(
        &src,
        "bad/PYSEC-4.json",
        &osv("PYSEC-4", "PyPI", "delta", "not a version!"),
    );
    // malformed Debian tracker record (Annotations not a list)
    write(
        &src,
        "debian/CVE-2099-0001.json",
        r#"{"Header":{"ID":"CVE-2099-0001"},"Annotations":{"oops":1}}"#,
    );
    let db_path = dir.path().join("v.db");
    let mut db = VulnDb::open(&db_path).unwrap();
    let report = db.import(src.to_str().unwrap()).unwrap();
    let bad = &report.bad_records;
    let has = |file: &str, id: Option<&str>, reason: &str| {
        bad.iter().any(|b| {
            b.file.ends_with(file)
                && b.id.as_deref() == id
                && b.reason.contains(reason)
                && b.source == src.to_str().unwrap()
        })
    };
    assert!(has("PYSEC-2.json", None, "invalid JSON"), "{bad:#?}");
    assert!(
        has("X-3.json", Some("X-3"), "unknown ecosystem `Hackage`"),
        "{bad:#?}"
    );
    assert!(
        has("PYSEC-4.json", Some("PYSEC-4"), "not a version!"),
        "{bad:#?}"
    );
    assert!(
        has(
            "CVE-2099-0001.json",
            Some("CVE-2099-0001"),
            "bad Annotations"
        ),
        "{bad:#?}"
    );
    assert_eq!(bad.len(), 4, "{bad:#?}");
    // the rest was imported
    assert_eq!(ids(&db, &pypi("alpha", "1.1")), ["PYSEC-1"]);
    assert_eq!(ids(&db, &pypi("gamma", "2.9")), ["X-3"]);
    assert!(ids(&db, &pypi("alpha", "1.2.0")).is_empty());
    assert_eq!(db.status().unwrap().sources[0].bad, 4);
}

#[test]
fn truncated_archive_keeps_the_entries_before_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("osv.tar.gz");
    {
        let f = std::fs::File::create(&archive).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let add = |tar: &mut tar::Builder<_>, name: &str, body: String| {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, body.as_bytes()).unwrap();
        };
        add(
            &mut tar,
            "a/PYSEC-10.json",
            osv("PYSEC-10", "PyPI", "first", "2.0"),
        );
        // a large, incompressible-ish second entry so the cut falls inside it
        let filler: String = (0..20000).map(|i| format!("{:x}", i * 7919)).collect();
        let rec = osv("PYSEC-11", "PyPI", "second", "2.0").replace(
            "\"aliases\":[]",
            &format!("\"details\":\"{filler}\",\"aliases\":[]"),
        );
        add(&mut tar, "a/PYSEC-11.json", rec);
        tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    }
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    let report = db.import(archive.to_str().unwrap()).unwrap();
    assert!(
        report
            .bad_records
            .iter()
            .any(|b| b.file.contains("osv.tar.gz") && b.reason.contains("truncated")),
        "{:#?}",
        report.bad_records
    );
    assert_eq!(ids(&db, &pypi("first", "1.0")), ["PYSEC-10"]);
    assert!(ids(&db, &pypi("second", "1.0")).is_empty());
}

#[test]
fn failed_import_keeps_previous_data() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(
        &src,
        "PYSEC-20.json",
        &osv("PYSEC-20", "PyPI", "kept", "2.0"),
    );
    let db_path = dir.path().join("v.db");
    let mut db = VulnDb::open(&db_path).unwrap();
    db.import(src.to_str().unwrap()).unwrap();
    let version = db.db_version().unwrap();

    // 1. a source that does not exist
    assert!(
        db.import(dir.path().join("missing").to_str().unwrap())
            .is_err()
    );
    // 2. a source with nothing importable (the same source path, now holding only garbage)
    std::fs::remove_file(src.join("PYSEC-20.json")).unwrap();
    write(&src, "broken.json", "{ not json");
    let err = db.import(src.to_str().unwrap()).unwrap_err().to_string();
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(db.db_version().unwrap(), version);
    assert_eq!(ids(&db, &pypi("kept", "1.0")), ["PYSEC-20"]);

    // 3. the database is locked by another writer while the import runs: the transaction fails and rolls back
    // (a real SQLite lock, not a fake)
    std::fs::remove_file(src.join("broken.json")).unwrap();
    write(
        &src,
        "PYSEC-21.json",
        &osv("PYSEC-21", "PyPI", "newer", "2.0"),
    );
    let locker = rusqlite::Connection::open(&db_path).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut db2 = VulnDb::open(&db_path).unwrap();
    let r = db2.import(src.to_str().unwrap());
    assert!(r.is_err(), "import succeeded while the database was locked");
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    let db = VulnDb::open(&db_path).unwrap();
    assert_eq!(db.db_version().unwrap(), version);
    assert_eq!(ids(&db, &pypi("kept", "1.0")), ["PYSEC-20"]);
    assert!(ids(&db, &pypi("newer", "1.0")).is_empty());
}

#[test]
fn reimporting_a_source_replaces_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    write(
        &src,
        "PYSEC-30.json",
        &osv("PYSEC-30", "PyPI", "pkg", "2.0"),
    );
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    db.import(src.to_str().unwrap()).unwrap();
    write(
        &src,
        "PYSEC-30.json",
        &osv("PYSEC-30", "PyPI", "pkg", "3.0"),
    );
    db.import(src.to_str().unwrap()).unwrap();
    let r = db.match_sbom(&pypi("pkg", "2.5")).unwrap();
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].fixed_in.as_deref(), Some("3.0"));
    assert_eq!(db.status().unwrap().sources.len(), 1);
}

#[test]
fn osv_events_versions_and_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    // two intervals, the second closed by last_affected; plus an explicit version list
    write(
        &src,
        "A.json",
        r#"{"schema_version":"1.6.0","id":"A","modified":"2024-01-01T00:00:00Z","affected":[
          {"package":{"ecosystem":"PyPI","name":"two_ranges"},"ranges":[{"type":"ECOSYSTEM","events":[
            {"introduced":"1.0"},{"fixed":"1.5"},{"introduced":"2.0"},{"last_affected":"2.3"}]}],
           "versions":["0.9.1"]}]}"#,
    );
    // withdrawn: kept out of matching
    write(
        &src,
        "W.json",
        r#"{"schema_version":"1.6.0","id":"W","modified":"2024-01-01T00:00:00Z","withdrawn":"2024-02-01T00:00:00Z",
          "affected":[{"package":{"ecosystem":"PyPI","name":"two_ranges"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"}]}]}]}"#,
    );
    // RustSec informational (unmaintained) is not a vulnerability
    write(
        &src,
        "R.json",
        r#"{"schema_version":"1.6.0","id":"RUSTSEC-X","modified":"2024-01-01T00:00:00Z",
          "database_specific":{"informational":"unmaintained"},
          "affected":[{"package":{"ecosystem":"crates.io","name":"old"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0.0.0-0"}]}]}]}"#,
    );
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    let report = db.import(src.to_str().unwrap()).unwrap();
    assert!(report.bad_records.is_empty(), "{:#?}", report.bad_records);
    let hit = |v: &str| ids(&db, &pypi("Two.Ranges", v));
    assert_eq!(hit("0.9.1"), ["A"], "explicit version");
    assert!(hit("0.9.2").is_empty());
    assert_eq!(hit("1.4.9"), ["A"]);
    assert!(hit("1.5").is_empty());
    assert_eq!(hit("2.3"), ["A"], "last_affected is inclusive");
    assert!(hit("2.3.1").is_empty());
    let f = db.match_sbom(&pypi("two-ranges", "2.1")).unwrap().findings;
    assert_eq!(
        f[0].fix_state,
        portcullis_vuln::FixState::NotFixed,
        "no fix after 2.0"
    );
    let f = db.match_sbom(&pypi("two-ranges", "1.2")).unwrap().findings;
    assert_eq!(f[0].fixed_in.as_deref(), Some("1.5"));
    let mut s = pypi("old", "0.1.0");
    s.packages[0].package_type = PackageType::RustCrate;
    assert!(ids(&db, &s).is_empty());
}
