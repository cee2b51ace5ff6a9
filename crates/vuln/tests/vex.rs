//! Issue #15 item 6: VEX documents applied to findings. CSAF VEX with Red Hat's real per-CVE documents
//! (`../shared/vulndata/vuls-data-update/…/csaf_vex_2024-08-04.tar.zst.members/2023/`) against the findings of
//! an rpm package list. The database holds no Red Hat advisories (no CSAF advisory importer yet), so the
//! findings are written out as the matcher would report them for a RHEL 9 / RHEL 8 image; the documents, the
//! product-tree resolution and the matching are real.

use portcullis_sbom::PackageType;
use portcullis_testkit::shared;
use portcullis_vuln::triage::{SuppressedBy, TriageError, VexStatus, apply_vex, read_vex};
use portcullis_vuln::{Finding, FixState, MatchReport, Severity};

fn red_hat_vex(name: &str) -> std::path::PathBuf {
    let p = shared().join(
        "vulndata/vuls-data-update/pkg/fetch/redhat/vex/v1/testdata/fixtures/csaf_vex_2024-08-04.tar.zst.members/2023",
    )
    .join(name);
    assert!(p.is_file(), "{} missing", p.display());
    p
}

fn rpm(id: &str, name: &str, version: &str, namespace: &str) -> Finding {
    Finding {
        id: id.into(),
        aliases: vec![],
        package_name: name.into(),
        package_version: version.into(),
        package_type: PackageType::Rpm,
        package_location: "/var/lib/rpm/rpmdb.sqlite".into(),
        namespace: namespace.into(),
        severity: Severity::Low,
        cvss: vec![],
        fix_state: FixState::Fixed,
        fixed_in: None,
        fix_date: None,
        published: None,
        url: None,
        description: None,
        kev: false,
        epss: None,
        suppressed: None,
        vex: None,
    }
}

#[test]
fn red_hat_csaf_vex_fixed_and_not_affected() {
    let doc = read_vex(&red_hat_vex("cve-2023-6237.json")).unwrap();
    assert!(doc.statements.len() > 90, "{}", doc.statements.len());
    let doc2 = read_vex(&red_hat_vex("cve-2023-6238.json")).unwrap();
    let mut report = MatchReport {
        findings: vec![
            // `fixed`: AppStream-9.4.0.GA:openssl-libs-1:3.0.7-27.el9.x86_64 — the installed build is the fix
            rpm("CVE-2023-6237", "openssl-libs", "1:3.0.7-27.el9", "rhel:9"),
            // an older build is not named by the document: kept
            rpm("CVE-2023-6237", "openssl", "1:3.0.7-24.el9", "rhel:9"),
            // `known_not_affected` + flag vulnerable_code_not_present: BaseOS-9.4.0.GA:openssl-fips-provider-0:3.0.7-2.el9
            rpm(
                "CVE-2023-6237",
                "openssl-fips-provider",
                "3.0.7-2.el9",
                "rhel:9",
            ),
            // the same build on RHEL 8: the document's platforms are RHEL 9 ones, so it says nothing about it
            rpm("CVE-2023-6237", "openssl-libs", "1:3.0.7-27.el9", "rhel:8"),
            // cve-2023-6238 `known_not_affected`: red_hat_enterprise_linux_8:kernel (any version)
            rpm("CVE-2023-6238", "kernel", "4.18.0-513.5.1.el8_9", "rhel:8"),
            // … it lists RHEL 6 to 9, not RHEL 10
            rpm("CVE-2023-6238", "kernel", "6.12.0-55.el10", "rhel:10"),
        ],
        ..Default::default()
    };
    apply_vex(&mut report, &[doc, doc2]);
    let kept: Vec<(&str, &str, &str)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.package_name.as_str(),
                f.package_version.as_str(),
                f.namespace.as_str(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        [
            ("openssl", "1:3.0.7-24.el9", "rhel:9"),
            ("openssl-libs", "1:3.0.7-27.el9", "rhel:8"),
            ("kernel", "6.12.0-55.el10", "rhel:10"),
        ]
    );
    let sup: Vec<(&str, String)> = report
        .suppressed
        .iter()
        .map(|f| {
            let s = f.suppressed.as_ref().unwrap();
            assert_eq!(s.by, SuppressedBy::Vex);
            (f.package_name.as_str(), s.reason.clone())
        })
        .collect();
    assert_eq!(sup.len(), 3, "{sup:#?}");
    assert!(
        sup[0].0 == "openssl-libs" && sup[0].1.starts_with("fixed: vendor_fix"),
        "{sup:#?}"
    );
    assert!(
        sup[1].0 == "openssl-fips-provider" && sup[1].1.contains("vulnerable_code_not_present"),
        "{sup:#?}"
    );
    assert!(
        sup[2].0 == "kernel" && sup[2].1.contains("vulnerable_code_not_present"),
        "{sup:#?}"
    );
}

#[test]
fn csaf_known_affected_annotates() {
    // cve-2023-6212: known_affected red_hat_enterprise_linux_6:firefox, remediation no_fix_planned
    let doc = read_vex(&red_hat_vex("cve-2023-6212.json")).unwrap();
    let mut report = MatchReport {
        findings: vec![rpm("CVE-2023-6212", "firefox", "115.4.0-1.el6", "rhel:6")],
        ..Default::default()
    };
    apply_vex(&mut report, &[doc]);
    assert!(report.suppressed.is_empty());
    let note = report.findings[0].vex.as_ref().expect("annotated");
    assert_eq!(note.status, VexStatus::Affected);
    assert!(
        note.detail.as_deref().unwrap().contains("no_fix_planned"),
        "{note:?}"
    );
}

#[test]
fn oversized_documents_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    // sparse: no 64 MiB written to disk
    f.set_len(portcullis_vuln::triage::MAX_DOCUMENT_BYTES + 1)
        .unwrap();
    match read_vex(&big) {
        Err(TriageError::TooLarge { .. }) => {}
        other => panic!("{other:?}"),
    }
    let deep = dir.path().join("deep.json");
    std::fs::write(
        &deep,
        format!(
            r#"{{"@context":"https://openvex.dev/ns/v0.2.0","statements":{}{}}}"#,
            "[".repeat(100),
            "]".repeat(100)
        ),
    )
    .unwrap();
    let e = read_vex(&deep).unwrap_err().to_string();
    assert!(e.contains("nested deeper"), "{e}");
}
