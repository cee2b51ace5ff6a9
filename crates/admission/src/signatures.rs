//! Signature requirements at admission: an image's recorded verification facts
//! ([`portcullis_verify::SignatureFacts`], answered from memory by [`crate::ImageVerdicts::signatures`]) judged
//! against the `verify` block of its assignment ([`crate::config::VerifySpec`]).
//!
//! Requirements: the `keys` list is one (signed by any one of them); each `keyless` and each `attestations`
//! entry is one. `require: all` needs every requirement met, `any` at least one. An image whose digest has no
//! facts yet is "not verified yet" (denied in the blocking modes and queued for verification, like an
//! unanalysed image). The judgement runs after ContainerAdmissionPolicies, so a CAP `Allow` rule never lifts
//! a signature requirement of the admission config.

use portcullis_verify::SignatureFacts;
use regex::Regex;
use serde::Serialize;

use crate::config::VerifySpec;
use crate::config::verify::{AttestationSpec, KeylessSpec, Require};

/// What admission established about an image's signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignatureDecision {
    /// Whether the `verify` requirements are met.
    pub verified: bool,
    /// Who signed it: the signers of its verified signatures (key file or Secret, certificate identity).
    pub signers: Vec<String>,
    /// Why the requirements are not met (or that the image is not verified yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl SignatureDecision {
    /// No verification result for the digest yet.
    pub fn not_verified_yet() -> SignatureDecision {
        SignatureDecision {
            verified: false,
            signers: Vec::new(),
            reason: None,
        }
    }
}

/// Applies the `verify` requirements to one image's decision: records what was established
/// ([`crate::decide::ImageDecision::signature`]) and, when they are not met, adds the reason to its explanation
/// and denies in the blocking modes. Returns true when the image has no verification result yet (queue it).
pub(crate) fn apply(
    id: &mut crate::decide::ImageDecision,
    spec: &VerifySpec,
    facts: Option<&SignatureFacts>,
    shown: &str,
    (blocking, dry_run): (bool, bool),
) -> bool {
    // Denials name the digest; warnings (at most 120 characters) keep name and tag.
    let pinned = match &id.digest {
        Some(d) if blocking && !shown.contains('@') => format!("{shown}@{d}"),
        _ if !blocking => crate::explain::short_image(shown).to_string(),
        _ => shown.to_string(),
    };
    let (decision, text, queue) = match facts {
        None => {
            let queued = if dry_run {
                ""
            } else {
                " (queued for verification)"
            };
            let hint = if blocking {
                "retry once verification has finished"
            } else {
                "admitted without a verification result"
            };
            (
                SignatureDecision::not_verified_yet(),
                Some(format!(
                    "image {pinned}: signatures not verified yet{queued}; {hint}"
                )),
                true,
            )
        }
        Some(f) => {
            let d = judge(spec, f);
            let text = d.reason.as_ref().map(|r| format!("image {pinned}: {r}"));
            (d, text, false)
        }
    };
    id.signature = Some(decision);
    if let Some(text) = text {
        id.explanation = Some(match id.explanation.take() {
            Some(e) => format!("{e}; {text}"),
            None => text,
        });
        id.denies = id.denies || blocking;
    }
    queue
}

/// The `signers` audit annotation: `image=signer|signer` (or `image=unsigned`) for each image with `verify`
/// requirements; `None` when no image has any.
pub(crate) fn signers_annotation(images: &[crate::decide::ImageDecision]) -> Option<String> {
    let signers: Vec<String> = images
        .iter()
        .filter_map(|i| {
            let s = i.signature.as_ref()?;
            let who = if s.signers.is_empty() {
                "unsigned".to_string()
            } else {
                s.signers.join("|")
            };
            Some(format!("{}={who}", i.image))
        })
        .collect();
    (!signers.is_empty()).then(|| signers.join(","))
}

/// Judges `facts` against `spec`: `Ok(signers)` when the requirements are met, else `Err` naming the missing or
/// failing requirement(s), e.g. `not signed by any of the required keys (checked 1 signature: …)`.
pub fn judge(spec: &VerifySpec, facts: &SignatureFacts) -> SignatureDecision {
    let signers: Vec<String> = facts.verified_signers().map(str::to_string).collect();
    let mut failures = Vec::new();
    let mut met = 0usize;
    let mut total = 0usize;
    let mut tally = |r: Result<(), String>| {
        total += 1;
        match r {
            Ok(()) => met += 1,
            Err(e) => failures.push(e),
        }
    };
    if !spec.keys.is_empty() {
        tally(keys_met(spec, facts));
    }
    for (i, k) in spec.keyless.iter().enumerate() {
        tally(keyless_met(i, k, facts));
    }
    for a in &spec.attestations {
        tally(attestation_met(a, facts));
    }
    let ok = match spec.require {
        Require::All => failures.is_empty(),
        Require::Any => met > 0,
    };
    let reason = (!ok).then(|| match spec.require {
        Require::Any if total > 1 => format!(
            "none of the {total} signature requirements is met: {}",
            failures.join("; ")
        ),
        _ => failures.join("; "),
    });
    SignatureDecision {
        verified: ok,
        signers,
        reason,
    }
}

fn keys_met(spec: &VerifySpec, facts: &SignatureFacts) -> Result<(), String> {
    let wanted: Vec<String> = spec
        .key_refs()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    if facts.error.is_none()
        && facts
            .verified_signers()
            .any(|s| wanted.iter().any(|w| w == s))
    {
        return Ok(());
    }
    let others: Vec<&str> = facts
        .verified_signers()
        .filter(|s| !wanted.iter().any(|w| w == s))
        .collect();
    let why = if others.is_empty() || facts.error.is_some() {
        facts.why_unsigned()
    } else {
        format!("signed only by {}", others.join(", "))
    };
    Err(format!("not signed by any of the required keys ({why})"))
}

fn anchored(re: &str) -> Option<Regex> {
    Regex::new(&format!("^(?:{re})$")).ok()
}

/// Exact string or anchored regex (the config was validated, so the regex compiles).
fn matches(exact: &Option<String>, re: &Option<String>, value: Option<&str>) -> bool {
    let Some(v) = value else { return false };
    match (exact, re) {
        (Some(e), _) => e == v,
        (None, Some(r)) => anchored(r).is_some_and(|r| r.is_match(v)),
        (None, None) => true,
    }
}

fn keyless_met(i: usize, k: &KeylessSpec, facts: &SignatureFacts) -> Result<(), String> {
    let hit = facts.error.is_none()
        && facts.signatures.iter().any(|s| {
            s.verified
                && matches(&k.subject, &k.subject_regex, s.signer.as_deref())
                && matches(&k.issuer, &k.issuer_regex, s.issuer.as_deref())
        });
    if hit {
        return Ok(());
    }
    let who = k
        .subject
        .as_deref()
        .or(k.subject_regex.as_deref())
        .unwrap_or("");
    let issuer = k
        .issuer
        .as_deref()
        .or(k.issuer_regex.as_deref())
        .unwrap_or("");
    Err(format!(
        "keyless[{i}]: not signed by identity {who} from issuer {issuer} ({})",
        facts.why_unsigned()
    ))
}

fn attestation_met(a: &AttestationSpec, facts: &SignatureFacts) -> Result<(), String> {
    let t = &a.predicate_type;
    let found: Vec<_> = facts.verified_attestations(t).collect();
    if facts.error.is_some() || found.is_empty() {
        let refused = facts
            .attestations
            .iter()
            .find(|x| !x.verified && portcullis_verify::predicate_matches(&x.predicate_type, t));
        return Err(match (&facts.error, refused) {
            (Some(e), _) => {
                format!("no verified {t} attestation (verification did not finish: {e})")
            }
            (None, Some(r)) => format!("no verified {t} attestation ({})", r.reason),
            (None, None) => format!("no {t} attestation found"),
        });
    }
    if a.builder_id.is_none() && a.source_repository.is_none() && a.build_type.is_none() {
        return Ok(());
    }
    let field = |re: &Option<String>, v: Option<&str>| matches(&None, re, v) || re.is_none();
    let fits = found.iter().filter_map(|x| x.provenance.as_ref()).any(|p| {
        field(&a.builder_id, p.builder_id.as_deref())
            && field(&a.source_repository, p.source_repository.as_deref())
            && field(&a.build_type, p.build_type.as_deref())
    });
    if fits {
        return Ok(());
    }
    let seen = found
        .iter()
        .find_map(|x| x.provenance.as_ref())
        .map(|p| {
            format!(
                "builder {}, source {}, build type {}",
                p.builder_id.as_deref().unwrap_or("(none)"),
                p.source_repository.as_deref().unwrap_or("(none)"),
                p.build_type.as_deref().unwrap_or("(none)")
            )
        })
        .unwrap_or_else(|| "no provenance fields".into());
    Err(format!(
        "{t} attestation does not match the required provenance ({seen})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::verify::KeySource;
    use portcullis_verify::{AttestationFact, Provenance, SignatureFact};

    fn sig(signer: Option<&str>, reason: &str) -> SignatureFact {
        SignatureFact {
            source: "tag sha256-aa.sig".into(),
            signer: signer.map(Into::into),
            issuer: None,
            verified: signer.is_some(),
            reason: reason.into(),
        }
    }

    fn spec(keys: &[&str]) -> VerifySpec {
        VerifySpec {
            keys: keys
                .iter()
                .map(|k| KeySource::File(k.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn keys_need_a_verified_signature_by_a_listed_key() {
        let facts = SignatureFacts {
            digest: "sha256:aa".into(),
            signatures: vec![sig(Some("/keys/ci.pub"), "")],
            ..Default::default()
        };
        let d = judge(&spec(&["/keys/ci.pub"]), &facts);
        assert!(d.verified, "{d:?}");
        assert_eq!(d.signers, ["/keys/ci.pub"]);
        let d = judge(&spec(&["/keys/release.pub"]), &facts);
        assert_eq!(
            d.reason.as_deref(),
            Some("not signed by any of the required keys (signed only by /keys/ci.pub)")
        );
        let wrong = SignatureFacts {
            signatures: vec![sig(None, "wrong key")],
            ..Default::default()
        };
        let d = judge(&spec(&["/keys/ci.pub"]), &wrong);
        assert_eq!(
            d.reason.as_deref(),
            Some("not signed by any of the required keys (checked 1 signature: wrong key)")
        );
        let d = judge(&spec(&["/keys/ci.pub"]), &SignatureFacts::default());
        assert_eq!(
            d.reason.as_deref(),
            Some("not signed by any of the required keys (no signature found)")
        );
    }

    #[test]
    fn all_or_any_and_keyless_and_attestations() {
        let mut s = spec(&["ci.pub"]);
        s.keyless.push(KeylessSpec {
            trust_root: "root.pem".into(),
            issuer: Some("https://issuer".into()),
            issuer_regex: None,
            subject: None,
            subject_regex: Some("https://github.com/example/.*".into()),
            rekor_key: None,
        });
        s.attestations.push(AttestationSpec {
            predicate_type: "slsaprovenance".into(),
            builder_id: Some("https://github.com/example/.*".into()),
            source_repository: None,
            build_type: None,
        });
        let mut facts = SignatureFacts {
            signatures: vec![sig(Some("ci.pub"), "")],
            ..Default::default()
        };
        let d = judge(&s, &facts);
        assert!(!d.verified);
        let r = d.reason.unwrap();
        assert!(
            r.contains("keyless[0]: not signed by identity https://github.com/example/.* from issuer https://issuer")
                && r.contains("no slsaprovenance attestation found"),
            "{r}"
        );
        s.require = Require::Any;
        assert!(judge(&s, &facts).verified);
        s.require = Require::All;
        let mut keyless = sig(
            Some("https://github.com/example/app/ci.yml@refs/heads/main"),
            "",
        );
        keyless.issuer = Some("https://issuer".into());
        facts.signatures.push(keyless);
        facts.attestations.push(AttestationFact {
            vex: None,
            source: "referrer".into(),
            predicate_type: "https://slsa.dev/provenance/v0.2".into(),
            signer: Some("ci.pub".into()),
            verified: true,
            reason: String::new(),
            provenance: Some(Provenance {
                builder_id: Some("https://evil.example/b".into()),
                ..Default::default()
            }),
        });
        let r = judge(&s, &facts).reason.unwrap();
        assert_eq!(
            r,
            "slsaprovenance attestation does not match the required provenance (builder \
             https://evil.example/b, source (none), build type (none))"
        );
        facts.attestations[0].provenance = Some(Provenance {
            builder_id: Some("https://github.com/example/builder".into()),
            ..Default::default()
        });
        assert!(judge(&s, &facts).verified);
        facts.error = Some("deadline of 30s passed".into());
        assert!(
            !judge(&s, &facts).verified,
            "an unfinished verification verifies nothing"
        );
    }
}
