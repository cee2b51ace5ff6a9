//! A test CA hierarchy issuing Fulcio-style signing certificates (root → intermediate → leaf with the code-signing
//! EKU, a SAN e-mail or URI and the Fulcio OIDC issuer extensions), made with rcgen; the leaf key is imported into
//! cosign's key format with the real `cosign import-key-pair`, so that `cosign sign --key … --certificate …` can
//! use it.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, date_time_ymd,
};

/// A CA: its certificate and key.
pub struct Ca {
    /// The certificate.
    pub cert: rcgen::Certificate,
    /// Its key.
    pub key: KeyPair,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(2015, 1, 1);
    p.not_after = date_time_ymd(2099, 1, 1);
    p
}

/// A self-signed root.
pub fn root(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let cert = ca_params(name).self_signed(&key).unwrap();
    Ca { cert, key }
}

/// An intermediate CA issued by `parent`.
pub fn intermediate(name: &str, parent: &Ca) -> Ca {
    let key = KeyPair::generate().unwrap();
    let cert = ca_params(name)
        .signed_by(&key, &parent.cert, &parent.key)
        .unwrap();
    Ca { cert, key }
}

/// What a leaf certificate says.
pub struct LeafSpec<'a> {
    /// SAN: an e-mail when it contains `@` and no `:`, else a URI.
    pub identity: &'a str,
    /// OIDC issuer (Fulcio extensions .1.1 and .1.8).
    pub issuer: &'a str,
    /// Validity (year, month, day) from and to.
    pub valid: ((i32, u8, u8), (i32, u8, u8)),
}

/// A leaf issued by `ca` per `spec`, written to `dir` as `leaf.crt` with a cosign key pair `leaf.key` /
/// `leaf.pub` (imported with `cosign import-key-pair`) and `chain.pem` (the intermediate(s) then the root).
pub fn leaf(dir: &Path, spec: &LeafSpec<'_>, ca: &Ca, chain: &[&Ca]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    let san = if spec.identity.contains('@') && !spec.identity.contains(':') {
        SanType::Rfc822Name(spec.identity.try_into().unwrap())
    } else {
        SanType::URI(spec.identity.try_into().unwrap())
    };
    p.subject_alt_names = vec![san];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    // Fulcio: 1.3.6.1.4.1.57264.1.1 holds the issuer as raw bytes, .1.8 as a DER UTF8String.
    p.custom_extensions = vec![
        CustomExtension::from_oid_content(
            &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
            spec.issuer.as_bytes().to_vec(),
        ),
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, 8], {
            let mut v = vec![0x0c, spec.issuer.len() as u8];
            v.extend_from_slice(spec.issuer.as_bytes());
            v
        }),
    ];
    let ((y0, m0, d0), (y1, m1, d1)) = spec.valid;
    p.not_before = date_time_ymd(y0, m0, d0);
    p.not_after = date_time_ymd(y1, m1, d1);
    let cert = p.signed_by(&key, &ca.cert, &ca.key).unwrap();
    std::fs::write(dir.join("leaf.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("leaf-pkcs8.pem"), key.serialize_pem()).unwrap();
    let chain_pem: String = chain.iter().map(|c| c.cert.pem()).collect();
    std::fs::write(dir.join("chain.pem"), chain_pem).unwrap();
    super::run_cosign(
        dir,
        &[
            "import-key-pair",
            "--key",
            "leaf-pkcs8.pem",
            "--output-key-prefix",
            "leaf",
        ],
    );
    dir.to_path_buf()
}

/// Writes the PEM of `cas` to `path` (a trust root bundle).
pub fn bundle(path: &Path, cas: &[&Ca]) {
    let pem: String = cas.iter().map(|c| c.cert.pem()).collect();
    std::fs::write(path, pem).unwrap();
}

/// Signs `image` with the leaf in `dir` (`leaf.key`, `leaf.crt`, `chain.pem`), without a transparency log.
pub fn sign_with_certificate(dir: &Path, image: &str) {
    super::run_cosign(
        dir,
        &[
            "sign",
            "--key",
            "leaf.key",
            "--certificate",
            "leaf.crt",
            "--certificate-chain",
            "chain.pem",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            image,
        ],
    );
}
