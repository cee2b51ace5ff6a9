//! The compact evaluation table (`Bundle::evaluate_table`) against the owned verdict, and the exact check
//! outputs of rows fired by findings (rendered on demand).

mod common;

use common::{bundle, load, now, report, sbom};
use portcullis_policy::{Action, EvalOptions, EvalRow, ImageInput};

#[test]
fn compact_table_matches_the_verdict() {
    let (s, r) = (sbom(), report());
    let mut rows = 0;
    for name in [
        "anchore_default_bundle.json",
        "multi_policy.json",
        "bundle-with-all-rules-2020-08-20.json",
    ] {
        let b = load(name);
        for tag in ["docker.io/library/debian:12", "debian:11", "quay.io/x/y:1"] {
            for unmapped in [Action::Go, Action::Stop] {
                let opts = EvalOptions { unmapped };
                let mut input = ImageInput::new(&s, &r, tag, now());
                input.passwd = Some(Some("root:x:0:0:root:/root:/bin/bash\n"));
                let v = b.evaluate_with(&input, &opts);
                let t = b.evaluate_table(&input, &opts);
                let what = format!("{name} {tag} {unmapped:?}");
                assert_eq!(t.len(), v.rows.len(), "{what}");
                assert_eq!(t.is_empty(), v.rows.is_empty(), "{what}");
                assert_eq!(
                    (t.final_action(), t.final_reason(), t.policy_final_action()),
                    (v.final_action, v.final_reason, v.policy_final_action),
                    "{what}"
                );
                assert_eq!(t.passed(), v.passed(), "{what}");
                assert_eq!(t.not_evaluated(), v.not_evaluated.as_slice(), "{what}");
                let from_table: Vec<EvalRow> = t.rows().map(|r| r.to_eval_row()).collect();
                assert_eq!(from_table, v.rows, "{what}");
                for (row, owned) in t.rows().zip(&v.rows) {
                    assert_eq!(row.trigger_id(), owned.trigger_id);
                    assert_eq!(row.check_output(), owned.check_output);
                    assert_eq!(row.whitelist_item_id(), owned.whitelist_item_id.as_deref());
                }
                assert_eq!(t.into_verdict(), v, "{what}");
                rows += v.rows.len();
            }
        }
    }
    assert!(rows > 50, "{rows} rows compared");
}

#[test]
fn finding_rows_check_outputs() {
    let b = bundle(
        r#"{"id":"b","version":"1_0","policies":[{"id":"p","version":"1_0","rules":[
          {"id":"scores","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[
            {"name":"package_type","value":"all"},{"name":"severity_comparison","value":">="},{"name":"severity","value":"high"},
            {"name":"cvss_v3_base_score","value":"7"},{"name":"cvss_v3_impact_score_comparison","value":">"},{"name":"cvss_v3_impact_score","value":"-5"}]},
          {"id":"plain","gate":"vulnerabilities","trigger":"package","action":"WARN","params":[
            {"name":"package_type","value":"all"},{"name":"severity_comparison","value":">"},{"name":"severity","value":"low"}]},
          {"id":"deny","gate":"vulnerabilities","trigger":"blacklist","action":"STOP","params":[{"name":"vulnerability_ids","value":"CVE-0000-1,CVE-2023-0286"}]},
          {"id":"kev","gate":"vulnerabilities","trigger":"kev","action":"STOP","params":[]},
          {"id":"epss","gate":"vulnerabilities","trigger":"epss","action":"WARN","params":[{"name":"epss_score","value":"0.5"}]}]}],
        "whitelists":[{"id":"wl","version":"1_0","items":[{"id":"i","gate":"vulnerabilities","trigger_id":"CVE-2021-*+lodash"}]}],
        "mappings":[{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"p","whitelist_ids":["wl"]}]}"#,
    );
    let (s, r) = (sbom(), report());
    let input = ImageInput::new(&s, &r, "debian:12", now());
    let v = b.evaluate(&input);
    let out = |rule: &str, id: &str| -> String {
        v.rows
            .iter()
            .find(|x| x.rule_id == rule && x.trigger_id == id)
            .unwrap_or_else(|| panic!("no row {rule} {id} in {:#?}", v.rows))
            .check_output
            .clone()
    };
    let ossl_url = "https://security-tracker.debian.org/tracker/CVE-2023-0286";
    assert_eq!(
        out("scores", "CVE-2023-0286+openssl"),
        format!(
            "HIGH Vulnerability found in os package type (deb) - openssl (fixed in: 3.0.8-1)(cvss_v3_base_score=7.4 cvss_v3_impact_score=5.2)(CVE-2023-0286 - {ossl_url})"
        )
    );
    // No NVD score: Anchore's -1, which the impact condition (> -5) admits and the base one (>= 7) not.
    assert!(
        !v.rows
            .iter()
            .any(|x| x.rule_id == "scores" && x.trigger_id == "CVE-2023-4911+libc6")
    );
    assert_eq!(
        out("plain", "CVE-2023-4911+libc6"),
        "CRITICAL Vulnerability found in os package type (deb) - libc6 (CVE-2023-4911 - https://security-tracker.debian.org/tracker/CVE-2023-4911)"
    );
    assert_eq!(
        out("plain", "CVE-2021-23337+lodash"),
        "MEDIUM Vulnerability found in non-os package type (npm) - lodash (fixed in: 4.17.21)(CVE-2021-23337 - https://security-tracker.debian.org/tracker/CVE-2021-23337)"
    );
    assert_eq!(
        out("deny", "CVE-2023-0286+openssl"),
        "Blacklisted vulnerabilities detected: [CVE-2023-0286] in package openssl 1"
    );
    assert_eq!(
        out("kev", "CVE-2023-4911+libc6"),
        "CVE-2023-4911 in libc6 1 is on CISA's Known Exploited Vulnerabilities list"
    );
    assert_eq!(
        out("epss", "CVE-2023-4911+libc6"),
        "CVE-2023-4911 in libc6 1 has EPSS score 0.7"
    );
    let lodash = v
        .rows
        .iter()
        .find(|x| x.trigger_id == "CVE-2021-23337+lodash")
        .expect("lodash row");
    assert_eq!(
        (lodash.gate_action, lodash.whitelist_item_id.as_deref()),
        (Action::Go, Some("i"))
    );
    // The compact table renders the same text.
    let t = b.evaluate_table(&input, &EvalOptions::default());
    let row = t
        .rows()
        .find(|x| x.rule_id() == "scores")
        .expect("scores row");
    assert_eq!(row.check_output(), out("scores", "CVE-2023-0286+openssl"));
}
