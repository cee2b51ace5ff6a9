//! HTTP to registries under a [`NetworkPolicy`]: every host checked before connecting and every address it
//! resolves to checked after DNS, redirects followed only to the same host or allowlisted ones (at most
//! [`MAX_REDIRECTS`]), token realms over HTTPS with credentials only for the registry's own host or an allowlisted
//! realm, and every body read with a byte budget. Upstream bodies never reach an error message: a status code and
//! a classification only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::netpolicy::{NetworkPolicy, split_host};
use crate::{Credential, Error, ImageRef, PullOptions};

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

/// Resolves names with the system resolver and keeps only the addresses the policy allows.
struct PolicyResolver {
    policy: Arc<NetworkPolicy>,
    insecure: Arc<Vec<String>>,
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let insecure = self.insecure.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let explicit = policy.explicitly_allowed(&host, &insecure);
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut ok = Vec::new();
            let mut refused = None;
            for a in found {
                match policy.check_addr(&host, a.ip(), explicit) {
                    Ok(()) => ok.push(a),
                    Err(e) => refused = Some(e),
                }
            }
            if ok.is_empty() {
                let why = refused.unwrap_or_else(|| format!("`{host}` has no address"));
                return Err(why.into());
            }
            Ok(Box::new(ok.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// `host[:port]` of a URL, as registries are named.
pub(crate) fn authority(u: &Url) -> String {
    let host = u.host_str().unwrap_or_default();
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Builds the HTTP client: policy-checked DNS, policy-checked redirects, timeouts, extra CAs.
pub(crate) fn client(
    opts: &PullOptions,
    roots: Vec<reqwest::Certificate>,
) -> Result<reqwest::Client, Error> {
    let policy = Arc::new(opts.network.clone());
    let insecure = Arc::new(opts.insecure_registries.clone());
    let (rp, ri) = (policy.clone(), insecure.clone());
    let redirect = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let Some(first) = attempt.previous().first() else {
            return attempt.follow();
        };
        let to = attempt.url();
        let same_host = first.host_str() == to.host_str();
        let target = authority(to);
        if to.scheme() == "http"
            && first.scheme() == "https"
            && !crate::registry::plain_http_allowed(&target, &ri)
        {
            return attempt.error(format!(
                "redirect from HTTPS to plain HTTP at {target} refused"
            ));
        }
        if !same_host && !rp.explicitly_allowed(&target, &ri) {
            return attempt.error(format!(
                "redirect to another host ({target}) refused; add it to the registry allowlist to follow it"
            ));
        }
        match rp.check_host(&target, &ri) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e),
        }
    });
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .dns_resolver(Arc::new(PolicyResolver { policy, insecure }))
        .redirect(redirect)
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(opts.timeout.unwrap_or(Duration::from_secs(60)));
    for c in roots {
        b = b.add_root_certificate(c);
    }
    b.build()
        .map_err(|e| Error::Setup(format!("HTTP client: {}", crate::registry::chain(&e))))
}

/// Checks a URL's host against the policy before connecting (IP literals are never seen by the resolver).
pub(crate) fn check_url(opts: &PullOptions, u: &Url) -> Result<(), String> {
    opts.network
        .check_host(&authority(u), &opts.insecure_registries)
}

/// Reads a response body of at most `max` bytes; a longer one is refused before it is held in memory.
pub(crate) async fn read_limited(mut resp: reqwest::Response, max: u64) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(format!(
            "the answer announces {} bytes, more than the {max} allowed (limit max_document_bytes)",
            resp.content_length().unwrap_or_default()
        ));
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| crate::registry::chain(&e))? {
        if buf.len() as u64 + chunk.len() as u64 > max {
            return Err(format!(
                "the answer is larger than {max} bytes (limit max_document_bytes); refusing it"
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// How a registry's status code is reported: the code and a classification, never the body.
pub(crate) fn classify(status: u16) -> (String, bool) {
    match status {
        429 => ("HTTP 429 (rate limited)".into(), true),
        500..=599 => (format!("HTTP {status} (registry server error)"), true),
        300..=399 => (format!("HTTP {status} (redirect not followed)"), false),
        400..=499 => (format!("HTTP {status} (request refused)"), false),
        _ => (format!("HTTP {status} (unexpected answer)"), false),
    }
}

/// Decides whether the registry's credentials may go to a token realm: only over HTTPS (unless the registry itself
/// is an allowed plain-HTTP one), and only to the registry's own host, Docker Hub's issuer for Docker Hub, or a
/// realm in the registry allowlist. Returns the error for a realm that may not be contacted at all, and whether
/// credentials may be sent.
pub(crate) fn realm_policy(opts: &PullOptions, r: &ImageRef, realm: &Url) -> Result<bool, String> {
    let target = authority(realm);
    match realm.scheme() {
        "https" => {}
        "http" if crate::registry::plain_http_allowed(&r.registry, &opts.insecure_registries) => {}
        s => {
            return Err(format!(
                "token realm {target} uses `{s}`; a realm must use HTTPS unless the registry itself is an allowed insecure one"
            ));
        }
    }
    check_url(opts, realm).map_err(|e| format!("token realm: {e}"))?;
    let (realm_host, _) = split_host(&target);
    let (reg_host, _) = split_host(r.api_registry());
    let hub = matches!(
        reg_host.as_str(),
        "registry-1.docker.io" | "index.docker.io" | "docker.io"
    ) && realm_host == "auth.docker.io";
    Ok(realm_host == reg_host
        || hub
        || opts
            .network
            .explicitly_allowed(&target, &opts.insecure_registries))
}

/// The credential for `r`'s registry, if any.
pub(crate) fn credential<'a>(opts: &'a PullOptions, r: &ImageRef) -> Option<&'a Credential> {
    crate::auth::credential_for(&r.registry, &opts.credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn realms_get_credentials_only_when_safe() {
        let opts = PullOptions::default();
        let tls = ImageRef::parse("registry.example.com/app:1").unwrap();
        assert_eq!(
            realm_policy(&opts, &tls, &url("https://registry.example.com/token")),
            Ok(true)
        );
        assert_eq!(
            realm_policy(&opts, &tls, &url("https://auth.other.example/token")),
            Ok(false)
        );
        let e = realm_policy(&opts, &tls, &url("http://registry.example.com/token")).unwrap_err();
        assert!(e.contains("must use HTTPS"), "{e}");
        let e = realm_policy(&opts, &tls, &url("https://169.254.169.254/token")).unwrap_err();
        assert!(e.contains("link-local"), "{e}");
        let hub = ImageRef::parse("library/alpine").unwrap();
        assert_eq!(
            realm_policy(&opts, &hub, &url("https://auth.docker.io/token")),
            Ok(true)
        );
        let lo = ImageRef::parse("127.0.0.1:5000/app:1").unwrap();
        assert_eq!(
            realm_policy(&opts, &lo, &url("http://127.0.0.1:9999/token")),
            Ok(true)
        );
        assert_eq!(
            realm_policy(&opts, &lo, &url("http://127.0.0.2:9999/token")),
            Ok(false)
        );
        let allowed = PullOptions {
            network: NetworkPolicy {
                allow: vec!["auth.other.example".into(), "registry.example.com".into()],
                ..NetworkPolicy::default()
            },
            ..PullOptions::default()
        };
        assert_eq!(
            realm_policy(&allowed, &tls, &url("https://auth.other.example/token")),
            Ok(true)
        );
    }

    #[test]
    fn statuses_are_classified_without_bodies() {
        assert_eq!(
            classify(503),
            ("HTTP 503 (registry server error)".into(), true)
        );
        assert!(classify(429).1);
        assert_eq!(classify(418), ("HTTP 418 (request refused)".into(), false));
    }
}
