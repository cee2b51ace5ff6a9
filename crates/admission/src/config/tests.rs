//! Unit tests of the admission configuration: formats, anchoring, first match, author-controlled selectors.
use super::*;
use crate::review::ObjectMeta;

fn meta(name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: name.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn an_empty_file_is_an_error_not_the_defaults() {
    for text in ["", "  \n", "# only a comment\n---\n"] {
        let e = Config::parse(text, "/etc/portcullis/admission.yaml").unwrap_err();
        assert_eq!(
            e.to_string(),
            "admission config /etc/portcullis/admission.yaml is empty; write at least \
             `default: {mode: passive}` to mean the defaults"
        );
    }
    assert!(Config::parse("default: {mode: passive}\n", "t").is_ok());
}

#[test]
fn native_is_anchored_and_first_match_wins() {
    let c = Config::parse(
        r#"
selectors:
  - { resource: namespace, value: "prod", mode: policy, policy: prod, mutate: true }
  - { resource: object, field: label, key: team, value: pay, mode: analysis }
  - { resource: image, value: "docker\\.io/library/.*", mode: audit, policy: lib }
"#,
        "t",
    )
    .unwrap();
    let ns = |n: &str| NamespaceMeta {
        name: n.into(),
        ..Default::default()
    };
    let a = c.select(&ns("prod"), &meta("x", &[("team", "pay")]), "nginx", None);
    assert_eq!(
        (a.mode, a.policy.as_str(), a.mutate),
        (Mode::Policy, "prod", true)
    );
    // Anchored: "prod-2" does not match "prod".
    let a = c.select(&ns("prod-2"), &meta("x", &[("team", "pay")]), "nginx", None);
    assert_eq!(a.mode, Mode::Analysis);
    let a = c.select(
        &ns("dev"),
        &meta("x", &[("team", "payments")]),
        "nginx",
        Some("docker.io/library/nginx:latest"),
    );
    assert_eq!((a.mode, a.policy.as_str()), (Mode::Audit, "lib"));
    let a = c.select(
        &ns("dev"),
        &meta("x", &[]),
        "quay.io/x",
        Some("quay.io/x:latest"),
    );
    assert_eq!(a, &Assignment::default());
    assert!(c.is_exempt("kube-system"));
}

#[test]
fn anchore_format_as_is() {
    let c = Config::parse(
        r#"{"Validator":{"Enabled":true,"RequestAnalysis":true},"AnchoreEndpoint":"http://x","PolicySelectors":[
          {"Selector":{"ResourceType":"pod","SelectorKeyRegex":"name","SelectorValueRegex":"^web"},"PolicyReference":{"Username":"admin","PolicyBundleId":"strict"},"Mode":"policy"},
          {"Selector":{"ResourceType":"namespace","SelectorKeyRegex":"env","SelectorValueRegex":"prod"},"PolicyReference":{"Username":"admin","PolicyBundleId":"prod"},"Mode":"analysis"},
          {"Selector":{"ResourceType":"image","SelectorKeyRegex":".*","SelectorValueRegex":"bad"},"Mode":"breakglass"}]}"#,
        "anchore.json",
    )
    .unwrap();
    let ns = NamespaceMeta {
        name: "shop".into(),
        labels: [("env".to_string(), "production".to_string())].into(),
        ..Default::default()
    };
    let a = c.select(&ns, &meta("web-1", &[]), "nginx", None);
    assert_eq!((a.mode, a.policy.as_str()), (Mode::Policy, "strict"));
    // Unanchored: "production" matches "prod".
    let a = c.select(&ns, &meta("api", &[]), "nginx", None);
    assert_eq!((a.mode, a.policy.as_str()), (Mode::Analysis, "prod"));
    let a = c.select(
        &NamespaceMeta::default(),
        &meta("api", &[]),
        "my/bad:1",
        None,
    );
    assert_eq!(a.mode, Mode::Breakglass);
}

#[test]
fn object_fields_only_strengthen_unless_trusted() {
    let text = |trust: &str| {
        format!(
            "default: {{ mode: policy, policy: prod, mutate: true }}\n\
             selectors:\n\
             - {{ resource: object, field: label, key: breakglass, value: 'true', mode: breakglass{trust} }}\n\
             - {{ resource: object, field: annotation, key: strict, value: 'yes', mode: policy, policy: prod, mutate: true }}\n\
             - {{ resource: namespace, value: dev, mode: passive }}\n"
        )
    };
    let c = Config::parse(&text(""), "t").unwrap();
    let ns = |n: &str| NamespaceMeta {
        name: n.into(),
        ..Default::default()
    };
    let glass = meta("web", &[("breakglass", "true")]);
    let a = c.select(&ns("shop"), &glass, "nginx", None);
    assert_eq!(
        (a.mode, a.policy.as_str()),
        (Mode::Policy, "prod"),
        "an untrusted breakglass label is taken as not matching"
    );
    // In `dev` the namespace says passive; the author may still opt in to more checks.
    let mut strict = meta("web", &[]);
    strict.annotations.insert("strict".into(), "yes".into());
    assert_eq!(
        c.select(&ns("dev"), &strict, "nginx", None).mode,
        Mode::Policy
    );
    assert_eq!(
        c.select(&ns("dev"), &glass, "nginx", None).mode,
        Mode::Passive
    );
    let w = c.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("selector 0")
            && w[0].contains("breakglass")
            && w[0].contains("trustObjectFields"),
        "{}",
        w[0]
    );

    let c = Config::parse(&text(", trustObjectFields: true"), "t").unwrap();
    assert_eq!(
        c.select(&ns("shop"), &glass, "nginx", None).mode,
        Mode::Breakglass
    );
    assert_eq!(c.warnings().len(), 1, "only the unmarked selector is named");
}

#[test]
fn weaker_means_mode_policy_bundle_or_pinning() {
    let a = |mode, policy: &str, mutate| Assignment {
        mode,
        policy: policy.into(),
        mutate,
        verify: None,
    };
    assert!(a(Mode::Policy, "x", true).at_least_as_strict_as(&a(Mode::Analysis, "y", true)));
    assert!(!a(Mode::Policy, "lenient", true).at_least_as_strict_as(&a(
        Mode::Policy,
        "prod",
        false
    )));
    assert!(!a(Mode::Policy, "prod", false).at_least_as_strict_as(&a(Mode::Policy, "prod", true)));
    assert!(a(Mode::Policy, "prod", true).at_least_as_strict_as(&a(Mode::Policy, "prod", false)));
    assert!(!a(Mode::Audit, "prod", false).at_least_as_strict_as(&a(
        Mode::Analysis,
        "prod",
        false
    )));
}

#[test]
fn anchore_pod_breakglass_needs_trust() {
    let doc = |trust: &str| {
        format!(
            r#"{{{trust}"PolicySelectors":[
          {{"Selector":{{"ResourceType":"pod","SelectorKeyRegex":"breakglass","SelectorValueRegex":"true"}},"Mode":"breakglass"}},
          {{"Selector":{{"ResourceType":"namespace","SelectorKeyRegex":"name","SelectorValueRegex":".*"}},"PolicyReference":{{"PolicyBundleId":"prod"}},"Mode":"policy"}}]}}"#
        )
    };
    let ns = NamespaceMeta {
        name: "shop".into(),
        ..Default::default()
    };
    let glass = meta("web", &[("breakglass", "true")]);
    let c = Config::parse(&doc(""), "anchore.json").unwrap();
    assert_eq!(c.select(&ns, &glass, "nginx", None).mode, Mode::Policy);
    assert!(c.warnings()[0].contains("Anchore PolicySelectors[0]"));
    let c = Config::parse(&doc(r#""TrustObjectFields":true,"#), "anchore.json").unwrap();
    assert_eq!(c.select(&ns, &glass, "nginx", None).mode, Mode::Breakglass);
    assert!(c.warnings().is_empty());
}

#[test]
fn errors_name_the_selector() {
    let e = Config::parse(
        "selectors:\n  - { resource: image, value: '(', mode: policy }\n",
        "c.yaml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("selector 0"), "{e}");
    let e = Config::parse(
        r#"{"PolicySelectors":[{"Selector":{"ResourceType":"pod"},"Mode":"strict"}]}"#,
        "a.json",
    )
    .unwrap_err();
    assert!(e.to_string().contains("\"strict\""), "{e}");
    let e = Config::parse("selectors: 5", "c.yaml").unwrap_err();
    assert!(e.to_string().contains("c.yaml"), "{e}");
}

#[test]
fn verify_blocks_parse_per_selector() {
    let c = Config::parse(
        r#"
default: { mode: passive }
selectors:
  - resource: image
    value: "registry\\.example\\.com/.*"
    mode: policy
    verify:
      keys: [/etc/portcullis/keys/ci.pub, { secret: portcullis/ci-key/cosign.pub }, { file: other.pub }]
      keyless:
        - { trustRoot: fulcio.pem, issuer: "https://token.actions.githubusercontent.com", subjectRegex: "https://github.com/example/.*" }
      attestations:
        - { type: slsaprovenance, builderId: "https://github.com/example/.*" }
        - { type: cyclonedx }
      require: any
"#,
        "c.yaml",
    )
    .unwrap();
    let v = c.selectors[0].assign.verify.as_ref().unwrap();
    assert_eq!(v.require, verify::Require::Any);
    assert_eq!(
        v.key_refs().unwrap(),
        vec![
            verify::Key::File("/etc/portcullis/keys/ci.pub".into()),
            verify::Key::Secret {
                namespace: "portcullis".into(),
                name: "ci-key".into(),
                key: "cosign.pub".into()
            },
            verify::Key::File("other.pub".into()),
        ]
    );
    assert_eq!(v.keyless[0].trust_root, "fulcio.pem");
    assert_eq!(v.attestations.len(), 2);
    assert_eq!(c.default.verify, None);
    let ns = NamespaceMeta {
        name: "shop".into(),
        ..Default::default()
    };
    let a = c.select(&ns, &meta("web", &[]), "registry.example.com/app:1", None);
    assert!(a.verify.is_some());
    let plain = Config::parse("selectors: []\n", "c.yaml").unwrap();
    assert_eq!(plain.default.verify, None, "no block, no requirement");
}

#[test]
fn verify_errors_name_the_selector_and_entry() {
    let cases = [
        (
            "verify: {}",
            "admission config selector 0: verify: `verify` lists no requirement",
        ),
        ("verify: {keys: ['']}", "keys[0]: empty key file path"),
        (
            "verify: {keys: [{secret: a/b}]}",
            "keys[0]: secret \"a/b\" is not `namespace/name/key`",
        ),
        (
            "verify: {keyless: [{trustRoot: r.pem, issuer: i}]}",
            "keyless[0] constrains no identity",
        ),
        (
            "verify: {keyless: [{trustRoot: r.pem, subject: s}]}",
            "keyless[0] constrains no OIDC issuer",
        ),
        (
            "verify: {keyless: [{trustRoot: r.pem, subject: s, issuer: i, issuerRegex: '('}]}",
            "keyless[0] gives both `issuer` and `issuerRegex`",
        ),
        (
            "verify: {keyless: [{trustRoot: r.pem, subjectRegex: '(', issuer: i}]}",
            "keyless[0].subjectRegex: invalid regex",
        ),
        (
            "verify: {attestations: [{type: sbom}]}",
            "attestations[0].type \"sbom\" is not one of slsaprovenance",
        ),
        (
            "verify: {attestations: [{type: cyclonedx, builderId: x}]}",
            "attestations[0].builderId applies to SLSA provenance only",
        ),
        (
            "verify: {attestations: [{type: cyclonedx}], sbomFromAttestation: true}",
            "`sbomFromAttestation` needs a signer to trust: give `keys` or `keyless`",
        ),
        (
            "verify: {keys: [k], sbomFromAttestations: true}",
            "unknown field `sbomFromAttestations`",
        ),
    ];
    for (block, want) in cases {
        let text =
            format!("selectors:\n  - {{ resource: image, value: x, mode: policy, {block} }}\n");
        let e = Config::parse(&text, "c.yaml").unwrap_err().to_string();
        assert!(e.contains(want), "{block}: {e}");
    }
    let e = Config::parse("verify: {keys: [k], require: some}", "c.yaml").unwrap_err();
    assert!(e.to_string().contains("c.yaml"), "{e}");
    let e = Config::parse(
        "default: {mode: policy, verify: {keys: [k], require: some}}",
        "c.yaml",
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown variant `some`"), "{e}");
    let e = Config::parse("default: {mode: policy, verify: {}}", "c.yaml").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("admission config default: verify:"),
        "{e}"
    );
}

#[test]
fn an_author_selector_cannot_drop_a_signature_requirement() {
    let c = Config::parse(
        r#"
default: { mode: policy, verify: { keys: [ci.pub] } }
selectors:
  - { resource: object, field: label, key: team, value: pay, mode: policy }
  - { resource: object, field: label, key: team, value: ops, mode: policy, verify: { keys: [ci.pub] } }
"#,
        "c.yaml",
    )
    .unwrap();
    let ns = NamespaceMeta {
        name: "shop".into(),
        ..Default::default()
    };
    let a = c.select(&ns, &meta("web", &[("team", "pay")]), "nginx", None);
    assert!(a.verify.is_some(), "the default's requirement stays");
    let a = c.select(&ns, &meta("web", &[("team", "ops")]), "nginx", None);
    assert!(a.verify.is_some());
}

#[test]
fn every_selectors_key_secrets_are_listed_once() {
    let c = Config::parse(
        "default: {mode: policy, verify: {keys: [{secret: a/b/k}]}}\n\
         selectors:\n\
         - {resource: namespace, value: shop, mode: policy, \
            verify: {keys: [{secret: a/b/k}, {secret: c/d/e}, /x.pub]}}\n",
        "test",
    )
    .unwrap();
    assert_eq!(
        c.key_secrets(),
        vec![
            ("a".into(), "b".into(), "k".into()),
            ("c".into(), "d".into(), "e".into())
        ]
    );
}
