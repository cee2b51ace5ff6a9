//! What verification established about one image digest, as plain data: stored with the image, loaded into
//! the verdict snapshot and read by the policy gate `signature` and the ContainerAdmissionPolicy condition
//! `imageSignatureStatus`. Built from a [`Report`] (or from a verification error) and serialised as JSON.

use serde::{Deserialize, Serialize};

use crate::attest::AttestationReport;
use crate::predicates::Predicate;
use crate::{Outcome, Report, Signer};

/// The outcome of verifying one image digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFacts {
    /// The manifest digest that was checked.
    pub digest: String,
    /// Every signature found, with its outcome.
    #[serde(default)]
    pub signatures: Vec<SignatureFact>,
    /// Every attestation found, with its outcome.
    #[serde(default)]
    pub attestations: Vec<AttestationFact>,
    /// Notes on discovery (e.g. the registry does not serve the referrers API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Verification could not run to the end (registry unreachable, deadline): why. Nothing is verified then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One signature and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureFact {
    /// Where it was found (`tag sha256-….sig` or `referrer sha256:…`).
    pub source: String,
    /// Who signed it, when verified: the key (its file or Secret) or the certificate identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// For a certificate (keyless) signature: the OIDC issuer the certificate names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Whether it verified.
    pub verified: bool,
    /// Why it was refused (empty when verified).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// One attestation (in-toto statement in a DSSE envelope) and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationFact {
    /// Where it was found.
    pub source: String,
    /// The statement's `predicateType` URI.
    pub predicate_type: String,
    /// Who signed it, when verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// Whether its envelope verified and its subject names the digest.
    pub verified: bool,
    /// Why it was refused (empty when verified).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// For SLSA provenance: what the predicate says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// For a verified OpenVEX attestation: its statements (applied to this image's findings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<portcullis_vuln::triage::VexDocument>,
}

/// The SLSA provenance fields policy looks at (v0.2 and v1 mapped to the same names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// `builder.id` (v0.2) or `runDetails.builder.id` (v1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_id: Option<String>,
    /// The source repository (v0.2 `invocation.configSource.uri`, v1 the first resolved dependency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repository: Option<String>,
    /// `buildType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
}

/// Attestation type names as cosign's `--type` gives them, with the predicate type URI (prefix) each means.
pub const PREDICATE_TYPES: &[(&str, &str)] = &[
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("openvex", "https://openvex.dev/ns"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
];

/// The predicate type URI (prefix) for a cosign `--type` name, or the URI itself; `None` for an unknown name.
pub fn predicate_type_uri(name_or_uri: &str) -> Option<&str> {
    if name_or_uri.contains("://") {
        return Some(name_or_uri);
    }
    PREDICATE_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name_or_uri))
        .map(|(_, u)| *u)
}

/// Whether `predicate_type` (a statement's URI) is the type `wanted` names (a cosign name or a URI prefix:
/// `https://openvex.dev/ns` covers `https://openvex.dev/ns/v0.2.0`).
pub fn predicate_matches(predicate_type: &str, wanted: &str) -> bool {
    predicate_type_uri(wanted).is_some_and(|uri| {
        predicate_type == uri
            || predicate_type
                .strip_prefix(uri)
                .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('@'))
    })
}

impl SignatureFacts {
    /// The facts of a finished verification.
    pub fn from_report(r: &Report) -> SignatureFacts {
        SignatureFacts {
            digest: r.digest.clone(),
            signatures: r
                .signatures
                .iter()
                .map(|c| match &c.outcome {
                    Outcome::Verified { key } => {
                        let (signer, issuer) = signer_issuer(c.signer.as_ref(), key);
                        SignatureFact {
                            source: c.source.clone(),
                            signer: Some(signer),
                            issuer,
                            verified: true,
                            reason: String::new(),
                        }
                    }
                    Outcome::Refused { reason } => SignatureFact {
                        source: c.source.clone(),
                        signer: None,
                        issuer: None,
                        verified: false,
                        reason: reason.clone(),
                    },
                })
                .collect(),
            attestations: Vec::new(),
            notes: r.notes.clone(),
            error: None,
        }
    }

    /// Adds the attestations of `r` (verified or refused, with the provenance of a verified SLSA predicate) and
    /// its discovery notes.
    pub fn add_attestations(&mut self, r: &AttestationReport) {
        for a in &r.attestations {
            let (verified, reason, signer) = match &a.outcome {
                Outcome::Verified { key } => (
                    true,
                    String::new(),
                    Some(signer_issuer(a.signer.as_ref(), key).0),
                ),
                Outcome::Refused { reason } => (false, reason.clone(), None),
            };
            let provenance = match (&a.predicate, verified) {
                (Some(Predicate::Provenance(p)), true) => Some(Provenance {
                    builder_id: Some(p.builder_id.clone()).filter(|s| !s.is_empty()),
                    source_repository: p.source_repository.clone(),
                    build_type: Some(p.build_type.clone()).filter(|s| !s.is_empty()),
                }),
                _ => None,
            };
            let vex = match (&a.predicate, verified) {
                (Some(Predicate::Vex(d)), true) => Some(portcullis_vuln::triage::VexDocument {
                    source: format!(
                        "OpenVEX attestation ({}) by {}",
                        a.source,
                        signer.as_deref().unwrap_or("?")
                    ),
                    statements: d.statements.clone(),
                }),
                _ => None,
            };
            self.attestations.push(AttestationFact {
                vex,
                source: a.source.clone(),
                predicate_type: a.predicate_type.clone().unwrap_or_default(),
                signer,
                verified,
                reason,
                provenance,
            });
        }
        self.notes.extend(r.notes.iter().cloned());
    }

    /// The facts of a verification that could not finish (`error` says why; nothing counts as verified).
    pub fn failed(digest: &str, error: impl Into<String>) -> SignatureFacts {
        SignatureFacts {
            digest: digest.to_string(),
            error: Some(error.into()),
            ..SignatureFacts::default()
        }
    }

    /// The VEX documents of the verified OpenVEX attestations, in the order found.
    pub fn vex_documents(&self) -> Vec<portcullis_vuln::triage::VexDocument> {
        self.attestations
            .iter()
            .filter(|a| a.verified)
            .filter_map(|a| a.vex.clone())
            .collect()
    }

    /// The signers of the verified signatures.
    pub fn verified_signers(&self) -> impl Iterator<Item = &str> {
        self.signatures
            .iter()
            .filter(|s| s.verified)
            .filter_map(|s| s.signer.as_deref())
    }

    /// True when at least one signature verified (and the verification finished).
    pub fn signed(&self) -> bool {
        self.error.is_none() && self.signatures.iter().any(|s| s.verified)
    }

    /// The verified attestations of type `wanted` (a cosign name or a predicate type URI).
    pub fn verified_attestations<'a>(
        &'a self,
        wanted: &'a str,
    ) -> impl Iterator<Item = &'a AttestationFact> + 'a {
        self.attestations
            .iter()
            .filter(move |a| a.verified && predicate_matches(&a.predicate_type, wanted))
    }

    /// One line saying why no signature counts: the error, or each refused signature's reason (at most 3),
    /// e.g. `checked 1 signature: signature does not verify with any of the 1 key(s) given …`.
    pub fn why_unsigned(&self) -> String {
        if let Some(e) = &self.error {
            return format!("verification did not finish: {e}");
        }
        if self.signatures.is_empty() {
            return "no signature found".into();
        }
        let n = self.signatures.len();
        let mut reasons: Vec<&str> = self
            .signatures
            .iter()
            .filter(|s| !s.verified)
            .map(|s| s.reason.as_str())
            .take(3)
            .collect();
        reasons.dedup();
        let more = if n > 3 { ", …" } else { "" };
        format!(
            "checked {n} signature{}: {}{more}",
            if n == 1 { "" } else { "s" },
            reasons.join("; ")
        )
    }
}

/// Who signed, as the facts name it: the key file, or the certificate's first identity with its OIDC issuer
/// (what `keyless` requirements match); `shown` when the signer is not known.
fn signer_issuer(signer: Option<&Signer>, shown: &str) -> (String, Option<String>) {
    match signer {
        Some(Signer::Key { path }) => (path.clone(), None),
        Some(Signer::Certificate { identity, .. }) => (
            identity
                .identities
                .first()
                .cloned()
                .unwrap_or_else(|| shown.to_string()),
            identity.issuer.clone(),
        ),
        None => (shown.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Checked;

    #[test]
    fn a_report_becomes_facts() {
        let r = Report {
            image: "r/app:1".into(),
            digest: "sha256:ab".into(),
            signatures: vec![
                Checked {
                    source: "tag sha256-ab.sig".into(),
                    layer: "sha256:01".into(),
                    outcome: Outcome::Refused {
                        reason: "wrong key".into(),
                    },
                    signer: None,
                    tlog: None,
                },
                Checked {
                    source: "tag sha256-ab.sig".into(),
                    layer: "sha256:02".into(),
                    outcome: Outcome::Verified {
                        key: "ci.pub".into(),
                    },
                    signer: None,
                    tlog: None,
                },
            ],
            notes: vec![],
        };
        let f = SignatureFacts::from_report(&r);
        assert!(f.signed());
        assert_eq!(f.verified_signers().collect::<Vec<_>>(), ["ci.pub"]);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<SignatureFacts>(&json).unwrap(), f);
        let failed = SignatureFacts::failed("sha256:ab", "registry unreachable");
        assert!(!failed.signed());
        assert_eq!(
            failed.why_unsigned(),
            "verification did not finish: registry unreachable"
        );
        let mut refused = f.clone();
        refused.signatures.pop();
        assert_eq!(refused.why_unsigned(), "checked 1 signature: wrong key");
    }

    #[test]
    fn a_keyless_signer_is_named_by_its_certificate_identity_and_issuer() {
        let r = Report {
            image: "r/app:1".into(),
            digest: "sha256:ab".into(),
            signatures: vec![Checked {
                source: "tag sha256-ab.sig".into(),
                layer: "sha256:01".into(),
                outcome: Outcome::Verified {
                    key: "certificate …".into(),
                },
                signer: Some(Signer::Certificate {
                    identity: crate::CertIdentity {
                        identities: vec![
                            "https://github.com/acme/app/ci.yml@refs/heads/main".into(),
                        ],
                        issuer: Some("https://token.actions.githubusercontent.com".into()),
                    },
                    root: "roots.pem".into(),
                }),
                tlog: None,
            }],
            notes: vec![],
        };
        let f = SignatureFacts::from_report(&r);
        assert_eq!(
            f.signatures[0].signer.as_deref(),
            Some("https://github.com/acme/app/ci.yml@refs/heads/main")
        );
        assert_eq!(
            f.signatures[0].issuer.as_deref(),
            Some("https://token.actions.githubusercontent.com")
        );
    }

    #[test]
    fn predicate_names_and_prefixes() {
        assert!(predicate_matches(
            "https://openvex.dev/ns/v0.2.0",
            "openvex"
        ));
        assert!(predicate_matches(
            "https://slsa.dev/provenance/v0.2",
            "slsaprovenance"
        ));
        assert!(!predicate_matches(
            "https://slsa.dev/provenance/v1",
            "slsaprovenance"
        ));
        assert!(!predicate_matches(
            "https://cyclonedx.org/bomb",
            "cyclonedx"
        ));
        assert!(predicate_matches(
            "https://example.com/p",
            "https://example.com/p"
        ));
        assert_eq!(predicate_type_uri("sbom"), None);
    }
}
