//! HTTPS serving: admission webhook, REST API mount, metrics, health, TLS reload.
//!
//! [`start`] binds a TLS listener (rustls, HTTP/1.1 + HTTP/2) serving:
//! - `POST /validate`, `POST /mutate`: AdmissionReview in, AdmissionReview out (same version); a body that is
//!   not an AdmissionReview gets `400` with the reason, a body over the limit `413`;
//! - `GET /healthz` (process alive), `GET /readyz` (certificate loaded, verdict source ready with the verdicts of
//!   the admission configuration's policies loaded, and no `policy`-mode rule naming an unusable bundle — the
//!   503 body says which and what to do; the 200 body adds the verdict source's detail lines, e.g. the
//!   vulnerability data's version, age, generation and coverage);
//! - `GET /metrics` (OpenMetrics text);
//! - every route of the optional extra [`axum::Router`] (the engine's REST API).
//!
//! The certificate and the admission configuration are re-read when their files change. Each review gets a
//! deadline below the `?timeout=` the API server appends: digest lookups that cannot finish in time are
//! abandoned (they complete in the background and are cached) and the decision falls back to cached verdicts
//! or the mode's unknown-image rule, so the API server never times out waiting for Portcullis.

pub mod certs;
mod conn;
pub mod metrics;
pub mod resolve;
mod review;
pub mod tls;
pub mod webhook;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use portcullis_admission::{
    AdmissionPolicies, Config, Context, Endpoint, ImageVerdicts, NamespaceLookup, Review,
    VerifiedOwner, decide, owner_claim, parse_go_duration, plan, verify_owner,
};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use metrics::Metrics;
pub use resolve::{DigestResolver, ResolveError, ResolveFn};
pub use tls::ReloadingCert;

use review::{WebhookQuery, review};

/// Errors of starting the server. Each names the file or address and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate/key pair cannot be used.
    #[error("TLS certificate {cert} / key {key}: {reason} (create them with `portcullis certs`)")]
    Tls {
        /// Certificate file.
        cert: String,
        /// Key file.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The admission configuration is invalid.
    #[error(transparent)]
    Config(#[from] portcullis_admission::ConfigError),
    /// The ContainerAdmissionPolicy file is invalid.
    #[error(transparent)]
    Policies(#[from] portcullis_admission::PoliciesFileError),
    /// The client CA file cannot be used.
    #[error(
        "client CA {path}: {reason} (give the PEM certificate of the CA that signs the API server's webhook client certificate)"
    )]
    ClientCa {
        /// File.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Who sent a request, as far as TLS can tell: set on every request the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The client presented a certificate signed by the configured client CA.
    pub authenticated: bool,
}

/// The audit annotation (on the response and in the audit trail) saying whether the caller was authenticated.
pub const CALLER_ANNOTATION: &str = "caller";

pub use portcullis_admission::OwnerLookup;

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Admission configuration file (native or Anchore format); `None` = defaults (passive).
    pub admission_config: Option<PathBuf>,
    /// ContainerAdmissionPolicy file (YAML/JSON; reloaded when it changes), kept in [`Parts::policies`].
    pub admission_policies: Option<PathBuf>,
    /// Largest accepted request body. The API server sends at most ~3 MiB objects.
    pub max_body_bytes: usize,
    /// Most reviews processed at once (more wait in line).
    pub max_concurrency: usize,
    /// Webhook timeout assumed when the request carries no `?timeout=`.
    pub default_timeout: Duration,
    /// How much earlier than the API server's timeout Portcullis answers.
    pub deadline_margin: Duration,
    /// How often the certificate and configuration files are checked for changes.
    pub reload_interval: Duration,
    /// Look up tags missing from the verdict source's cache at the registry (within the deadline).
    pub resolve_tags: bool,
    /// Longest time a review waits for registry lookups, whatever the deadline.
    pub resolve_budget: Duration,
    /// How long a resolved digest is trusted.
    pub digest_ttl: Duration,
    /// How long a failed lookup is remembered.
    pub negative_ttl: Duration,
    /// How long in-flight requests get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Time a new connection gets for its TLS handshake, and each request for its headers (HTTP/1.1; an idle
    /// keep-alive connection waiting for its next request is closed after this too).
    pub header_read_timeout: Duration,
    /// A connection on which nothing is read or written for this long is closed.
    pub idle_timeout: Duration,
    /// Time a webhook request gets to arrive in full and be answered (above any webhook `timeoutSeconds`).
    pub request_timeout: Duration,
    /// Most connections open at once; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// CA (PEM) whose client certificates `/validate` and `/mutate` require; `None` = anyone may call them.
    pub client_ca: Option<PathBuf>,
}

impl ServerConfig {
    /// Defaults for `listen`, `cert` and `key`.
    pub fn new(listen: SocketAddr, cert: PathBuf, key: PathBuf) -> Self {
        ServerConfig {
            listen,
            cert,
            key,
            admission_config: None,
            admission_policies: None,
            max_body_bytes: 3 * 1024 * 1024,
            max_concurrency: 1024,
            default_timeout: Duration::from_secs(10),
            deadline_margin: Duration::from_millis(1500),
            reload_interval: Duration::from_secs(2),
            resolve_tags: true,
            resolve_budget: Duration::from_secs(3),
            digest_ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            request_timeout: Duration::from_secs(40),
            max_connections: 4096,
            client_ca: None,
        }
    }
}

/// What the rest of Portcullis plugs into the server.
pub struct Parts {
    /// The verdict source (the engine, or a [`portcullis_admission::MemoryVerdicts`]).
    pub verdicts: Arc<dyn ImageVerdicts>,
    /// Extra routes (the engine's REST API), merged with the webhook routes.
    pub extra: Option<Router>,
    /// Namespace metadata for namespace selectors.
    pub namespaces: Option<Arc<dyn NamespaceLookup>>,
    /// Tag → digest lookups; `None` = registries through `portcullis_image::resolve_digest`.
    pub resolver: Option<DigestResolver>,
    /// ContainerAdmissionPolicies in force (kept current by a file or the Kubernetes watcher).
    pub policies: Option<AdmissionPolicies>,
    /// Verifies controller owners for `skipOwned`; `None` = no owner is verified, nothing is skipped.
    pub owners: Option<Arc<dyn OwnerLookup>>,
    /// Registers further metrics (the engine's) beside the server's, served by `GET /metrics`.
    pub metrics: Option<metrics::MetricsRegistrar>,
}

impl Parts {
    /// Parts with only a verdict source.
    pub fn new(verdicts: Arc<dyn ImageVerdicts>) -> Self {
        Parts {
            verdicts,
            extra: None,
            namespaces: None,
            resolver: None,
            policies: None,
            owners: None,
            metrics: None,
        }
    }
}

struct AppState {
    cfg: ServerConfig,
    admission: RwLock<Arc<Config>>,
    verdicts: Arc<dyn ImageVerdicts>,
    namespaces: Option<Arc<dyn NamespaceLookup>>,
    resolver: DigestResolver,
    policies: AdmissionPolicies,
    owners: Option<Arc<dyn OwnerLookup>>,
    metrics: Metrics,
    cert: Arc<ReloadingCert>,
    serving: AtomicBool,
}

/// Builds the router (webhook, health, metrics, extra routes) over shared state.
fn router(state: Arc<AppState>, extra: Option<Router>) -> Router {
    let s1 = state.clone();
    let s2 = state.clone();
    let s3 = state.clone();
    let s4 = state.clone();
    let webhook = Router::new()
        .route(
            "/validate",
            post(
                move |Query(q): Query<WebhookQuery>,
                      Extension(caller): Extension<Caller>,
                      body: Bytes| {
                    review(s1.clone(), Endpoint::Validate, caller, q.timeout, body)
                },
            ),
        )
        .route(
            "/mutate",
            post(
                move |Query(q): Query<WebhookQuery>,
                      Extension(caller): Extension<Caller>,
                      body: Bytes| {
                    review(s2.clone(), Endpoint::Mutate, caller, q.timeout, body)
                },
            ),
        )
        .layer(DefaultBodyLimit::max(state.cfg.max_body_bytes))
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            state.cfg.max_concurrency,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.cfg.request_timeout,
            conn::request_deadline,
        ));
    let mut app = webhook
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(move || {
                let s = s3.clone();
                async move {
                    if !(s.serving.load(Ordering::Relaxed) && s.verdicts.ready()) {
                        return (StatusCode::SERVICE_UNAVAILABLE, "not ready\n".to_string());
                    }
                    match policy_mode_problem(&s) {
                        None => {
                            let mut text = "ready\n".to_string();
                            for line in s.verdicts.readiness_detail() {
                                text.push_str(&line);
                                text.push('\n');
                            }
                            (StatusCode::OK, text)
                        }
                        Some(p) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {p}\n")),
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let s = s4.clone();
                async move {
                    (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        s.metrics.encode(),
                    )
                }
            }),
        );
    if let Some(extra) = extra {
        app = app.merge(extra);
    }
    app
}

/// Why `policy` mode cannot work now: the first policy an assignment in `policy` mode names that the verdict
/// source cannot use (then every image would be denied as not evaluated), with what to do.
fn policy_mode_problem(s: &AppState) -> Option<String> {
    let cfg = s.admission.read().ok()?.clone();
    let mut seen = std::collections::BTreeSet::new();
    std::iter::once(&cfg.default)
        .chain(cfg.selectors.iter().map(|sel| &sel.assign))
        .filter(|a| a.mode == portcullis_admission::Mode::Policy)
        .filter(|a| seen.insert(a.policy.clone()))
        .find_map(|a| {
            s.verdicts.policy_problem(&a.policy).map(|p| {
                format!(
                    "admission mode `policy` uses policy bundle {:?}, which cannot be used: {p}",
                    a.policy
                )
            })
        })
}

/// The policy names an admission configuration looks verdicts up for (its default and every selector's).
fn config_policies(cfg: &Config) -> Vec<String> {
    let mut names: Vec<String> = std::iter::once(&cfg.default)
        .chain(cfg.selectors.iter().map(|sel| &sel.assign))
        .map(|a| a.policy.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Longest a reloaded admission configuration waits for the verdicts of the policies it names before it is
/// put in force anyway.
const CONFIG_SWAP_WAIT: Duration = Duration::from_secs(30);

/// A running server.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    state: Arc<AppState>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish (up to the grace period), then returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Waits until the server stops (after [`Running::shutdown`] from elsewhere, or a fatal error).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// A handle that stops the server when `true` is sent.
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// The metrics, e.g. for tests.
    pub fn metrics_text(&self) -> String {
        self.state.metrics.encode()
    }
}

/// Reloads `path` with `load` when its stamp changed and hands the result to `apply`; a file that does not
/// load is reported (log and `portcullis_reloads_total{what, result="error"}`) and the previous one stays.
fn reload_if_changed<T, E: std::fmt::Display>(
    path: &std::path::Path,
    stamp: &mut Option<(SystemTime, u64)>,
    metrics: &Metrics,
    what: &'static str,
    load: impl Fn(&std::path::Path) -> Result<T, E>,
    apply: impl FnOnce(T),
) {
    let now = file_stamp(path);
    if now == *stamp {
        return;
    }
    *stamp = now;
    match load(path) {
        Ok(v) => {
            apply(v);
            tracing::info!(file = %path.display(), what, "reloaded");
            metrics.reload(what, true);
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), what, error = %e, "reload failed; keeping the previous version");
            metrics.reload(what, false);
        }
    }
}

fn file_stamp(p: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// Logs a warning per selector that the workload's author decides ([`Config::warnings`]).
fn warn_author_controlled(c: &Config) {
    for w in c.warnings() {
        tracing::warn!("{w}");
    }
}

/// Starts the server: loads the certificate and configuration (failing fast when they are unusable), binds,
/// and serves until [`Running::shutdown`]. Registries, vulnerability data and the database are not needed to
/// start.
pub async fn start(cfg: ServerConfig, parts: Parts) -> Result<Running, ServerError> {
    portcullis_admission::warm_up();
    let cert = Arc::new(ReloadingCert::new(cfg.cert.clone(), cfg.key.clone())?);
    let tls_cfg = tls::server_config_with_client_ca(cert.clone(), cfg.client_ca.as_deref())?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_cfg));
    // Stamp before loading: a change racing with the load is picked up by the first reload check.
    let initial_cfg_stamp = cfg.admission_config.as_deref().and_then(file_stamp);
    let admission = match &cfg.admission_config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    // Ask for the verdicts of the configuration's policies now: `/readyz` waits for them, so the first review
    // after ready is not denied as "not evaluated yet".
    parts
        .verdicts
        .prepare_policies(&config_policies(&admission));
    warn_author_controlled(&admission);
    let policies = parts.policies.unwrap_or_default();
    let initial_policies_stamp = cfg.admission_policies.as_deref().and_then(file_stamp);
    if let Some(p) = &cfg.admission_policies {
        policies.replace(portcullis_admission::load_policies(p)?);
    }
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: cfg.listen,
        source,
    })?;
    let metrics = match parts.metrics {
        Some(register) => Metrics::with_extra(register),
        None => Metrics::new(),
    };
    let resolver = parts.resolver.unwrap_or_else(|| {
        DigestResolver::registry(
            portcullis_image::PullOptions {
                timeout: Some(cfg.resolve_budget),
                ..Default::default()
            },
            cfg.digest_ttl,
            cfg.negative_ttl,
        )
    });
    resolver.observe_latency(metrics.resolve_histogram());
    let state = Arc::new(AppState {
        cfg: cfg.clone(),
        admission: RwLock::new(Arc::new(admission)),
        verdicts: parts.verdicts,
        namespaces: parts.namespaces,
        resolver,
        policies,
        owners: parts.owners,
        metrics,
        cert: cert.clone(),
        serving: AtomicBool::new(true),
    });
    let app = router(state.clone(), parts.extra);
    let (stop, mut stop_rx) = watch::channel(false);

    // Reload loop: certificate and admission configuration.
    let rs = state.clone();
    let mut reload_stop = stop_rx.clone();
    tokio::spawn(async move {
        let mut cfg_stamp = initial_cfg_stamp;
        let mut policies_stamp = initial_policies_stamp;
        let mut tick = tokio::time::interval(rs.cfg.reload_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = reload_stop.changed() => break,
                _ = tick.tick() => {}
            }
            match rs.cert.reload_if_changed() {
                Ok(true) => {
                    tracing::info!("serving certificate reloaded");
                    rs.metrics.reload("certificate", true);
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "certificate reload failed; keeping the previous one");
                    rs.metrics.reload("certificate", false);
                }
            }
            if let Some(p) = rs.cfg.admission_config.as_deref() {
                let mut loaded = None;
                reload_if_changed(
                    p,
                    &mut cfg_stamp,
                    &rs.metrics,
                    "config",
                    Config::load,
                    |c| {
                        warn_author_controlled(&c);
                        loaded = Some(c);
                    },
                );
                if let Some(c) = loaded {
                    // Swap only once the verdicts the new configuration asks for are loaded (bounded), so
                    // the change does not deny images that pass.
                    let names = config_policies(&c);
                    rs.verdicts.prepare_policies(&names);
                    let t = Instant::now();
                    while !rs.verdicts.policies_ready(&names) && t.elapsed() < CONFIG_SWAP_WAIT {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    if !rs.verdicts.policies_ready(&names) {
                        tracing::warn!(policies = ?names, "verdicts for the new admission configuration's policies are not loaded yet; putting it in force anyway");
                    }
                    if let Ok(mut a) = rs.admission.write() {
                        *a = Arc::new(c);
                    }
                }
            }
            if let Some(p) = rs.cfg.admission_policies.as_deref() {
                reload_if_changed(
                    p,
                    &mut policies_stamp,
                    &rs.metrics,
                    "admission-policies",
                    portcullis_admission::load_policies,
                    |set| rs.policies.replace(set),
                );
            }
        }
    });

    let grace = cfg.shutdown_grace;
    let (header_timeout, idle_timeout, max_connections) = (
        cfg.header_read_timeout,
        cfg.idle_timeout,
        cfg.max_connections,
    );
    let accept_state = state.clone();
    let task = tokio::spawn(async move {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout);
        builder
            .http2()
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(idle_timeout / 2)
            .keep_alive_timeout(header_timeout);
        let slots = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
        loop {
            // A slot first: at the cap, new connections wait in the listen backlog, not in memory.
            let permit = tokio::select! {
                _ = stop_rx.changed() => break,
                p = slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let (tcp, _peer) = tokio::select! {
                _ = stop_rx.changed() => break,
                acc = listener.accept() => match acc {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and similar: back off briefly, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let app = app.clone();
            let watcher = graceful.watcher();
            let builder = builder.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let tcp = conn::IdleIo::new(tcp, idle_timeout);
                let tls = match tokio::time::timeout(header_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(?header_timeout, "TLS handshake not completed in time");
                        return;
                    }
                };
                // With a client CA configured, rustls only completes a handshake with a certificate when the
                // CA signed it; without one, no certificate is ever asked for.
                let caller = Caller {
                    authenticated: tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty()),
                };
                let svc = TowerToHyperService::new(
                    tower::ServiceBuilder::new()
                        .map_request(move |mut r: axum::http::Request<hyper::body::Incoming>| {
                            r.extensions_mut().insert(caller);
                            r
                        })
                        .service(app),
                );
                let conn = builder
                    .serve_connection(TokioIo::new(tls), svc)
                    .into_owned();
                if let Err(e) = watcher.watch(conn).await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
        accept_state.serving.store(false, Ordering::Relaxed);
        drop(listener);
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                ?grace,
                "in-flight requests did not finish within the shutdown grace period"
            );
        }
    });
    Ok(Running {
        addr,
        stop,
        task,
        state,
    })
}
