//! Public keys (PEM `PUBLIC KEY`, i.e. SubjectPublicKeyInfo) and signature checks with `ring`.
//!
//! The hash choices follow cosign's key-based signing: ECDSA over SHA-256 for P-256, SHA-384 (its default for
//! the curve) or SHA-256 for P-384, pure Ed25519 over the payload, RSA PKCS#1 v1.5 with SHA-256.

use std::path::{Path, PathBuf};

use ring::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use spki::der::Decode;
use spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};

use crate::Error;

/// Largest key file read.
const MAX_KEY_FILE: u64 = 64 << 10;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The kind of a public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA (PKCS#1 v1.5 signatures, 2048 to 8192 bits).
    Rsa,
}

/// A public key loaded from a PEM file.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Where it came from (shown as "who signed").
    pub path: PathBuf,
    /// Its kind.
    pub kind: KeyKind,
    raw: Vec<u8>,
    spki: Vec<u8>,
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` file (as `cosign generate-key-pair` writes `cosign.pub`).
    pub fn from_pem_file(path: &Path) -> Result<PublicKey, Error> {
        let bad = |reason: String| Error::Key {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        if meta.len() > MAX_KEY_FILE {
            return Err(bad(format!(
                "it is {} bytes; a public key file is at most {MAX_KEY_FILE}",
                meta.len()
            )));
        }
        let text = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        Self::from_pem(path, &text).map_err(bad)
    }

    /// Parses PEM text; the error says what is wrong.
    pub fn from_pem(path: &Path, pem: &[u8]) -> Result<PublicKey, String> {
        let (label, der) = pem_rfc7468::decode_vec(pem).map_err(|e| {
            format!("not a PEM file ({e}); give the public key (`-----BEGIN PUBLIC KEY-----`, e.g. cosign.pub)")
        })?;
        if label != "PUBLIC KEY" {
            return Err(format!(
                "PEM label is `{label}`, expected `PUBLIC KEY` (give the public half, e.g. cosign.pub, not a private key)"
            ));
        }
        Self::from_spki_der(path, &der)
    }

    /// Reads a DER SubjectPublicKeyInfo (as in a certificate); `path` names where it came from.
    pub fn from_spki_der(path: &Path, der: &[u8]) -> Result<PublicKey, String> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
        let raw = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the public key bit string has unused bits")?
            .to_vec();
        let oid = spki.algorithm.oid;
        let kind = if oid == EC_PUBLIC_KEY {
            match spki.algorithm.parameters_oid() {
                Ok(c) if c == P256 => KeyKind::EcdsaP256,
                Ok(c) if c == P384 => KeyKind::EcdsaP384,
                Ok(c) => {
                    return Err(format!(
                        "unsupported elliptic curve {c} (P-256 and P-384 are supported)"
                    ));
                }
                Err(e) => return Err(format!("EC key without a named curve: {e}")),
            }
        } else if oid == ED25519 {
            KeyKind::Ed25519
        } else if oid == RSA {
            KeyKind::Rsa
        } else {
            return Err(format!(
                "unsupported key algorithm {oid} (ECDSA P-256/P-384, Ed25519 and RSA are supported)"
            ));
        };
        Ok(PublicKey {
            path: path.to_path_buf(),
            kind,
            raw,
            spki: der.to_vec(),
        })
    }

    /// The DER SubjectPublicKeyInfo (a Rekor log's id is its SHA-256).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// True when `signature` is this key's signature of `payload`.
    pub fn verifies(&self, payload: &[u8], signature: &[u8]) -> bool {
        let algs: &[&'static dyn VerificationAlgorithm] = match self.kind {
            KeyKind::EcdsaP256 => &[&sig::ECDSA_P256_SHA256_ASN1],
            KeyKind::EcdsaP384 => &[&sig::ECDSA_P384_SHA384_ASN1, &sig::ECDSA_P384_SHA256_ASN1],
            KeyKind::Ed25519 => &[&sig::ED25519],
            KeyKind::Rsa => &[&sig::RSA_PKCS1_2048_8192_SHA256],
        };
        algs.iter().any(|a| {
            UnparsedPublicKey::new(*a, &self.raw)
                .verify(payload, signature)
                .is_ok()
        })
    }
}
