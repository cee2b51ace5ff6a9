//! The shared all-rules bundle: every trigger fires on an image built to trip it, or reports why it cannot.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::{finding, load, now, pkg, report, sbom};
use portcullis_policy::{Action, FinalReason, ImageInput, Verdict};
use portcullis_sbom::PackageType;
use portcullis_vuln::Severity;

const BUNDLE: &str = "bundle-with-all-rules-2020-08-20.json";
const TAG: &str = "docker.io/library/debian:12";

/// How each rule of the bundle must come out on the tripping image.
enum Expect {
    /// Fires; the row's trigger id.
    Fires(&'static str),
    /// Reported in `not_evaluated` with this reason fragment.
    NotEvaluated(&'static str),
    /// Must not fire (the condition is false on this image), with why.
    Silent(&'static str),
}

fn expectations() -> Vec<(&'static str, Expect)> {
    use Expect::*;
    vec![
        (
            "dockerfile.no_dockerfile_provided",
            Fires("no_dockerfile_provided"),
        ),
        ("dockerfile.instruction", Fires("CMD")),
        ("dockerfile.exposed_ports", Fires("22")),
        ("dockerfile.effective_user", Fires("root")),
        ("files.suid_or_guid_set", Fires("/usr/bin/passwd")),
        ("files.name_match", NotEvaluated("`*\\.pem`")),
        ("files.content_regex_match", NotEvaluated("file contents")),
        ("files.attribute_match", NotEvaluated("checksums")),
        ("licenses.blacklist_partial_match", Fires("libc6+BSD-2")),
        ("licenses.blacklist_exact_match", Fires("libc6+BSD-2")),
        ("malware.scans", NotEvaluated("malware scanner")),
        (
            "metadata.attribute",
            NotEvaluated("`linux` or the policy value `31` is not a number"),
        ),
        ("npms.version_not_in_feeds", NotEvaluated("feed")),
        ("npms.unknown_in_feeds", NotEvaluated("feed")),
        ("npms.newer_version_in_feed", NotEvaluated("feed")),
        ("npms.feed_data_unavailable", NotEvaluated("feed")),
        ("npms.blacklisted_name_version", Fires("ffff+111111")),
        ("packages.verify", NotEvaluated("file digests")),
        ("packages.required_package", Fires("asdfasdf")),
        ("packages.blacklist", Fires("sadf+1111111")),
        (
            "passwd_file.content_not_available",
            Silent("/etc/passwd is present"),
        ),
        ("passwd_file.blacklist_usernames", Fires("asdfdasf")),
        ("passwd_file.blacklist_userids", Fires("8930145")),
        ("passwd_file.blacklist_shells", Fires("/bin/zsh")),
        ("passwd_file.blacklist_groupids", Fires("3124")),
        ("passwd_file.blacklist_full_entry", Fires("test")),
        ("retrieved_files.content_regex", Fires("/etc/httpd.conf")),
        (
            "retrieved_files.content_not_available",
            Silent("/etc/httpd.conf was retrieved"),
        ),
        ("ruby_gems.version_not_found_in_feed", NotEvaluated("feed")),
        ("ruby_gems.not_found_in_feed", NotEvaluated("feed")),
        (
            "ruby_gems.newer_version_found_in_feed",
            NotEvaluated("feed"),
        ),
        ("ruby_gems.feed_data_unavailable", NotEvaluated("feed")),
        ("ruby_gems.blacklist", Fires("ruby-test+0.2.9")),
        (
            "vulnerabilities.vulnerability_data_unavailable",
            Fires("vulnerability_data_unavailable"),
        ),
        ("vulnerabilities.stale_feed_data", Fires("stale_feed_data")),
        ("vulnerabilities.package", Fires("CVE-2023-4911+libc6")),
        ("vulnerabilities.blacklist", Fires("CVE-2019-1234+sadf")),
        (
            "secret_scans.content_regex_checks",
            NotEvaluated("secret search"),
        ),
    ]
}

fn rows_of<'a>(v: &'a Verdict, gt: &str) -> Vec<&'a portcullis_policy::EvalRow> {
    v.rows
        .iter()
        .filter(|r| format!("{}.{}", r.gate, r.trigger) == gt)
        .collect()
}

fn not_evaluated<'a>(v: &'a Verdict, gt: &str) -> Option<&'a String> {
    v.not_evaluated
        .iter()
        .find(|n| n.starts_with(&format!("{gt} ")))
}

#[test]
fn every_trigger_fires_or_says_why_not() {
    let b = load(BUNDLE);
    let mut s = sbom();
    s.packages.push(pkg("ffff", "111111", PackageType::Npm));
    s.packages.push(pkg("ruby-test", "0.2.9", PackageType::Gem));
    s.packages.push(pkg("sadf", "1111111", PackageType::Deb));
    let mut r = report();
    r.findings.push(finding(
        "CVE-2019-1234",
        "sadf",
        Severity::Low,
        PackageType::Deb,
    ));
    let passwd =
        "root:x:0:0:root:/root:/bin/bash\nasdfdasf:x:8930145:3124:A:/home/a:/bin/zsh\ntest\n";
    let retrieved: BTreeMap<String, String> =
        [("/etc/httpd.conf".to_string(), "Listen 80\n".to_string())].into();
    let mut input = ImageInput::new(&s, &r, TAG, now());
    input.passwd = Some(Some(passwd));
    input.retrieved_files = Some(&retrieved);
    input.feed_synced = Some(now() - Duration::days(101));
    input.vuln_data_available = Some(false);
    let v = b.evaluate(&input);

    let exp = expectations();
    // The table covers every rule of the bundle, in the bundle's order.
    let in_bundle: Vec<String> = b.doc.policies[0]
        .rules
        .iter()
        .map(|r| format!("{}.{}", r.gate, r.trigger))
        .collect();
    let in_table: Vec<String> = exp.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(in_bundle, in_table);

    for (gt, e) in &exp {
        let rows = rows_of(&v, gt);
        let ne = not_evaluated(&v, gt);
        match e {
            Expect::Fires(id) => {
                assert!(
                    rows.iter().any(|r| r.trigger_id == *id),
                    "{gt} must fire {id}: {rows:#?}"
                );
                assert!(ne.is_none(), "{gt}: {ne:?}");
            }
            Expect::NotEvaluated(why) => {
                assert!(rows.is_empty(), "{gt} must not fire: {rows:#?}");
                let n = ne.unwrap_or_else(|| panic!("{gt} must be reported as not evaluated"));
                assert!(
                    n.contains("could not be evaluated") && n.contains(why),
                    "{gt}: {n}"
                );
            }
            Expect::Silent(why) => {
                assert!(
                    rows.is_empty() && ne.is_none(),
                    "{gt} must stay silent ({why}): {rows:#?} {ne:?}"
                );
            }
        }
    }
    // Every action in the bundle is GO or WARN: the image passes with WARN.
    assert_eq!(v.final_action, Action::Warn);
    assert!(v.passed());
    assert!(v.warnings.iter().any(|w| w.contains("npms")));
    assert!(v.warnings.iter().any(|w| w.contains("ruby_gems")));
}

#[test]
fn missing_files_fire_content_not_available_and_unrecorded_data_is_reported() {
    let b = load(BUNDLE);
    let (s, r) = (sbom(), report());
    let empty = BTreeMap::new();
    let mut input = ImageInput::new(&s, &r, TAG, now());
    input.passwd = Some(None);
    input.retrieved_files = Some(&empty);
    let v = b.evaluate(&input);
    assert_eq!(rows_of(&v, "passwd_file.content_not_available").len(), 1);
    assert_eq!(
        rows_of(&v, "retrieved_files.content_not_available").len(),
        1
    );
    assert!(rows_of(&v, "passwd_file.blacklist_usernames").is_empty());
    assert!(
        not_evaluated(&v, "retrieved_files.content_regex")
            .is_some_and(|n| n.contains("was not retrieved"))
    );

    // Nothing recorded at all: the data-dependent triggers say so instead of passing.
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    for gt in [
        "passwd_file.content_not_available",
        "passwd_file.blacklist_usernames",
        "retrieved_files.content_regex",
        "retrieved_files.content_not_available",
        "vulnerabilities.stale_feed_data",
        "vulnerabilities.vulnerability_data_unavailable",
    ] {
        assert!(rows_of(&v, gt).is_empty(), "{gt}");
        assert!(
            not_evaluated(&v, gt).is_some(),
            "{gt} must be reported: {:#?}",
            v.not_evaluated
        );
    }
    // Fresh feed, data available: neither fires.
    let mut input = ImageInput::new(&s, &r, TAG, now());
    input.feed_synced = Some(now() - Duration::days(99));
    input.vuln_data_available = Some(true);
    let v = b.evaluate(&input);
    assert!(rows_of(&v, "vulnerabilities.stale_feed_data").is_empty());
    assert!(rows_of(&v, "vulnerabilities.vulnerability_data_unavailable").is_empty());
}

#[test]
fn whitelisted_alpine_image_is_go() {
    let b = load(BUNDLE);
    let (s, r) = (sbom(), report());
    for tag in [
        "alpine:latest",
        "docker.io/alpine:latest",
        "docker.io/library/alpine:latest",
    ] {
        let v = b.evaluate(&ImageInput::new(&s, &r, tag, now()));
        assert_eq!(v.final_reason, FinalReason::Whitelisted, "{tag}");
        assert_eq!(v.final_action, Action::Go);
    }
    let v = b.evaluate(&ImageInput::new(&s, &r, "alpine:3.19", now()));
    assert_eq!(v.final_reason, FinalReason::PolicyEvaluation);
}

#[test]
fn name_match_checks_known_files_and_says_what_it_did_not_check() {
    let doc = r#"{"id":"n","version":"1_0","whitelists":[],"policies":[{"id":"p","version":"1_0","rules":[
        {"id":"pem","gate":"files","trigger":"name_match","action":"STOP","params":[{"name":"regex","value":".*\\.pem"}]}]}],
        "mappings":[{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"p"}]}"#;
    let b = common::bundle(doc);
    let (s, r) = (sbom(), report());
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.rows.len(), 1);
    assert_eq!(v.rows[0].trigger_id, "/etc/ssl/certs/ca.pem");
    assert_eq!(v.final_action, Action::Stop);
    assert!(v.not_evaluated[0].contains("other files were not checked"));
    // With the full file list, nothing is left unchecked.
    let files = vec![
        "/etc/ssl/certs/ca.pem".to_string(),
        "/root/key.pem".to_string(),
        "/bin/sh".to_string(),
    ];
    let mut input = ImageInput::new(&s, &r, TAG, now());
    input.files = Some(&files);
    let v = b.evaluate(&input);
    assert_eq!(v.rows.len(), 2);
    assert!(v.not_evaluated.is_empty());
}

#[test]
fn kev_and_epss_triggers() {
    let doc = r#"{"id":"k","version":"1_0","whitelists":[],"policies":[{"id":"p","version":"1_0","rules":[
        {"id":"kev","gate":"vulnerabilities","trigger":"kev","action":"STOP","params":[]},
        {"id":"epss","gate":"vulnerabilities","trigger":"epss","action":"WARN","params":[{"name":"epss_score","value":"0.5"}]}]}],
        "mappings":[{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"p"}]}"#;
    let b = common::bundle(doc);
    let (s, r) = (sbom(), report());
    // CVE-2023-4911 (glibc "Looney Tunables") is on the shared KEV catalogue; CVE-2023-0286 is not.
    assert!(common::in_kev("CVE-2023-4911"));
    assert!(!common::in_kev("CVE-2023-0286"));
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    let kev: Vec<&str> = v
        .rows
        .iter()
        .filter(|x| x.trigger == "kev")
        .map(|x| x.trigger_id.as_str())
        .collect();
    assert_eq!(kev, vec!["CVE-2023-4911+libc6"]);
    let epss: Vec<&str> = v
        .rows
        .iter()
        .filter(|x| x.trigger == "epss")
        .map(|x| x.trigger_id.as_str())
        .collect();
    assert_eq!(epss, vec!["CVE-2023-4911+libc6"]);
    // Two findings carry no EPSS score: said, not silently passed.
    assert!(
        v.not_evaluated
            .iter()
            .any(|n| n.contains("2 finding(s) have no EPSS score")),
        "{:?}",
        v.not_evaluated
    );
    assert_eq!(v.final_action, Action::Stop);
}

#[test]
fn vulnerability_parameters() {
    let rule = |params: &str| {
        common::bundle(&format!(
            r#"{{"id":"v","version":"1_0","whitelists":[],"policies":[{{"id":"p","version":"1_0","rules":[
            {{"id":"r","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[{{"name":"package_type","value":"all"}}{params}]}}]}}],
            "mappings":[{{"registry":"*","repository":"*","image":{{"type":"tag","value":"*"}},"policy_id":"p"}}]}}"#
        ))
    };
    let (s, r) = (sbom(), report());
    let ids = |params: &str| -> Vec<String> {
        let v = rule(params).evaluate(&ImageInput::new(&s, &r, TAG, now()));
        let mut ids: Vec<String> = v.rows.into_iter().map(|x| x.trigger_id).collect();
        ids.sort();
        ids
    };
    // Defaults: severity > unknown, vendor_only true (won't-fix skipped).
    assert_eq!(
        ids(""),
        [
            "CVE-2021-23337+lodash",
            "CVE-2023-0286+openssl",
            "CVE-2023-4911+libc6"
        ]
    );
    assert_eq!(ids(r#",{"name":"vendor_only","value":"false"}"#).len(), 4);
    assert_eq!(
        ids(r#",{"name":"severity_comparison","value":"<="},{"name":"severity","value":"medium"}"#),
        ["CVE-2021-23337+lodash"]
    );
    assert_eq!(
        ids(r#",{"name":"fix_available","value":"true"}"#),
        ["CVE-2021-23337+lodash", "CVE-2023-0286+openssl"]
    );
    assert_eq!(
        ids(r#",{"name":"fix_available","value":"false"}"#),
        ["CVE-2023-4911+libc6"]
    );
    assert_eq!(
        ids(r#",{"name":"cvss_v3_base_score","value":"7.0"}"#),
        ["CVE-2023-0286+openssl"]
    );
    assert_eq!(ids(r#",{"name":"cvss_v3_base_score_comparison","value":"<"},{"name":"cvss_v3_base_score","value":"7.0"}"#).len(), 2);
    assert_eq!(
        ids(r#",{"name":"cvss_v3_exploitability_score","value":"3.0"}"#).len(),
        0
    );
    assert_eq!(
        ids(r#",{"name":"cvss_v3_impact_score","value":"5.0"}"#),
        ["CVE-2023-0286+openssl"]
    );
    assert_eq!(
        ids(r#",{"name":"vendor_cvss_v3_base_score","value":"1.0"}"#).len(),
        0
    );
    assert_eq!(
        ids(r#",{"name":"package_path_exclude","value":"/app/node_modules/.*"}"#),
        ["CVE-2023-0286+openssl", "CVE-2023-4911+libc6"]
    );
    // Published 2023-02-08 (old enough), 2023-10-03 (too recent), unknown (kept: fail closed).
    assert_eq!(
        ids(r#",{"name":"max_days_since_creation","value":"1200"}"#),
        ["CVE-2021-23337+lodash", "CVE-2023-0286+openssl"]
    );
    // package_type filters.
    let v = common::bundle(r#"{"id":"v","version":"1_0","whitelists":[],"policies":[{"id":"p","version":"1_0","rules":[
        {"id":"r","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[{"name":"package_type","value":"non-os"}]}]}],
        "mappings":[{"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"p"}]}"#)
        .evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.rows.len(), 1);
    assert!(
        v.rows[0]
            .check_output
            .starts_with("MEDIUM Vulnerability found in non-os package type (npm) - lodash")
    );
}

#[test]
fn required_package_minimum_uses_the_package_version_scheme() {
    let rule = |version: &str| {
        common::bundle(&format!(
            r#"{{"id":"r","version":"1_0","whitelists":[],"policies":[{{"id":"p","version":"1_0","rules":[
            {{"id":"req","gate":"packages","trigger":"required_package","action":"STOP","params":[
              {{"name":"name","value":"openssl"}},{{"name":"version","value":"{version}"}},{{"name":"version_match_type","value":"minimum"}}]}}]}}],
            "mappings":[{{"registry":"*","repository":"*","image":{{"type":"tag","value":"*"}},"policy_id":"p"}}]}}"#
        ))
    };
    let (s, r) = (sbom(), report());
    let fires = |version: &str| {
        let v = rule(version).evaluate(&ImageInput::new(&s, &r, TAG, now()));
        assert!(v.not_evaluated.is_empty(), "{:?}", v.not_evaluated);
        !v.rows.is_empty()
    };
    // Installed: 3.0.11-1~deb12u2 (dpkg: `~` sorts before anything).
    assert!(!fires("3.0.11-1~deb12u1"));
    assert!(!fires("3.0.9-1"));
    assert!(fires("3.0.11-1"));
    assert!(fires("1:1.0"));
}
