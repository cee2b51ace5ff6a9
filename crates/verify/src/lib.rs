//! Signature verification for container images: finds the cosign signatures of an image digest (OCI 1.1
//! referrers API and the `sha256-<hex>.sig` tag convention), and checks each against public keys: the
//! simple-signing payload must name the digest and the `dev.cosignproject.cosign/signature` annotation must be a
//! valid signature of the payload by one of the keys, or (keyless) by the key of a certificate that chains to a
//! trust root and names an accepted identity and issuer; a Rekor bundle's signed entry timestamp is checked
//! offline. Attestations (DSSE envelopes of in-toto statements) are checked by the same rules ([`attest`]).
//! Every read is bounded ([`Limits`]).

pub mod attest;
mod discover;
pub mod dsse;
mod error;
mod facts;
pub mod keyless;
mod keys;
pub mod predicates;
pub mod rekor;
mod signer;

use std::time::Duration;

use std::collections::BTreeMap;

use base64::Engine;
use portcullis_image::{Client, ImageRef};

pub use error::Error;
pub use facts::{
    AttestationFact, PREDICATE_TYPES, Provenance, SignatureFact, SignatureFacts, predicate_matches,
    predicate_type_uri,
};
pub use keyless::{CertIdentity, Keyless, Match, TrustRoot};
pub use keys::{KeyKind, PublicKey};
pub use rekor::TlogEntry;
pub use signer::{Signer, Trust};

/// Annotation of a cosign signature layer holding the base64 signature of the layer (the payload).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Media type of a cosign simple-signing payload layer.
pub const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// Bounds on what a verification reads.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest signature manifest accepted (bytes).
    pub max_manifest: usize,
    /// Largest payload blob accepted (bytes).
    pub max_payload: u64,
    /// Most signature layers examined per image (over all manifests).
    pub max_signatures: usize,
    /// Most referrers examined.
    pub max_referrers: usize,
    /// Time allowed for one blob fetch.
    pub request_timeout: Duration,
    /// Time allowed for the whole verification of one image (resolution, discovery and every check).
    pub deadline: Duration,
    /// Largest attestation envelope accepted (bytes; an SBOM attestation can be large).
    pub max_envelope: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest: 256 << 10,
            max_payload: 64 << 10,
            max_signatures: 32,
            max_referrers: 64,
            request_timeout: Duration::from_secs(10),
            deadline: Duration::from_secs(30),
            max_envelope: 16 << 20,
        }
    }
}

/// Why a signature was accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A valid signature, by the key loaded from this file, of a payload naming the image digest.
    Verified {
        /// The key file that verified it.
        key: String,
    },
    /// Refused, with the reason.
    Refused {
        /// What was wrong.
        reason: String,
    },
}

/// One signature found for the image, and its outcome.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Where it was found (`tag sha256-….sig` or `referrer sha256:…`).
    pub source: String,
    /// Digest of the payload layer.
    pub layer: String,
    /// Accepted or refused, and why.
    pub outcome: Outcome,
    /// Who signed it, when verified.
    pub signer: Option<Signer>,
    /// The verified Rekor entry, when the signature carried a bundle checked against a Rekor key.
    pub tlog: Option<TlogEntry>,
}

/// The result of verifying one image.
#[derive(Debug, Clone)]
pub struct Report {
    /// The image as given.
    pub image: String,
    /// The manifest digest that was checked.
    pub digest: String,
    /// Every signature found, with its outcome (empty: no signature found).
    pub signatures: Vec<Checked>,
    /// Notes on discovery (e.g. the registry does not serve the referrers API).
    pub notes: Vec<String>,
}

impl Report {
    /// True when at least one signature was verified.
    pub fn verified(&self) -> bool {
        self.signatures
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Verified { .. }))
    }
}

/// A candidate signature: a payload layer with its annotations.
pub(crate) struct Candidate {
    pub source: String,
    pub layer: String,
    pub size: i64,
    pub annotations: BTreeMap<String, String>,
}

/// Resolves `image` to its digest, finds its signatures and checks each against `keys`, within
/// `limits.deadline`.
pub async fn verify(
    client: &Client,
    image: &ImageRef,
    keys: &[PublicKey],
    limits: &Limits,
) -> Result<Report, Error> {
    verify_trust(client, image, &Trust::keys(keys), limits).await
}

/// Resolves `image` to its digest, finds its signatures and checks each against `trust` (keys, keyless signers,
/// Rekor keys), within `limits.deadline`.
pub async fn verify_trust(
    client: &Client,
    image: &ImageRef,
    trust: &Trust,
    limits: &Limits,
) -> Result<Report, Error> {
    trust.validate()?;
    tokio::time::timeout(limits.deadline, verify_inner(client, image, trust, limits))
        .await
        .map_err(|_| Error::Deadline {
            image: image.to_string(),
            deadline: limits.deadline,
        })?
}

async fn verify_inner(
    client: &Client,
    image: &ImageRef,
    trust: &Trust,
    limits: &Limits,
) -> Result<Report, Error> {
    let digest = client.resolve_digest(image).await?;
    let pinned = image.with_digest(&digest);
    let mut report = Report {
        image: image.to_string(),
        digest: digest.clone(),
        signatures: Vec::new(),
        notes: Vec::new(),
    };
    let candidates = discover::candidates(
        client,
        &pinned,
        limits,
        &mut report.notes,
        discover::SIGNATURES,
    )
    .await?;
    for c in candidates {
        let (outcome, accepted) = match check(client, &pinned, &digest, &c, trust, limits).await {
            Ok(a) => (
                Outcome::Verified {
                    key: a.signer.to_string(),
                },
                Some(a),
            ),
            Err(reason) => (Outcome::Refused { reason }, None),
        };
        if let Some(n) = accepted.as_ref().and_then(|a| a.note.clone()) {
            report.notes.push(format!("signature {}: {n}", c.layer));
        }
        let (signer, tlog) = accepted
            .map(|a| (Some(a.signer), a.tlog))
            .unwrap_or_default();
        report.signatures.push(Checked {
            source: c.source,
            layer: c.layer,
            outcome,
            signer,
            tlog,
        });
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
) -> Result<signer::Accepted, String> {
    let Some(annotation) = c.annotations.get(SIGNATURE_ANNOTATION) else {
        return Err(format!("layer has no `{SIGNATURE_ANNOTATION}` annotation"));
    };
    let signature = match base64::engine::general_purpose::STANDARD.decode(annotation.trim()) {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return Err(format!("`{SIGNATURE_ANNOTATION}` annotation is empty")),
        Err(e) => {
            return Err(format!(
                "`{SIGNATURE_ANNOTATION}` annotation is not base64: {e}"
            ));
        }
    };
    if c.size < 0 || c.size as u64 > limits.max_payload {
        return Err(format!(
            "payload layer declares {} bytes, more than the {} allowed; not fetched",
            c.size, limits.max_payload
        ));
    }
    let payload = client
        .fetch_blob_bounded(repo, &c.layer, limits.max_payload, limits.request_timeout)
        .await
        .map_err(|e| format!("payload layer cannot be fetched: {e}"))?;
    let accepted = signer::check(trust, &c.annotations, &payload, &signature, &payload)?;
    let signed = signed_digest(&payload)
        .map_err(|e| format!("signed payload is not a cosign simple-signing document: {e}"))?;
    if signed != digest {
        return Err(format!(
            "valid signature by {}, but its payload signs {signed}, not {digest}",
            accepted.signer
        ));
    }
    Ok(accepted)
}

/// The `critical.image.docker-manifest-digest` of a simple-signing payload (type checked).
pub fn signed_digest(payload: &[u8]) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    let critical = v.get("critical").ok_or("no `critical` object")?;
    let ty = critical.get("type").and_then(|t| t.as_str());
    if ty != Some("cosign container image signature") {
        return Err(format!(
            "`critical.type` is {ty:?}, expected \"cosign container image signature\""
        ));
    }
    critical
        .get("image")
        .and_then(|i| i.get("docker-manifest-digest"))
        .and_then(|d| d.as_str())
        .map(str::to_string)
        .ok_or_else(|| "no `critical.image.docker-manifest-digest`".to_string())
}
