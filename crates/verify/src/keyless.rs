//! Keyless signatures: a Fulcio-style certificate (cosign annotations `dev.sigstore.cosign/certificate` and
//! `dev.sigstore.cosign/chain`) checked against a trust root given as a PEM file, and the signer's identity
//! (SAN e-mail or URI) and OIDC issuer (Fulcio extensions 1.3.6.1.4.1.57264.1.8, else .1.1) against
//! constraints given as exact strings or anchored regular expressions.
//!
//! The path to the root is built and checked by `rustls-webpki` (signatures, validity at the given time, CA
//! basic constraints, the code-signing extended key usage); the SAN and the Fulcio extensions are read with
//! `x509-cert`, because webpki does not expose them.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::{CertificateDer, UnixTime};
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::spki::ObjectIdentifier;

use crate::{Error, PublicKey};

/// Annotation holding the signing certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation holding the certificate chain (PEM, intermediates then root).
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";

/// Largest trust root file read.
const MAX_ROOT_FILE: u64 = 1 << 20;
/// Largest certificate or chain annotation used.
const MAX_CERT_PEM: usize = 64 << 10;
/// Most certificates taken from a chain annotation.
const MAX_CHAIN: usize = 8;

const SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Fulcio's OIDC issuer extension (raw string, deprecated).
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio's OIDC issuer extension (DER UTF8String).
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), DER value bytes.
static EKU_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// A constraint on a string: exact, or a regular expression anchored at both ends.
#[derive(Debug, Clone)]
pub enum Match {
    /// Equal to this string.
    Exact(String),
    /// Matches this expression over the whole string (compiled as `^(?:…)$`).
    Regex {
        /// The expression as given.
        source: String,
        /// The anchored expression.
        regex: regex::Regex,
    },
}

impl Match {
    /// An exact-string constraint.
    pub fn exact(s: &str) -> Match {
        Match::Exact(s.to_string())
    }

    /// An anchored regular expression; `what` names the option for the error.
    pub fn regex(what: &str, s: &str) -> Result<Match, Error> {
        let regex = regex::Regex::new(&format!("^(?:{s})$")).map_err(|e| Error::Config {
            reason: format!("{what} `{s}` is not a valid regular expression: {e}"),
        })?;
        Ok(Match::Regex {
            source: s.to_string(),
            regex,
        })
    }

    /// True when `s` satisfies the constraint.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            Match::Exact(e) => e == s,
            Match::Regex { regex, .. } => regex.is_match(s),
        }
    }
}

impl std::fmt::Display for Match {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Match::Exact(e) => write!(f, "`{e}`"),
            Match::Regex { source, .. } => write!(f, "regex `{source}`"),
        }
    }
}

/// CA certificates trusted as roots of signing certificates (a PEM bundle, e.g. Fulcio's root and
/// intermediate, or a private CA).
#[derive(Debug, Clone)]
pub struct TrustRoot {
    /// The file it was read from.
    pub path: PathBuf,
    certs: Vec<CertificateDer<'static>>,
}

impl TrustRoot {
    /// Reads a PEM bundle of `CERTIFICATE` blocks.
    pub fn from_pem_file(path: &Path) -> Result<TrustRoot, Error> {
        let bad = |reason: String| Error::TrustRoot {
            path: path.to_path_buf(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        if meta.len() > MAX_ROOT_FILE {
            return Err(bad(format!(
                "it is {} bytes; a trust root bundle is at most {MAX_ROOT_FILE}",
                meta.len()
            )));
        }
        let text = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        let certs = pem_certificates(&text).map_err(bad)?;
        if certs.is_empty() {
            return Err(bad(
                "it holds no `-----BEGIN CERTIFICATE-----` block; give the PEM CA bundle".into(),
            ));
        }
        for (i, c) in certs.iter().enumerate() {
            webpki::anchor_from_trusted_cert(c).map_err(|e| {
                bad(format!(
                    "certificate {} is not usable as a root: {e}",
                    i + 1
                ))
            })?;
        }
        Ok(TrustRoot {
            path: path.to_path_buf(),
            certs,
        })
    }
}

/// One accepted keyless signer: a trust root and the identity and issuer it must carry.
#[derive(Debug, Clone)]
pub struct Keyless {
    /// The roots the certificate must chain to.
    pub root: TrustRoot,
    /// Constraint on a SAN (e-mail or URI) of the certificate (`--certificate-identity[-regexp]`).
    pub identity: Match,
    /// Constraint on the OIDC issuer extension (`--certificate-oidc-issuer[-regexp]`).
    pub issuer: Match,
}

/// Who a certificate names as signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertIdentity {
    /// The SAN e-mail addresses and URIs.
    pub identities: Vec<String>,
    /// The OIDC issuer (Fulcio extension), when present.
    pub issuer: Option<String>,
}

impl std::fmt::Display for CertIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids = if self.identities.is_empty() {
            "(no e-mail or URI SAN)".to_string()
        } else {
            self.identities.join(", ")
        };
        write!(
            f,
            "{ids} (issuer {})",
            self.issuer.as_deref().unwrap_or("none")
        )
    }
}

/// A parsed signing certificate: identity, key, DER.
pub(crate) struct Leaf {
    pub identity: CertIdentity,
    pub key: PublicKey,
    der: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
}

/// Parses the certificate and chain annotations.
pub(crate) fn leaf(cert_pem: &str, chain_pem: Option<&str>) -> Result<Leaf, String> {
    if cert_pem.len() > MAX_CERT_PEM || chain_pem.is_some_and(|c| c.len() > MAX_CERT_PEM) {
        return Err(format!(
            "certificate annotation larger than {MAX_CERT_PEM} bytes"
        ));
    }
    let mut certs = pem_certificates(cert_pem.as_bytes())
        .map_err(|e| format!("`{CERTIFICATE_ANNOTATION}` annotation: {e}"))?;
    if certs.len() != 1 {
        return Err(format!(
            "`{CERTIFICATE_ANNOTATION}` annotation holds {} certificates, expected 1",
            certs.len()
        ));
    }
    let der = certs.remove(0);
    let mut chain = match chain_pem {
        Some(c) => pem_certificates(c.as_bytes())
            .map_err(|e| format!("`{CHAIN_ANNOTATION}` annotation: {e}"))?,
        None => Vec::new(),
    };
    chain.truncate(MAX_CHAIN);
    let cert = x509_cert::Certificate::from_der(&der)
        .map_err(|e| format!("signing certificate is not X.509 DER: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let spki = tbs
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("signing certificate key: {e}"))?;
    let key = PublicKey::from_spki_der(Path::new("certificate"), &spki)
        .map_err(|e| format!("signing certificate key: {e}"))?;
    let mut identity = CertIdentity {
        identities: Vec::new(),
        issuer: None,
    };
    let mut issuer_v1 = None;
    let mut code_signing = false;
    for ext in tbs.extensions.iter().flatten() {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == EKU {
            let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(value)
                .map_err(|e| format!("signing certificate EKU is malformed: {e}"))?;
            code_signing = eku.0.contains(&CODE_SIGNING);
        } else if ext.extn_id == SAN {
            let san = SubjectAltName::from_der(value)
                .map_err(|e| format!("signing certificate SAN is malformed: {e}"))?;
            for name in san.0 {
                match name {
                    GeneralName::Rfc822Name(s) => identity.identities.push(s.to_string()),
                    GeneralName::UniformResourceIdentifier(s) => {
                        identity.identities.push(s.to_string())
                    }
                    _ => {}
                }
            }
        } else if ext.extn_id == ISSUER_V2 {
            let s = Utf8StringRef::from_der(value)
                .map_err(|e| format!("Fulcio issuer extension {ISSUER_V2} is malformed: {e}"))?;
            identity.issuer = Some(s.as_str().to_string());
        } else if ext.extn_id == ISSUER_V1 {
            issuer_v1 = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    if identity.issuer.is_none() {
        identity.issuer = issuer_v1;
    }
    if !code_signing {
        return Err(format!(
            "signing certificate {identity} is not for code signing (extended key usage {CODE_SIGNING} missing)"
        ));
    }
    Ok(Leaf {
        identity,
        key,
        der,
        chain,
    })
}

impl Leaf {
    /// Checks the path to one of the `keyless` roots at `at` and the identity constraints; returns the root
    /// file of the first signer that accepts it, or every reason it was refused.
    pub fn accepted_by<'k>(
        &self,
        keyless: &'k [Keyless],
        at: SystemTime,
        when: &str,
    ) -> Result<&'k Keyless, String> {
        let ee = webpki::EndEntityCert::try_from(&self.der)
            .map_err(|e| format!("signing certificate cannot be parsed: {e}"))?;
        let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let time = UnixTime::since_unix_epoch(Duration::from_secs(secs));
        let mut reasons = Vec::new();
        for k in keyless {
            let anchors = k
                .root
                .certs
                .iter()
                .filter_map(|c| webpki::anchor_from_trusted_cert(c).ok())
                .collect::<Vec<_>>();
            let path = ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                &self.chain,
                time,
                // CAs without the extension are unrestricted (as in Go's crypto/x509, which cosign uses);
                // the leaf itself must list code signing, checked in `leaf`.
                webpki::KeyUsage::required_if_present(EKU_CODE_SIGNING),
                None,
                None,
            );
            if let Err(e) = path {
                reasons.push(format!(
                    "certificate {} (trust root {})",
                    chain_error(&e, secs, when),
                    k.root.path.display()
                ));
                continue;
            }
            if !self
                .identity
                .identities
                .iter()
                .any(|i| k.identity.matches(i))
            {
                reasons.push(format!(
                    "certificate identity {} does not match {} (trust root {})",
                    if self.identity.identities.is_empty() {
                        "(none)".to_string()
                    } else {
                        self.identity.identities.join(", ")
                    },
                    k.identity,
                    k.root.path.display()
                ));
                continue;
            }
            match &self.identity.issuer {
                Some(i) if k.issuer.matches(i) => return Ok(k),
                Some(i) => reasons.push(format!(
                    "certificate OIDC issuer `{i}` does not match {} (trust root {})",
                    k.issuer,
                    k.root.path.display()
                )),
                None => reasons.push(format!(
                    "certificate has no OIDC issuer extension ({ISSUER_V2} or {ISSUER_V1}); {} required",
                    k.issuer
                )),
            }
        }
        Err(reasons.join("; "))
    }
}

fn chain_error(e: &webpki::Error, at: u64, when: &str) -> String {
    match e {
        webpki::Error::CertExpired { not_after, .. } => format!(
            "expired: not valid after {} (checked at {}, {when})",
            rfc3339(not_after.as_secs()),
            rfc3339(at)
        ),
        webpki::Error::CertNotValidYet { not_before, .. } => format!(
            "not yet valid: not before {} (checked at {}, {when})",
            rfc3339(not_before.as_secs()),
            rfc3339(at)
        ),
        webpki::Error::UnknownIssuer => {
            "does not chain to the trust root (issued by a CA not in the bundle, or chain annotation incomplete)"
                .to_string()
        }
        webpki::Error::RequiredEkuNotFoundContext(_) => {
            "is not for code signing (extended key usage 1.3.6.1.5.5.7.3.3 missing)".to_string()
        }
        webpki::Error::CaUsedAsEndEntity => "is a CA certificate, not a signing certificate".into(),
        other => format!("chain is invalid: {other}"),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds (civil-from-days, proleptic Gregorian).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The DER of every `CERTIFICATE` block of a PEM text.
fn pem_certificates(text: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = std::str::from_utf8(text).map_err(|_| "not PEM text (not UTF-8)".to_string())?;
    let mut out = Vec::new();
    let mut rest = text;
    const BEGIN: &str = "-----BEGIN ";
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let end_marker = "-----END ";
        let Some(end) = block.find(end_marker) else {
            return Err("PEM block without an END line".into());
        };
        let after = &block[end + end_marker.len()..];
        let close = after.find("-----").ok_or("PEM END line not closed")? + 5;
        let len = end + end_marker.len() + close;
        let (label, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..len])
            .map_err(|e| format!("malformed PEM block: {e}"))?;
        if label == "CERTIFICATE" {
            out.push(CertificateDer::from(der));
        }
        rest = &block[len..];
    }
    Ok(out)
}
