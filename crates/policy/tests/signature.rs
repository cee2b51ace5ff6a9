//! The `signature` gate: each trigger over recorded verification facts, parameters validated, and "not
//! evaluated" when the image was not verified.

mod common;

use common::{bundle, now, report, sbom};
use portcullis_policy::{Action, Bundle, Error, ImageInput};
use portcullis_verify::{AttestationFact, Provenance, SignatureFact, SignatureFacts};

const TAG: &str = "registry.example.com/app:1";

fn rules(rules: &str) -> String {
    format!(
        r#"{{"id":"sig","version":"1_0","mappings":[{{"id":"m","name":"all","registry":"*","repository":"*","image":{{"type":"tag","value":"*"}},"policy_ids":["p"],"whitelist_ids":[]}}],
        "policies":[{{"id":"p","version":"1_0","rules":[{rules}]}}],"whitelists":[]}}"#
    )
}

fn signed_by(signer: &str) -> SignatureFacts {
    SignatureFacts {
        digest: "sha256:aa".into(),
        signatures: vec![
            SignatureFact {
                source: "tag sha256-aa.sig".into(),
                signer: None,
                issuer: None,
                verified: false,
                reason: "signature does not verify with any of the 1 key(s) given".into(),
            },
            SignatureFact {
                source: "tag sha256-aa.sig".into(),
                signer: Some(signer.into()),
                issuer: None,
                verified: true,
                reason: String::new(),
            },
        ],
        ..Default::default()
    }
}

fn provenance(builder: &str, verified: bool) -> AttestationFact {
    AttestationFact {
        vex: None,
        source: "tag sha256-aa.att".into(),
        predicate_type: "https://slsa.dev/provenance/v0.2".into(),
        signer: verified.then(|| "ci.pub".into()),
        verified,
        reason: if verified {
            String::new()
        } else {
            "envelope signature does not verify".into()
        },
        provenance: Some(Provenance {
            builder_id: Some(builder.into()),
            source_repository: Some("git+https://github.com/example/app@refs/heads/main".into()),
            build_type: Some("https://example.com/build/v1".into()),
        }),
    }
}

/// Fired rows as (trigger, trigger id, check output), and the not-evaluated notes.
fn run(b: &Bundle, facts: Option<&SignatureFacts>) -> (Vec<(String, String, String)>, Vec<String>) {
    let s = sbom();
    let r = report();
    let mut input = ImageInput::new(&s, &r, TAG, now());
    input.signatures = facts;
    let v = b.evaluate(&input);
    let rows = v
        .rows
        .iter()
        .filter(|row| row.gate == "signature")
        .map(|row| {
            (
                row.trigger.clone(),
                row.trigger_id.clone(),
                row.check_output.clone(),
            )
        })
        .collect();
    (rows, v.not_evaluated)
}

#[test]
fn unsigned_fires_with_the_reason_and_not_for_a_signed_image() {
    let b = bundle(&rules(
        r#"{"id":"r","gate":"signature","trigger":"unsigned","action":"STOP","params":[]}"#,
    ));
    let (rows, _) = run(&b, Some(&signed_by("ci.pub")));
    assert!(rows.is_empty(), "{rows:?}");
    let mut wrong_key = signed_by("ci.pub");
    wrong_key.signatures.pop();
    let (rows, _) = run(&b, Some(&wrong_key));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "unsigned");
    assert_eq!(
        rows[0].2,
        "Image is not signed by a trusted key (checked 1 signature: signature does not verify with any of \
         the 1 key(s) given)"
    );
    let (rows, _) = run(
        &b,
        Some(&SignatureFacts::failed(
            "sha256:aa",
            "deadline of 30s passed",
        )),
    );
    assert!(
        rows[0]
            .2
            .contains("verification did not finish: deadline of 30s passed"),
        "{rows:?}"
    );
    // Not verified at all: not evaluated, named, never a silent pass.
    let (rows, not_evaluated) = run(&b, None);
    assert!(rows.is_empty());
    assert!(
        not_evaluated
            .iter()
            .any(|n| n.contains("signature.unsigned") && n.contains("add a `verify` block")),
        "{not_evaluated:?}"
    );
    let s = sbom();
    let r = report();
    let mut input = ImageInput::new(&s, &r, TAG, now());
    input.signatures = Some(&wrong_key);
    assert_eq!(b.evaluate(&input).final_action, Action::Stop);
}

#[test]
fn untrusted_signer_compares_exactly_or_by_anchored_regex() {
    let b = bundle(&rules(
        r#"{"id":"r","gate":"signature","trigger":"untrusted_signer","action":"STOP","params":[
            {"name":"signers","value":"/keys/ci.pub, /keys/release.pub"},
            {"name":"signer_regex","value":"https://github.com/example/.*"}]}"#,
    ));
    assert!(run(&b, Some(&signed_by("/keys/ci.pub"))).0.is_empty());
    assert!(
        run(
            &b,
            Some(&signed_by(
                "https://github.com/example/app/.github/workflows/ci.yml@refs/heads/main"
            ))
        )
        .0
        .is_empty()
    );
    let (rows, _) = run(&b, Some(&signed_by("/keys/other.pub")));
    assert_eq!(
        rows[0].2,
        "Image is signed only by signers the policy does not trust: /keys/other.pub"
    );
    // Anchored: a regex match inside a longer identity is not trusted.
    let (rows, _) = run(
        &b,
        Some(&signed_by(
            "https://evil.example/https://github.com/example/x",
        )),
    );
    assert_eq!(rows.len(), 1);
    let (rows, _) = run(&b, Some(&SignatureFacts::default()));
    assert_eq!(
        rows[0].2,
        "Image has no verified signature by a trusted signer (no signature found)"
    );
}

#[test]
fn attestation_missing_and_provenance_mismatch() {
    let b = bundle(&rules(
        r#"{"id":"a","gate":"signature","trigger":"attestation_missing","action":"STOP","params":[{"name":"predicate_type","value":"slsaprovenance"}]},
           {"id":"c","gate":"signature","trigger":"attestation_missing","action":"WARN","params":[{"name":"predicate_type","value":"cyclonedx"}]},
           {"id":"p","gate":"signature","trigger":"provenance_mismatch","action":"STOP","params":[
               {"name":"builder_id","value":"https://github.com/example/.*"},
               {"name":"source_repository","value":"git\\+https://github.com/example/app@.*"}]}"#,
    ));
    let mut facts = signed_by("ci.pub");
    facts
        .attestations
        .push(provenance("https://github.com/example/builder", true));
    let (rows, _) = run(&b, Some(&facts));
    assert_eq!(
        rows,
        vec![(
            "attestation_missing".to_string(),
            "cyclonedx".to_string(),
            "No cyclonedx attestation found".to_string()
        )]
    );
    let mut other_builder = signed_by("ci.pub");
    other_builder
        .attestations
        .push(provenance("https://evil.example/builder", true));
    let (rows, _) = run(&b, Some(&other_builder));
    let p = rows.iter().find(|r| r.0 == "provenance_mismatch").unwrap();
    assert!(
        p.2.contains("builder https://evil.example/builder"),
        "{p:?}"
    );
    let mut refused = signed_by("ci.pub");
    refused
        .attestations
        .push(provenance("https://github.com/example/builder", false));
    let (rows, _) = run(&b, Some(&refused));
    let a = rows.iter().find(|r| r.1 == "slsaprovenance").unwrap();
    assert_eq!(
        a.2,
        "No verified slsaprovenance attestation (1 found, all refused: envelope signature does not verify)"
    );
    assert_eq!(
        rows.iter()
            .find(|r| r.0 == "provenance_mismatch")
            .unwrap()
            .2,
        "No verified SLSA provenance attestation to compare"
    );
}

#[test]
fn parameters_are_validated() {
    let problems = |rule: &str| match Bundle::from_slice(rules(rule).as_bytes(), "t") {
        Err(Error::Invalid { problems, .. }) => problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        other => panic!("expected problems, got {other:?}"),
    };
    let p = problems(
        r#"{"id":"r","gate":"signature","trigger":"untrusted_signer","action":"STOP","params":[]}"#,
    );
    assert!(p.contains("give `signers`, `signer_regex` or both"), "{p}");
    let p = problems(
        r#"{"id":"r","gate":"signature","trigger":"attestation_missing","action":"STOP","params":[{"name":"predicate_type","value":"sbom"}]}"#,
    );
    assert!(p.contains("`sbom` is not one of slsaprovenance"), "{p}");
    let p = problems(
        r#"{"id":"r","gate":"signature","trigger":"provenance_mismatch","action":"STOP","params":[]}"#,
    );
    assert!(p.contains("give at least one of `builder_id`"), "{p}");
    let p = problems(
        r#"{"id":"r","gate":"signature","trigger":"unsigned","action":"STOP","params":[{"name":"key","value":"x"}]}"#,
    );
    assert!(
        p.contains("`key` is not a parameter of signature.unsigned"),
        "{p}"
    );
    let described = portcullis_policy::catalog::describe(Some("signature"), None).unwrap();
    for t in [
        "unsigned",
        "untrusted_signer",
        "attestation_missing",
        "provenance_mismatch",
    ] {
        assert!(described.contains(t), "{described}");
    }
}
