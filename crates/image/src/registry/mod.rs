//! Registry client: OCI distribution v2 over `reqwest` (auth flows, manifests, verified blob downloads), choosing
//! HTTPS or plain HTTP per registry as Docker does, retries with backoff, precise errors, and a content-addressed
//! blob cache on disk. Every connection goes through [`crate::transport`]: the registry policy (allowlist,
//! denylist, no link-local or metadata addresses), bounded bodies, safe token realms and redirects; no upstream
//! body ever reaches an error message.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use sha2::Digest as _;
use tokio::io::AsyncWriteExt;

use crate::manifest::{self, Parsed};
use crate::squash::{HashReader, Limits, Squasher};
use crate::transport::{self, classify};
use crate::{Error, Image, ImageRef, PullOptions, Wanted};

mod auth;

use auth::denied_hint;

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
    http: reqwest::Client,
    pub(crate) opts: PullOptions,
    schemes: Mutex<HashMap<String, bool>>,
    /// `Authorization` values by `registry/repository`.
    tokens: Mutex<HashMap<String, String>>,
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
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
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

/// A failed attempt: the error, and whether retrying may help.
pub(crate) type Failure = (Error, bool);

impl Client {
    /// Builds a client: reads the extra CA certificates and sets timeouts and the registry policy.
    pub fn new(opts: &PullOptions) -> Result<Client, Error> {
        let mut roots = Vec::new();
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
            roots.extend(parsed);
        }
        Ok(Client {
            http: transport::client(opts, roots)?,
            opts: opts.clone(),
            schemes: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
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

    /// Runs `f` with retries and exponential backoff (200 ms, 400 ms, …) on transient failures.
    pub(crate) async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
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

    /// Decides, once per registry, between HTTPS and (where allowed) plain HTTP; true for plain HTTP. The
    /// registry policy is checked first.
    async fn client_for(&self, r: &ImageRef) -> Result<bool, Error> {
        let host = r.api_registry().to_string();
        self.opts
            .network
            .check_host(&host, &self.opts.insecure_registries)
            .map_err(|why| Error::Registry {
                image: r.to_string(),
                registry: r.registry.clone(),
                reason: format!("refused by the registry policy: {why}"),
            })?;
        if let Some(&http) = self
            .schemes
            .lock()
            .ok()
            .and_then(|m| m.get(&host).copied())
            .as_ref()
        {
            return Ok(http);
        }
        let unreachable = |reason: String| Error::Unreachable {
            image: r.to_string(),
            registry: r.registry.clone(),
            reason,
        };
        // A distribution v2 endpoint answers `/v2/` with 200 or 401 (403 behind some proxies); anything else
        // (e.g. Go's 400 "Client sent an HTTP request to an HTTPS server") means this scheme is wrong. What it
        // answered is reported by status only: its body may be anything an internal address serves.
        let try_get = |url: String| async move {
            match self.http.get(&url).send().await {
                Ok(resp) if matches!(resp.status().as_u16(), 200 | 401 | 403) => Ok(()),
                Ok(resp) => {
                    let status = resp.status();
                    Err((
                        format!("{url} answered {}", classify(status.as_u16()).0),
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
        Ok(http)
    }

    /// The error for a final non-success answer: status and classification only, never the body.
    pub(crate) fn status_error(
        &self,
        r: &ImageRef,
        what: &str,
        resp: &reqwest::Response,
    ) -> Failure {
        let status = resp.status().as_u16();
        let cred = transport::credential(&self.opts, r);
        let auth = |status: u16, hint: String| Error::Auth {
            image: r.to_string(),
            registry: r.registry.clone(),
            status,
            hint,
        };
        match status {
            401 => {
                let scope_denied = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|h| h.to_str().ok())
                    .is_some_and(|h| h.contains("insufficient_scope"));
                let hint = match cred {
                    None => "authentication required; give credentials (docker config.json, pull secret or --creds)".to_string(),
                    Some(c) if scope_denied => format!(
                        "{} (the token issuer accepted the credentials but granted no pull access)",
                        denied_hint(r, Some(&c.username))
                    ),
                    Some(_) => "the credentials were rejected; check username and password for this registry".to_string(),
                };
                (auth(401, hint), false)
            }
            403 => (
                auth(403, denied_hint(r, cred.map(|c| c.username.as_str()))),
                false,
            ),
            404 => (
                Error::NotFound {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    what: what.to_string(),
                },
                false,
            ),
            s => {
                let (reason, transient) = classify(s);
                (
                    Error::Registry {
                        image: r.to_string(),
                        registry: r.registry.clone(),
                        reason: format!("{what}: {reason}"),
                    },
                    transient,
                )
            }
        }
    }

    /// A transport failure (connection, TLS, timeout, policy refusal of an address or redirect).
    fn transport_error(&self, r: &ImageRef, what: &str, e: &reqwest::Error) -> Failure {
        let msg = chain(e);
        if e.is_connect() || e.is_timeout() {
            (
                Error::Unreachable {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    reason: msg,
                },
                true,
            )
        } else {
            (
                Error::Registry {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    reason: format!("{what}: {msg}"),
                },
                e.is_body() || e.is_request(),
            )
        }
    }

    /// Sends one request to `r`'s registry (`path` from `/v2/`), authenticating on a 401 challenge once.
    /// Returns the final answer whatever its status.
    pub(crate) async fn send(
        &self,
        r: &ImageRef,
        method: Method,
        path: &str,
        what: &str,
    ) -> Result<reqwest::Response, Failure> {
        let http = self.client_for(r).await.map_err(|e| (e, false))?;
        let host = r.api_registry();
        let url = format!("{}://{host}{path}", if http { "http" } else { "https" });
        let key = format!("{host}/{}", r.repository);
        let mut authz = self.tokens.lock().ok().and_then(|m| m.get(&key).cloned());
        for round in 0..2 {
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header(ACCEPT, manifest::ACCEPTED.join(", "));
            if let Some(a) = &authz {
                req = req.header(AUTHORIZATION, a);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| self.transport_error(r, what, &e))?;
            if resp.status() != StatusCode::UNAUTHORIZED || round == 1 {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string);
            match self.authorize(r, challenge.as_deref()).await? {
                Some(a) if authz.as_deref() != Some(a.as_str()) => {
                    if let Ok(mut m) = self.tokens.lock() {
                        m.insert(key.clone(), a.clone());
                    }
                    authz = Some(a);
                }
                _ => return Ok(resp),
            }
        }
        unreachable!("the loop returns on its second round")
    }

    /// GETs a document (manifest, index, config) of at most `max_document_bytes`.
    pub(crate) async fn document(
        &self,
        r: &ImageRef,
        path: &str,
        what: &str,
    ) -> Result<(Vec<u8>, Option<String>), Error> {
        self.retry(|| async {
            let resp = self.send(r, Method::GET, path, what).await?;
            if !resp.status().is_success() {
                return Err(self.status_error(r, what, &resp));
            }
            let digest = resp
                .headers()
                .get("docker-content-digest")
                .and_then(|h| h.to_str().ok())
                .map(str::to_string);
            let body = transport::read_limited(resp, self.opts.max_document_bytes)
                .await
                .map_err(|e| {
                    (
                        Error::Manifest {
                            image: r.to_string(),
                            reason: format!("{what}: {e}"),
                        },
                        false,
                    )
                })?;
            Ok((body, digest))
        })
        .await
    }

    /// Fetches a manifest or index; checks its digest (against the pinned digest when there is one).
    pub(crate) async fn manifest(&self, r: &ImageRef) -> Result<(Vec<u8>, String), Error> {
        let what = format!("manifest {}", r.tag_or_digest());
        let path = format!("/v2/{}/manifests/{}", r.repository, r.tag_or_digest());
        let (bytes, header) = self.document(r, &path, &what).await?;
        let actual = manifest::sha256(&bytes);
        let expected = r
            .digest
            .clone()
            .or(header)
            .unwrap_or_else(|| actual.clone());
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
        self.head_manifest(r).await
    }

    /// Asks the registry for the manifest of `r` (HEAD, falling back to a bounded GET when the registry sends
    /// no digest header), pinned or not, and returns the digest it serves: whether these credentials may pull
    /// the image at all.
    pub async fn head_manifest(&self, r: &ImageRef) -> Result<String, Error> {
        let what = format!("manifest {}", r.tag_or_digest());
        let path = format!("/v2/{}/manifests/{}", r.repository, r.tag_or_digest());
        let head = self
            .retry(|| async {
                let resp = self.send(r, Method::HEAD, &path, &what).await?;
                if !resp.status().is_success() {
                    return Err(self.status_error(r, &what, &resp));
                }
                Ok(resp
                    .headers()
                    .get("docker-content-digest")
                    .and_then(|h| h.to_str().ok())
                    .filter(|d| d.starts_with("sha256:"))
                    .map(str::to_string))
            })
            .await?;
        match head {
            Some(d) => Ok(d),
            // No digest header: fetch the (bounded) manifest and hash it.
            None => Ok(self.manifest(r).await?.1),
        }
    }

    /// Fetches a small blob (config) into memory and checks its digest.
    async fn small_blob(&self, r: &ImageRef, digest: &str, what: &str) -> Result<Vec<u8>, Error> {
        manifest::check_digest(&r.to_string(), digest)?;
        let w = format!("{what} blob {digest}");
        let (bytes, _) = self
            .document(r, &format!("/v2/{}/blobs/{digest}", r.repository), &w)
            .await?;
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

    /// Makes sure the layer blob `digest` of `size` bytes is on disk under `dir` (the cache, or a per-pull
    /// directory); returns its path and whether it was already there. The download stops at `size` bytes (and
    /// `max` whatever the manifest says) and must hash to `digest`.
    async fn layer_blob(
        &self,
        r: &ImageRef,
        digest: &str,
        size: u64,
        max: u64,
        dir: &Path,
    ) -> Result<(PathBuf, bool), Error> {
        let hex = manifest::check_digest(&r.to_string(), digest)?;
        let dest = dir.join("blobs/sha256").join(hex);
        if dest.is_file() {
            crate::cache::touch(&dest);
            self.cached.fetch_add(1, Ordering::Relaxed);
            return Ok((dest, true));
        }
        let too_big = |n: u64| Error::Layer {
            image: r.to_string(),
            layer: digest.to_string(),
            path: None,
            reason: format!(
                "the blob is larger than {n} bytes (its manifest size, or the max_layer_bytes limit); refusing it"
            ),
        };
        if size > max {
            return Err(too_big(max));
        }
        let parent = dest.parent().unwrap_or(dir).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| Error::io("cannot create blob directory", &parent, e))?;
        let what = format!("layer blob {digest}");
        let path = format!("/v2/{}/blobs/{digest}", r.repository);
        let tmp = self
            .retry(|| async {
                let mut resp = self.send(r, Method::GET, &path, &what).await?;
                if !resp.status().is_success() {
                    return Err(self.status_error(r, &what, &resp));
                }
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
                let mut hasher = sha2::Sha256::new();
                let mut got = 0u64;
                while let Some(chunk) = resp
                    .chunk()
                    .await
                    .map_err(|e| self.transport_error(r, &what, &e))?
                {
                    got += chunk.len() as u64;
                    if got > size {
                        return Err((too_big(size), false));
                    }
                    hasher.update(&chunk);
                    w.write_all(&chunk)
                        .await
                        .map_err(|e| (Error::io("cannot write", tmp.path(), e), false))?;
                }
                w.flush()
                    .await
                    .map_err(|e| (Error::io("cannot write", tmp.path(), e), false))?;
                let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
                if actual != digest {
                    return Err((
                        Error::DigestMismatch {
                            image: r.to_string(),
                            what: format!("layer blob {digest}"),
                            expected: digest.to_string(),
                            actual,
                        },
                        false,
                    ));
                }
                Ok((tmp, got))
            })
            .await?;
        let (tmp, got) = tmp;
        // Content addressed: a concurrent pull of the same blob renames identical bytes over it.
        tmp.persist(&dest)
            .map_err(|e| Error::io("cannot store blob", &dest, e.error))?;
        self.downloaded.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(got, Ordering::Relaxed);
        Ok((dest, false))
    }

    /// The platform manifests of the index `r` resolves to that match `wanted` (see
    /// [`crate::index_platforms`]); `None` when `r` is a single-platform manifest.
    pub async fn index_platforms(
        &self,
        r: &ImageRef,
        wanted: &[crate::Platform],
    ) -> Result<Option<Vec<(crate::Platform, String)>>, Error> {
        let image = r.to_string();
        let (bytes, _) = self.manifest(r).await?;
        match manifest::parse(&image, &bytes, None)? {
            Parsed::Manifest { .. } => Ok(None),
            Parsed::Index(m) => Ok(Some(
                manifest::select_platforms(&image, &m, wanted)?
                    .into_iter()
                    .map(|(p, d)| (p, d.digest.clone()))
                    .collect(),
            )),
        }
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
            .map(|l| self.layer_blob(r, &l.digest, l.size, limits.max_layer_bytes, &blob_dir))
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
                let again = file
                    .try_clone()
                    .map_err(|e| Error::io("cannot open blob", &path, e))?;
                sq.apply_layer(&l.digest, file, l.diff_id.as_deref())?;
                sq.keep_source(again, 0, None)?;
            }
            Ok(sq.finish())
        });
        if let (Some(c), Ok(_)) = (&self.opts.cache_dir, &fs) {
            let keep: Vec<PathBuf> = infos
                .iter()
                .filter_map(|l| l.digest.strip_prefix("sha256:"))
                .map(|h| c.join("blobs/sha256").join(h))
                .collect();
            let keep: Vec<&Path> = keep.iter().map(PathBuf::as_path).collect();
            let removed = crate::cache::evict(c, self.opts.max_cache_bytes, &keep);
            if removed > 0 {
                tracing::debug!(removed, "evicted least recently used blobs from the cache");
            }
        }
        let fs = fs?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Registry answers we cannot provoke from Debian's docker-registry (the registry itself never sends 403
    /// or 5xx on pulls; a 403 of the token issuer is tested for real in tests/registry.rs) are checked on
    /// constructed responses; their bodies never reach the message.
    #[test]
    fn status_mapping_and_retryability() {
        let c = Client::new(&PullOptions::default()).unwrap();
        let r = ImageRef::parse("127.0.0.1:5000/app:v1").unwrap();
        let answer = |code: u16| {
            reqwest::Response::from(
                http::Response::builder()
                    .status(code)
                    .body("SECRET internal page")
                    .unwrap(),
            )
        };
        let (e, t) = c.status_error(&r, "manifest v1", &answer(403));
        assert!(matches!(e, Error::Auth { status: 403, .. }) && !t, "{e}");
        assert!(
            e.to_string()
                .contains("access to app denied for anonymous pulls at 127.0.0.1:5000"),
            "{e}"
        );
        let (e, t) = c.status_error(&r, "manifest v1", &answer(404));
        assert!(matches!(e, Error::NotFound { .. }) && !t, "{e}");
        let (e, t) = c.status_error(&r, "manifest v1", &answer(503));
        assert!(
            matches!(e, Error::Registry { .. }) && t,
            "5xx is retried: {e}"
        );
        assert!(!e.to_string().contains("SECRET"), "{e}");
        let (_, t) = c.status_error(&r, "manifest v1", &answer(429));
        assert!(t, "429 is retried");
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
