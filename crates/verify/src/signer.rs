//! Who signed: the checks shared by signatures and attestations — a public key, or a keyless certificate
//! (chain, identity, issuer) checked at the Rekor integrated time when a verified bundle gives one, else now.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::keyless::{self, CertIdentity, Keyless};
use crate::rekor::{self, TlogEntry};
use crate::{Error, PublicKey};

/// What a verification accepts: public keys, keyless signers, Rekor keys and whether a verified Rekor bundle is
/// required.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Accepted public keys (`--key`).
    pub keys: Vec<PublicKey>,
    /// Accepted keyless signers (`--trust-root` with `--certificate-identity[-regexp]` and
    /// `--certificate-oidc-issuer[-regexp]`).
    pub keyless: Vec<Keyless>,
    /// Rekor public keys whose signed entry timestamps are trusted (`--rekor-public-key`).
    pub rekor_keys: Vec<PublicKey>,
    /// Refuse a signature without a Rekor bundle verified by one of `rekor_keys` (`--require-tlog`).
    pub require_tlog: bool,
}

impl Trust {
    /// Only public keys, no transparency log (what [`crate::verify`] takes).
    pub fn keys(keys: &[PublicKey]) -> Trust {
        Trust {
            keys: keys.to_vec(),
            ..Trust::default()
        }
    }

    /// Checks the trust can accept anything.
    pub fn validate(&self) -> Result<(), Error> {
        if self.keys.is_empty() && self.keyless.is_empty() {
            return Err(Error::NoKeys);
        }
        if self.require_tlog && self.rekor_keys.is_empty() {
            return Err(Error::Config {
                reason: "a Rekor bundle is required (--require-tlog) but no Rekor public key was given: pass --rekor-public-key FILE".into(),
            });
        }
        Ok(())
    }
}

/// Who signed a verified signature or attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A public key, named by its file.
    Key {
        /// The key file.
        path: String,
    },
    /// A certificate chained to a trust root, with its identity and issuer.
    Certificate {
        /// The certificate's SAN identities and OIDC issuer.
        identity: CertIdentity,
        /// The trust root file it chains to.
        root: String,
    },
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signer::Key { path } => write!(f, "{path}"),
            Signer::Certificate { identity, root } => {
                write!(f, "certificate {identity}, chained to {root}")
            }
        }
    }
}

/// The signer of one signature, with its verified log entry and a note (e.g. a bundle not checked).
pub(crate) struct Accepted {
    pub signer: Signer,
    pub tlog: Option<TlogEntry>,
    pub note: Option<String>,
}

/// Checks that `signature` over `signed` was made by a signer `trust` accepts; `tlog_payload` is what a Rekor
/// entry must record the hash of.
pub(crate) fn check(
    trust: &Trust,
    annotations: &BTreeMap<String, String>,
    signed: &[u8],
    signature: &[u8],
    tlog_payload: &[u8],
) -> Result<Accepted, String> {
    enum By<'a> {
        Key(&'a PublicKey),
        Cert(keyless::Leaf),
    }
    let cert = annotations.get(keyless::CERTIFICATE_ANNOTATION);
    let by = if let Some(k) = trust.keys.iter().find(|k| k.verifies(signed, signature)) {
        By::Key(k)
    } else if let (Some(pem), false) = (cert, trust.keyless.is_empty()) {
        let leaf = keyless::leaf(
            pem,
            annotations
                .get(keyless::CHAIN_ANNOTATION)
                .map(String::as_str),
        )?;
        if !leaf.key.verifies(signed, signature) {
            return Err(format!(
                "signature does not verify with the key of its certificate {} (payload changed after signing, or certificate swapped)",
                leaf.identity
            ));
        }
        By::Cert(leaf)
    } else {
        let mut why = format!(
            "signature does not verify with any of the {} key(s) given (signed by another key, or payload changed after signing)",
            trust.keys.len()
        );
        if cert.is_some() {
            why.push_str("; it carries a certificate, but no keyless signer (--trust-root with --certificate-identity and --certificate-oidc-issuer) was given");
        } else if !trust.keyless.is_empty() {
            why.push_str(&format!(
                "; it carries no `{}` annotation for the keyless signers",
                keyless::CERTIFICATE_ANNOTATION
            ));
        }
        return Err(why);
    };
    let mut note = None;
    let tlog = match annotations.get(rekor::BUNDLE_ANNOTATION) {
        Some(b) if !trust.rekor_keys.is_empty() => Some(rekor::verify_bundle(
            b,
            &trust.rekor_keys,
            &rekor::Expected {
                payload: tlog_payload,
                signature,
            },
        )?),
        Some(_) => {
            note =
                Some("Rekor bundle present but not checked (no --rekor-public-key given)".into());
            None
        }
        None => None,
    };
    if trust.require_tlog && tlog.is_none() {
        return Err(format!(
            "no Rekor bundle (`{}` annotation) and one is required (--require-tlog)",
            rekor::BUNDLE_ANNOTATION
        ));
    }
    let signer = match by {
        By::Key(k) => Signer::Key {
            path: k.path.display().to_string(),
        },
        By::Cert(leaf) => {
            let (at, when) = match &tlog {
                Some(t) => (
                    UNIX_EPOCH + Duration::from_secs(t.integrated_time.max(0) as u64),
                    "the Rekor integrated time",
                ),
                None => (
                    SystemTime::now(),
                    "now, as no verified Rekor bundle gives the signing time",
                ),
            };
            let k = leaf
                .accepted_by(&trust.keyless, at, when)
                .map_err(|e| match &note {
                    Some(n) => format!("{e}; {n}"),
                    None => e,
                })?;
            Signer::Certificate {
                identity: leaf.identity.clone(),
                root: k.root.path.display().to_string(),
            }
        }
    };
    Ok(Accepted { signer, tlog, note })
}
