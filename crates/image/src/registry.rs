//! Registry client: OCI distribution v2 through `oci-client` (auth flows, manifests, verified blob downloads),
//! plus what it leaves to the caller: choosing HTTPS or plain HTTP per registry as Docker does, retries with
//! backoff, precise errors, and a content-addressed blob cache on disk.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oci_client::Reference;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;

use crate::archive::MAX_DOC;
use crate::manifest::{self, Parsed};
use crate::squash::{HashReader, Limits, Squasher};
use crate::{Error, Image, ImageRef, PullOptions, Wanted};

/// Counters of what a [`Client`] fetched (for tests and metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullStats {
    /// Layer blobs downloaded from a registry.
    pub blobs_downloaded: u64,
    /// Layer blobs found in the blob cache.
    pub blobs_from_cache: u64,
    /// Bytes of layer blobs downloaded.
    pub bytes_downloaded: u64,
}

/// A registry client for one set of [`PullOptions`]; reuse it so auth tokens and scheme decisions are shared.
pub struct Client {
    https: oci_client::Client,
    http: oci_client::Client,
    probe: reqwest::Client,
    opts: PullOptions,
    schemes: Mutex<HashMap<String, bool>>,
    downloaded: AtomicU64,
    cached: AtomicU64,
    bytes: AtomicU64,
}

/// True when `registry` (`host[:port]`) may be spoken to over plain HTTP: it is listed as insecure, or it is a
/// loopback address (`localhost`, `127.0.0.0/8`, `::1`), as Docker allows.
pub fn plain_http_allowed(registry: &str, insecure: &[String]) -> bool {
    if insecure.iter().any(|i| i.eq_ignore_ascii_case(registry)) {
        return true;
    }
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(registry)
    };
    if insecure.iter().any(|i| i.eq_ignore_ascii_case(host)) {
        return true;
    }
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The error and its sources, joined (reqwest's own message hides the cause).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

impl Client {
    /// Builds a client: reads the extra CA certificates and sets timeouts.
    pub fn new(opts: &PullOptions) -> Result<Client, Error> {
        let mut certs = Vec::new();
        let mut probe = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(Duration::from_secs(10))
            .timeout(opts.timeout.unwrap_or(Duration::from_secs(30)));
        for p in &opts.ca_certs {
            let pem =
                std::fs::read(p).map_err(|e| Error::io("cannot read CA certificate", p, e))?;
            let parsed = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Setup(format!("CA file {} is not PEM: {e}", p.display())))?;
            if parsed.is_empty() {
                return Err(Error::Setup(format!(
                    "CA file {} holds no PEM certificate",
                    p.display()
                )));
            }
            for c in parsed {
                probe = probe.add_root_certificate(c);
            }
            certs.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem,
            });
        }
        let probe = probe
            .build()
            .map_err(|e| Error::Setup(format!("HTTP client: {}", chain(&e))))?;
        let config = |protocol| ClientConfig {
            protocol,
            extra_root_certificates: certs.clone(),
            read_timeout: Some(opts.timeout.unwrap_or(Duration::from_secs(60))),
            connect_timeout: Some(Duration::from_secs(10)),
            max_concurrent_download: 4,
            ..ClientConfig::default()
        };
        Ok(Client {
            https: oci_client::Client::new(config(ClientProtocol::Https)),
            http: oci_client::Client::new(config(ClientProtocol::Http)),
            probe,
            opts: opts.clone(),
            schemes: Mutex::new(HashMap::new()),
            downloaded: AtomicU64::new(0),
            cached: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        })
    }

    /// What this client fetched so far.
    pub fn stats(&self) -> PullStats {
        PullStats {
            blobs_downloaded: self.downloaded.load(Ordering::Relaxed),
            blobs_from_cache: self.cached.load(Ordering::Relaxed),
            bytes_downloaded: self.bytes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn auth_for(&self, r: &ImageRef) -> RegistryAuth {
        match crate::auth::credential_for(&r.registry, &self.opts.credentials) {
            Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
            None => RegistryAuth::Anonymous,
        }
    }

    /// Runs `f` with retries and exponential backoff (200 ms, 400 ms, …) on transient failures.
    pub(crate) async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, (Error, bool)>>,
    {
        let mut attempt = 0;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err((e, transient)) if transient && attempt < self.opts.retries => {
                    let wait = Duration::from_millis(200 << attempt.min(6));
                    tracing::debug!(error = %e, attempt, ?wait, "transient registry failure, retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// Decides, once per registry, between HTTPS and (where allowed) plain HTTP.
    pub(crate) async fn client_for(&self, r: &ImageRef) -> Result<&oci_client::Client, Error> {
        let host = r.api_registry().to_string();
        if let Some(&http) = self
            .schemes
            .lock()
            .ok()
            .and_then(|m| m.get(&host).copied())
            .as_ref()
        {
            return Ok(if http { &self.http } else { &self.https });
        }
        let unreachable = |reason: String| Error::Unreachable {
            image: r.to_string(),
            registry: r.registry.clone(),
            reason,
        };
        // A distribution v2 endpoint answers `/v2/` with 200 or 401 (403 behind some proxies); anything else
        // (e.g. Go's 400 "Client sent an HTTP request to an HTTPS server") means this scheme is wrong.
        let try_get = |url: String| async move {
            match self.probe.get(&url).send().await {
                Ok(resp) if matches!(resp.status().as_u16(), 200 | 401 | 403) => Ok(()),
                Ok(resp) => {
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    Err((
                        format!(
                            "{url} answered {status}: {}",
                            body.trim().chars().take(200).collect::<String>()
                        ),
                        status.is_server_error(),
                    ))
                }
                Err(e) => Err((chain(&e), e.is_timeout() || e.is_connect())),
            }
        };
        let https = self
            .retry(|| async {
                try_get(format!("https://{host}/v2/"))
                    .await
                    .map_err(|(m, t)| {
                        (
                            unreachable(m),
                            t && !plain_http_allowed(&r.registry, &self.opts.insecure_registries),
                        )
                    })
            })
            .await;
        let http = match https {
            Ok(()) => false,
            Err(e) if plain_http_allowed(&r.registry, &self.opts.insecure_registries) => {
                let https_err = match e {
                    Error::Unreachable { reason, .. } => reason,
                    other => other.to_string(),
                };
                self.retry(|| async {
                    try_get(format!("http://{host}/v2/"))
                        .await
                        .map_err(|(m, t)| {
                            (
                                unreachable(format!(
                                    "over HTTPS: {https_err}; over plain HTTP: {m}"
                                )),
                                t,
                            )
                        })
                })
                .await?;
                true
            }
            Err(Error::Unreachable { reason, .. }) => {
                return Err(unreachable(format!(
                    "{reason} (if it serves plain HTTP, mark it insecure; if it uses a private CA, pass the CA certificate)"
                )));
            }
            Err(e) => return Err(e),
        };
        if let Ok(mut m) = self.schemes.lock() {
            m.insert(host, http);
        }
        Ok(if http { &self.http } else { &self.https })
    }

    /// Turns an `oci-client` error into ours, and says whether retrying may help.
    pub(crate) fn map(&self, r: &ImageRef, what: &str, e: OciDistributionError) -> (Error, bool) {
        let auth = |status: u16| {
            let cred = crate::auth::credential_for(&r.registry, &self.opts.credentials);
            let hint = match (status, cred) {
                (401, None) => "authentication required; give credentials (docker config.json, pull secret or --creds)".to_string(),
                (401, Some(_)) => "the credentials were rejected; check username and password for this registry".to_string(),
                (_, cred) => denied_hint(r, cred.map(|c| c.username.as_str())),
            };
            Error::Auth {
                image: r.to_string(),
                registry: r.registry.clone(),
                status,
                hint,
            }
        };
        let not_found = || Error::NotFound {
            image: r.to_string(),
            registry: r.registry.clone(),
            what: what.to_string(),
        };
        let other = |reason: String| Error::Registry {
            image: r.to_string(),
            registry: r.registry.clone(),
            reason: format!("{what}: {reason}"),
        };
        match e {
            OciDistributionError::UnauthorizedError { .. } => (auth(401), false),
            // The token endpoint's status is not kept by `oci-client`; `explain_401` asks the issuer again.
            OciDistributionError::AuthenticationFailure(_) => (auth(401), false),
            OciDistributionError::ImageManifestNotFoundError(_) => (not_found(), false),
            OciDistributionError::RegistryError { envelope, .. } => {
                match envelope.errors.first().map(|e| &e.code) {
                    Some(OciErrorCode::Unauthorized) => (auth(401), false),
                    Some(OciErrorCode::Denied) => (auth(403), false),
                    Some(
                        OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound,
                    ) => (not_found(), false),
                    Some(OciErrorCode::Toomanyrequests) => {
                        (other("too many requests (rate limited)".into()), true)
                    }
                    _ => (other(format!("{envelope:?}")), false),
                }
            }
            OciDistributionError::ServerError { code, message, .. } => match code {
                401 => (auth(401), false),
                403 => (auth(403), false),
                404 => (not_found(), false),
                429 => (other(format!("HTTP 429 {message}")), true),
                c if c >= 500 => (other(format!("HTTP {c} {message}")), true),
                c => (other(format!("HTTP {c} {message}")), false),
            },
            OciDistributionError::DigestError(d) => {
                let s = d.to_string();
                (
                    Error::DigestMismatch {
                        image: r.to_string(),
                        what: what.to_string(),
                        expected: "the requested digest".into(),
                        actual: s,
                    },
                    false,
                )
            }
            OciDistributionError::RequestError(re) => match re.status().map(|s| s.as_u16()) {
                Some(401) => (auth(401), false),
                Some(403) => (auth(403), false),
                Some(404) => (not_found(), false),
                Some(s) if s == 429 || s >= 500 => (other(format!("HTTP {s}")), true),
                _ => {
                    let transient =
                        re.is_timeout() || re.is_connect() || re.is_body() || re.is_request();
                    let msg = chain(&re);
                    if re.is_connect() || re.is_timeout() {
                        (
                            Error::Unreachable {
                                image: r.to_string(),
                                registry: r.registry.clone(),
                                reason: msg,
                            },
                            transient,
                        )
                    } else {
                        (other(msg), transient)
                    }
                }
            },
            OciDistributionError::IoError(io) => (other(io.to_string()), true),
            e => (other(chain(&e)), false),
        }
    }

    /// Fetches a manifest or index; checks its digest (against the pinned digest when there is one).
    pub(crate) async fn manifest(&self, r: &ImageRef) -> Result<(Vec<u8>, String), Error> {
        let client = self.client_for(r).await?;
        let auth = self.auth_for(r);
        let oref = to_oci(r);
        let what = format!("manifest {}", r.tag_or_digest());
        let (bytes, digest) = match self
            .retry(|| async {
                client
                    .pull_manifest_raw(&oref, &auth, manifest::ACCEPTED)
                    .await
                    .map_err(|e| self.map(r, &what, e))
            })
            .await
        {
            Ok(v) => v,
            Err(e) => return Err(self.explain_401(r, e).await),
        };
        let actual = manifest::sha256(&bytes);
        let expected = r.digest.clone().unwrap_or(digest);
        if expected.starts_with("sha256:") && actual != expected {
            return Err(Error::DigestMismatch {
                image: r.to_string(),
                what: "manifest".into(),
                expected,
                actual,
            });
        }
        Ok((bytes, actual))
    }

    /// Resolves a reference to the digest of the manifest (or index) the registry serves for it; a reference
    /// already pinned by digest is returned as is.
    pub async fn resolve_digest(&self, r: &ImageRef) -> Result<String, Error> {
        if let Some(d) = &r.digest {
            return Ok(d.clone());
        }
        let client = self.client_for(r).await?;
        let auth = self.auth_for(r);
        let oref = to_oci(r);
        let what = format!("manifest {}", r.tag_or_digest());
        match self
            .retry(|| async {
                client
                    .fetch_manifest_digest(&oref, &auth)
                    .await
                    .map_err(|e| self.map(r, &what, e))
            })
            .await
        {
            Ok(d) => Ok(d),
            Err(e) => Err(self.explain_401(r, e).await),
        }
    }

    /// A 401 despite credentials is either a wrong password or a token issuer refusing this user access to this
    /// repository: `oci-client` drops the token endpoint's answer and retries anonymously, so both look alike.
    /// This asks the issuer named by the registry's Bearer challenge once more, with the same credentials and
    /// scope. Its 403 becomes [`Error::Auth`] with status 403. A token it grants that the registry still refuses
    /// with `insufficient_scope` (Docker Hub's way of denying) stays a 401 but says access was denied. Any other
    /// outcome keeps `err`.
    async fn explain_401(&self, r: &ImageRef, err: Error) -> Error {
        let Error::Auth { status: 401, .. } = &err else {
            return err;
        };
        let Some(cred) = crate::auth::credential_for(&r.registry, &self.opts.credentials) else {
            return err;
        };
        let host = r.api_registry().to_string();
        let http = self
            .schemes
            .lock()
            .ok()
            .and_then(|m| m.get(&host).copied())
            .unwrap_or(false);
        let scheme = if http { "http" } else { "https" };
        let Ok(resp) = self
            .probe
            .get(format!("{scheme}://{host}/v2/"))
            .send()
            .await
        else {
            return err;
        };
        let Some((realm, service)) = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(bearer_challenge)
        else {
            return err;
        };
        let mut query = vec![("scope", format!("repository:{}:pull", r.repository))];
        if let Some(s) = service {
            query.push(("service", s));
        }
        let answer = self
            .probe
            .get(&realm)
            .query(&query)
            .basic_auth(&cred.username, Some(&cred.password))
            .send()
            .await;
        let denied = |status: u16, why: &str| Error::Auth {
            image: r.to_string(),
            registry: r.registry.clone(),
            status,
            hint: format!("{}{why}", denied_hint(r, Some(&cred.username))),
        };
        let answer = match answer {
            Ok(a) if a.status() == reqwest::StatusCode::FORBIDDEN => return denied(403, ""),
            Ok(a) if a.status().is_success() => a,
            _ => return err,
        };
        let Some(token) = answer
            .bytes()
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                v.get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str().map(str::to_string))
            })
        else {
            return err;
        };
        let refused = self
            .probe
            .head(format!(
                "{scheme}://{host}/v2/{}/manifests/{}",
                r.repository,
                r.tag_or_digest()
            ))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, manifest::ACCEPTED.join(", "))
            .send()
            .await;
        match refused {
            Ok(resp)
                if resp.status() == reqwest::StatusCode::UNAUTHORIZED
                    && resp
                        .headers()
                        .get(reqwest::header::WWW_AUTHENTICATE)
                        .and_then(|h| h.to_str().ok())
                        .is_some_and(|h| h.contains("insufficient_scope")) =>
            {
                denied(
                    401,
                    " (the token issuer accepted the credentials but granted no pull access)",
                )
            }
            _ => err,
        }
    }

    /// Fetches a small blob (config) into memory and checks its digest.
    async fn small_blob(&self, r: &ImageRef, digest: &str, what: &str) -> Result<Vec<u8>, Error> {
        let client = self.client_for(r).await?;
        let oref = to_oci(r);
        let w = format!("{what} blob {digest}");
        let bytes = self
            .retry(|| async {
                let mut buf = Vec::new();
                client
                    .pull_blob(&oref, digest, &mut buf)
                    .await
                    .map_err(|e| self.map(r, &w, e))?;
                Ok(buf)
            })
            .await?;
        if bytes.len() as u64 > MAX_DOC {
            return Err(Error::Manifest {
                image: r.to_string(),
                reason: format!("{what} blob {digest} is larger than {MAX_DOC} bytes"),
            });
        }
        let actual = manifest::sha256(&bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                image: r.to_string(),
                what: what.into(),
                expected: digest.into(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Makes sure the layer blob `digest` is on disk under `dir` (the cache, or a per-pull directory); returns
    /// its path and whether it was already there.
    async fn layer_blob(
        &self,
        r: &ImageRef,
        digest: &str,
        dir: &Path,
    ) -> Result<(PathBuf, bool), Error> {
        let hex = manifest::check_digest(&r.to_string(), digest)?;
        let dest = dir.join("blobs/sha256").join(hex);
        if dest.is_file() {
            self.cached.fetch_add(1, Ordering::Relaxed);
            return Ok((dest, true));
        }
        let parent = dest.parent().unwrap_or(dir).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| Error::io("cannot create blob directory", &parent, e))?;
        let client = self.client_for(r).await?;
        let oref = to_oci(r);
        let what = format!("layer blob {digest}");
        let tmp = self
            .retry(|| async {
                let tmp = tempfile::NamedTempFile::new_in(&parent).map_err(|e| {
                    (
                        Error::io("cannot create temporary file in", &parent, e),
                        false,
                    )
                })?;
                let f = tokio::fs::File::from_std(
                    tmp.reopen()
                        .map_err(|e| (Error::io("cannot open", tmp.path(), e), false))?,
                );
                let mut w = tokio::io::BufWriter::with_capacity(1 << 20, f);
                client
                    .pull_blob(&oref, digest, &mut w)
                    .await
                    .map_err(|e| self.map(r, &what, e))?;
                tokio::io::AsyncWriteExt::flush(&mut w)
                    .await
                    .map_err(|e| (Error::io("cannot write", tmp.path(), e), false))?;
                Ok(tmp)
            })
            .await?;
        let size = tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
        // Content addressed: a concurrent pull of the same blob renames identical bytes over it.
        tmp.persist(&dest)
            .map_err(|e| Error::io("cannot store blob", &dest, e.error))?;
        self.downloaded.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(size, Ordering::Relaxed);
        Ok((dest, false))
    }

    /// Pulls `r` (selecting the platform from an index), verifies every blob, and squashes its layers.
    pub async fn pull(
        &self,
        r: &ImageRef,
        work_dir: &Path,
        wanted: &Wanted<'_>,
        limits: &Limits,
    ) -> Result<Image, Error> {
        let image = r.to_string();
        let (bytes, top_digest) = self.manifest(r).await?;
        let mut index_digest = None;
        let (manifest_digest, config, layers) = match manifest::parse(&image, &bytes, None)? {
            Parsed::Manifest { config, layers } => (top_digest, config, layers),
            Parsed::Index(m) => {
                let d = manifest::select_platform(&image, &m, &self.opts.platform)?;
                index_digest = Some(top_digest);
                let child = r.with_digest(&d.digest);
                let (bytes, digest) = self.manifest(&child).await?;
                match manifest::parse(&image, &bytes, None)? {
                    Parsed::Manifest { config, layers } => (digest, config, layers),
                    Parsed::Index(_) => {
                        return Err(Error::Manifest {
                            image,
                            reason: format!("index entry {} is itself an index", d.digest),
                        });
                    }
                }
            }
        };
        let cfg_bytes = self.small_blob(r, &config.digest, "config").await?;
        let (cfg, diff_ids) = manifest::parse_config(&image, &cfg_bytes)?;
        let infos = manifest::layer_infos(&image, &layers, &diff_ids)?;

        let scratch;
        let blob_dir = match &self.opts.cache_dir {
            Some(c) => c.clone(),
            None => {
                std::fs::create_dir_all(work_dir)
                    .map_err(|e| Error::io("cannot create work directory", work_dir, e))?;
                scratch = tempfile::Builder::new()
                    .prefix("blobs-")
                    .tempdir_in(work_dir)
                    .map_err(|e| Error::io("cannot create blob directory in", work_dir, e))?;
                scratch.path().to_path_buf()
            }
        };
        // Download up to four layers at once, keeping manifest order for squashing.
        use futures::StreamExt;
        // The futures are built before streaming them (not by a closure inside the stream) so that the
        // stream's type names no higher-ranked closure: callers need `open`'s future to be `Send`.
        let fetches: Vec<_> = infos
            .iter()
            .map(|l| self.layer_blob(r, &l.digest, &blob_dir))
            .collect();
        let files: Vec<Result<(PathBuf, bool), Error>> =
            futures::stream::iter(fetches).buffered(4).collect().await;
        let fs = crate::blocking(|| -> Result<crate::FsView, Error> {
            let mut sq = Squasher::new(&image, work_dir, wanted, limits.clone())?;
            for (l, f) in infos.iter().zip(files) {
                let (path, from_cache) = f?;
                let file = std::fs::File::open(&path)
                    .map_err(|e| Error::io("cannot open blob", &path, e))?;
                if from_cache {
                    // Cached content is verified before use: a corrupted entry is removed and reported.
                    let (actual, _) = HashReader::new(file)
                        .finish()
                        .map_err(|e| Error::io("cannot read blob", &path, e))?;
                    if actual != l.digest {
                        let _ = std::fs::remove_file(&path);
                        return Err(Error::DigestMismatch {
                            image,
                            what: format!(
                                "cached layer {} (removed from the cache; retry)",
                                path.display()
                            ),
                            expected: l.digest.clone(),
                            actual,
                        });
                    }
                }
                let file = std::fs::File::open(&path)
                    .map_err(|e| Error::io("cannot open blob", &path, e))?;
                sq.apply_layer(&l.digest, file, l.diff_id.as_deref())?;
            }
            Ok(sq.finish())
        })?;
        Ok(Image {
            reference: Some(r.clone()),
            manifest_digest: Some(manifest_digest),
            index_digest,
            image_id: config.digest,
            config: cfg,
            layers: infos,
            fs,
        })
    }
}

/// The advice for a 403: who was denied what, where.
fn denied_hint(r: &ImageRef, user: Option<&str>) -> String {
    match user {
        Some(u) => format!(
            "access to {} denied for user {u} at {}: check the credentials' permissions",
            r.repository, r.registry
        ),
        None => format!(
            "access to {} denied for anonymous pulls at {}: give credentials with pull permission",
            r.repository, r.registry
        ),
    }
}

/// `(realm, service)` of the Bearer challenge in a `WWW-Authenticate` header, when there is one.
fn bearer_challenge(header: &str) -> Option<(String, Option<String>)> {
    let challenges = http_auth::parse_challenges(header).ok()?;
    let bearer = challenges
        .iter()
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))?;
    let param = |name: &str| {
        bearer
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_unescaped())
    };
    Some((param("realm")?, param("service")))
}

/// The reference as `oci-client` expects it.
pub(crate) fn to_oci(r: &ImageRef) -> Reference {
    match (&r.tag, &r.digest) {
        (Some(t), Some(d)) => Reference::with_tag_and_digest(
            r.registry.clone(),
            r.repository.clone(),
            t.clone(),
            d.clone(),
        ),
        (_, Some(d)) => Reference::with_digest(r.registry.clone(), r.repository.clone(), d.clone()),
        (t, None) => Reference::with_tag(
            r.registry.clone(),
            r.repository.clone(),
            t.clone().unwrap_or_else(|| "latest".into()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registry answers we cannot provoke from Debian's docker-registry (the registry itself never sends 403
    /// or 5xx on pulls; a 403 of the token issuer is tested for real in tests/registry.rs) are checked on
    /// constructed `oci-client` errors.
    #[test]
    fn status_mapping_and_retryability() {
        let c = Client::new(&PullOptions::default()).unwrap();
        let r = ImageRef::parse("127.0.0.1:5000/app:v1").unwrap();
        let server = |code| OciDistributionError::ServerError {
            code,
            url: "u".into(),
            message: "m".into(),
        };
        let (e, t) = c.map(&r, "manifest v1", server(403));
        assert!(matches!(e, Error::Auth { status: 403, .. }) && !t, "{e}");
        assert!(
            e.to_string()
                .contains("access to app denied for anonymous pulls at 127.0.0.1:5000"),
            "{e}"
        );
        let (e, t) = c.map(&r, "manifest v1", server(404));
        assert!(matches!(e, Error::NotFound { .. }) && !t, "{e}");
        let (e, t) = c.map(&r, "manifest v1", server(503));
        assert!(
            matches!(e, Error::Registry { .. }) && t,
            "5xx is retried: {e}"
        );
        let (_, t) = c.map(&r, "manifest v1", server(429));
        assert!(t, "429 is retried");
    }

    #[test]
    fn bearer_challenges_are_parsed_and_others_ignored() {
        assert_eq!(
            bearer_challenge(
                r#"Bearer realm="http://127.0.0.1:9/token",service="reg",scope="repository:a:pull""#
            ),
            Some(("http://127.0.0.1:9/token".into(), Some("reg".into())))
        );
        assert_eq!(bearer_challenge(r#"Basic realm="portcullis-test""#), None);
        assert_eq!(bearer_challenge("Bearer service=\"no-realm\""), None);
        assert_eq!(bearer_challenge("not a challenge \u{1}"), None);
    }

    #[test]
    fn plain_http_only_for_loopback_and_insecure_registries() {
        let none: Vec<String> = Vec::new();
        assert!(plain_http_allowed("127.0.0.1:5000", &none));
        assert!(plain_http_allowed("127.1.2.3", &none));
        assert!(plain_http_allowed("localhost:5000", &none));
        assert!(plain_http_allowed("[::1]:5000", &none));
        assert!(!plain_http_allowed("10.0.0.5:5000", &none));
        assert!(!plain_http_allowed("registry.example.com", &none));
        assert!(!plain_http_allowed("docker.io", &none));
        let insecure = vec!["10.0.0.5:5000".to_string(), "reg.lan".to_string()];
        assert!(plain_http_allowed("10.0.0.5:5000", &insecure));
        assert!(!plain_http_allowed("10.0.0.5:5001", &insecure));
        assert!(plain_http_allowed("reg.lan:443", &insecure));
    }
}
