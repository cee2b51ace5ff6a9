//! Issue #15 item 5: the `vulnerabilities.package` trigger fires once for a vulnerability that the real GHSA
//! and PyPA data both describe (GHSA-j8r2-6x86-q33q and PYSEC-2023-74 are CVE-2023-32681 on requests), and an
//! Anchore allowlist item naming one of the merged ids keeps applying.

mod common;

use portcullis_policy::{Action, ImageInput};
use portcullis_sbom::{PackageType, Sbom};
use portcullis_testkit::{package, shared};
use portcullis_vuln::VulnDb;

#[test]
fn package_trigger_fires_once_for_aliased_advisories() {
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    for rel in [
        "osv/ghsa/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q",
        "pypa/vulns/requests/PYSEC-2023-74.yaml",
    ] {
        let src = shared().join("vulndata").join(rel);
        assert!(src.exists(), "{} missing", src.display());
        db.import(src.to_str().unwrap()).unwrap();
    }
    let sbom = Sbom {
        packages: vec![
            package(PackageType::Python, "requests", "2.30.0")
                .location("/app")
                .build(),
        ],
        ..Default::default()
    };
    let report = db.match_sbom(&sbom).unwrap();
    let bundle = common::bundle(
        r#"{"id":"v","version":"1_0","whitelists":[],"policies":[{"id":"p","version":"1_0","rules":[
        {"id":"r","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[{"name":"package_type","value":"all"}]}]}],
        "mappings":[{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"p"}]}"#,
    );
    let v = bundle.evaluate(&ImageInput::new(
        &sbom,
        &report,
        "registry.example.com/app:1",
        common::now(),
    ));
    let ids: Vec<&str> = v.rows.iter().map(|r| r.trigger_id.as_str()).collect();
    assert_eq!(ids, ["CVE-2023-32681+requests"], "{:#?}", v.rows);
    assert_eq!(v.final_action, Action::Stop);

    // an Anchore allowlist item written for one of the merged ids still applies
    let allowed = common::bundle(
        r#"{"id":"v","version":"1_0","whitelists":[{"id":"w","name":"w","version":"1_0","items":[
        {"id":"i","gate":"vulnerabilities","trigger_id":"PYSEC-2023-74+requests"}]}],
        "policies":[{"id":"p","version":"1_0","rules":[
        {"id":"r","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[{"name":"package_type","value":"all"}]}]}],
        "mappings":[{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"p","whitelist_ids":["w"]}]}"#,
    );
    let v = allowed.evaluate(&ImageInput::new(
        &sbom,
        &report,
        "registry.example.com/app:1",
        common::now(),
    ));
    assert_eq!(v.final_action, Action::Go, "{:#?}", v.rows);
    assert!(v.rows[0].whitelisted.is_some(), "{:#?}", v.rows);
}
