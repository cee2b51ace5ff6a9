//! Issue #15: the `vulnerabilities.package` CVSS parameters on real data — a Red Hat CSAF advisory
//! (RHSA-2023:7435: CVE-2023-37920 scored 9.1 and CVE-2023-43804 5.9 by Red Hat) and NVD's record of
//! CVE-2023-43804 (NVD's own CVSS 3.1 8.1, GitHub's 5.9), imported into a real vulnerability database and matched
//! against a RHEL 8.2 package below the advisory's fix. `cvss_v3_*` reads NVD's scores, `vendor_cvss_v3_*` the
//! vendor's.

mod common;

use common::{now, pkg};
use portcullis_policy::ImageInput;
use portcullis_sbom::{Distro, PackageType};
use portcullis_vuln::VulnDb;

#[test]
fn nvd_and_vendor_cvss_parameters_fire_on_real_data() {
    let data = portcullis_testkit::shared().join("vulndata");
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    for src in [
        "vuls-data-update/pkg/fetch/redhat/csaf/testdata/fixtures",
        "nvd/vuln-list-nvd",
    ] {
        let p = data.join(src);
        assert!(p.is_dir(), "{} missing", p.display());
        db.import(p.to_str().unwrap()).unwrap();
    }
    let mut s = common::sbom();
    s.distro = Some(Distro {
        id: "rhel".into(),
        version_id: Some("8.2".into()),
        codename: None,
        id_like: vec!["fedora".into()],
        pretty_name: None,
    });
    // RHSA-2023:7435: AppStream-8.2.0.Z.AUS:fence-agents-common-0:4.2.1-41.el8_2.12.noarch is the fix
    let mut p = pkg("fence-agents-common", "4.2.1-41.el8_2.11", PackageType::Rpm);
    p.location = "/var/lib/rpm/rpmdb.sqlite".into();
    s.packages = vec![p];
    let r = db.match_sbom(&s).unwrap();
    assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
    let f = &r.findings[0];
    assert!(
        f.cvss
            .iter()
            .any(|c| c.source == "nvd" && c.base_score == 8.1),
        "{:?}",
        f.cvss
    );
    assert!(
        f.cvss
            .iter()
            .any(|c| c.source == "redhat" && c.base_score == 9.1),
        "{:?}",
        f.cvss
    );

    let fires = |param: &str, value: &str| {
        let b = common::bundle(&format!(
            r#"{{"id":"v","version":"1_0","whitelists":[],"policies":[{{"id":"p","version":"1_0","rules":[
            {{"id":"r","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[
              {{"name":"package_type","value":"all"}},{{"name":"{param}","value":"{value}"}}]}}]}}],
            "mappings":[{{"registry":"*","repository":"*","image":{{"type":"tag","value":"*"}},"policy_id":"p"}}]}}"#
        ));
        let v = b.evaluate(&ImageInput::new(&s, &r, "registry.example/ubi8:8.2", now()));
        !v.rows.is_empty()
    };
    // NVD's highest CVSS 3 base score is 8.1 (the vendor's 9.1 does not count here)
    assert!(fires("cvss_v3_base_score", "8.0"));
    assert!(!fires("cvss_v3_base_score", "8.5"));
    // NVD's exploitability sub-score 2.8 (nvd@nist.gov metric)
    assert!(fires("cvss_v3_exploitability_score", "2.5"));
    assert!(!fires("cvss_v3_exploitability_score", "3.5"));
    // Red Hat's highest is 9.1 (CVE-2023-37920, AV:N/AC:L/PR:N/UI:N: exploitability 3.9 from its vector)
    assert!(fires("vendor_cvss_v3_base_score", "9.0"));
    assert!(!fires("vendor_cvss_v3_base_score", "9.5"));
    assert!(fires("vendor_cvss_v3_exploitability_score", "3.5"));
    assert!(!fires("vendor_cvss_v3_exploitability_score", "4.0"));
}
