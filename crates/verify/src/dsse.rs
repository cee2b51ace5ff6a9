//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse>): the signature covers the pre-authentication
//! encoding `DSSEv1 <len(type)> <type> <len(body)> <body>`, never the raw payload.

use base64::Engine;
use serde::Deserialize;

/// Most signatures examined in one envelope.
const MAX_SIGNATURES: usize = 16;

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    #[serde(default)]
    signatures: Vec<RawSig>,
}

#[derive(Deserialize)]
struct RawSig {
    #[serde(default)]
    keyid: String,
    sig: String,
}

/// A decoded envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The payload type (`application/vnd.in-toto+json` for in-toto statements).
    pub payload_type: String,
    /// The decoded payload.
    pub payload: Vec<u8>,
    /// The signatures: key id (often empty) and decoded signature bytes.
    pub signatures: Vec<(String, Vec<u8>)>,
}

impl Envelope {
    /// Parses and decodes an envelope; the error says what is malformed.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, String> {
        let raw: Raw = serde_json::from_slice(bytes)
            .map_err(|e| format!("DSSE envelope is malformed: {e}"))?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b64
            .decode(raw.payload.trim())
            .map_err(|e| format!("DSSE envelope payload is not base64: {e}"))?;
        if raw.signatures.is_empty() {
            return Err("DSSE envelope has no signature".into());
        }
        if raw.signatures.len() > MAX_SIGNATURES {
            return Err(format!(
                "DSSE envelope has {} signatures, more than the {MAX_SIGNATURES} allowed",
                raw.signatures.len()
            ));
        }
        let signatures = raw
            .signatures
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                b64.decode(s.sig.trim())
                    .map(|sig| (s.keyid, sig))
                    .map_err(|e| format!("DSSE signature {} is not base64: {e}", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope {
            payload_type: raw.payload_type,
            payload,
            signatures,
        })
    }

    /// The bytes the signatures cover.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// The DSSE v1 pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}
