//! Issue #15 item 5: one finding per vulnerability. The real GHSA and PyPA records of the same CVE on the same
//! PyPI package (and NVD's record of the CVE) give one finding that lists both ids, counted once.

use std::path::{Path, PathBuf};

use portcullis_sbom::{PackageType, Sbom};
use portcullis_testkit::{package, shared};
use portcullis_vuln::report::{Format, gate_fails, render};
use portcullis_vuln::{Severity, VulnDb};

fn vulndata(rel: &str) -> PathBuf {
    let p = shared().join("vulndata").join(rel);
    assert!(p.exists(), "{} missing", p.display());
    p
}

/// GHSA-j8r2-6x86-q33q + PYSEC-2023-74 (requests, CVE-2023-32681), GHSA-v845-jxx5-vc9f + PYSEC-2023-192
/// (urllib3, CVE-2023-43804), and NVD's records of both CVEs.
pub fn db(dir: &Path) -> VulnDb {
    let mut db = VulnDb::open(dir.join("v.db")).unwrap();
    for src in [
        "osv/ghsa/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q",
        "osv/ghsa/advisories/github-reviewed/2023/10/GHSA-v845-jxx5-vc9f",
        "pypa/vulns/requests/PYSEC-2023-74.yaml",
        "pypa/vulns/urllib3/PYSEC-2023-192.yaml",
        "nvd/vuln-list-nvd/api/2023/CVE-2023-32681.json",
        "nvd/vuln-list-nvd/api/2023/CVE-2023-43804.json",
    ] {
        let report = db.import(vulndata(src).to_str().unwrap()).unwrap();
        assert!(report.bad_records.is_empty(), "{:?}", report.bad_records);
    }
    db
}

fn sbom() -> Sbom {
    Sbom {
        packages: vec![
            package(PackageType::Python, "requests", "2.30.0")
                .location("/app/site-packages")
                .build(),
            package(PackageType::Python, "urllib3", "1.26.16")
                .location("/app/site-packages")
                .build(),
        ],
        ..Default::default()
    }
}

#[test]
fn ghsa_and_pysec_of_one_cve_are_one_finding() {
    let dir = tempfile::tempdir().unwrap();
    let db = db(dir.path());
    let report = db.match_sbom(&sbom()).unwrap();
    let requests: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.package_name == "requests")
        .collect();
    assert_eq!(requests.len(), 1, "one finding for requests: {requests:#?}");
    let f = requests[0];
    assert_eq!(f.id, "CVE-2023-32681", "the CVE id is the primary id");
    assert_eq!(f.aliases, ["GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"]);
    // GHSA: moderate; NVD 6.1 → medium
    assert_eq!(f.severity, Severity::Medium);
    // both records say fixed in 2.31.0
    assert_eq!(f.fixed_in.as_deref(), Some("2.31.0"));

    let urllib3: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.package_name == "urllib3")
        .collect();
    assert_eq!(urllib3.len(), 1, "{urllib3:#?}");
    assert_eq!(urllib3[0].id, "CVE-2023-43804");
    assert!(
        urllib3[0]
            .aliases
            .contains(&"GHSA-v845-jxx5-vc9f".to_string())
    );
    assert!(urllib3[0].aliases.contains(&"PYSEC-2023-192".to_string()));
    assert_eq!(report.findings.len(), 2, "{:#?}", report.findings);

    // the gate and every output count it once
    assert!(gate_fails(&report, Severity::Medium));
    let table = render(&report, &sbom(), Format::Table);
    assert!(
        table.contains("CVE-2023-32681 (GHSA-j8r2-6x86-q33q, PYSEC-2023-74)"),
        "{table}"
    );
    assert!(table.contains("2 findings"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&render(&report, &sbom(), Format::Json)).unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 2);
    let requests = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "CVE-2023-32681")
        .expect("requests finding in the JSON");
    assert_eq!(
        requests["aliases"],
        serde_json::json!(["GHSA-j8r2-6x86-q33q", "PYSEC-2023-74"])
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&render(&report, &sbom(), Format::Sarif)).unwrap();
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), 2);
}

#[test]
fn usn_and_ubuntu_cve_are_one_finding_named_by_the_cve() {
    // USN-5614-1 names UBUNTU-CVE-2021-3782 (`upstream`), which names CVE-2021-3782; both say wayland on 22.04
    // is fixed in 1.20.0-1ubuntu0.1
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    for src in [
        "vunnel/tests/unit/providers/ubuntu/test-fixtures/osv/usn/USN-5614-1.json",
        "vunnel/tests/unit/providers/ubuntu/test-fixtures/osv/cve/2021/UBUNTU-CVE-2021-3782.json",
    ] {
        let report = db.import(vulndata(src).to_str().unwrap()).unwrap();
        assert!(report.bad_records.is_empty(), "{:?}", report.bad_records);
    }
    let mut p = package(PackageType::Deb, "libwayland-client0", "1.20.0-1")
        .location("/var/lib/dpkg/status")
        .build();
    p.source_name = Some("wayland".into());
    let sbom = Sbom {
        distro: Some(portcullis_sbom::Distro {
            id: "ubuntu".into(),
            version_id: Some("22.04".into()),
            ..Default::default()
        }),
        packages: vec![p],
        ..Default::default()
    };
    let report = db.match_sbom(&sbom).unwrap();
    assert_eq!(report.findings.len(), 1, "{:#?}", report.findings);
    let f = &report.findings[0];
    assert_eq!(f.id, "CVE-2021-3782");
    assert_eq!(f.aliases, ["UBUNTU-CVE-2021-3782", "USN-5614-1"]);
    assert_eq!(f.fixed_in.as_deref(), Some("1.20.0-1ubuntu0.1"));
}
