//! ContainerAdmissionPolicy: selectors, order, first matching rule, conditions, default, and bad input.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::now;
use portcullis_policy::cap::CapAction;
use portcullis_policy::{CapSet, Error, ScanStatus};

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
