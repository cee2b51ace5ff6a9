//! Everything `portcullis serve` needs to run the engine, in one call: open (and migrate) the store, start the
//! analysis workers and the admission verdict source, and build the REST API router to mount.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::api::{ApiConfig, router};
use crate::bundles::BundleSources;
use crate::engine::{Engine, EngineConfig, EngineError, Stages, blocking};
use crate::stages::{PolicyEvaluator, RegistryAnalyser, RegistryResolver};
use crate::verdicts::EngineVerdicts;

/// How often a store that could not be opened at start is tried again.
const STORE_RETRY: Duration = Duration::from_secs(2);

/// Service settings.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Store: a SQLite file path (default `portcullis.db`) or a `postgres://` URL.
    pub store_url: String,
    /// Engine settings.
    pub engine: EngineConfig,
    /// API settings (tokens, body limit).
    pub api: ApiConfig,
    /// How often admission's in-memory verdict snapshot is refreshed from the store.
    pub verdict_refresh: Duration,
    /// Policy bundle files and the bundle to activate (Portcullis's default bundle is always stored).
    pub bundles: BundleSources,
    /// How old the vulnerability data may get before this replica syncs it from the feed source (at start
    /// too, when it is missing or older); zero: never on its own ([`crate::vuln_sync::spawn`]).
    pub vuln_sync_interval: Duration,
}

/// A running engine service.
pub struct Service {
    /// The engine.
    pub engine: Arc<Engine>,
    /// The REST API, to merge into the HTTPS server's router.
    pub router: axum::Router,
    /// Admission's verdict source (`portcullis_admission::ImageVerdicts`).
    pub verdicts: Arc<EngineVerdicts>,
    /// The worker tasks (they end when `shutdown` turns true).
    pub workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Stages {
    /// The real stages for registry images: resolve and pull with `portcullis_image`, catalogue with
    /// `portcullis_sbom`, evaluate with `portcullis_policy`; `matcher` and `feeds` as given (the vulnerability
    /// database is wired by the caller). `learned` holds credentials learned from pull secrets while running; `platforms` are the platforms
    /// of a multi-platform index that are analysed (see [`RegistryAnalyser::platforms`]).
    pub fn registry(
        opts: portcullis_image::PullOptions,
        work_dir: std::path::PathBuf,
        matcher: Option<Arc<dyn crate::stages::Matcher>>,
        feeds: Option<Arc<dyn crate::stages::FeedSource>>,
        learned: crate::stages::LearnedCredentials,
        platforms: Vec<portcullis_image::Platform>,
    ) -> Stages {
        Stages {
            resolver: Arc::new(RegistryResolver {
                opts: opts.clone(),
                learned: learned.clone(),
            }),
            verifier: Some(Arc::new(crate::signatures::RegistryVerifier {
                opts: opts.clone(),
                limits: portcullis_verify::Limits::default(),
                key_secrets: Default::default(),
            })),
            analyser: Arc::new(RegistryAnalyser {
                opts,
                work_dir,
                learned,
                platforms,
            }),
            matcher,
            evaluator: Some(Arc::new(PolicyEvaluator::default())),
            feeds,
        }
    }
}

/// Starts the service on the current tokio runtime. Fails when the API has no token or the store URL is not
/// understood. A store that cannot be opened now (PostgreSQL down, SQLite file locked or its directory missing)
/// does not stop the start: the service runs on a [`portcullis_store::Reopening`] store that connects once the
/// database is back, admission answers from what it has cached meanwhile, and the error is logged.
pub async fn start(
    config: ServiceConfig,
    stages: Stages,
    shutdown: watch::Receiver<bool>,
) -> Result<Service, EngineError> {
    if config.api.tokens.iter().all(|t| t.trim().is_empty()) {
        return Err(EngineError::BadRequest(
            "the engine API needs an admin token: set PORTCULLIS_ADMIN_TOKEN or PORTCULLIS_ADMIN_TOKEN_FILE"
                .into(),
        ));
    }
    let url = config.store_url.clone();
    let store: Arc<dyn portcullis_store::Store> = match blocking(move || {
        Ok(portcullis_store::open(&url)?)
    })
    .await
    {
        Ok(s) => Arc::from(s),
        Err(EngineError::Store(
            e @ (portcullis_store::Error::BadUrl(_) | portcullis_store::Error::SchemaTooNew { .. }),
        )) => return Err(EngineError::Store(e)),
        Err(EngineError::Store(e)) => {
            tracing::error!(error = %e, "the store cannot be opened; starting anyway and retrying in the background");
            Arc::new(portcullis_store::Reopening::new(
                &config.store_url,
                &e,
                STORE_RETRY,
            ))
        }
        Err(e) => return Err(e),
    };
    let engine = Engine::new(store, stages, config.engine);
    crate::bundles::start(engine.clone(), config.bundles, shutdown.clone()).await;
    let workers = engine.spawn_workers(shutdown.clone());
    let mut workers = workers;
    workers.push(crate::metrics::spawn_refresh(
        engine.clone(),
        config.verdict_refresh,
        shutdown.clone(),
    ));
    // Stored triage documents: applied now and whenever they change, stored images re-matched (also once at
    // start when the vulnerability data or triage changed while stopped).
    workers.push(crate::spawn_triage_watch(
        engine.clone(),
        config.verdict_refresh,
        shutdown.clone(),
    ));
    workers.extend(crate::vuln_sync::spawn(
        engine.clone(),
        config.vuln_sync_interval,
        config.verdict_refresh,
        shutdown.clone(),
    ));
    let verdicts = EngineVerdicts::start(engine.clone(), config.verdict_refresh, shutdown);
    let router = router(engine.clone(), &config.api);
    Ok(Service {
        engine,
        router,
        verdicts,
        workers,
    })
}
