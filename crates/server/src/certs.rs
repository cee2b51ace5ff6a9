//! A CA and a serving certificate for the webhook Service (`portcullis certs`), for clusters without
//! cert-manager.

use chrono::{Datelike, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// PEM texts of a generated CA and serving certificate.
#[derive(Debug, Clone)]
pub struct CertBundle {
    /// CA certificate (the webhook configuration's `caBundle`).
    pub ca_cert_pem: String,
    /// CA private key (keep it to re-issue; not needed by the server).
    pub ca_key_pem: String,
    /// Serving certificate.
    pub cert_pem: String,
    /// Serving private key.
    pub key_pem: String,
    /// The subject alternative names of the serving certificate.
    pub sans: Vec<String>,
}

/// Certificate generation failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot generate certificates: {0}")]
pub struct CertError(String);

/// The DNS names the API server uses for Service `service` in `namespace`.
pub fn service_sans(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// (year, month, day).
type Ymd = (i32, u8, u8);

/// Today and today + `days`.
fn validity(days: u32) -> (Ymd, Ymd) {
    let now = Utc::now();
    let end = now + chrono::Duration::days(i64::from(days));
    (
        (now.year(), now.month() as u8, now.day() as u8),
        (end.year(), end.month() as u8, end.day() as u8),
    )
}

/// Generates a CA (valid `days` + 1 year) and a serving certificate for the Service's DNS names plus `extra_sans`
/// (DNS names or IP addresses), valid `days`.
pub fn generate(
    service: &str,
    namespace: &str,
    extra_sans: &[String],
    days: u32,
) -> Result<CertBundle, CertError> {
    let e = |x: rcgen::Error| CertError(x.to_string());
    let (start, end) = validity(days);
    let (_, ca_end) = validity(days.saturating_add(365));

    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("portcullis-ca {namespace}/{service}"),
    );
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = rcgen::date_time_ymd(start.0, start.1, start.2);
    ca.not_after = rcgen::date_time_ymd(ca_end.0, ca_end.1, ca_end.2);
    let ca_cert = ca.self_signed(&ca_key).map_err(e)?;

    let mut sans = service_sans(service, namespace);
    sans.extend(extra_sans.iter().cloned());
    let key = KeyPair::generate().map_err(e)?;
    let mut leaf = CertificateParams::new(sans.clone()).map_err(e)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("{service}.{namespace}.svc"));
    leaf.distinguished_name = dn;
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = rcgen::date_time_ymd(start.0, start.1, start.2);
    leaf.not_after = rcgen::date_time_ymd(end.0, end.1, end.2);
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).map_err(e)?;
    Ok(CertBundle {
        ca_cert_pem: ca_cert.pem(),
        ca_key_pem: ca_key.serialize_pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        sans,
    })
}
