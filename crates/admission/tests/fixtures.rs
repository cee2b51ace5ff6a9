//! Every captured AdmissionReview, decided in every mode, against verdicts built for its images.

mod common;

use std::time::{Duration, Instant};

use common::*;
use portcullis_admission::*;

fn cfg(mode: &str, mutate: bool) -> Config {
    Config::parse(
        &format!("default: {{ mode: {mode}, policy: prod, mutate: {mutate} }}\n"),
        "test",
    )
    .unwrap()
}

fn endpoint_of(name: &str) -> Endpoint {
    if name.contains("-mutate-") {
        Endpoint::Mutate
    } else {
        Endpoint::Validate
    }
}

/// Fixture → the images (as written) whose verdict is needed (changed ones).
fn expected_changed(name: &str) -> Vec<&'static str> {
    let pod = vec![
        "127.0.0.1:5000/shop/migrate:1.4",
        "docker.io/envoyproxy/envoy:v1.31.0",
        "nginx",
        FIXTURE_IMAGES[4],
        FIXTURE_IMAGES[5],
    ];
    match &name[..3] {
        "000" | "001" => vec!["redis:7"],
        "002" | "003" => pod,
        "004" | "005" => vec!["registry.example.com:8443/team/api:2.1.0", "busybox:1.36"],
        "006" => vec!["postgres:16.4"],
        "007" => vec!["gcr.io/google-containers/fluentd-elasticsearch:1.20"],
        "008" => vec!["alpine:3.18"],
        "009" => vec!["python:3.12-slim"],
        "010" => vec!["ubuntu:22.04"],
        "011" => vec!["registry.example.com:8443/team/api:2.2.0"],
        "012" => vec!["busybox:1.36"],
        "013" | "014" => vec!["ubuntu"],
        "015" => vec!["registry.example.com:8443/team/api:2.1.0"],
        "016" => vec!["curlimages/curl:8.8.0", "debian:bookworm"],
        "017" => vec!["debian:trixie"],
        other => panic!("unexpected fixture {other}"),
    }
}

#[test]
fn every_fixture_extracts_the_right_images() {
    for (name, bytes) in fixtures() {
        let r = Review::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let uses = extract(&r).unwrap_or_else(|| panic!("{name}: kind not recognised"));
        let changed: Vec<&str> = uses
            .iter()
            .filter(|u| u.changed)
            .map(|u| u.image.as_str())
            .collect();
        let mut want = expected_changed(&name);
        let mut got = changed.clone();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{name}");
        for u in &uses {
            assert!(
                u.pointer.ends_with("/image") && u.pointer.starts_with("/spec/"),
                "{name}"
            );
        }
        assert_eq!(
            r.namespace(),
            if name.contains("solo") {
                "default"
            } else {
                "shop"
            },
            "{name}"
        );
    }
}

#[test]
fn every_fixture_in_every_mode() {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    for mode in ["policy", "analysis", "audit", "passive", "breakglass"] {
        let c = cfg(mode, false);
        for (name, bytes) in fixtures() {
            let r = Review::parse(&bytes).unwrap();
            let ep = endpoint_of(&name);
            let d = decide(&r, &c, &v, &Context::new(ep));
            let has_busybox = expected_changed(&name).contains(&"busybox:1.36");
            let should_deny = mode == "policy" && ep == Endpoint::Validate && has_busybox;
            assert_eq!(d.allowed, !should_deny, "{mode} {name}: {:?}", d.message);
            let resp: serde_json::Value = serde_json::from_slice(&d.to_review_json()).unwrap();
            assert_eq!(resp["apiVersion"], "admission.k8s.io/v1");
            assert_eq!(resp["kind"], "AdmissionReview");
            assert_eq!(resp["response"]["uid"], r.request.uid, "{name}");
            assert_eq!(resp["response"]["allowed"], !should_deny);
            assert!(
                resp["response"].get("patch").is_none(),
                "{mode} {name}: no patch without mutate"
            );
            if should_deny {
                assert_eq!(resp["response"]["status"]["code"], 403);
                let msg = resp["response"]["status"]["message"].as_str().unwrap();
                assert!(msg.contains("busybox:1.36"), "{msg}");
            }
            for w in &d.warnings {
                assert!(w.chars().count() <= decide::MAX_WARNING_CHARS, "{w}");
            }
            // Nothing queued: every image is known.
            assert!(v.queued().is_empty(), "{mode} {name}");
            if mode == "breakglass" {
                assert!(d.images.iter().all(|i| i.outcome == Outcome::Breakglass));
            }
            if (mode == "audit" || mode == "analysis") && has_busybox && ep == Endpoint::Validate {
                assert!(
                    d.warnings
                        .iter()
                        .any(|w| w.starts_with("would be denied: image busybox:1.36")),
                    "{mode} {name}: {:?}",
                    d.warnings
                );
            }
            if mode != "passive" && mode != "breakglass" && name.contains("pod-main-web") {
                assert!(
                    d.warnings.iter().any(|w| w.contains(
                        "WARN vulnerabilities.package CVE-2024-0001 zlib 1.2.13 (fixed in 1.3)"
                    )),
                    "{mode} {name}: {:?}",
                    d.warnings
                );
            }
        }
    }
}

#[test]
fn denial_message_names_container_image_digest_policy_rule_and_findings() {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("005"))
        .unwrap();
    let d = decide(
        &Review::parse(&bytes).unwrap(),
        &cfg("policy", false),
        &v,
        &Context::new(Endpoint::Validate),
    );
    assert!(!d.allowed);
    assert_eq!(
        d.message.as_deref().unwrap(),
        format!(
            "container \"log\": image busybox:1.36 ({}) failed policy \"prod\": STOP vulnerabilities.package CVE-2022-48174 busybox \
             1.36.0-r0 (no fix available), STOP vulnerabilities.package CVE-2023-0286 openssl 3.0.7-1 (fixed in \
             3.0.8-1), STOP vulnerabilities.package CVE-2023-0464 openssl 3.0.7-1 (fixed in 3.0.8-1) [+2 more]",
            digest_for("busybox:1.36")
        )
    );
    assert_eq!(d.audit_annotations["decision"], "denied: 1 of 2 images");
    assert_eq!(d.audit_annotations["mode"], "policy");
}

#[test]
fn all_unknown_images_are_decided_fast_and_queued_unless_dry_run() {
    let v = MemoryVerdicts::new();
    // One-time initialisation (the reference grammar's regexes), done by the server at start-up.
    warm_up();
    for mode in ["policy", "analysis", "audit", "passive"] {
        let c = cfg(mode, false);
        for (name, bytes) in fixtures() {
            let ep = endpoint_of(&name);
            // Median of 5 runs: the machine is shared, a single sample measures the scheduler, not the code.
            let mut times = Vec::new();
            let mut out = None;
            for _ in 0..5 {
                let t = Instant::now();
                let r = Review::parse(&bytes).unwrap();
                let d = decide(&r, &c, &v, &Context::new(ep));
                let json = d.to_review_json();
                times.push(t.elapsed());
                out = Some((d, json));
            }
            times.sort();
            assert!(
                times[2] < Duration::from_millis(5),
                "{mode} {name}: {times:?}"
            );
            let (d, json) = out.unwrap();
            assert!(!json.is_empty());
            let blocking = matches!(mode, "policy" | "analysis") && ep == Endpoint::Validate;
            assert_eq!(d.allowed, !blocking, "{mode} {name}");
            if blocking {
                let msg = d.message.unwrap();
                assert!(msg.contains("is not analysed yet"), "{msg}");
            }
            if mode == "audit" && ep == Endpoint::Validate {
                assert!(
                    d.warnings.iter().any(|w| w.contains("not analysed yet")),
                    "{name}"
                );
            }
        }
    }
    let q = v.queued();
    // Dry-run (001) and mutate requests queue nothing; validate requests queue every changed image once.
    assert!(q.iter().all(|e| !e.contains("dry")), "{q:?}");
    assert!(
        q.iter()
            .any(|e| e.starts_with("docker.io/library/nginx:latest admission Pod shop/web")),
        "{q:?}"
    );
    assert!(
        !q.iter()
            .any(|e| e.starts_with("docker.io/library/redis:7 ")),
        "dry run queued: {q:?}"
    );
    assert!(
        q.iter()
            .any(|e| e.starts_with("docker.io/library/busybox:1.36 ")),
        "{q:?}"
    );
}

#[test]
fn mutate_pins_digests_idempotently() {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    let c = cfg("policy", true);
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("002"))
        .unwrap();
    let r = Review::parse(&bytes).unwrap();
    let d = decide(&r, &c, &v, &Context::new(Endpoint::Mutate));
    assert!(d.allowed);
    let resp: serde_json::Value = serde_json::from_slice(&d.to_review_json()).unwrap();
    assert_eq!(resp["response"]["patchType"], "JSONPatch");
    // Apply with a real JSON Patch implementation to the object as sent.
    let raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let mut obj = raw["request"]["object"].clone();
    let ops: json_patch::Patch =
        serde_json::from_value(serde_json::to_value(&d.patch).unwrap()).unwrap();
    json_patch::patch(&mut obj, &ops).unwrap();
    assert_eq!(
        obj["spec"]["containers"][0]["image"],
        format!("nginx@{}", digest_for("nginx"))
    );
    // Already pinned ones untouched.
    assert_eq!(obj["spec"]["containers"][1]["image"], FIXTURE_IMAGES[4]);
    let orig: serde_json::Value = serde_json::from_str(
        obj["metadata"]["annotations"][decide::ORIGINAL_IMAGES_ANNOTATION]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(orig["web"], "nginx");
    assert_eq!(orig["migrate"], "127.0.0.1:5000/shop/migrate:1.4");
    // The last-applied annotation survives.
    assert!(obj["metadata"]["annotations"]["note"].is_string());
    // Reinvocation on the patched object: nothing left to do.
    let mut again = raw.clone();
    again["request"]["object"] = obj;
    let r2 = Review::parse(&serde_json::to_vec(&again).unwrap()).unwrap();
    let d2 = decide(&r2, &c, &v, &Context::new(Endpoint::Mutate));
    assert!(d2.patch.is_empty(), "{:?}", d2.patch);
    // Validate never patches, even with mutate on.
    let d3 = decide(&r, &c, &v, &Context::new(Endpoint::Validate));
    assert!(d3.patch.is_empty());
    assert!(d3.response().patch.is_none());
}

#[test]
fn mutate_adds_annotations_map_when_object_has_none() {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("013"))
        .unwrap();
    let raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let r = Review::parse(&bytes).unwrap();
    let d = decide(
        &r,
        &cfg("analysis", true),
        &v,
        &Context::new(Endpoint::Mutate),
    );
    let mut obj = raw["request"]["object"].clone();
    let ops: json_patch::Patch =
        serde_json::from_value(serde_json::to_value(&d.patch).unwrap()).unwrap();
    json_patch::patch(&mut obj, &ops).unwrap();
    assert_eq!(
        obj["spec"]["containers"][0]["image"],
        format!("ubuntu@{}", digest_for("ubuntu"))
    );
}

#[test]
fn v1beta1_is_answered_in_v1beta1() {
    let v = MemoryVerdicts::new();
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("014"))
        .unwrap();
    let text = String::from_utf8(bytes).unwrap().replacen(
        "admission.k8s.io/v1",
        "admission.k8s.io/v1beta1",
        1,
    );
    let r = Review::parse(text.as_bytes()).unwrap();
    let d = decide(
        &r,
        &cfg("policy", false),
        &v,
        &Context::new(Endpoint::Validate),
    );
    let resp: serde_json::Value = serde_json::from_slice(&d.to_review_json()).unwrap();
    assert_eq!(resp["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(resp["response"]["allowed"], false);
}

fn with_request(name_prefix: &str, f: impl Fn(&mut serde_json::Value)) -> Review {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with(name_prefix))
        .unwrap();
    let mut raw: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    f(&mut raw);
    Review::parse(&serde_json::to_vec(&raw).unwrap()).unwrap()
}

#[test]
fn exempt_namespaces_are_never_blocked() {
    let r = with_request("014", |raw| {
        raw["request"]["namespace"] = "kube-system".into();
        raw["request"]["object"]["metadata"]["namespace"] = "kube-system".into();
    });
    let d = decide(
        &r,
        &cfg("policy", false),
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert!(d.allowed);
    assert_eq!(d.skipped, Some(Skip::ExemptNamespace));
    let c = Config::parse("exemptNamespaces: [ops]\ndefault: {mode: policy}\n", "t").unwrap();
    let d = decide(
        &r,
        &c,
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert!(!d.allowed, "kube-system is only exempt while listed");
}

#[test]
fn invalid_image_references_get_precise_answers() {
    let r = with_request("014", |raw| {
        raw["request"]["object"]["spec"]["containers"][0]["image"] = "UPPER/Case:bad tag".into();
    });
    let d = decide(
        &r,
        &cfg("policy", false),
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert!(!d.allowed, "{}", d.summary());
    let m = d.message.unwrap();
    assert!(
        m.contains("invalid image reference \"UPPER/Case:bad tag\""),
        "{m}"
    );
    assert!(m.contains("container \"solo\""), "{m}");
    let d = decide(
        &r,
        &cfg("audit", false),
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert!(d.allowed);
    assert!(
        d.warnings[0].contains("invalid image reference"),
        "{:?}",
        d.warnings
    );
    // A container without an image.
    let r = with_request("014", |raw| {
        raw["request"]["object"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("image");
    });
    let d = decide(
        &r,
        &cfg("policy", false),
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert!(d.message.unwrap().contains("has no image"));
}

#[test]
fn unknown_kinds_and_deletes_are_admitted_unchecked() {
    let r = with_request("014", |raw| {
        raw["request"]["kind"]["kind"] = "ConfigMap".into();
    });
    let d = decide(
        &r,
        &cfg("policy", false),
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert!(d.allowed);
    assert_eq!(d.skipped, Some(Skip::NoPodSpec));
    let r = with_request("014", |raw| {
        raw["request"]["operation"] = "DELETE".into();
    });
    let d = decide(
        &r,
        &cfg("policy", false),
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert_eq!(d.skipped, Some(Skip::Operation));
}

#[test]
fn recheck_unchanged_and_skip_owned_options() {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("011"))
        .unwrap();
    let r = Review::parse(&bytes).unwrap();
    let c = Config::parse(
        "recheckUnchanged: true\ndefault: {mode: policy, policy: prod}\n",
        "t",
    )
    .unwrap();
    let d = decide(&r, &c, &v, &Context::new(Endpoint::Validate));
    assert!(!d.allowed, "busybox (unchanged) is re-checked");
    let r = with_request("014", |raw| {
        raw["request"]["object"]["metadata"]["ownerReferences"] = serde_json::json!([{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"x","controller":true}]);
    });
    let c = Config::parse("skipOwned: true\ndefault: {mode: policy}\n", "t").unwrap();
    let d = decide(
        &r,
        &c,
        &MemoryVerdicts::new(),
        &Context::new(Endpoint::Validate),
    );
    assert_eq!(d.skipped, None, "an owner nobody verified earns no skip");
    assert!(!d.allowed);
    let owner = |uid: &str| portcullis_admission::VerifiedOwner {
        kind: "ReplicaSet".into(),
        name: "rs".into(),
        uid: uid.into(),
    };
    for (uid, skipped) in [("x", true), ("other", false)] {
        let verified = owner(uid);
        let ctx = Context {
            verified_owner: Some(&verified),
            ..Context::new(Endpoint::Validate)
        };
        let d = decide(&r, &c, &MemoryVerdicts::new(), &ctx);
        assert_eq!(d.skipped.is_some(), skipped, "verified uid {uid}");
        assert_eq!(d.allowed, skipped);
    }
}

#[test]
fn analysing_and_failed_states() {
    let file: VerdictsFile = serde_yaml_ng::from_str(
        "images:\n  - { image: ubuntu, state: analyzing }\n  - { image: 'ubuntu:22.04', state: failed, reason: 'layer sha256:ab unreadable' }\n",
    )
    .unwrap();
    let v = MemoryVerdicts::from_file(file, "t").unwrap();
    let d = decide(
        &with_request("014", |_| {}),
        &cfg("policy", false),
        &v,
        &Context::new(Endpoint::Validate),
    );
    assert!(d.message.unwrap().contains("is being analysed"));
    let d = decide(
        &with_request("010", |_| {}),
        &cfg("analysis", false),
        &v,
        &Context::new(Endpoint::Validate),
    );
    assert!(
        d.message
            .unwrap()
            .contains("analysis of image ubuntu:22.04 failed: layer sha256:ab unreadable")
    );
}

fn review_named(prefix: &str) -> Review {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with(prefix))
        .unwrap();
    Review::parse(&bytes).unwrap()
}

fn decide_with(review: &Review, mode: &str, caps: &str) -> Decision {
    let v = MemoryVerdicts::from_file(fixture_verdicts("prod"), "test").unwrap();
    let set = portcullis_policy::CapSet::from_yaml(caps).unwrap();
    let ctx = Context {
        policies: Some(&set),
        ..Context::new(Endpoint::Validate)
    };
    decide(review, &cfg(mode, false), &v, &ctx)
}

#[test]
fn container_admission_policy_reject_denies_in_blocking_modes_only() {
    // Deployment `api` in namespace `shop`: registry.example.com:8443/team/api:2.1.0 (passes) + busybox:1.36.
    let caps = r#"
metadata: {name: only-our-registry}
spec:
  selector: app == 'api'
  namespaceSelector: kubernetes.io/metadata.name == 'shop'
  rules:
  - action: Reject
    imagePath: {operator: IsNoneOf, values: ["^registry\\.example\\.com:8443/"]}
"#;
    let r = review_named("005");
    let d = decide_with(&r, "analysis", caps);
    assert!(!d.allowed, "analysis mode + CAP Reject must deny");
    let msg = d.message.unwrap();
    assert!(
        msg.contains("image busybox:1.36 (")
            && msg.contains("rejected by ContainerAdmissionPolicy \"only-our-registry\" rule 0"),
        "{msg}"
    );
    assert!(
        !msg.contains("team/api"),
        "the allowed image is not named: {msg}"
    );
    assert_eq!(
        d.audit_annotations["admission-policies"],
        "busybox:1.36=only-our-registry/rules[0]:Reject"
    );

    let d = decide_with(&r, "audit", caps);
    assert!(d.allowed);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.starts_with("would be denied: image busybox:1.36")),
        "{:?}",
        d.warnings
    );
    let d = decide_with(&r, "passive", caps);
    assert!(d.allowed);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    assert!(d.audit_annotations.contains_key("admission-policies"));

    // A selector that does not match the object: the mode decides alone (analysis admits analysed images).
    let other = caps.replace("app == 'api'", "app == 'web'");
    let d = decide_with(&r, "analysis", &other);
    assert!(d.allowed);
    assert!(!d.audit_annotations.contains_key("admission-policies"));
}

#[test]
fn container_admission_policy_allow_overrides_and_scan_status_is_the_policy_verdict() {
    let r = review_named("005");
    // Without policies, policy mode denies busybox (STOP findings).
    assert!(!decide_with(&r, "policy", "").allowed);
    // An explicit Allow for images whose scan failed (an operator's exception) admits it.
    let allow_failed = r#"
metadata: {name: tolerate}
spec:
  rules:
  - action: Allow
    imageScanStatus: {operator: IsOneOf, values: [Fail]}
"#;
    let d = decide_with(&r, "policy", allow_failed);
    assert!(d.allowed, "{:?}", d.message);
    assert_eq!(
        d.audit_annotations["admission-policies"],
        "busybox:1.36=tolerate/rules[0]:Allow"
    );
    // Scan status Pass matches the passing image only; Reject everything not Pass.
    let only_pass = r#"
metadata: {name: only-pass}
spec:
  order: 1
  rules:
  - action: Allow
    imageScanStatus: {operator: IsOneOf, values: [Pass]}
  - action: Reject
"#;
    let d = decide_with(&r, "analysis", only_pass);
    assert!(!d.allowed);
    let m = d.message.unwrap();
    assert!(
        m.contains("busybox:1.36") && m.contains("scan status Fail"),
        "{m}"
    );
    assert!(!m.contains("team/api"), "{m}");
    // Unknown images have scan status Unknown (and are still queued).
    let v = MemoryVerdicts::new();
    let set = portcullis_policy::CapSet::from_yaml(only_pass).unwrap();
    let ctx = Context {
        policies: Some(&set),
        ..Context::new(Endpoint::Validate)
    };
    let d = decide(&r, &cfg("audit", false), &v, &ctx);
    assert!(d.allowed);
    assert!(
        d.warnings.iter().any(|w| w.contains("scan status Unknown")),
        "{:?}",
        d.warnings
    );
    assert_eq!(v.queued().len(), 2);
}

#[test]
fn container_admission_policy_last_scan_age() {
    let r = review_named("005");
    // Analysed "now" by the fixture verdicts: a 1-day freshness requirement holds, a scan older than now does not.
    let fresh = r#"
metadata: {name: fresh}
spec:
  rules:
  - action: Reject
    imageLastScan: {operator: lt, duration: {days: 1}}
"#;
    let d = decide_with(&r, "analysis", fresh);
    assert!(d.allowed, "scans are recent: {:?}", d.message);
    let stale = r#"
metadata: {name: stale}
spec:
  rules:
  - action: Reject
    imageLastScan: {operator: lt, time: "2999-01-01T00:00:00Z"}
"#;
    let d = decide_with(&r, "analysis", stale);
    assert!(!d.allowed);
    assert_eq!(d.images.iter().filter(|i| i.denies).count(), 2);
}
