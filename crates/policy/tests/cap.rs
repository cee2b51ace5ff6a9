//! ContainerAdmissionPolicy: selectors, order, first matching rule, conditions, default, and bad input.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::now;
use portcullis_policy::cap::CapAction;
use portcullis_policy::{CapImage, CapSet, Error, ScanStatus, SignatureStatus};

const POLICIES: &str = r#"
apiVersion: containersecurity.tigera.io/v1beta1
kind: ContainerAdmissionPolicy
metadata:
  name: zz-prod-strict
spec:
  selector: "app != 'legacy'"
  namespaceSelector: "env == 'prod'"
  order: 10
  rules:
  - action: Allow
    imagePath:
      operator: IsOneOf
      values: ["^registry\\.example\\.com/"]
    imageScanStatus:
      operator: IsOneOf
      values: [Pass, Warn]
    imageLastScan:
      operator: gt
      duration:
        days: 3
  - action: Reject
---
apiVersion: containersecurity.tigera.io/v1beta1
kind: ContainerAdmissionPolicy
metadata:
  name: aa-everyone
spec:
  selector: all()
  namespaceSelector: all()
  rules:
  - action: Reject
    imageScanStatus:
      operator: IsOneOf
      values: [Fail]
  - action: Allow
    imagePath:
      operator: IsNoneOf
      values: ["docker\\.io/"]
    imageLastScan:
      operator: lt
      time: "2026-01-01T00:00:00Z"
"#;

fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn order_selectors_and_first_matching_rule() {
    let set = CapSet::from_yaml(POLICIES).unwrap();
    assert_eq!(set.len(), 2);
    let prod = labels(&[("env", "prod")]);
    let dev = labels(&[("env", "dev")]);
    let web = labels(&[("app", "web")]);
    let legacy = labels(&[("app", "legacy")]);
    let recent = Some(now() - Duration::days(1));
    let old = Some(now() - Duration::days(10));
    let img = "registry.example.com/team/web:1.0";

    // Ordered policy first (order 10 before the unordered one, despite its name).
    let d = set
        .evaluate(&prod, &web, img, ScanStatus::Pass, recent, now())
        .unwrap();
    assert_eq!(
        (d.action, d.policy.as_str(), d.rule),
        (CapAction::Allow, "zz-prod-strict", 0)
    );
    // Any condition failing skips the rule; the bare Reject catches it.
    for (image, status, scanned) in [
        ("docker.io/library/web:1.0", ScanStatus::Pass, recent),
        (img, ScanStatus::Fail, recent),
        (img, ScanStatus::Unknown, recent),
        (img, ScanStatus::Warn, old),
        (img, ScanStatus::Pass, None),
    ] {
        let d = set
            .evaluate(&prod, &web, image, status, scanned, now())
            .unwrap();
        assert_eq!(
            (d.action, d.policy.as_str(), d.rule),
            (CapAction::Reject, "zz-prod-strict", 1),
            "{image} {status:?}"
        );
    }
    // The object selector excludes `app=legacy`; the namespace selector excludes dev.
    let d = set
        .evaluate(&prod, &legacy, img, ScanStatus::Fail, recent, now())
        .unwrap();
    assert_eq!(
        (d.action, d.policy.as_str()),
        (CapAction::Reject, "aa-everyone")
    );
    let d = set
        .evaluate(
            &dev,
            &web,
            img,
            ScanStatus::Warn,
            Some(
                chrono::DateTime::parse_from_rfc3339("2025-06-01T00:00:00Z")
                    .unwrap()
                    .into(),
            ),
            now(),
        )
        .unwrap();
    assert_eq!(
        (d.action, d.policy.as_str(), d.rule),
        (CapAction::Allow, "aa-everyone", 1)
    );
    // No rule matches: no decision (the caller's default applies).
    assert_eq!(
        set.evaluate(
            &dev,
            &web,
            "docker.io/library/nginx",
            ScanStatus::Pass,
            recent,
            now()
        ),
        None
    );
    assert_eq!(
        set.evaluate(&dev, &web, img, ScanStatus::Pass, recent, now()),
        None
    );
}

#[test]
fn json_and_list_forms() {
    let json = r#"{"apiVersion":"v1","kind":"List","items":[
      {"kind":"ContainerAdmissionPolicy","metadata":{"name":"p"},"spec":{"selector":"has(team)","rules":[{"action":"Reject"}]}}]}"#;
    let set = CapSet::from_json(json).unwrap();
    let d = set.evaluate(
        &labels(&[]),
        &labels(&[("team", "a")]),
        "x",
        ScanStatus::Pass,
        None,
        now(),
    );
    assert_eq!(d.unwrap().action, CapAction::Reject);
    assert_eq!(
        set.evaluate(
            &labels(&[]),
            &labels(&[]),
            "x",
            ScanStatus::Pass,
            None,
            now()
        ),
        None
    );
    let arr = CapSet::from_json(r#"[{"metadata":{"name":"a"},"spec":{"rules":[]}},{"metadata":{"name":"b"},"spec":{"rules":[]}}]"#).unwrap();
    assert_eq!(arr.len(), 2);
}

#[test]
fn bad_policies_fail_with_precise_errors() {
    let cases = [
        (
            r#"{"metadata":{"name":"p"},"spec":{"selector":"app = 'x'","rules":[]}}"#,
            "`spec.selector`: unexpected character `=`",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"namespaceSelector":"has(","rules":[]}}"#,
            "`spec.namespaceSelector`",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Deny"}]}}"#,
            "`spec.rules[0]`: action `Deny` is not Allow or Reject",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Allow","imagePath":{"operator":"Is","values":[]}}]}}"#,
            "operator `Is` is not IsOneOf or IsNoneOf",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Allow","imagePath":{"operator":"IsOneOf","values":["("]}}]}}"#,
            "imagePath value `(` is not a valid regex",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Allow","imageScanStatus":{"operator":"IsOneOf","values":["Good"]}}]}}"#,
            "imageScanStatus value `Good`",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Allow","imageLastScan":{"operator":"eq","duration":{"days":1}}}]}}"#,
            "imageLastScan operator `eq` is not gt or lt",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Allow","imageLastScan":{"operator":"gt"}}]}}"#,
            "exactly one of `duration` or `time`",
        ),
        (
            r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Allow","imageLastScan":{"operator":"gt","time":"yesterday"}}]}}"#,
            "`yesterday` is not RFC 3339",
        ),
        (
            r#"{"kind":"NetworkPolicy","metadata":{"name":"p"},"spec":{}}"#,
            "kind `NetworkPolicy` is not ContainerAdmissionPolicy",
        ),
        (r#"{"metadata":{"name":"p"}}"#, "has no `spec`"),
    ];
    for (doc, want) in cases {
        let e = CapSet::from_json(doc).unwrap_err();
        assert!(matches!(e, Error::Cap { .. }), "{doc}: {e}");
        assert!(e.to_string().contains(want), "{doc}: {e}");
        // The error names the policy (by name, or by position when it is not one).
        assert!(
            e.to_string().contains("`p`") || e.to_string().contains("`#1`"),
            "{e}"
        );
    }
    let e = CapSet::from_json(
        r#"{"metadata":{"name":"p"},"spec":{"rules":[{"action":"Allow","imagePaht":{}}]}}"#,
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Parse { .. }) && e.to_string().contains("spec.rules[0]"),
        "{e}"
    );
    let e = CapSet::from_yaml("spec: [unclosed").unwrap_err();
    assert!(e.to_string().contains("YAML document 1"), "{e}");
}

/// A ContainerAdmissionPolicy with `selector` as its pod selector, as JSON.
fn with_selector(selector: &str) -> String {
    serde_json::json!({
        "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": "huge"},
        "spec": {"selector": selector, "rules": [{"action": "Allow"}]}
    })
    .to_string()
}

fn cap_error(json: &str) -> String {
    match CapSet::from_json(json) {
        Err(Error::Cap { policy, message }) => {
            assert_eq!(policy, "huge");
            message
        }
        Err(e) => panic!("expected a ContainerAdmissionPolicy error, got {e}"),
        Ok(_) => panic!("the policy must be refused"),
    }
}

/// Issue #12 hole 8: a huge selector used to overflow the stack of the parser (one frame per `(` or `!`),
/// aborting the process — every replica crash-looped on the stored policy. Now it is refused with the
/// limit and what to do.
#[test]
fn huge_selectors_are_refused_with_the_limit() {
    let deep = format!("{}has(a){}", "(".repeat(100_000), ")".repeat(100_000));
    let m = cap_error(&with_selector(&deep));
    assert!(
        m.starts_with(
            "`spec.selector`: the selector is 200006 bytes long, over the limit of 16384 bytes"
        ),
        "{m}"
    );
    let m = cap_error(&with_selector(&"!".repeat(100_000)));
    assert!(m.contains("over the limit of 16384 bytes"), "{m}");
    let nested = format!("{}has(a){}", "(".repeat(5_000), ")".repeat(5_000));
    let m = cap_error(&with_selector(&nested));
    assert!(
        m.contains("more than 64 levels deep") && m.contains("remove redundant"),
        "{m}"
    );
    let chain = vec!["has(a)"; 2_000].join("||");
    let m = cap_error(&with_selector(&chain));
    assert!(m.contains("more than 512 conditions"), "{m}");
    // Also as the namespace selector, and from YAML.
    let yaml = format!(
        "kind: ContainerAdmissionPolicy\nmetadata: {{name: huge}}\nspec:\n  namespaceSelector: \"{}\"\n  rules: []\n",
        "!".repeat(1_000)
    );
    match CapSet::from_yaml(&yaml) {
        Err(Error::Cap { policy, message }) => {
            assert_eq!(policy, "huge");
            assert!(
                message.starts_with("`spec.namespaceSelector`: the selector nests"),
                "{message}"
            );
        }
        other => panic!("expected a ContainerAdmissionPolicy error, got {other:?}"),
    }
}

/// The documents around the selectors: serde_json and serde_yaml_ng stop at 128 levels of nesting, and
/// YAML aliases cannot expand without bound.
#[test]
fn deeply_nested_documents_are_parse_errors() {
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    match CapSet::from_json(&deep_json) {
        Err(Error::Parse { message, .. }) => {
            assert!(message.contains("recursion limit"), "{message}")
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let deep_yaml = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    match CapSet::from_yaml(&deep_yaml) {
        Err(Error::Parse { message, .. }) => {
            assert!(message.contains("recursion limit"), "{message}")
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        laughs.push_str(&format!(
            "{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    match CapSet::from_yaml(&laughs) {
        Err(Error::Parse { message, .. }) => {
            assert!(message.contains("repetition limit"), "{message}")
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

/// A regex whose compiled form is huge is refused (the `regex` size limit), not built.
#[test]
fn huge_image_path_regexes_are_refused() {
    let json = serde_json::json!({
        "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": "huge"},
        "spec": {"rules": [{"action": "Allow", "imagePath": {"operator": "IsOneOf", "values": ["(?:x{1000}){1000}"]}}]}
    })
    .to_string();
    let m = cap_error(&json);
    assert!(
        m.contains("is not a valid regex") && m.contains("size limit"),
        "{m}"
    );
}

/// `imageLastScan.duration` past chrono's range used to panic (`Duration::days`); it is refused.
#[test]
fn out_of_range_scan_ages_are_refused() {
    for duration in [
        serde_json::json!({"days": i64::MAX}),
        serde_json::json!({"seconds": i64::MAX}),
        serde_json::json!({"days": 36_501}),
        serde_json::json!({"days": 36_500, "hours": 24}),
    ] {
        let json = serde_json::json!({
            "kind": "ContainerAdmissionPolicy",
            "metadata": {"name": "huge"},
            "spec": {"rules": [{"action": "Allow", "imageLastScan": {"operator": "gt", "duration": duration}}]}
        })
        .to_string();
        let m = cap_error(&json);
        assert!(m.contains("out of range: at most 36500 days"), "{m}");
    }
}

#[test]
fn signature_status_condition() {
    let set = CapSet::from_yaml(
        r#"
kind: ContainerAdmissionPolicy
metadata: {name: signed-only}
spec:
  rules:
  - action: Allow
    imageScanStatus: {operator: IsOneOf, values: [Pass]}
    imageSignatureStatus: {operator: IsOneOf, values: [Verified]}
  - action: Reject
"#,
    )
    .unwrap();
    let decide = |signature| {
        let img = CapImage {
            image: "registry.example.com/app:1",
            scan_status: ScanStatus::Pass,
            last_scan: None,
            signature,
        };
        set.evaluate_image(&labels(&[]), &labels(&[]), &img, now())
            .unwrap()
    };
    let d = decide(SignatureStatus::Verified);
    assert_eq!((d.action, d.rule), (CapAction::Allow, 0));
    assert!(d.reason.contains("signature Verified"), "{}", d.reason);
    for s in [SignatureStatus::Unverified, SignatureStatus::Unknown] {
        assert_eq!(decide(s).action, CapAction::Reject, "{s:?}");
    }
    // The evaluation without a signature status sees Unknown: not Verified.
    let d = set
        .evaluate(
            &labels(&[]),
            &labels(&[]),
            "x",
            ScanStatus::Pass,
            None,
            now(),
        )
        .unwrap();
    assert_eq!(d.action, CapAction::Reject);
    let f = portcullis_verify::SignatureFacts::failed("sha256:aa", "deadline");
    assert_eq!(
        SignatureStatus::from_facts(Some(&f)),
        SignatureStatus::Unverified
    );
    assert_eq!(SignatureStatus::from_facts(None), SignatureStatus::Unknown);
    let e = CapSet::from_yaml(
        "kind: ContainerAdmissionPolicy\nmetadata: {name: p}\nspec:\n  rules:\n  - action: Allow\n    imageSignatureStatus: {operator: IsOneOf, values: [Signed]}\n",
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("imageSignatureStatus value `Signed` is not Verified, Unverified or Unknown"),
        "{e}"
    );
}
