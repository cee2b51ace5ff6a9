//! The semantic edges of Anchore bundle evaluation, each pinned.

mod common;

use common::{bundle, load, now, report, sbom};
use portcullis_policy::{Action, EvalOptions, FinalReason, ImageInput, report as render};

const TAG: &str = "docker.io/library/debian:12";

/// A bundle with one STOP rule on high+ vulnerabilities, parts replaceable by the tests.
fn vuln_bundle(mappings: &str, whitelists: &str, images: &str) -> String {
    format!(
        r#"{{"id":"b","version":"1_0","name":"B",
        "policies":[
          {{"id":"stop-high","version":"1_0","rules":[{{"id":"r-high","gate":"vulnerabilities","trigger":"package","action":"STOP",
            "params":[{{"name":"package_type","value":"all"}},{{"name":"severity_comparison","value":">="}},{{"name":"severity","value":"high"}}]}}]}},
          {{"id":"warn-all","version":"1_0","rules":[{{"id":"r-all","gate":"always","trigger":"always","action":"WARN","params":[]}}]}},
          {{"id":"go-all","version":"1_0","rules":[{{"id":"r-go","gate":"always","trigger":"always","action":"GO","params":[]}}]}}
        ],
        "whitelists":[{whitelists}],
        "mappings":[{mappings}],
        {images}}}"#
    )
}

const MAP_ALL_STOP: &str = r#"{"id":"m1","name":"all","registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"stop-high","whitelist_ids":["wl"]}"#;
const NO_IMAGES: &str = r#""whitelisted_images":[],"blacklisted_images":[]"#;

fn wl(items: &str) -> String {
    format!(r#"{{"id":"wl","name":"Team allowlist","version":"1_0","items":[{items}]}}"#)
}

#[test]
fn unmapped_image_is_go_by_default_and_stop_when_configured() {
    let b = bundle(&vuln_bundle(
        r#"{"registry":"quay.io","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"stop-high"}"#,
        "",
        NO_IMAGES,
    ));
    let (s, r) = (sbom(), report());
    let input = ImageInput::new(&s, &r, TAG, now());
    let v = b.evaluate(&input);
    assert_eq!(v.final_action, Action::Go);
    assert_eq!(v.final_reason, FinalReason::PolicyEvaluation);
    assert!(v.rows.is_empty());
    assert_eq!(v.mapping, None);
    assert!(v.passed());
    let v = b.evaluate_with(
        &input,
        &EvalOptions {
            unmapped: Action::Stop,
        },
    );
    assert_eq!(v.final_action, Action::Stop);
    assert!(!v.passed());
    // The same image under quay.io is mapped and fails on its high/critical findings.
    let v = b.evaluate(&ImageInput::new(&s, &r, "quay.io/library/debian:12", now()));
    assert_eq!(v.final_action, Action::Stop);
}

#[test]
fn denylisted_image_beats_everything() {
    let images = r#""whitelisted_images":[{"name":"trusted","registry":"docker.io","repository":"library/debian","image":{"type":"tag","value":"*"}}],
                   "blacklisted_images":[{"name":"banned","registry":"*","repository":"*debian","image":{"type":"tag","value":"12"}}]"#;
    let b = bundle(&vuln_bundle(
        r#"{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"go-all"}"#,
        "",
        images,
    ));
    let (s, r) = (sbom(), report());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.policy_final_action, Action::Go);
    assert_eq!(v.final_action, Action::Stop);
    assert_eq!(v.final_reason, FinalReason::Blacklisted);
    assert_eq!(v.matched_blacklisted_image.as_deref(), Some("banned"));
    assert_eq!(v.matched_whitelisted_image.as_deref(), Some("trusted"));
    // Another tag: only the allowlist matches, and it overrides a STOP policy.
    let b = bundle(&vuln_bundle(MAP_ALL_STOP, &wl(""), images));
    let v = b.evaluate(&ImageInput::new(&s, &r, "debian:11", now()));
    assert_eq!(v.policy_final_action, Action::Stop);
    assert_eq!(v.final_action, Action::Go);
    assert_eq!(v.final_reason, FinalReason::Whitelisted);
}

#[test]
fn allowlisted_finding_becomes_go_with_its_allowlist_named() {
    let b = bundle(&vuln_bundle(
        MAP_ALL_STOP,
        &wl(r#"{"id":"item-ossl","gate":"vulnerabilities","trigger_id":"CVE-2023-0286+openssl"}"#),
        NO_IMAGES,
    ));
    let (s, r) = (sbom(), report());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    let ossl = v
        .rows
        .iter()
        .find(|x| x.trigger_id == "CVE-2023-0286+openssl")
        .unwrap();
    assert_eq!(ossl.gate_action, Action::Go);
    assert_eq!(ossl.whitelisted.as_deref(), Some("wl"));
    assert_eq!(ossl.whitelist_name.as_deref(), Some("Team allowlist"));
    assert_eq!(ossl.whitelist_item_id.as_deref(), Some("item-ossl"));
    let glibc = v
        .rows
        .iter()
        .find(|x| x.trigger_id == "CVE-2023-4911+libc6")
        .unwrap();
    assert_eq!(glibc.gate_action, Action::Stop);
    assert_eq!(glibc.whitelisted, None);
    assert_eq!(v.final_action, Action::Stop);

    // The JSON table names the allowlist in the Whitelisted column, Anchore-style.
    let j = render::to_json(&v);
    let rows = j["sha256:2222"]["result"]["rows"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r[2] == "CVE-2023-0286+openssl")
        .unwrap();
    assert_eq!(row[6], "GO");
    assert_eq!(row[7]["whitelist_id"], "wl");
    assert_eq!(row[7]["whitelist_name"], "Team allowlist");
    let other = rows.iter().find(|r| r[2] == "CVE-2023-4911+libc6").unwrap();
    assert_eq!(other[7], false);

    // Allowlisting the other finding with a wildcard makes the whole evaluation GO.
    let b = bundle(&vuln_bundle(
        MAP_ALL_STOP,
        &wl(
            r#"{"id":"a","gate":"vulnerabilities","trigger_id":"CVE-2023-0286+openssl"},{"id":"b","gate":"VULNERABILITIES","trigger_id":"CVE-2023-4911+*"}"#,
        ),
        NO_IMAGES,
    ));
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert!(
        v.rows
            .iter()
            .all(|x| x.gate_action == Action::Go && x.whitelisted.is_some())
    );
    assert_eq!(v.final_action, Action::Go);
    // A wrong gate does not allowlist.
    let b = bundle(&vuln_bundle(
        MAP_ALL_STOP,
        &wl(r#"{"id":"a","gate":"packages","trigger_id":"*"}"#),
        NO_IMAGES,
    ));
    assert_eq!(
        b.evaluate(&ImageInput::new(&s, &r, TAG, now()))
            .final_action,
        Action::Stop
    );
}

#[test]
fn expired_allowlist_item_is_ignored() {
    let items = |when: &str| {
        wl(&format!(
            r#"{{"id":"x","gate":"vulnerabilities","trigger_id":"CVE-*","expires_on":"{when}"}}"#
        ))
    };
    let (s, r) = (sbom(), report());
    let input = ImageInput::new(&s, &r, TAG, now());
    let expired = bundle(&vuln_bundle(
        MAP_ALL_STOP,
        &items("2026-11-24T05:59:59Z"),
        NO_IMAGES,
    ));
    let v = expired.evaluate(&input);
    assert_eq!(v.final_action, Action::Stop);
    assert!(v.rows.iter().all(|x| x.whitelisted.is_none()));
    // Expiring exactly now is expired too (Anchore: now >= expires_on).
    let v = bundle(&vuln_bundle(
        MAP_ALL_STOP,
        &items("2026-11-24T06:00:00Z"),
        NO_IMAGES,
    ))
    .evaluate(&input);
    assert_eq!(v.final_action, Action::Stop);
    let live = bundle(&vuln_bundle(
        MAP_ALL_STOP,
        &items("2026-11-24T06:00:01+00:00"),
        NO_IMAGES,
    ));
    let v = live.evaluate(&input);
    assert_eq!(v.final_action, Action::Go);
    assert!(v.rows.iter().all(|x| x.whitelisted.is_some()));
}

#[test]
fn warn_passes_and_stop_fails() {
    let b = bundle(&vuln_bundle(
        r#"{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"warn-all"}"#,
        "",
        NO_IMAGES,
    ));
    let (s, r) = (sbom(), report());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.final_action, Action::Warn);
    assert!(v.passed());
    let text = render::to_text(&v, false);
    assert!(
        text.contains("Status: pass") && text.contains("Final Action: WARN"),
        "{text}"
    );
}

#[test]
fn regexp_mapping_and_first_match_wins() {
    let maps = r#"{"name":"teams","registry":"localhost:5000","repository":"regexp:team-[a-z]+/","image":{"type":"tag","value":"regexp:v[0-9]+"},"policy_id":"stop-high"},
                  {"name":"wild","registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"warn-all"},
                  {"name":"never","registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"go-all"}"#;
    let b = bundle(&vuln_bundle(maps, "", NO_IMAGES));
    let (s, r) = (sbom(), report());
    let eval = |tag: &str| b.evaluate(&ImageInput::new(&s, &r, tag, now()));
    let v = eval("localhost:5000/team-a/app:v2");
    assert_eq!(v.mapping.as_deref(), Some("teams"));
    assert_eq!(v.final_action, Action::Stop);
    for tag in [
        "localhost:5000/other/app:v2",
        "localhost:5000/team-a/app:latest",
        "localhost:5001/team-a/app:v2",
        "localhost:5000/xteam-a/app:v2",
    ] {
        let v = eval(tag);
        assert_eq!(v.mapping.as_deref(), Some("wild"), "{tag}");
        assert_eq!(v.final_action, Action::Warn, "{tag}");
    }
}

#[test]
fn digest_and_id_mappings() {
    let maps = r#"{"name":"by-digest","registry":"*","repository":"*","image":{"type":"digest","value":"sha256:1111"},"policy_id":"stop-high"},
                  {"name":"by-id","registry":"*","repository":"*","image":{"type":"id","value":"3333"},"policy_id":"warn-all"}"#;
    let b = bundle(&vuln_bundle(maps, "", NO_IMAGES));
    let (mut s, r) = (sbom(), report());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.mapping.as_deref(), Some("by-digest"));
    s.metadata.manifest_digest = Some("sha256:9999".into());
    s.metadata.image_id = Some("sha256:3333".into());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.mapping.as_deref(), Some("by-id"));
}

#[test]
fn multi_policy_mapping_evaluates_every_policy_in_order() {
    let b = load("multi_policy.json");
    let (s, r) = (sbom(), report());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.policy_ids, vec!["1", "2"]);
    let ids: Vec<(&str, &str)> = v
        .rows
        .iter()
        .map(|x| (x.policy_id.as_str(), x.trigger_id.as_str()))
        .collect();
    assert_eq!(ids, vec![("1", "HEALTHCHECK"), ("2", "SHELL")]);
    assert_eq!(v.final_action, Action::Warn);
    assert!(v.rows[0].check_output.contains("'HEALTHCHECK' not found"));
}

#[test]
fn default_bundle_verdict() {
    let b = load("anchore_default_bundle.json");
    let (s, r) = (sbom(), report());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    let by = |t: &str| v.rows.iter().find(|x| x.trigger_id == t);
    // Port 22 exposed: STOP (from the image config and history EXPOSE).
    let p = by("22").expect("port 22 row");
    assert_eq!(
        (p.gate.as_str(), p.gate_action),
        ("dockerfile", Action::Stop)
    );
    assert!(by("443").is_none());
    // Medium lodash finding: WARN; high/critical findings: STOP; won't-fix low: no row.
    assert_eq!(
        by("CVE-2021-23337+lodash").unwrap().gate_action,
        Action::Warn
    );
    let o = by("CVE-2023-0286+openssl").unwrap();
    assert_eq!(o.gate_action, Action::Stop);
    assert!(o.check_output.starts_with("HIGH Vulnerability found in os package type (deb) - openssl (fixed in: 3.0.8-1)(CVE-2023-0286 - https://security-tracker.debian.org/tracker/CVE-2023-0286)"), "{}", o.check_output);
    assert!(by("CVE-2010-4756+libc6").is_none());
    assert_eq!(by("HEALTHCHECK").unwrap().gate_action, Action::Warn);
    assert_eq!(v.final_action, Action::Stop);
    assert_eq!(v.final_reason, FinalReason::PolicyEvaluation);
    // Data we were not given is reported, not passed silently.
    assert!(
        v.not_evaluated
            .iter()
            .any(|n| n.starts_with("vulnerabilities.stale_feed_data")),
        "{:?}",
        v.not_evaluated
    );
    assert!(
        v.not_evaluated
            .iter()
            .any(|n| n.starts_with("vulnerabilities.vulnerability_data_unavailable"))
    );
    let text = render::to_text(&v, true);
    assert!(
        text.contains("Image_Id")
            && text.contains("Policy_Id")
            && text.contains("CVE-2023-0286+openssl"),
        "{text}"
    );
    assert!(text.contains("Not evaluated:"), "{text}");
    // Same verdict JSON round-trips.
    let j = serde_json::to_string(&v).unwrap();
    let back: portcullis_policy::Verdict = serde_json::from_str(&j).unwrap();
    assert_eq!(back, v);
}

#[test]
fn decide_agrees_with_evaluate() {
    let (s, r) = (sbom(), report());
    let bundles = [
        bundle(&vuln_bundle(MAP_ALL_STOP, &wl(""), NO_IMAGES)),
        bundle(&vuln_bundle(
            MAP_ALL_STOP,
            &wl(r#"{"id":"a","gate":"vulnerabilities","trigger_id":"CVE-2023-*"}"#),
            NO_IMAGES,
        )),
        bundle(&vuln_bundle(
            MAP_ALL_STOP,
            &wl(r#"{"id":"a","gate":"vulnerabilities","trigger_id":"CVE-2023-0286+openssl"}"#),
            r#""whitelisted_images":[{"registry":"*","repository":"*","image":{"type":"tag","value":"11"}}],"blacklisted_images":[{"registry":"*","repository":"*","image":{"type":"tag","value":"10"}}]"#,
        )),
        load("anchore_default_bundle.json"),
        load("multi_policy.json"),
        load("bundle-with-all-rules-2020-08-20.json"),
    ];
    for b in &bundles {
        for tag in [TAG, "debian:11", "debian:10", "quay.io/x/y:1"] {
            for unmapped in [Action::Go, Action::Stop] {
                let opts = EvalOptions { unmapped };
                let input = ImageInput::new(&s, &r, tag, now());
                let v = b.evaluate_with(&input, &opts);
                let d = b.decide(&input, &opts);
                assert_eq!(
                    (d.final_action, d.final_reason, d.policy_final_action),
                    (v.final_action, v.final_reason, v.policy_final_action),
                    "{} {tag}",
                    b.id()
                );
            }
        }
    }
}
