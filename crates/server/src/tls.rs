//! The serving certificate, reloaded when its files change (Kubernetes Secret volumes, cert-manager renewals)
//! without dropping the listener.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::ServerError;

/// Loads a PEM certificate chain and private key into a rustls `CertifiedKey`.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, ServerError> {
    let tls = |reason: String| ServerError::Tls {
        cert: cert.display().to_string(),
        key: key.display().to_string(),
        reason,
    };
    let cert_pem = std::fs::read(cert).map_err(|e| tls(format!("cannot read certificate: {e}")))?;
    let key_pem = std::fs::read(key).map_err(|e| tls(format!("cannot read private key: {e}")))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| tls(format!("certificate file is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls("certificate file holds no CERTIFICATE block".into()));
    }
    let key_der = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| tls(format!("private key file is not PEM: {e}")))?
        .ok_or_else(|| tls("private key file holds no PRIVATE KEY block".into()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|e| tls(format!("unsupported private key: {e}")))?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|e| {
        tls(format!(
            "certificate and private key do not belong together: {e}"
        ))
    })?;
    Ok(ck)
}

/// Modification time and size of a file, to notice replacements.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// A certificate resolver whose key pair can be swapped at run time.
#[derive(Debug)]
pub struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    stamps: RwLock<(Stamp, Stamp)>,
}

impl ReloadingCert {
    /// Loads the pair once; fails when it cannot be used.
    pub fn new(cert: PathBuf, key: PathBuf) -> Result<Self, ServerError> {
        let ck = load_certified_key(&cert, &key)?;
        let stamps = (stamp(&cert), stamp(&key));
        Ok(ReloadingCert {
            cert,
            key,
            current: RwLock::new(Arc::new(ck)),
            stamps: RwLock::new(stamps),
        })
    }

    /// Reloads when either file changed. `Ok(true)` when a new pair is in use; on error the old pair stays.
    pub fn reload_if_changed(&self) -> Result<bool, ServerError> {
        let now = (stamp(&self.cert), stamp(&self.key));
        if self.stamps.read().map(|s| *s == now).unwrap_or(false) {
            return Ok(false);
        }
        // Remember the files as seen even when they are unusable: a broken pair is reported once, and retried
        // when either file changes again (e.g. the second half of a two-file update).
        if let Ok(mut s) = self.stamps.write() {
            *s = now;
        }
        let ck = load_certified_key(&self.cert, &self.key)?;
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(ck);
        }
        Ok(true)
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// A rustls server configuration (HTTP/1.1 and HTTP/2 via ALPN) using `resolver`, asking for no client
/// certificate.
pub fn server_config(resolver: Arc<ReloadingCert>) -> Result<rustls::ServerConfig, ServerError> {
    server_config_with_client_ca(resolver, None)
}

/// As [`server_config`], and with `client_ca` (a PEM file of CA certificates) clients may present a certificate
/// that CA signed. Presenting none is still allowed at the TLS level (probes, the REST API); which routes
/// require one is decided per request from [`crate::Caller`]. A presented certificate the CA did not sign fails
/// the handshake.
pub fn server_config_with_client_ca(
    resolver: Arc<ReloadingCert>,
    client_ca: Option<&Path>,
) -> Result<rustls::ServerConfig, ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls {
            cert: resolver.cert.display().to_string(),
            key: resolver.key.display().to_string(),
            reason: e.to_string(),
        })?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let bad = |reason: String| ServerError::ClientCa {
                path: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
            let mut roots = rustls::RootCertStore::empty();
            for c in rustls_pemfile::certs(&mut pem.as_slice()) {
                let c = c.map_err(|e| bad(format!("not PEM: {e}")))?;
                roots
                    .add(c)
                    .map_err(|e| bad(format!("not a usable CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(bad("it holds no CERTIFICATE block".into()));
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .allow_unauthenticated()
            .build()
            .map_err(|e| bad(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut cfg = builder.with_cert_resolver(resolver);
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}
