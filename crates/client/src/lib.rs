//! Blocking HTTP client of the engine's REST API, used by the `portcullis image|system|feeds|policy|evaluate`
//! commands. It speaks the wire types of [`portcullis_engine::api`] (documented in the engine's
//! `openapi.json`), never the store's rows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use portcullis_engine::api::{
    AddImageRequest, AddImageResponse, AnalysisStatus, CheckResult, Decision, DecisionQuery,
    ErrorBody, Feed, FeedSyncOutcome, Image, Policy, PolicySummary, Status, VulnKind, VulnReport,
};
use portcullis_engine::is_digest;
use serde::de::DeserializeOwned;

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error.
    #[error("{url}: HTTP {status}: {message}")]
    Http {
        /// Request URL.
        url: String,
        /// Status code.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the engine at {url}: {message} (set --url or PORTCULLIS_URL)")]
    Transport {
        /// Request URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The answer was not what the API documents.
    #[error("{url}: unexpected answer: {message}")]
    Decode {
        /// Request URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// A wait ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// Invalid client input.
    #[error("{0}")]
    Invalid(String),
}

/// Result type of the client.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// The API client.
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Percent-encodes one path segment or query value (RFC 3986 unreserved characters are kept).
fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client for the engine at `url` (`http://host:port`), authenticating with `token`.
    pub fn new(url: &str, token: Option<&str>) -> Result<Client> {
        Client::with_ca(url, token, None)
    }

    /// Like [`Client::new`], also trusting the CA certificate(s) in the PEM file `ca` (e.g. the CA
    /// `portcullis serve` generated, or the one `portcullis certs` wrote).
    pub fn with_ca(url: &str, token: Option<&str>, ca: Option<&std::path::Path>) -> Result<Client> {
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Invalid(format!(
                "engine URL {url:?} must start with http:// or https://"
            )));
        }
        let mut builder = reqwest::blocking::Client::builder().timeout(Duration::from_secs(120));
        if let Some(path) = ca {
            let pem = std::fs::read(path).map_err(|e| {
                ClientError::Invalid(format!(
                    "cannot read the CA certificate {}: {e}",
                    path.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                ClientError::Invalid(format!("{} holds no PEM certificate: {e}", path.display()))
            })?;
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        let http = builder.build().map_err(|e| ClientError::Transport {
            url: base.clone(),
            message: e.to_string(),
        })?;
        Ok(Client {
            base,
            token: token.map(str::to_string),
            http,
        })
    }

    fn send<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T> {
        self.send_with(method, path, |req| match body {
            Some(b) => req.json(b),
            None => req,
        })
    }

    fn send_with<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: impl FnOnce(reqwest::blocking::RequestBuilder) -> reqwest::blocking::RequestBuilder,
    ) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let mut req = self.http.request(method, &url);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req = body(req);
        let resp = req.send().map_err(|e| ClientError::Transport {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let status = resp.status();
        let text = resp.text().map_err(|e| ClientError::Transport {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if !status.is_success() {
            let message = serde_json::from_str::<ErrorBody>(&text)
                .map(|b| b.message)
                .unwrap_or(text);
            return Err(ClientError::Http {
                url,
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Decode {
            url,
            message: e.to_string(),
        })
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.send(reqwest::Method::GET, path, None)
    }

    /// `POST /v1/images`.
    pub fn add_image(
        &self,
        pull: &str,
        annotations: BTreeMap<String, String>,
        force: bool,
    ) -> Result<AddImageResponse> {
        let body = serde_json::to_value(AddImageRequest {
            tag: pull.to_string(),
            annotations,
            force,
        })
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
        self.send(reqwest::Method::POST, "/v1/images", Some(&body))
    }

    /// `GET /v1/images[?tag=]`.
    pub fn list_images(&self, tag: Option<&str>) -> Result<Vec<Image>> {
        match tag {
            Some(t) => self.get(&format!("/v1/images?tag={}", enc(t))),
            None => self.get("/v1/images"),
        }
    }

    /// `GET /v1/images/{digest}`.
    pub fn get_image(&self, digest: &str) -> Result<Image> {
        self.get(&format!("/v1/images/{}", enc(digest)))
    }

    /// Finds an image by digest, by `…@sha256:` pull string or by tag (`repo:tag`; `repo` means `repo:latest`);
    /// the newest match wins.
    pub fn find_image(&self, image: &str) -> Result<Image> {
        if is_digest(image) {
            return self.get_image(image);
        }
        if let Some((_, d)) = image.split_once('@') {
            return self.get_image(d);
        }
        let last = image.rsplit('/').next().unwrap_or(image);
        let tag = if last.contains(':') {
            image.to_string()
        } else {
            format!("{image}:latest")
        };
        self.list_images(Some(&tag))?
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::Http {
                url: format!("{}/v1/images?tag={}", self.base, enc(&tag)),
                status: 404,
                message: format!(
                    "no image with tag {tag} is known: add it with `portcullis image add {image}`"
                ),
            })
    }

    /// Waits until the image is analysed (or failed), polling every `every`.
    pub fn wait_image(&self, image: &str, timeout: Duration, every: Duration) -> Result<Image> {
        let start = Instant::now();
        loop {
            match self.find_image(image) {
                Ok(img) if img.status == AnalysisStatus::Analyzed => return Ok(img),
                Ok(img) if img.status == AnalysisStatus::AnalysisFailed => {
                    return Err(ClientError::Invalid(format!(
                        "analysis of {image} ({}) failed: {}",
                        img.digest,
                        img.error.unwrap_or_default()
                    )));
                }
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            if start.elapsed() >= timeout {
                return Err(ClientError::Timeout(format!(
                    "{image} was not analysed within {}s",
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(every);
        }
    }

    /// `GET /v1/images/{digest}/vuln/{type}`.
    pub fn vuln(&self, digest: &str, kind: VulnKind) -> Result<VulnReport> {
        let k = match kind {
            VulnKind::Os => "os",
            VulnKind::NonOs => "non-os",
            VulnKind::All => "all",
        };
        self.get(&format!("/v1/images/{}/vuln/{k}", enc(digest)))
    }

    /// `GET /v1/images/{digest}/check`.
    pub fn check(
        &self,
        digest: &str,
        tag: Option<&str>,
        policy: Option<&str>,
        detail: bool,
    ) -> Result<CheckResult> {
        let mut q = vec![format!("detail={detail}")];
        if let Some(t) = tag {
            q.push(format!("tag={}", enc(t)));
        }
        if let Some(p) = policy {
            q.push(format!("policy={}", enc(p)));
        }
        self.get(&format!("/v1/images/{}/check?{}", enc(digest), q.join("&")))
    }

    /// `POST /v1/vex` or `/v1/ignore-rules` (`kind` = `vex` / `ignore-rules`): stores a triage document every
    /// replica applies; `name` is shown in listings.
    pub fn add_triage(
        &self,
        kind: &str,
        name: &str,
        document: Vec<u8>,
    ) -> Result<portcullis_engine::api::TriageDocumentSummary> {
        self.send_with(
            reqwest::Method::POST,
            &format!("/v1/{}?name={}", enc(kind), enc(name)),
            |req| req.body(document),
        )
    }

    /// `GET /v1/vex` or `/v1/ignore-rules`.
    pub fn list_triage(
        &self,
        kind: &str,
    ) -> Result<Vec<portcullis_engine::api::TriageDocumentSummary>> {
        self.get(&format!("/v1/{}", enc(kind)))
    }

    /// `DELETE /v1/vex/{id}` or `/v1/ignore-rules/{id}`.
    pub fn delete_triage(
        &self,
        kind: &str,
        id: &str,
    ) -> Result<portcullis_engine::api::TriageDocumentSummary> {
        self.send(
            reqwest::Method::DELETE,
            &format!("/v1/{}/{}", enc(kind), enc(id)),
            None,
        )
    }

    /// `POST /v1/policies`.
    pub fn add_policy(&self, bundle: &serde_json::Value) -> Result<PolicySummary> {
        self.send(reqwest::Method::POST, "/v1/policies", Some(bundle))
    }

    /// `GET /v1/policies`.
    pub fn list_policies(&self) -> Result<Vec<PolicySummary>> {
        self.get("/v1/policies")
    }

    /// `GET /v1/policies/{id}`.
    pub fn get_policy(&self, id: &str) -> Result<Policy> {
        self.get(&format!("/v1/policies/{}", enc(id)))
    }

    /// `PUT /v1/policies/{id}` (activate).
    pub fn activate_policy(&self, id: &str) -> Result<PolicySummary> {
        self.send(
            reqwest::Method::PUT,
            &format!("/v1/policies/{}", enc(id)),
            Some(&serde_json::json!({"active": true})),
        )
    }

    /// `GET /v1/system/status`.
    pub fn status(&self) -> Result<Status> {
        self.get("/v1/system/status")
    }

    /// Waits until the engine answers its status, polling every `every`.
    pub fn wait_system(&self, timeout: Duration, every: Duration) -> Result<Status> {
        let start = Instant::now();
        loop {
            match self.status() {
                Ok(s) => return Ok(s),
                Err(e @ ClientError::Http { status: 401, .. }) => return Err(e),
                Err(e) if start.elapsed() >= timeout => {
                    return Err(ClientError::Timeout(format!(
                        "the engine did not answer within {}s: {e}",
                        timeout.as_secs()
                    )));
                }
                Err(_) => std::thread::sleep(every),
            }
        }
    }

    /// `GET /v1/system/feeds`.
    pub fn feeds(&self) -> Result<Vec<Feed>> {
        self.get("/v1/system/feeds")
    }

    /// `POST /v1/system/feeds`.
    pub fn sync_feeds(&self) -> Result<FeedSyncOutcome> {
        self.send(reqwest::Method::POST, "/v1/system/feeds", None)
    }

    /// `GET /v1/decisions`.
    pub fn decisions(&self, f: &DecisionQuery) -> Result<Vec<Decision>> {
        let mut q = Vec::new();
        for (k, v) in [
            ("namespace", f.namespace.clone()),
            ("kind", f.kind.clone()),
            ("name", f.name.clone()),
            ("allowed", f.allowed.map(|b| b.to_string())),
            ("image", f.image.clone()),
            ("since", f.since.map(|n| n.to_string())),
            ("limit", f.limit.map(|n| n.to_string())),
        ] {
            if let Some(v) = v {
                q.push(format!("{k}={}", enc(&v)));
            }
        }
        let path = if q.is_empty() {
            "/v1/decisions".to_string()
        } else {
            format!("/v1/decisions?{}", q.join("&"))
        };
        self.get(&path)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_path_segments() {
        assert_eq!(super::enc("sha256:ab"), "sha256%3Aab");
        assert_eq!(super::enc("a b/c&d"), "a%20b%2Fc%26d");
        assert_eq!(super::enc("ok-1.2_~"), "ok-1.2_~");
    }

    #[test]
    fn rejects_non_http_urls() {
        assert!(super::Client::new("localhost:8228", None).is_err());
        let c = super::Client::new("http://127.0.0.1:1/", Some("secret")).unwrap();
        assert!(!format!("{c:?}").contains("secret"));
        let err = c.status().unwrap_err().to_string();
        assert!(
            err.contains("cannot reach") && err.contains("PORTCULLIS_URL"),
            "{err}"
        );
    }
}

/// Renders rows as plain aligned columns with a header line, as anchore-cli prints its tables. Hand-written:
/// two-space separated, left-aligned columns need no table crate.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// Formats Unix milliseconds as RFC 3339 (UTC, seconds).
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod table_tests {
    #[test]
    fn aligns_columns() {
        let t = super::table(
            &["Full Tag", "Image Digest", "Analysis Status"],
            &[
                vec!["a:1".into(), "sha256:1".into(), "analyzed".into()],
                vec![
                    "longer/name:2".into(),
                    "sha256:2".into(),
                    "analyzing".into(),
                ],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "Full Tag       Image Digest  Analysis Status");
        assert_eq!(lines[1], "a:1            sha256:1      analyzed");
        assert_eq!(lines[2], "longer/name:2  sha256:2      analyzing");
        assert_eq!(super::format_ms(0), "1970-01-01T00:00:00Z");
    }
}
