//! Rekor bundles, checked offline: the signed entry timestamp (SET) of a cosign bundle annotation
//! (`dev.sigstore.cosign/bundle`) must be a signature, by a given Rekor public key, of the canonical JSON of the
//! entry (`body`, `integratedTime`, `logID`, `logIndex`), the `logID` must be that key's log (SHA-256 of its
//! SubjectPublicKeyInfo), and the entry body must record this very signature (`hashedrekord`: the payload hash
//! and the signature; `intoto`/`dsse`: the payload hash). No request is made to Rekor.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::PublicKey;

/// Annotation holding the Rekor bundle.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Largest bundle annotation used.
const MAX_BUNDLE: usize = 256 << 10;

/// A transparency-log entry whose signed entry timestamp was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogEntry {
    /// When the log integrated the entry (Unix seconds); the certificate is checked at this time.
    pub integrated_time: i64,
    /// The entry's index in the log.
    pub log_index: i64,
    /// The log id (hex SHA-256 of the log's public key).
    pub log_id: String,
    /// The Rekor key file that verified the SET.
    pub key: String,
}

#[derive(Deserialize)]
struct Bundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: Payload,
}

/// The signed part of the bundle; serialised in canonical JSON (keys sorted) to check the SET.
#[derive(Deserialize, Serialize)]
struct Payload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// What the entry body must record.
pub(crate) struct Expected<'a> {
    /// What the entry must record the SHA-256 of (the simple-signing payload, or the DSSE statement).
    pub payload: &'a [u8],
    /// The signature (checked for `hashedrekord`).
    pub signature: &'a [u8],
}

fn canonical(p: &Payload) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, olpc_cjson::CanonicalFormatter::new());
    // Serialising a struct of strings and integers cannot fail.
    if p.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

/// Verifies a bundle annotation against `keys` and `expected`; the error says why it is refused.
pub(crate) fn verify_bundle(
    annotation: &str,
    keys: &[PublicKey],
    expected: &Expected<'_>,
) -> Result<TlogEntry, String> {
    if annotation.len() > MAX_BUNDLE {
        return Err(format!(
            "Rekor bundle annotation is {} bytes, more than the {MAX_BUNDLE} allowed",
            annotation.len()
        ));
    }
    let b: Bundle = serde_json::from_str(annotation)
        .map_err(|e| format!("Rekor bundle annotation is malformed: {e}"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let set = b64
        .decode(b.set.trim())
        .map_err(|e| format!("Rekor bundle SignedEntryTimestamp is not base64: {e}"))?;
    let key = keys
        .iter()
        .find(|k| hex::encode(sha2::Sha256::digest(k.spki_der())) == b.payload.log_id)
        .ok_or_else(|| {
            format!(
                "Rekor bundle is from log {}, which is not the log of any of the {} Rekor public key(s) given",
                b.payload.log_id,
                keys.len()
            )
        })?;
    if !key.verifies(&canonical(&b.payload), &set) {
        return Err(format!(
            "Rekor bundle signed entry timestamp does not verify with {} (entry altered, or signed by another log)",
            key.path.display()
        ));
    }
    let body = b64
        .decode(b.payload.body.trim())
        .map_err(|e| format!("Rekor entry body is not base64: {e}"))?;
    let body: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("Rekor entry body is not JSON: {e}"))?;
    check_body(&body, expected)?;
    Ok(TlogEntry {
        integrated_time: b.payload.integrated_time,
        log_index: b.payload.log_index,
        log_id: b.payload.log_id,
        key: key.path.display().to_string(),
    })
}

fn check_body(body: &serde_json::Value, expected: &Expected<'_>) -> Result<(), String> {
    let want = hex::encode(sha2::Sha256::digest(expected.payload));
    let kind = body.get("kind").and_then(|k| k.as_str()).unwrap_or("");
    let spec = body.get("spec").cloned().unwrap_or_default();
    let recorded = match kind {
        "hashedrekord" => {
            let sig = spec
                .pointer("/signature/content")
                .and_then(|s| s.as_str())
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
            if sig.as_deref() != Some(expected.signature) {
                return Err(
                    "Rekor entry records another signature than this one (bundle copied from another signature)"
                        .into(),
                );
            }
            spec.pointer("/data/hash/value")
        }
        "intoto" => spec.pointer("/content/payloadHash/value"),
        "dsse" => spec.pointer("/payloadHash/value"),
        other => {
            return Err(format!(
                "Rekor entry kind `{other}` is not supported (hashedrekord, intoto and dsse are)"
            ));
        }
    };
    match recorded.and_then(|v| v.as_str()) {
        Some(v) if v == want => Ok(()),
        Some(v) => Err(format!(
            "Rekor entry records payload sha256:{v}, not this payload's sha256:{want} (bundle of another signature)"
        )),
        None => Err(format!("Rekor `{kind}` entry records no payload hash")),
    }
}
