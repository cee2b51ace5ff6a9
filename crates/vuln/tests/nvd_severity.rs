//! Issue #15 part 3: a finding keeps its vendor severity and falls back to NVD's CVSS severity when the vendor
//! gives none — with the real NVD records of `../shared/vulndata/nvd` (one `cve` object per file, as
//! `vuln-list-nvd` stores them) next to the real Debian tracker records and a PyPA advisory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_vuln::{Finding, MatchReport, Severity, VulnDb};
use serde_json::Value;

fn shared() -> PathBuf {
    std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

fn vulndata(rel: &str) -> PathBuf {
    let p = shared().join("vulndata").join(rel);
    assert!(p.exists(), "{} missing", p.display());
    p
}

fn json_files(dir: &Path) -> Vec<Value> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap())
        .collect()
}

/// Debian tracker records, NVD records and PYSEC-2023-74 (requests) in one database.
fn db(dir: &Path) -> VulnDb {
    let mut db = VulnDb::open(dir.join("v.db")).unwrap();
    for src in [
        vulndata("debian/vuln-list-debian"),
        vulndata("nvd/vuln-list-nvd"),
        vulndata("pypa/vulns/requests/PYSEC-2023-74.yaml"),
    ] {
        let report = db.import(src.to_str().unwrap()).unwrap();
        assert!(report.bad_records.is_empty(), "{:?}", report.bad_records);
    }
    db
}

fn package(t: PackageType, name: &str, version: &str) -> Package {
    Package {
        name: name.into(),
        version: version.into(),
        package_type: t,
        purl: String::new(),
        source_name: None,
        source_version: None,
        arch: None,
        licenses: vec![],
        location: "/var/lib/dpkg/status".into(),
        files: vec![],
        layer: None,
    }
}

fn bookworm(packages: Vec<Package>) -> Sbom {
    Sbom {
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: Some("bookworm".into()),
            ..Default::default()
        }),
        packages,
        ..Default::default()
    }
}

fn find<'a>(r: &'a MatchReport, id: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id} in {:?}", r.findings))
}

#[test]
fn no_unknown_severity_where_the_nvd_record_has_a_score() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    // every source package the Debian records name, at a version below every fix
    let mut sources = BTreeSet::new();
    for rec in json_files(&vulndata("debian/vuln-list-debian/tracker")) {
        for a in rec["Annotations"].as_array().into_iter().flatten() {
            if let Some(p) = a["Package"].as_str() {
                sources.insert(p.to_string());
            }
        }
    }
    let image = bookworm(
        sources
            .iter()
            .map(|s| package(PackageType::Deb, s, "0.0.1-1"))
            .collect(),
    );
    let report = db.match_sbom(&image).unwrap();
    // the CVEs whose NVD record carries a CVSS score (the Awaiting Analysis ones carry none)
    let scored: BTreeSet<String> = json_files(&vulndata("nvd/vuln-list-nvd/api"))
        .iter()
        .filter(|r| {
            r["metrics"].as_object().is_some_and(|m| {
                m.values()
                    .flat_map(|v| v.as_array().into_iter().flatten())
                    .any(|x| x["cvssData"]["baseScore"].is_number())
            })
        })
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let checked: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| scored.contains(&f.id))
        .collect();
    assert!(checked.len() >= 8, "{checked:?}");
    for f in &checked {
        assert_ne!(f.severity, Severity::Unknown, "{} {}", f.id, f.package_name);
        assert!(
            f.cvss.iter().any(|c| c.base_score > 0.0),
            "{}: NVD's score is carried",
            f.id
        );
    }

    // glibc CVE-2023-4911: the tracker gives no severity, NVD's primary CVSS 3.1 is 7.8 (HIGH)
    let f = find(&report, "CVE-2023-4911");
    assert_eq!(f.severity, Severity::High);
    assert!(
        f.cvss
            .iter()
            .any(|c| c.source == "nvd" && c.version == "3.1" && c.base_score == 7.8),
        "{:?}",
        f.cvss
    );
    // apt CVE-2011-3374: the tracker says unimportant, NVD says LOW (3.7) — the vendor's word is kept, both scores
    // stay available
    let f = find(&report, "CVE-2011-3374");
    assert_eq!(f.severity, Severity::Negligible);
    assert!(
        f.cvss
            .iter()
            .any(|c| c.version == "3.1" && c.base_score == 3.7),
        "{:?}",
        f.cvss
    );
}

#[test]
fn language_advisory_without_severity_takes_nvds_by_alias() {
    // PYSEC-2023-74 (requests < 2.31.0) has no severity; it aliases CVE-2023-32681, NVD primary CVSS 3.1 6.1
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let sbom = Sbom {
        packages: vec![package(PackageType::Python, "requests", "2.30.0")],
        ..Default::default()
    };
    let report = db.match_sbom(&sbom).unwrap();
    let f = find(&report, "PYSEC-2023-74");
    assert_eq!(f.severity, Severity::Medium);
    assert!(f.aliases.iter().any(|a| a == "CVE-2023-32681"));
    assert!(
        f.cvss
            .iter()
            .any(|c| c.version == "3.1" && c.base_score == 6.1)
    );
}

/// The CVEs whose NVD record in the data carries a CVSS score, from every NVD source of the bundle.
fn nvd_scored() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for dir in [
        "nvd/vuln-list-nvd/api",
        "osv.dev/vulnfeeds/test_data/nvdcve-2.0",
        "trivy-db/pkg/vulnsrc/nvd/testdata/happy/vuln-list-nvd/api",
    ] {
        for doc in json_files(&vulndata(dir)) {
            let records: Vec<&Value> = match doc["vulnerabilities"].as_array() {
                Some(items) => items.iter().map(|i| &i["cve"]).collect(),
                None => vec![&doc],
            };
            for r in records {
                let scored = r["metrics"].as_object().is_some_and(|m| {
                    m.values()
                        .flat_map(|v| v.as_array().into_iter().flatten())
                        .any(|x| x["cvssData"]["baseScore"].is_number())
                });
                if scored && r["vulnStatus"] != "Rejected" {
                    out.insert(r["id"].as_str().unwrap().to_string());
                }
            }
        }
    }
    out
}

#[test]
fn a_kitchen_sink_image_has_no_unknown_severity_where_nvd_scores_it() {
    // No kitchen-sink image fixture exists in this workspace: this image stands in for it with the three kinds of
    // package whose records carry no severity — Go stdlib (golang/vulndb), PyPI (PyPA) and Debian (tracker) —
    // every one at a version below the fixes, matched against those real records and all of NVD's in the bundle.
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    for src in [
        "debian/vuln-list-debian",
        "osv/go",
        "pypa/vulns",
        "nvd/vuln-list-nvd",
        "osv.dev/vulnfeeds/test_data/nvdcve-2.0",
        "trivy-db/pkg/vulnsrc/nvd/testdata/happy/vuln-list-nvd",
    ] {
        db.import(vulndata(src).to_str().unwrap()).unwrap();
    }
    let mut sources = BTreeSet::new();
    for rec in json_files(&vulndata("debian/vuln-list-debian/tracker")) {
        for a in rec["Annotations"].as_array().into_iter().flatten() {
            if let Some(p) = a["Package"].as_str() {
                sources.insert(p.to_string());
            }
        }
    }
    let mut packages: Vec<Package> = sources
        .iter()
        .map(|s| package(PackageType::Deb, s, "0.0.1-1"))
        .collect();
    // a Go binary built with go1.20.1 (its stdlib), Python packages of the PyPA records NVD scores
    let mut go = package(PackageType::GoModule, "stdlib", "go1.20.1");
    go.location = "/usr/local/bin/app".into();
    packages.push(go);
    for (name, version) in [("requests", "2.30.0"), ("urllib3", "1.26.0")] {
        let mut p = package(PackageType::Python, name, version);
        p.location = "/usr/lib/python3/dist-packages".into();
        packages.push(p);
    }
    let report = db.match_sbom(&bookworm(packages)).unwrap();
    let scored = nvd_scored();
    let checked: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| {
            std::iter::once(&f.id)
                .chain(f.aliases.iter())
                .any(|id| scored.contains(id))
        })
        .collect();
    let kinds: BTreeSet<PackageType> = checked.iter().map(|f| f.package_type).collect();
    assert_eq!(
        kinds.len(),
        3,
        "Debian, Go stdlib and PyPI findings are all checked: {checked:?}"
    );
    let unknown: Vec<String> = checked
        .iter()
        .filter(|f| f.severity == Severity::Unknown)
        .map(|f| format!("{} ({:?}) on {}", f.id, f.aliases, f.package_name))
        .collect();
    assert!(
        unknown.is_empty(),
        "unknown severity despite an NVD score: {unknown:?}"
    );
    let by_cve = |cve: &str, pkg: &str| {
        report
            .findings
            .iter()
            .find(|f| f.package_name == pkg && (f.id == cve || f.aliases.iter().any(|a| a == cve)))
            .unwrap_or_else(|| panic!("no {cve} on {pkg}: {:#?}", report.findings))
            .severity
    };
    // GO-2023-1703 (html/template, fixed in go1.20.3) has no severity; NVD's CVE-2023-24538 is 9.8 CRITICAL
    assert_eq!(by_cve("CVE-2023-24538", "stdlib"), Severity::Critical);
    // PYSEC-2023-192 (urllib3) has none; NVD's own CVSS 3.1 for CVE-2023-43804 is 8.1 HIGH (GitHub's 5.9 is not
    // the primary)
    assert_eq!(by_cve("CVE-2023-43804", "urllib3"), Severity::High);
}
