//! Every bundle in `shared/policies` loads unmodified, or fails with precise, aggregated errors.

mod common;

use common::{bundle_path, load, shared};
use portcullis_policy::{Bundle, Error, Problem};

const GOOD: &[&str] = &[
    "anchore_default_bundle.json",
    "bundle-with-all-rules-2020-08-20.json",
    "multi_policy.json",
];
const BAD: &[&str] = &[
    "bad_bundle.json",
    "bad_policy_id_bundle.json",
    "empty.json",
    "trivial_bundle.json",
];

fn problems(name: &str) -> Vec<Problem> {
    match Bundle::from_path(&bundle_path(name)) {
        Ok(_) => panic!("{name} must fail validation"),
        Err(Error::Invalid { problems, .. }) => problems,
        Err(e) => panic!("{name}: expected validation problems, got {e}"),
    }
}

fn has(problems: &[Problem], location: &str, message: &str) -> bool {
    problems
        .iter()
        .any(|p| p.location.contains(location) && p.message.contains(message))
}

#[test]
fn every_shared_bundle_is_classified() {
    let dir = shared().join("policies/anchore-engine");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut known: Vec<String> = GOOD.iter().chain(BAD).map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(
        names, known,
        "a bundle was added or removed: classify it here"
    );
}

#[test]
fn good_bundles_load_unmodified() {
    for name in GOOD {
        let b = load(name);
        assert!(b.digest.starts_with("sha256:"));
        assert!(!b.id().is_empty());
    }
    let all = load("bundle-with-all-rules-2020-08-20.json");
    assert_eq!(all.doc.policies[0].rules.len(), 38);
    // Deprecated gates and triggers without data load with warnings, never silently.
    assert!(
        all.warnings
            .iter()
            .any(|w| w.message.contains("deprecated") && w.location.contains("npms"))
    );
    assert!(
        all.warnings
            .iter()
            .any(|w| w.location.contains("secret_scans.content_regex_checks")
                && w.message.contains("cannot be evaluated"))
    );
    assert!(
        all.warnings
            .iter()
            .any(|w| w.location.contains("files.name_match") && w.message.contains("regex"))
    );
}

#[test]
fn bad_bundle_reports_every_rule_problem() {
    let p = problems("bad_bundle.json");
    assert!(
        has(
            &p,
            "rules[0] (dockerfile.instruction)",
            "action `invalidaction` is not one of STOP, WARN, GO"
        ),
        "{p:#?}"
    );
    for rule in ["rules[0]", "rules[1]"] {
        assert!(
            has(&p, rule, "required parameter `instruction` is missing"),
            "{p:#?}"
        );
        assert!(
            has(&p, rule, "required parameter `check` is missing"),
            "{p:#?}"
        );
    }
    assert!(!p.iter().any(|x| x.location.contains("rules[2]")), "{p:#?}");
    assert_eq!(p.len(), 5, "{p:#?}");
}

#[test]
fn bad_policy_id_names_the_missing_policy() {
    let p = problems("bad_policy_id_bundle.json");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert!(has(
        &p,
        "mappings[0]",
        "references policy `notarealid`, which is not in the bundle"
    ));
    assert!(
        p[0].message
            .contains("7dcbe180-2914-4723-89d4-20b6657f66eb")
    );
}

#[test]
fn legacy_gates_are_end_of_life() {
    let p = problems("empty.json");
    assert!(
        has(&p, "rules[0] (DOCKERFILECHECK.NOFROM)", "end-of-life"),
        "{p:#?}"
    );
    assert!(has(&p, "rules[0]", "gate `dockerfile`"), "{p:#?}");
    assert!(
        has(&p, "mappings[0]", "references policy `empty`"),
        "{p:#?}"
    );

    let p = problems("trivial_bundle.json");
    for (i, gate) in ["DOCKERFILECHECK", "FILECHECK", "PKGCHECK", "ANCHORESEC"]
        .iter()
        .enumerate()
    {
        assert!(
            has(&p, &format!("rules[{i}] ({gate}."), "end-of-life"),
            "{p:#?}"
        );
    }
    assert!(
        has(&p, "mappings[0]", "references policy `trivial`"),
        "{p:#?}"
    );
    assert_eq!(p.len(), 5, "{p:#?}");
}

#[test]
fn the_error_message_lists_every_problem() {
    let e = Bundle::from_path(&bundle_path("bad_bundle.json"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bundle `bad_bundle1` is invalid (5 problem(s))"),
        "{e}"
    );
    assert_eq!(
        e.lines().filter(|l| l.starts_with("  - ")).count(),
        5,
        "{e}"
    );
}

#[test]
fn malformed_documents_name_the_path() {
    let e = Bundle::from_slice(br#"{"id":"x","version":"1_0","policies":[{"id":"p","rules":[{"gate":"always","trigger":"always"}]}]}"#, "t.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("policies[0].rules[0]") && e.contains("action"),
        "{e}"
    );
    let e = Bundle::from_slice(b"{not json", "t.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("t.json"), "{e}");
    let e = Bundle::from_slice(br#"{"id":"x","version":"1_0","policies":[{"id":"p","version":"1_0","rules":[{"gate":"always","trigger":"always","action":"GO","params":[{"name":"a","value":[1]}]}]}]}"#, "t.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("params[0].value"), "{e}");
}

#[test]
fn parameter_values_and_names_are_checked() {
    let doc = r#"{"id":"x","version":"1_0","mappings":[],"policies":[{"id":"p","version":"1_0","rules":[
      {"id":"r1","gate":"vulnerabilities","trigger":"package","action":"STOP","params":[
        {"name":"package_type","value":"everything"},{"name":"severity","value":"urgent"},
        {"name":"max_days_since_creation","value":"soon"},{"name":"bogus","value":"1"}]},
      {"id":"r2","gate":"vulnerabilities","trigger":"nosuch","action":"STOP","params":[]},
      {"id":"r3","gate":"nosuchgate","trigger":"x","action":"GO","params":[]}
    ]}],"whitelists":[{"id":"w","version":"1_0","items":[{"id":"i","gate":"vulnerabilities","trigger_id":"CVE-1+*","expires_on":"tomorrow"}]}]}"#;
    let p = match Bundle::from_slice(doc.as_bytes(), "t") {
        Err(Error::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    };
    assert!(
        has(&p, "(id r1)", "`everything` is not one of all, os, non-os"),
        "{p:#?}"
    );
    assert!(
        has(&p, "(id r1)", "`urgent` is not one of unknown"),
        "{p:#?}"
    );
    assert!(has(&p, "(id r1)", "`soon` is not an integer"), "{p:#?}");
    assert!(
        has(
            &p,
            "(id r1)",
            "parameter `bogus` is not a parameter of vulnerabilities.package"
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "(id r2)",
            "trigger `nosuch` does not exist in gate `vulnerabilities`"
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "(id r3)", "gate `nosuchgate` does not exist"),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "whitelists[0] (id w) items[0] (id i)",
            "`expires_on` `tomorrow` is not an RFC 3339 time"
        ),
        "{p:#?}"
    );
    assert_eq!(p.len(), 7, "{p:#?}");
}

#[test]
fn version_2_bundles_load_with_their_field_names() {
    let doc = r#"{"id":"v2","version":"2","name":"v2",
      "rule_sets":[{"id":"rs1","rules":[{"id":"r","gate":"always","trigger":"always","action":"WARN","params":[]}]}],
      "allowlists":[{"id":"al","name":"AL","items":[{"id":"i1","gate":"always","trigger_id":"always"}]}],
      "mappings":[{"name":"m","registry":"*","repository":"*","image":{"type":"tag","value":"*"},"rule_set_ids":["rs1"],"allowlist_ids":["al"]}],
      "allowlisted_images":[],"denylisted_images":[{"registry":"*","repository":"evil","image":{"type":"tag","value":"*"}}]}"#;
    let b = common::bundle(doc);
    assert_eq!(b.doc.policies.len(), 1);
    assert_eq!(b.doc.whitelists.len(), 1);
    assert_eq!(b.doc.blacklisted_images.len(), 1);
    let bad = doc.replace(r#""version":"2""#, r#""version":"3""#);
    let e = Bundle::from_slice(bad.as_bytes(), "t")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("version `3` is not supported; use one of 1_0, 2"),
        "{e}"
    );
}

#[test]
fn mapping_problems_are_aggregated() {
    let doc = r#"{"id":"x","version":"1_0","policies":[],"whitelists":[],"mappings":[
      {"registry":"*","repository":"*","image":{"type":"tag","value":"*"},"policy_id":"a","policy_ids":["a"]},
      {"registry":"*","repository":"regexp:(","image":{"type":"label","value":"*"},"policy_ids":["a"],"whitelist_ids":["nowl"]},
      {"registry":"*","repository":"*","image":{"type":"tag","value":"*"}}]}"#;
    let p = match Bundle::from_slice(doc.as_bytes(), "t") {
        Err(Error::Invalid { problems, .. }) => problems,
        other => panic!("expected problems, got {other:?}"),
    };
    assert!(
        has(&p, "mappings[0]", "both `policy_id` and `policy_ids`"),
        "{p:#?}"
    );
    assert!(
        has(&p, "mappings[1]", "invalid `regexp:` pattern"),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "mappings[1]",
            "`image.type` `label` is not one of tag, digest, id"
        ),
        "{p:#?}"
    );
    assert!(has(&p, "mappings[1]", "references policy `a`"), "{p:#?}");
    assert!(
        has(&p, "mappings[1]", "references whitelist `nowl`"),
        "{p:#?}"
    );
    assert!(
        has(&p, "mappings[2]", "no `policy_id` or `policy_ids`"),
        "{p:#?}"
    );
}

/// A bundle nested past serde_json's recursion limit (128) is a parse error, not a stack overflow; a
/// pattern whose compiled regex would be huge is refused by the `regex` size limit.
#[test]
fn deep_documents_and_huge_regexes_are_refused() {
    // Skipped unknown fields are read without recursion: no limit needed, no overflow.
    let ignored = format!(
        r#"{{"id":"b","x-extension":{}{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(matches!(
        Bundle::from_slice(ignored.as_bytes(), "ignored"),
        Err(Error::Invalid { .. })
    ));
    // A parameter value is read as a JSON value: nesting stops at serde_json's limit.
    let deep = format!(
        r#"{{"id":"b","version":"1_0","policies":[{{"id":"p","version":"1_0","rules":[{{"gate":"always","trigger":"always","action":"GO","params":[{{"name":"x","value":{}{}}}]}}]}}]}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    match Bundle::from_slice(deep.as_bytes(), "deep bundle") {
        Err(Error::Parse { message, path, .. }) => {
            assert!(message.contains("recursion limit"), "{message}");
            assert!(path.contains("params[0]"), "{path}");
        }
        Err(e) => panic!("expected a parse error, got {e}"),
        Ok(_) => panic!("a 100,000-deep bundle must be refused"),
    }
    let huge = r#"{"id":"b","version":"1_0","policies":[{"id":"p","version":"1_0","rules":[]}],"whitelists":[],
        "mappings":[{"id":"m","registry":"*","repository":"regexp:(?:x{1000}){1000}","image":{"type":"tag","value":"*"},"policy_id":"p","whitelist_ids":[]}],
        "whitelisted_images":[],"blacklisted_images":[]}"#;
    match Bundle::from_slice(huge.as_bytes(), "huge regex bundle") {
        Err(Error::Invalid { problems, .. }) => assert!(
            problems
                .iter()
                .any(|p| p.location.contains("mappings[0]") && p.message.contains("size limit")),
            "{problems:#?}"
        ),
        Err(e) => panic!("expected validation problems, got {e}"),
        Ok(_) => panic!("the huge regex must be refused"),
    }
}
