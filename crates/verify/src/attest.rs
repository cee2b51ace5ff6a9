//! Attestations: in-toto statements in DSSE envelopes, found under the cosign tag `sha256-<hex>.att` and
//! among the OCI 1.1 referrers, signed by a signer the [`Trust`] accepts (same rules as signatures), whose
//! subject names the image digest; the predicate is decoded ([`Predicate`]).

use portcullis_image::{Client, ImageRef};
use serde::Deserialize;

use crate::discover::{self, Kind};
use crate::dsse::Envelope;
use crate::predicates::{self, Predicate};
use crate::{Candidate, Error, Limits, Outcome, Signer, TlogEntry, Trust, signer};

/// Media type of a cosign attestation layer (a DSSE envelope).
pub const DSSE_ENVELOPE: &str = "application/vnd.dsse.envelope.v1+json";
/// DSSE payload type of an in-toto statement.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

const ATTESTATIONS: Kind = Kind {
    suffix: "att",
    media_type: DSSE_ENVELOPE,
    noun: "attestation",
};

/// One attestation found, and its outcome.
#[derive(Debug, Clone)]
pub struct CheckedAttestation {
    /// Where it was found (`tag sha256-….att` or `referrer sha256:…`).
    pub source: String,
    /// Digest of the envelope layer.
    pub layer: String,
    /// The statement's predicate type, when the envelope could be read.
    pub predicate_type: Option<String>,
    /// Accepted or refused, and why.
    pub outcome: Outcome,
    /// Who signed it, when verified.
    pub signer: Option<Signer>,
    /// The verified Rekor entry, if any.
    pub tlog: Option<TlogEntry>,
    /// The decoded predicate of a verified attestation.
    pub predicate: Option<Predicate>,
}

/// The attestations of one image.
#[derive(Debug, Clone)]
pub struct AttestationReport {
    /// The image as given.
    pub image: String,
    /// The manifest digest checked.
    pub digest: String,
    /// Every attestation found.
    pub attestations: Vec<CheckedAttestation>,
    /// The predicate types required (URIs).
    pub required: Vec<String>,
    /// Discovery notes.
    pub notes: Vec<String>,
}

impl AttestationReport {
    /// Required predicate types with no verified attestation.
    pub fn missing(&self) -> Vec<String> {
        self.required
            .iter()
            .filter(|t| {
                !self.attestations.iter().any(|a| {
                    matches!(a.outcome, Outcome::Verified { .. })
                        && a.predicate_type.as_deref() == Some(t.as_str())
                })
            })
            .cloned()
            .collect()
    }

    /// True when every required type has a verified attestation (with none required: when one verified).
    pub fn verified(&self) -> bool {
        if self.required.is_empty() {
            self.attestations
                .iter()
                .any(|a| matches!(a.outcome, Outcome::Verified { .. }))
        } else {
            self.missing().is_empty()
        }
    }

    /// The verified predicates of type `predicate_type` (URI).
    pub fn predicates(&self, predicate_type: &str) -> impl Iterator<Item = &Predicate> {
        self.attestations.iter().filter_map(move |a| {
            (matches!(a.outcome, Outcome::Verified { .. })
                && a.predicate_type.as_deref() == Some(predicate_type))
            .then_some(a.predicate.as_ref())
            .flatten()
        })
    }
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type", default)]
    ty: String,
    #[serde(default)]
    subject: Vec<Subject>,
    #[serde(rename = "predicateType", default)]
    predicate_type: String,
    #[serde(default)]
    predicate: serde_json::Value,
}

#[derive(Deserialize)]
struct Subject {
    #[serde(default)]
    digest: std::collections::BTreeMap<String, String>,
}

/// Resolves `image`, finds its attestations and checks each against `trust`; `types` are the required
/// predicate types (cosign names such as `slsaprovenance`, `cyclonedx`, or URIs). Within `limits.deadline`.
pub async fn verify_attestations(
    client: &Client,
    image: &ImageRef,
    trust: &Trust,
    types: &[String],
    limits: &Limits,
) -> Result<AttestationReport, Error> {
    trust.validate()?;
    let required = types.iter().map(|t| predicates::type_uri(t)).collect();
    tokio::time::timeout(
        limits.deadline,
        inner(client, image, trust, required, limits),
    )
    .await
    .map_err(|_| Error::Deadline {
        image: image.to_string(),
        deadline: limits.deadline,
    })?
}

async fn inner(
    client: &Client,
    image: &ImageRef,
    trust: &Trust,
    required: Vec<String>,
    limits: &Limits,
) -> Result<AttestationReport, Error> {
    let digest = client.resolve_digest(image).await?;
    let pinned = image.with_digest(&digest);
    let mut report = AttestationReport {
        image: image.to_string(),
        digest: digest.clone(),
        attestations: Vec::new(),
        required,
        notes: Vec::new(),
    };
    let candidates =
        discover::candidates(client, &pinned, limits, &mut report.notes, ATTESTATIONS).await?;
    for c in candidates {
        let mut checked = CheckedAttestation {
            source: c.source.clone(),
            layer: c.layer.clone(),
            predicate_type: c.annotations.get("predicateType").cloned(),
            outcome: Outcome::Refused {
                reason: String::new(),
            },
            signer: None,
            tlog: None,
            predicate: None,
        };
        match check(client, &pinned, &digest, &c, trust, limits, &mut checked).await {
            Ok(a) => {
                if let Some(n) = a.note {
                    report.notes.push(format!("attestation {}: {n}", c.layer));
                }
                checked.outcome = Outcome::Verified {
                    key: a.signer.to_string(),
                };
                checked.signer = Some(a.signer);
                checked.tlog = a.tlog;
            }
            Err(reason) => {
                checked.outcome = Outcome::Refused { reason };
                checked.predicate = None;
            }
        }
        report.attestations.push(checked);
    }
    Ok(report)
}

async fn check(
    client: &Client,
    repo: &ImageRef,
    digest: &str,
    c: &Candidate,
    trust: &Trust,
    limits: &Limits,
    out: &mut CheckedAttestation,
) -> Result<signer::Accepted, String> {
    if c.size < 0 || c.size as u64 > limits.max_envelope {
        return Err(format!(
            "envelope layer declares {} bytes, more than the {} allowed; not fetched",
            c.size, limits.max_envelope
        ));
    }
    let bytes = client
        .fetch_blob_bounded(repo, &c.layer, limits.max_envelope, limits.request_timeout)
        .await
        .map_err(|e| format!("envelope layer cannot be fetched: {e}"))?;
    let env = Envelope::parse(&bytes)?;
    if env.payload_type != IN_TOTO {
        return Err(format!(
            "DSSE payload type is `{}`, expected `{IN_TOTO}`",
            env.payload_type
        ));
    }
    let pae = env.pae();
    let mut why = Vec::new();
    let mut accepted = None;
    for (_, sig) in &env.signatures {
        match signer::check(trust, &c.annotations, &pae, sig, &env.payload) {
            Ok(a) => {
                accepted = Some(a);
                break;
            }
            Err(e) => why.push(e),
        }
    }
    let Some(accepted) = accepted else {
        return Err(why.join("; "));
    };
    let st: Statement = serde_json::from_slice(&env.payload)
        .map_err(|e| format!("signed payload is not an in-toto statement: {e}"))?;
    if !st.ty.starts_with("https://in-toto.io/Statement/") {
        return Err(format!(
            "statement `_type` is `{}`, not an in-toto statement",
            st.ty
        ));
    }
    out.predicate_type = Some(st.predicate_type.clone());
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    if !st
        .subject
        .iter()
        .any(|s| s.digest.get("sha256").map(String::as_str) == Some(hex))
    {
        let named = st
            .subject
            .iter()
            .filter_map(|s| s.digest.get("sha256"))
            .map(|d| format!("sha256:{d}"))
            .collect::<Vec<_>>();
        return Err(format!(
            "valid signature by {}, but the statement's subject is {}, not {digest}",
            accepted.signer,
            if named.is_empty() {
                "(no sha256 digest)".to_string()
            } else {
                named.join(", ")
            }
        ));
    }
    let predicate = predicates::parse(
        &format!("attestation {}", c.layer),
        &st.predicate_type,
        &st.predicate,
    )
    .map_err(|e| {
        format!(
            "valid signature by {}, but the `{}` predicate is unusable: {e}",
            accepted.signer, st.predicate_type
        )
    })?;
    out.predicate = Some(predicate);
    Ok(accepted)
}
