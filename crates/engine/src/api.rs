//! The REST API (`/v1/…`), documented by the OpenAPI file served at `/openapi.json`.
//!
//! Every `/v1` route needs `Authorization: Bearer <token>`; tokens are compared by SHA-256 and never logged.
//! Errors are JSON `{"status": …, "error": …, "message": …}` with a precise 4xx for bad input, and bad input
//! changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sha2::{Digest, Sha256};

use crate::engine::{Engine, EngineError, blocking};
use portcullis_store::{DecisionFilter, TriageKind};

mod wire;
pub use wire::*;

/// The OpenAPI 3 document of this API.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// API settings.
#[derive(Clone)]
pub struct ApiConfig {
    /// Accepted bearer tokens (at least one; all have admin rights).
    pub tokens: Vec<String>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("tokens", &format!("<{} redacted>", self.tokens.len()))
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

impl ApiConfig {
    /// Reads the admin token from `PORTCULLIS_ADMIN_TOKEN`, or from the file named by
    /// `PORTCULLIS_ADMIN_TOKEN_FILE` (a mounted Secret); the error says how to set one.
    pub fn admin_token_from_env() -> Result<String, String> {
        admin_token(
            std::env::var("PORTCULLIS_ADMIN_TOKEN").ok().as_deref(),
            std::env::var_os("PORTCULLIS_ADMIN_TOKEN_FILE")
                .as_deref()
                .map(std::path::Path::new),
        )
    }
}

/// The admin token: `value` when non-empty, else the trimmed content of `file`; the error says how to set one.
pub fn admin_token(value: Option<&str>, file: Option<&std::path::Path>) -> Result<String, String> {
    if let Some(t) = value.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok(t.to_string());
    }
    if let Some(path) = file {
        let t = std::fs::read_to_string(path)
            .map_err(|e| format!("reading the admin token file {}: {e}", path.display()))?;
        if t.trim().is_empty() {
            return Err(format!("admin token file {} is empty", path.display()));
        }
        return Ok(t.trim().to_string());
    }
    Err("no API admin token: set PORTCULLIS_ADMIN_TOKEN or PORTCULLIS_ADMIN_TOKEN_FILE".into())
}

#[derive(Clone)]
struct ApiState {
    engine: Arc<Engine>,
    token_hashes: Arc<Vec<[u8; 32]>>,
}

/// An API error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::BadRequest(_) => StatusCode::BAD_REQUEST,
            EngineError::NotFound(_) => StatusCode::NOT_FOUND,
            EngineError::Conflict(_) => StatusCode::CONFLICT,
            EngineError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Upstream(_) => StatusCode::BAD_GATEWAY,
            EngineError::Store(portcullis_store::Error::Unavailable { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            EngineError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!(error = %e, "API request failed");
        }
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            status: self.status.as_u16(),
            error: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn token_hash(t: &str) -> [u8; 32] {
    Sha256::digest(t.as_bytes()).into()
}

/// Builds the API router (state included): mount it as is, or `.merge` it into a larger router.
pub fn router(engine: Arc<Engine>, config: &ApiConfig) -> Router {
    let state = ApiState {
        engine,
        token_hashes: Arc::new(config.tokens.iter().map(|t| token_hash(t)).collect()),
    };
    let v1 = Router::new()
        .route("/v1/images", get(list_images).post(add_image))
        .route("/v1/images/{digest}", get(get_image))
        .route("/v1/images/{digest}/vuln", get(vuln_all))
        .route("/v1/images/{digest}/vuln/{kind}", get(vuln_kind))
        .route("/v1/images/{digest}/check", get(check_image))
        .route("/v1/policies", get(list_policies).post(add_policy))
        .route("/v1/policies/{id}", get(get_policy).put(activate_policy))
        .route("/v1/system/status", get(status))
        .route("/v1/system/feeds", get(list_feeds).post(sync_feeds))
        .route("/v1/decisions", get(list_decisions))
        .route(
            "/v1/vex",
            get(list_vex)
                .post(add_vex)
                .layer(DefaultBodyLimit::max(crate::MAX_TRIAGE_DOCUMENT_BYTES + 1)),
        )
        .route("/v1/vex/{id}", get(get_vex).delete(delete_vex))
        .route(
            "/v1/ignore-rules",
            get(list_ignore_rules)
                .post(add_ignore_rules)
                .layer(DefaultBodyLimit::max(crate::MAX_TRIAGE_DOCUMENT_BYTES + 1)),
        )
        .route(
            "/v1/ignore-rules/{id}",
            get(get_ignore_rules).delete(delete_ignore_rules),
        )
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/openapi.json", get(openapi))
        .merge(v1)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .with_state(state)
}

async fn auth(
    State(state): State<ApiState>,
    headers: HeaderMap,
    req: Request,
    next: Next,
) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    match presented {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing API token: send `Authorization: Bearer <token>` (portcullis CLI: --token or PORTCULLIS_TOKEN)",
        )
        .into_response(),
        Some(t) if state.token_hashes.contains(&token_hash(t.trim())) => next.run(req).await,
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "API token not accepted").into_response(),
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint; see /openapi.json")
}

fn parse_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let bytes = body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "request body too large")
        } else {
            ApiError::new(status, format!("request body could not be read: {r}"))
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad("request body is empty: send a JSON document"));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad(format!("request body is not valid: {e}")))
}

fn query(
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    allowed: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad(format!("query string: {e}")))?;
    if let Some(k) = q.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad(format!(
            "unknown query parameter {k:?}; allowed: {}",
            allowed.join(", ")
        )));
    }
    Ok(q)
}

fn flag(q: &BTreeMap<String, String>, name: &str) -> Result<bool, ApiError> {
    match q.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") | Some("") => Ok(true),
        Some(v) => Err(ApiError::bad(format!(
            "query parameter {name}={v:?}: use true or false"
        ))),
    }
}

async fn add_image(
    State(s): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<AddImageResponse> {
    let req: AddImageRequest = parse_body(body)?;
    let (image, queue) = s
        .engine
        .add_image(&req.tag, req.annotations, req.force)
        .await?;
    Ok(Json(AddImageResponse {
        image: image.into(),
        queue: queue.into(),
    }))
}

async fn list_images(
    State(s): State<ApiState>,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> ApiResult<Vec<Image>> {
    let q = query(q, &["tag"])?;
    let e = s.engine.clone();
    let rows = blocking(move || e.images(q.get("tag").map(String::as_str))).await?;
    Ok(Json(rows.into_iter().map(Image::from).collect()))
}

async fn get_image(State(s): State<ApiState>, Path(digest): Path<String>) -> ApiResult<Image> {
    let e = s.engine.clone();
    Ok(Json(blocking(move || e.image(&digest)).await?.into()))
}

async fn vuln_all(State(s): State<ApiState>, Path(digest): Path<String>) -> ApiResult<VulnReport> {
    let e = s.engine.clone();
    Ok(Json(
        blocking(move || e.vulns(&digest, VulnKind::All)).await?,
    ))
}

async fn vuln_kind(
    State(s): State<ApiState>,
    Path((digest, kind)): Path<(String, String)>,
) -> ApiResult<VulnReport> {
    let kind = VulnKind::parse(&kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("vulnerability type {kind:?}: use os, non-os or all"),
        )
    })?;
    let e = s.engine.clone();
    Ok(Json(blocking(move || e.vulns(&digest, kind)).await?))
}

async fn check_image(
    State(s): State<ApiState>,
    Path(digest): Path<String>,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> ApiResult<CheckResult> {
    let q = query(q, &["tag", "policy", "detail"])?;
    let detail = flag(&q, "detail")?;
    let e = s.engine.clone();
    let mut result = blocking(move || {
        e.check(
            &digest,
            q.get("tag").map(String::as_str),
            q.get("policy").map(String::as_str),
        )
    })
    .await?;
    if !detail {
        result.verdict.rows.clear();
    }
    Ok(Json(result))
}

async fn list_policies(State(s): State<ApiState>) -> ApiResult<Vec<PolicySummary>> {
    let e = s.engine.clone();
    let all = blocking(move || e.policies()).await?;
    Ok(Json(all.iter().map(PolicySummary::from).collect()))
}

async fn add_policy(
    State(s): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<PolicySummary> {
    let bundle: serde_json::Value = parse_body(body)?;
    let e = s.engine.clone();
    let rec = blocking(move || e.add_policy(bundle)).await?;
    Ok(Json(PolicySummary::from(&rec)))
}

async fn get_policy(State(s): State<ApiState>, Path(id): Path<String>) -> ApiResult<Policy> {
    let e = s.engine.clone();
    Ok(Json(blocking(move || e.policy(&id)).await?.into()))
}

async fn activate_policy(
    State(s): State<ApiState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<PolicySummary> {
    if body.as_ref().map(|b| !b.is_empty()).unwrap_or(true) {
        let req: ActivateRequest = parse_body(body)?;
        if !req.active {
            return Err(ApiError::bad(
                "`active: false` is not supported: activate another bundle instead",
            ));
        }
    }
    let e = s.engine.clone();
    let rec = blocking(move || e.activate_policy(&id)).await?;
    Ok(Json(PolicySummary::from(&rec)))
}

async fn status(State(s): State<ApiState>) -> ApiResult<Status> {
    let e = s.engine.clone();
    Ok(Json(blocking(move || e.status()).await?))
}

async fn list_feeds(State(s): State<ApiState>) -> ApiResult<Vec<Feed>> {
    let e = s.engine.clone();
    let rows = blocking(move || e.feeds()).await?;
    Ok(Json(rows.into_iter().map(Feed::from).collect()))
}

async fn sync_feeds(State(s): State<ApiState>) -> ApiResult<FeedSyncOutcome> {
    let e = s.engine.clone();
    Ok(Json(blocking(move || e.sync_feeds()).await?))
}

async fn add_triage(
    s: ApiState,
    kind: TriageKind,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<TriageDocumentSummary> {
    let q = query(q, &["name"])?;
    let bytes = body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "the {} document is larger than {} bytes; split it",
                    kind.as_str(),
                    crate::MAX_TRIAGE_DOCUMENT_BYTES
                ),
            )
        } else {
            ApiError::new(status, format!("request body could not be read: {r}"))
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::bad(format!(
            "request body is empty: send the {} document itself",
            kind.as_str()
        )));
    }
    let e = s.engine.clone();
    let name = q.get("name").cloned();
    let doc = blocking(move || e.add_triage_document(kind, name.as_deref(), &bytes)).await?;
    // This replica applies it now (the others on their next poll) and re-matches stored images.
    let e = s.engine.clone();
    tokio::spawn(async move {
        if let Err(err) = blocking(move || e.refresh_triage()).await {
            tracing::warn!(error = %err, "applying the new triage document failed; the poll retries");
        }
    });
    Ok(Json(TriageDocumentSummary::from(&doc)))
}

async fn list_triage(s: ApiState, kind: TriageKind) -> ApiResult<Vec<TriageDocumentSummary>> {
    let e = s.engine.clone();
    let docs = blocking(move || e.triage_documents(Some(kind))).await?;
    Ok(Json(docs.iter().map(TriageDocumentSummary::from).collect()))
}

async fn get_triage(s: ApiState, kind: TriageKind, id: String) -> ApiResult<TriageDocumentSummary> {
    let e = s.engine.clone();
    let docs = blocking(move || e.triage_documents(Some(kind))).await?;
    let d = docs.iter().find(|d| d.id == id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no {} document with id {id:?}", kind.as_str()),
        )
    })?;
    let mut out = TriageDocumentSummary::from(d);
    out.content = Some(d.content.clone());
    Ok(Json(out))
}

async fn delete_triage(
    s: ApiState,
    kind: TriageKind,
    id: String,
) -> ApiResult<TriageDocumentSummary> {
    let e = s.engine.clone();
    let docs = {
        let e = e.clone();
        blocking(move || e.triage_documents(Some(kind))).await?
    };
    let summary = docs
        .iter()
        .find(|d| d.id == id)
        .map(TriageDocumentSummary::from);
    let id2 = id.clone();
    blocking(move || e.delete_triage_document(kind, &id2)).await?;
    let e = s.engine.clone();
    tokio::spawn(async move {
        if let Err(err) = blocking(move || e.refresh_triage()).await {
            tracing::warn!(error = %err, "applying the triage change failed; the poll retries");
        }
    });
    summary.map(Json).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no {} document with id {id:?}", kind.as_str()),
        )
    })
}

async fn add_vex(
    State(s): State<ApiState>,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<TriageDocumentSummary> {
    add_triage(s, TriageKind::Vex, q, body).await
}

async fn list_vex(State(s): State<ApiState>) -> ApiResult<Vec<TriageDocumentSummary>> {
    list_triage(s, TriageKind::Vex).await
}

async fn get_vex(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<TriageDocumentSummary> {
    get_triage(s, TriageKind::Vex, id).await
}

async fn delete_vex(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<TriageDocumentSummary> {
    delete_triage(s, TriageKind::Vex, id).await
}

async fn add_ignore_rules(
    State(s): State<ApiState>,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<TriageDocumentSummary> {
    add_triage(s, TriageKind::IgnoreRules, q, body).await
}

async fn list_ignore_rules(State(s): State<ApiState>) -> ApiResult<Vec<TriageDocumentSummary>> {
    list_triage(s, TriageKind::IgnoreRules).await
}

async fn get_ignore_rules(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<TriageDocumentSummary> {
    get_triage(s, TriageKind::IgnoreRules, id).await
}

async fn delete_ignore_rules(
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<TriageDocumentSummary> {
    delete_triage(s, TriageKind::IgnoreRules, id).await
}

async fn list_decisions(
    State(s): State<ApiState>,
    q: Result<Query<BTreeMap<String, String>>, QueryRejection>,
) -> ApiResult<Vec<Decision>> {
    let q = query(
        q,
        &[
            "namespace",
            "kind",
            "name",
            "allowed",
            "image",
            "since",
            "limit",
        ],
    )?;
    let allowed = match q.get("allowed").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => return Err(ApiError::bad(format!("allowed={v:?}: use true or false"))),
    };
    let since = match q.get("since") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .or_else(|| {
                    chrono::DateTime::parse_from_rfc3339(v)
                        .ok()
                        .map(|t| t.timestamp_millis())
                })
                .ok_or_else(|| {
                    ApiError::bad(format!("since={v:?}: use RFC 3339 or Unix milliseconds"))
                })?,
        ),
    };
    let limit = match q.get("limit") {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    ApiError::bad(format!("limit={v:?}: use a number from 1 to 1000"))
                })?,
        ),
    };
    let filter = DecisionFilter {
        namespace: q.get("namespace").cloned(),
        kind: q.get("kind").cloned(),
        name: q.get("name").cloned(),
        allowed,
        image: q.get("image").cloned(),
        since,
        limit,
    };
    let e = s.engine.clone();
    let rows = blocking(move || e.decisions(&filter)).await?;
    Ok(Json(rows.into_iter().map(Decision::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_token_from_value_or_secret_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "s3cret\n").unwrap();
        assert_eq!(admin_token(Some(" v "), Some(&f)).unwrap(), "v");
        assert_eq!(admin_token(Some(""), Some(&f)).unwrap(), "s3cret");
        std::fs::write(&f, "  \n").unwrap();
        assert!(
            admin_token(None, Some(&f))
                .unwrap_err()
                .contains("is empty")
        );
        let missing = dir.path().join("nope");
        assert!(
            admin_token(None, Some(&missing))
                .unwrap_err()
                .contains("nope")
        );
        assert!(
            admin_token(None, None)
                .unwrap_err()
                .contains("PORTCULLIS_ADMIN_TOKEN")
        );
        let cfg = ApiConfig {
            tokens: vec!["s3cret".into()],
            max_body_bytes: 1,
        };
        assert!(!format!("{cfg:?}").contains("s3cret"));
    }
}
