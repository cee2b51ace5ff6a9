//! `verify` requirements at admission, answered from memory: a signed image is admitted, an unsigned one or one
//! signed by another key is denied naming the failing requirement, one not verified yet is denied and queued,
//! a CAP `Allow` rule does not lift the requirement, and the signers reach the audit annotations.

mod common;

use common::*;
use portcullis_admission::*;
use portcullis_policy::CapSet;
use portcullis_verify::{SignatureFact, SignatureFacts};

/// Fixture 005: containers `api` (registry.example.com:8443/team/api:2.1.0, passes) and `log` (busybox:1.36).
const API: &str = "registry.example.com:8443/team/api:2.1.0";

fn review() -> Review {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("005"))
        .unwrap();
    Review::parse(&bytes).unwrap()
}

fn config(mode: &str) -> Config {
    Config::parse(
        &format!(
            "selectors:\n  - resource: image\n    value: 'registry\\.example\\.com:8443/.*'\n    mode: {mode}\n    \
             policy: prod\n    verify: {{keys: [/keys/ci.pub]}}\ndefault: {{mode: breakglass}}\n"
        ),
        "test",
    )
    .unwrap()
}

fn verdicts(facts: Option<SignatureFacts>) -> MemoryVerdicts {
    let mut file = fixture_verdicts("prod");
    for e in &mut file.images {
        if e.image == API {
            e.signatures = facts.clone();
        }
    }
    MemoryVerdicts::from_file(file, "test").unwrap()
}

fn signed_by(signer: Option<&str>, reason: &str) -> SignatureFacts {
    SignatureFacts {
        digest: digest_for(API),
        signatures: vec![SignatureFact {
            source: format!("tag {}.sig", digest_for(API).replace(':', "-")),
            signer: signer.map(Into::into),
            issuer: None,
            verified: signer.is_some(),
            reason: reason.into(),
        }],
        ..Default::default()
    }
}

fn validate(v: &MemoryVerdicts, cfg: &Config) -> Decision {
    decide(&review(), cfg, v, &Context::new(Endpoint::Validate))
}

#[test]
fn signed_by_the_required_key_is_admitted_and_the_signer_recorded() {
    let d = validate(
        &verdicts(Some(signed_by(Some("/keys/ci.pub"), ""))),
        &config("policy"),
    );
    assert!(d.allowed, "{:?}", d.message);
    let api = d.images.iter().find(|i| i.container == "api").unwrap();
    let sig = api.signature.as_ref().unwrap();
    assert!(sig.verified);
    assert_eq!(sig.signers, ["/keys/ci.pub"]);
    assert_eq!(
        d.audit_annotations["signers"],
        format!("{API}=/keys/ci.pub")
    );
    let json = serde_json::to_value(api).unwrap();
    assert_eq!(json["signature"]["signers"][0], "/keys/ci.pub");
}

#[test]
fn another_key_or_no_signature_is_denied_naming_the_requirement() {
    let wrong = "signature does not verify with any of the 1 key(s) given (signed by another key, or payload \
                 changed after signing)";
    let d = validate(&verdicts(Some(signed_by(None, wrong))), &config("policy"));
    assert!(!d.allowed);
    assert_eq!(
        d.message.as_deref().unwrap(),
        format!(
            "container \"api\": image {API}@{}: not signed by any of the required keys (checked 1 signature: \
             {wrong})",
            digest_for(API)
        )
    );
    assert_eq!(d.audit_annotations["signers"], format!("{API}=unsigned"));
    let unsigned = SignatureFacts {
        digest: digest_for(API),
        ..Default::default()
    };
    let d = validate(&verdicts(Some(unsigned)), &config("policy"));
    assert!(
        d.message
            .as_deref()
            .unwrap()
            .ends_with("not signed by any of the required keys (no signature found)"),
        "{:?}",
        d.message
    );
    // Audit mode warns instead of denying.
    let d = validate(
        &verdicts(Some(signed_by(None, "wrong key"))),
        &config("audit"),
    );
    assert!(d.allowed);
    assert!(
        d.warnings
            .iter()
            .any(|w| w.contains("not signed by any of the required keys")),
        "{:?}",
        d.warnings
    );
}

#[test]
fn not_verified_yet_is_denied_and_queued_unless_dry_run() {
    let v = verdicts(None);
    let d = validate(&v, &config("policy"));
    assert!(!d.allowed);
    assert_eq!(
        d.message.as_deref().unwrap(),
        format!(
            "container \"api\": image {API}@{}: signatures not verified yet (queued for verification); retry \
             once verification has finished",
            digest_for(API)
        )
    );
    assert_eq!(v.queued(), [format!("{API}@{} verify", digest_for(API))]);
    let v = verdicts(None);
    let mut r = review();
    r.request.dry_run = true;
    let d = decide(&r, &config("policy"), &v, &Context::new(Endpoint::Validate));
    assert!(!d.allowed);
    assert!(v.queued().is_empty(), "{:?}", v.queued());
}

#[test]
fn a_cap_allow_rule_does_not_lift_the_requirement_and_sees_the_status() {
    let caps = CapSet::from_yaml(
        "kind: ContainerAdmissionPolicy\nmetadata: {name: allow-all}\nspec:\n  rules:\n  - action: Allow\n",
    )
    .unwrap();
    let mut ctx = Context::new(Endpoint::Validate);
    ctx.policies = Some(&caps);
    let d = decide(
        &review(),
        &config("policy"),
        &verdicts(Some(signed_by(None, "wrong key"))),
        &ctx,
    );
    assert!(!d.allowed, "the config's verify block still applies");
    let caps = CapSet::from_yaml(
        "kind: ContainerAdmissionPolicy\nmetadata: {name: signed}\nspec:\n  rules:\n  - action: Reject\n    \
         imageSignatureStatus: {operator: IsNoneOf, values: [Verified]}\n",
    )
    .unwrap();
    ctx.policies = Some(&caps);
    let d = decide(
        &review(),
        &config("policy"),
        &verdicts(Some(signed_by(Some("/keys/ci.pub"), ""))),
        &ctx,
    );
    let api = d.images.iter().find(|i| i.container == "api").unwrap();
    assert!(api.admission_policy.is_none(), "{api:?}");
    let d = decide(
        &review(),
        &config("policy"),
        &verdicts(Some(signed_by(None, "wrong key"))),
        &ctx,
    );
    let api = d.images.iter().find(|i| i.container == "api").unwrap();
    assert!(!api.admission_policy.as_ref().unwrap().allow, "{api:?}");
}
