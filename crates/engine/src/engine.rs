//! The engine: adds images, runs the analysis queue workers (resolve → pull + analyse → match → evaluate →
//! store), answers vulnerability and policy questions from the store, re-matches every stored SBOM after a
//! vulnerability-data update, and keeps an in-memory verdict cache for the admission path.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_policy::Verdict;

use crate::api::{CheckResult, Feed, FeedSyncOutcome, RematchStats, Status, VulnKind, VulnReport};
use portcullis_sbom::Sbom;
use portcullis_store::{
    DecisionFilter, DecisionRecord, EnqueueRequest, Enqueued, FeedRecord, ImageRecord, NewDecision,
    NewEvaluation, PolicyRecord, RateLimits, RetryPolicy, Store,
};
use portcullis_vuln::MatchReport;

use crate::stages::{
    Analyser, Evaluator, FeedSource, Matcher, Resolver, StageError, bundle_identity,
};

pub(crate) mod triage;
mod worker;

/// Errors of engine operations, each mapping to one HTTP status in the API.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// The object does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409), e.g. the image is not analysed yet.
    #[error("{0}")]
    Conflict(String),
    /// A needed part is not configured in this service (503).
    #[error("{0}")]
    Unavailable(String),
    /// An upstream (registry, feed) failed (502).
    #[error("{0}")]
    Upstream(String),
    /// The store failed (500).
    #[error(transparent)]
    Store(#[from] portcullis_store::Error),
}

/// Result type of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Account policies and evaluations belong to.
    pub account: String,
    /// Concurrent analyses in this replica.
    pub workers: usize,
    /// Claim lease; a replica that stops heartbeating loses its claims after this.
    pub lease: Duration,
    /// Heartbeat interval (well below the lease).
    pub heartbeat: Duration,
    /// How long idle workers wait before polling the queue again.
    pub poll: Duration,
    /// Retry backoff.
    pub retry: RetryPolicy,
    /// Per-registry rate limits.
    pub rate_limits: RateLimits,
    /// Attempts before an image is `analysis_failed`.
    pub max_attempts: u32,
    /// Unique id of this replica (claims are recorded under it).
    pub replica_id: String,
    /// How long a cached admission verdict is trusted (other replicas may have changed policy meanwhile).
    pub cache_ttl: Duration,
    /// Tag resolution: pool size, deadline and per-registry circuit breaker.
    pub resolve: crate::resolve::ResolveConfig,
    /// How long a namespace's access to an analysed image is trusted before it is checked again.
    pub access: crate::access::AccessConfig,
    /// How old an image's signature facts may get before a review has them verified again off the request
    /// path (so a signature or attestation pushed later is seen); zero: never.
    pub signature_recheck: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            account: "admin".into(),
            workers: 4,
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(15),
            poll: Duration::from_millis(500),
            retry: RetryPolicy::default(),
            rate_limits: RateLimits::default(),
            max_attempts: 3,
            replica_id: format!(
                "replica-{}-{}",
                std::process::id(),
                chrono::Utc::now().timestamp_micros()
            ),
            cache_ttl: Duration::from_secs(30),
            resolve: Default::default(),
            access: Default::default(),
            signature_recheck: crate::signatures::RECHECK,
        }
    }
}

/// The stage implementations the engine drives.
#[derive(Clone)]
pub struct Stages {
    /// Tag → digest.
    pub resolver: Arc<dyn Resolver>,
    /// Pull + analyse.
    pub analyser: Arc<dyn Analyser>,
    /// Vulnerability matcher; without one, images get SBOMs but no findings.
    pub matcher: Option<Arc<dyn Matcher>>,
    /// Policy evaluator; without one, `check` answers 503.
    pub evaluator: Option<Arc<dyn Evaluator>>,
    /// Feed updater; without one, feed sync answers 503.
    pub feeds: Option<Arc<dyn FeedSource>>,
    /// Signature verifier for admission's `verify` requirements; without one, they are never met.
    pub verifier: Option<Arc<dyn crate::signatures::Verifier>>,
}

type CacheKey = (String, String, String);

/// Most verdicts the in-memory cache holds. Inserting past it first drops the entries older than the cache TTL,
/// then (if every entry is fresh) the oldest half: the cache is a shortcut over the store, never a second copy
/// of it that grows with every tag a registry mints.
pub const MAX_CACHED_VERDICTS: usize = 50_000;

/// Inserts into a verdict cache of at most `max` entries (see [`MAX_CACHED_VERDICTS`]).
fn insert_bounded<V>(
    cache: &mut HashMap<CacheKey, (Instant, V)>,
    key: CacheKey,
    value: V,
    ttl: Duration,
    max: usize,
) {
    if cache.len() >= max && !cache.contains_key(&key) {
        cache.retain(|_, (at, _)| at.elapsed() < ttl);
        if cache.len() >= max {
            let mut ages: Vec<Instant> = cache.values().map(|(at, _)| *at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            cache.retain(|_, (at, _)| *at > cut);
        }
    }
    cache.insert(key, (Instant::now(), value));
}

/// The engine; share it as `Arc<Engine>`.
pub struct Engine {
    store: Arc<dyn Store>,
    stages: Stages,
    config: EngineConfig,
    cache: Mutex<HashMap<CacheKey, (Instant, Arc<Verdict>)>>,
    metrics: crate::metrics::EngineMetrics,
    resolve: crate::resolve::ResolvePool,
    access: crate::access::AccessFacts,
    /// Ids of the stored triage documents the matcher applies now (see `triage.rs`).
    triage_applied: Mutex<Option<Vec<String>>>,
    /// Signature verification facts (admission's `verify` blocks; bundle evaluation's gate `signature`).
    sigs: Arc<crate::signatures::SignatureCache>,
    vuln_sync: crate::vuln_sync::SyncTracker,
    /// `verify` blocks with `sbomFromAttestation`, by digest (or `registry/repository` when the review named no
    /// digest), noted by admission before it queues the analysis ([`Engine::note_sbom_attestation`]).
    sbom_specs: Mutex<HashMap<String, portcullis_admission::config::VerifySpec>>,
    /// `seen_at` of the newest access record read by [`Engine::load_access`].
    access_read_up_to: Mutex<Option<i64>>,
}

/// Images whose `sbomFromAttestation` block is remembered until their analysis (more: the oldest are forgotten,
/// and those images' layers are analysed).
const MAX_SBOM_SPECS: usize = 10_000;
/// Overlap of incremental reads of the store's access records (replicas' clocks differ a little).
const ACCESS_READ_OVERLAP_MS: i64 = 5_000;

/// Annotation of an analysed image: where its SBOM came from (`layers`, or `attestation (cyclonedx, signer …)`).
pub const SBOM_SOURCE_ANNOTATION: &str = "portcullis.io/sbom-source";

/// Annotation of a multi-platform index: its analysed platform manifests, `os/arch=sha256:…` separated by `,`.
pub const PLATFORMS_ANNOTATION: &str = "portcullis.io/platforms";
/// Annotation of a platform manifest analysed for an index: the index digest.
pub const INDEX_ANNOTATION: &str = "portcullis.io/index";
/// Annotation of a platform manifest analysed for an index: its platform (`linux/arm64`).
pub const PLATFORM_ANNOTATION: &str = "portcullis.io/platform";

/// The analysed platform manifests of a multi-platform index as `(platform, digest)`; `None` for an image that
/// is not an index.
pub fn index_platforms(image: &ImageRecord) -> Option<Vec<(String, String)>> {
    let listed = image.annotations.get(PLATFORMS_ANNOTATION)?;
    Some(
        listed
            .split(',')
            .filter_map(|e| e.split_once('='))
            .map(|(p, d)| (p.to_string(), d.to_string()))
            .collect(),
    )
}

/// The verdict of a multi-platform index from its platforms' verdicts: the worst final action (the first
/// platform with it gives the verdict's other fields), with every row, warning and untested trigger prefixed
/// by its platform (`linux/arm64: …`) and each row marked with it ([`portcullis_policy::EvalRow::platform`]) so
/// a denial names the platform.
pub fn worst_of_platforms(verdicts: Vec<(String, Verdict)>) -> Option<Verdict> {
    let worst = verdicts
        .iter()
        .enumerate()
        .max_by_key(|(i, (_, v))| (v.final_action, std::cmp::Reverse(*i)))
        .map(|(i, _)| i)?;
    let mut out = verdicts[worst].1.clone();
    out.rows.clear();
    out.warnings.clear();
    out.not_evaluated.clear();
    out.policy_final_action = verdicts
        .iter()
        .map(|(_, v)| v.policy_final_action)
        .max()
        .unwrap_or(out.policy_final_action);
    for (platform, v) in verdicts {
        out.rows.extend(v.rows.into_iter().map(|mut r| {
            r.check_output = format!("{platform}: {}", r.check_output);
            r.platform = Some(platform.clone());
            r
        }));
        out.warnings
            .extend(v.warnings.into_iter().map(|w| format!("{platform}: {w}")));
        out.not_evaluated.extend(
            v.not_evaluated
                .into_iter()
                .map(|n| format!("{platform}: {n}")),
        );
    }
    Some(out)
}

/// True for a well-formed `sha256:<64 lowercase hex>` digest ([`portcullis_image::Digest::parse_sha256`]).
pub fn is_digest(s: &str) -> bool {
    portcullis_image::Digest::parse_sha256(s).is_ok()
}

/// A parsed pull string.
struct Pull {
    /// `registry/repository:tag` when the reference names a tag (or no digest: `:latest`).
    tag: Option<String>,
    /// The digest, when the reference pins one.
    digest: Option<String>,
    /// Registry host.
    registry: String,
    /// `registry/repository`.
    repo: String,
    /// The parsed reference.
    reference: portcullis_image::ImageRef,
}

/// Parses a pull string with `portcullis_image::ImageRef` (Docker's normalisation: `nginx` →
/// `docker.io/library/nginx:latest`), checking a pinned digest strictly.
fn split_pull(pull: &str) -> Result<Pull> {
    if pull.is_empty()
        || pull.len() > 512
        || pull.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(EngineError::BadRequest(format!(
            "image reference {pull:?} is not valid: expected e.g. `registry:5000/repo:tag` or `repo@sha256:…`, \
             no spaces, at most 512 characters"
        )));
    }
    if let Some((_, d)) = pull.split_once('@')
        && !is_digest(d)
    {
        return Err(EngineError::BadRequest(format!(
            "image reference {pull:?}: digest {d:?} is not `sha256:` followed by 64 lowercase hex digits"
        )));
    }
    let r = portcullis_image::ImageRef::parse(pull).map_err(|e| {
        EngineError::BadRequest(format!("image reference {pull:?} is not valid: {e}"))
    })?;
    let tag = (r.tag.is_some() || r.digest.is_none()).then(|| r.tag_key());
    Ok(Pull {
        tag,
        digest: r.digest.clone(),
        repo: format!("{}/{}", r.registry, r.repository),
        registry: r.registry.clone(),
        reference: r,
    })
}

fn stage_to_engine(e: StageError) -> EngineError {
    if e.permanent {
        EngineError::BadRequest(e.message)
    } else {
        EngineError::Upstream(e.message)
    }
}

impl Engine {
    /// Creates an engine over a store.
    pub fn new(store: Arc<dyn Store>, stages: Stages, config: EngineConfig) -> Arc<Engine> {
        let key_secrets = stages
            .verifier
            .as_ref()
            .and_then(|v| v.key_secrets())
            .unwrap_or_default();
        let recheck = config.signature_recheck;
        Arc::new(Engine {
            resolve: crate::resolve::ResolvePool::new(stages.resolver.clone(), config.resolve),
            access: crate::access::AccessFacts::new(config.access),
            store,
            stages,
            config,
            cache: Mutex::new(HashMap::new()),
            metrics: crate::metrics::EngineMetrics::default(),
            triage_applied: Mutex::new(None),
            sigs: Arc::new(crate::signatures::SignatureCache::new(key_secrets, recheck)),
            vuln_sync: Default::default(),
            sbom_specs: Mutex::new(HashMap::new()),
            access_read_up_to: Mutex::new(None),
        })
    }

    /// Notes that admission's `verify` block for `image` lets a verified SBOM attestation replace the analysis
    /// of its layers (ignored when the block does not say so).
    pub fn note_sbom_attestation(
        &self,
        image: &portcullis_image::ImageRef,
        spec: &portcullis_admission::config::VerifySpec,
    ) {
        if !spec.sbom_from_attestation {
            return;
        }
        let key = match &image.digest {
            Some(d) => d.to_string(),
            None => format!("{}/{}", image.registry, image.repository),
        };
        let mut specs = self.sbom_specs.lock().unwrap_or_else(|p| p.into_inner());
        if specs.len() >= MAX_SBOM_SPECS && !specs.contains_key(&key) {
            specs.clear();
        }
        specs.insert(key, spec.clone());
    }

    /// The `sbomFromAttestation` block noted for the image `pull` names (pinned to `digest`).
    fn sbom_attestation_spec(
        &self,
        digest: &str,
        image: &portcullis_image::ImageRef,
    ) -> Option<portcullis_admission::config::VerifySpec> {
        let mut specs = self.sbom_specs.lock().unwrap_or_else(|p| p.into_inner());
        specs.remove(digest).or_else(|| {
            specs
                .get(&format!("{}/{}", image.registry, image.repository))
                .cloned()
        })
    }

    /// The signature verification facts the engine evaluates bundles with (and admission reads).
    pub fn signature_cache(&self) -> &Arc<crate::signatures::SignatureCache> {
        &self.sigs
    }

    /// The version an evaluation of `digest` made now records: the findings' data version `db_version` and
    /// the fingerprint of the signature facts it sees ([`crate::signatures::facts_version`]).
    pub fn evaluation_version(&self, digest: &str, db_version: &str) -> String {
        format!(
            "{db_version}{}",
            crate::signatures::facts_version(self.sigs.latest(digest).as_deref())
        )
    }

    /// Whether a vulnerability feed source is configured (what [`Engine::sync_feeds`] needs).
    pub fn has_feed_source(&self) -> bool {
        self.stages.feeds.is_some()
    }

    pub(crate) fn sync_tracker(&self) -> &crate::vuln_sync::SyncTracker {
        &self.vuln_sync
    }

    /// The engine's metrics (register them with [`crate::metrics::EngineMetrics::register`]).
    pub fn metrics(&self) -> &crate::metrics::EngineMetrics {
        &self.metrics
    }

    /// When the vulnerability data's oldest source was imported (RFC 3339), if there is data.
    pub(crate) fn vuln_data_synced_at(&self) -> Option<String> {
        self.stages
            .matcher
            .as_ref()
            .and_then(|m| m.data_state())
            .and_then(|d| d.synced_at)
    }

    /// What the vulnerability data is, for `/readyz`: version, last sync and age, shared generation, coverage,
    /// and the last sync error. From memory only (never blocks on the store).
    pub fn vuln_data_summary(&self) -> Vec<String> {
        let Some(matcher) = self.stages.matcher.as_ref() else {
            return vec!["vulnerability data: none (no usable vulnerability database)".into()];
        };
        let sync = self.vuln_sync.snapshot();
        let state = matcher.data_state().unwrap_or_default();
        let age = crate::metrics::age_seconds(state.synced_at.as_deref(), chrono::Utc::now());
        let mut lines = vec![format!(
            "vulnerability data: version {}; last synced {}{}{}",
            matcher.db_version(),
            state.synced_at.as_deref().unwrap_or("never"),
            if age.is_finite() {
                format!(" ({}s ago)", age.round())
            } else {
                String::new()
            },
            sync.generation
                .map(|g| format!("; shared generation {g}"))
                .unwrap_or_default()
        )];
        let ns: Vec<&str> = state.namespaces.keys().map(String::as_str).collect();
        lines.push(format!(
            "vulnerability data coverage: {} namespace(s){}{}",
            ns.len(),
            if ns.is_empty() { "" } else { ": " },
            ns.join(", ")
        ));
        if let Some(e) = &sync.last_error {
            lines.push(format!(
                "vulnerability data: last sync failed ({} failures since start), previous data kept: {e}",
                sync.failures
            ));
        }
        lines
    }

    /// The tag resolution pool (bounded, with deadlines and per-registry circuit breakers).
    pub fn resolve_pool(&self) -> &crate::resolve::ResolvePool {
        &self.resolve
    }

    /// The signature verifier stage, when there is one.
    pub fn verifier(&self) -> Option<Arc<dyn crate::signatures::Verifier>> {
        self.stages.verifier.clone()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Which namespaces may be told about which analyses (what admission checks before answering).
    pub fn access(&self) -> &crate::access::AccessFacts {
        &self.access
    }

    /// Adds an image for analysis: resolves its digest (unless the pull string has one), records the tag and
    /// annotations, and queues it (deduplicated by digest; `force` re-analyses). Only the shared access
    /// (configured credentials, else anonymous) is used.
    pub async fn add_image(
        self: &Arc<Self>,
        pull: &str,
        annotations: BTreeMap<String, String>,
        force: bool,
    ) -> Result<(ImageRecord, Enqueued)> {
        self.add_image_for(pull, annotations, force, None).await
    }

    /// [`Engine::add_image`] on behalf of `namespace`: resolving and pulling may also use the credentials
    /// learned from its pull secrets. When the image is already analysed but `namespace` is not known to be
    /// allowed to pull it, its access is checked (a manifest HEAD with the shared access, then its own
    /// credentials) and recorded; [`EngineError::Upstream`] when neither may pull it.
    pub async fn add_image_for(
        self: &Arc<Self>,
        pull: &str,
        annotations: BTreeMap<String, String>,
        force: bool,
        namespace: Option<&str>,
    ) -> Result<(ImageRecord, Enqueued)> {
        let Pull {
            tag,
            digest,
            registry,
            repo,
            reference,
        } = split_pull(pull)?;
        for (k, v) in &annotations {
            if k.is_empty() || k.len() > 253 || v.len() > 4096 {
                return Err(EngineError::BadRequest(format!(
                    "annotation {k:?}: keys must be 1-253 characters, values at most 4096"
                )));
            }
        }
        let resolved = digest.is_none();
        let digest = match digest {
            Some(d) => d,
            None => {
                let d = self
                    .resolve
                    .resolve(&reference, namespace)
                    .await
                    .map_err(stage_to_engine)?;
                if d.algorithm() != "sha256" {
                    return Err(EngineError::Upstream(format!(
                        "registry answered {pull} with digest {d:?}, which is not a sha256 digest"
                    )));
                }
                d.into_string()
            }
        };
        let pull_by_digest = format!("{repo}@{digest}");
        // A reference pinned by digest alone is kept as the image's "tag" in that form (`reg/repo@sha256:…`):
        // bundles are evaluated per tag, and Anchore mappings select such a reference by registry, repository,
        // digest or a `*` tag pattern. Without it, an image no one ever named by tag was never evaluated and
        // policy mode denied it as "not evaluated yet" for good.
        let tag = tag.or_else(|| Some(pull_by_digest.clone()));
        if let Some(ns) = namespace {
            self.access.requested(&digest, ns);
        }
        let pinned = portcullis_image::ImageRef {
            digest: Some(digest.clone()),
            ..reference
        };
        let this = self.clone();
        let queue_namespace = namespace.unwrap_or_default().to_string();
        let (image, outcome) = blocking(move || {
            let mut image = this
                .store
                .upsert_image(&digest, tag.as_deref(), &annotations)?;
            if let (true, Some(tag)) = (resolved, &tag) {
                this.store.record_resolution(&digest, tag)?;
                image = this.store.get_image(&digest)?.unwrap_or(image);
            }
            let outcome = this.store.enqueue(&EnqueueRequest {
                digest: digest.clone(),
                pull: pull_by_digest,
                registry,
                force,
                max_attempts: this.config.max_attempts,
                namespace: queue_namespace.clone(),
            })?;
            let image = if outcome == Enqueued::Queued {
                this.invalidate(&digest);
                this.store.get_image(&digest)?.unwrap_or(image)
            } else {
                image
            };
            Ok((image, outcome))
        })
        .await?;
        if let Some(ns) = namespace
            && outcome != Enqueued::Queued
            && image.status == portcullis_store::AnalysisStatus::Analyzed
            && self.access.allows(&image.digest, ns) != crate::access::Allowed::Yes
        {
            self.check_access(&pinned, ns).await?;
        }
        Ok((image, outcome))
    }

    /// Checks whether the shared access or `namespace`'s own credentials may pull `image` (pinned by digest)
    /// and records the answer; [`EngineError::Upstream`] when neither may.
    pub async fn check_access(
        &self,
        image: &portcullis_image::ImageRef,
        namespace: &str,
    ) -> Result<()> {
        let digest = image.digest.clone().unwrap_or_default();
        match self
            .stages
            .resolver
            .access(image, Some(namespace))
            .await
            .map_err(stage_to_engine)?
        {
            Some(access) => {
                self.remember_access(&digest, access).await;
                Ok(())
            }
            None => {
                for refused in [
                    crate::stages::Access::Shared,
                    crate::stages::Access::Namespace(namespace.to_string()),
                ] {
                    self.access.forget(&digest, &refused);
                    let (s, d, key) = (self.store.clone(), digest.clone(), refused.key());
                    if let Err(e) = blocking(move || Ok(s.forget_access(&d, &key)?)).await {
                        tracing::warn!(%digest, error = %e, "forgetting a refused registry access failed");
                    }
                }
                Err(EngineError::Upstream(format!(
                    "image {image} was analysed, but neither the shared registry access nor the pull secrets of \
                     namespace {namespace:?} may pull it: give the workload an imagePullSecret that can"
                )))
            }
        }
    }

    /// Records that `access` pulled (or may pull) `digest`: in memory at once, and in the store for the other
    /// replicas and after a restart (a store failure is logged; the fact is then this replica's only).
    pub(crate) async fn remember_access(&self, digest: &str, access: crate::stages::Access) {
        self.access.record(digest, access.clone());
        let (s, d, key) = (self.store.clone(), digest.to_string(), access.key());
        if let Err(e) = blocking(move || Ok(s.record_access(&d, &key)?)).await {
            tracing::warn!(digest, error = %e, "recording a registry access in the store failed");
        }
    }

    /// Loads the access facts the store holds (written by every replica) into memory; blocking.
    pub fn load_access(&self) -> Result<()> {
        // Incremental: records seen since the last read, with an overlap for replicas' clocks (every snapshot
        // refresh calls this; the whole table grows with every analysed image).
        let since = *self
            .access_read_up_to
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let rows = self
            .store
            .list_access(since.map(|s| s - ACCESS_READ_OVERLAP_MS))?;
        let mut newest = since;
        for r in rows {
            newest = newest.max(Some(r.seen_at));
            if let Some(a) = crate::stages::Access::from_key(&r.access) {
                self.access.record_at(&r.digest, a, r.seen_at);
            }
        }
        *self
            .access_read_up_to
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = newest;
        Ok(())
    }

    /// One image; [`EngineError::NotFound`] when unknown. A multi-platform index has the state of its
    /// platforms ([`Engine::platform_state`]).
    pub fn image(&self, digest: &str) -> Result<ImageRecord> {
        check_digest(digest)?;
        let image = self.store.get_image(digest)?.ok_or_else(|| {
            EngineError::NotFound(format!("image {digest} is not known: add it first"))
        })?;
        self.platform_state(image)
    }

    /// An analysed multi-platform index takes the state of its platforms: failed when one failed (the error
    /// names it), analysing while one is not analysed yet. Other images are returned unchanged.
    pub fn platform_state(&self, mut image: ImageRecord) -> Result<ImageRecord> {
        use portcullis_store::AnalysisStatus;
        let Some(platforms) = index_platforms(&image) else {
            return Ok(image);
        };
        if image.status != AnalysisStatus::Analyzed {
            return Ok(image);
        }
        for (platform, digest) in platforms {
            match self.store.get_image(&digest)? {
                Some(c) if c.status == AnalysisStatus::Analyzed => {}
                Some(c) if c.status == AnalysisStatus::AnalysisFailed => {
                    image.status = AnalysisStatus::AnalysisFailed;
                    image.error = Some(format!(
                        "platform {platform} ({digest}): {}",
                        c.error.as_deref().unwrap_or("analysis failed")
                    ));
                    return Ok(image);
                }
                _ => image.status = AnalysisStatus::Analyzing,
            }
        }
        Ok(image)
    }

    /// Images, newest first; with `tag` (normalised like a pull string: `nginx` → `docker.io/library/nginx:latest`),
    /// only those seen with it.
    pub fn images(&self, tag: Option<&str>) -> Result<Vec<ImageRecord>> {
        let tag = tag.map(normalise_tag);
        self.store
            .list_images(tag.as_deref())?
            .into_iter()
            .map(|i| self.platform_state(i))
            .collect()
    }

    /// An image's vulnerabilities.
    pub fn vulns(&self, digest: &str, kind: VulnKind) -> Result<VulnReport> {
        let image = self.image(digest)?;
        let report = self.report_of(&image)?;
        Ok(VulnReport {
            image_digest: digest.to_string(),
            vulnerability_type: kind,
            db_version: report.db_version.clone(),
            coverage: report.coverage.clone(),
            vulnerabilities: report
                .findings
                .into_iter()
                .filter(|f| kind.includes(f.package_type))
                .collect(),
            unmatched: report
                .unmatched
                .into_iter()
                .filter(|u| kind.includes(u.package_type))
                .collect(),
            suppressed: report
                .suppressed
                .into_iter()
                .filter(|f| kind.includes(f.package_type))
                .collect(),
        })
    }

    fn report_of(&self, image: &ImageRecord) -> Result<MatchReport> {
        if let Some(platforms) = index_platforms(image) {
            return self.index_report(image, &platforms);
        }
        match self.store.get_findings(&image.digest)? {
            Some(f) => serde_json::from_value(f.report).map_err(|e| {
                EngineError::Store(portcullis_store::Error::Corrupt(format!(
                    "findings of {}: {e}",
                    image.digest
                )))
            }),
            None if image.status == portcullis_store::AnalysisStatus::Analyzed => {
                Err(EngineError::Unavailable(format!(
                    "image {} is analysed but has no findings: no vulnerability matcher is configured",
                    image.digest
                )))
            }
            None => Err(EngineError::Conflict(format!(
                "image {} is not analysed yet (status {}{}): wait for analysis (`portcullis image wait`)",
                image.digest,
                image.status.as_str(),
                image
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            ))),
        }
    }

    /// The analysed platform manifests of an index, each with its platform; [`EngineError::Conflict`] naming the
    /// platform when one is not analysed (yet, or at all).
    fn index_children(
        &self,
        index: &ImageRecord,
        platforms: &[(String, String)],
    ) -> Result<Vec<(String, ImageRecord)>> {
        platforms
            .iter()
            .map(|(platform, digest)| {
                let child = self.store.get_image(digest)?.ok_or_else(|| {
                    EngineError::Conflict(format!(
                        "image {}: platform {platform} ({digest}) is not known; re-add the image",
                        index.digest
                    ))
                })?;
                if child.status != portcullis_store::AnalysisStatus::Analyzed {
                    return Err(EngineError::Conflict(format!(
                        "image {}: platform {platform} ({digest}) is not analysed yet (status {}{}): wait for \
                         analysis (`portcullis image wait`)",
                        index.digest,
                        child.status.as_str(),
                        child
                            .error
                            .as_deref()
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    )));
                }
                Ok((platform.clone(), child))
            })
            .collect()
    }

    /// The findings of an index: those of each analysed platform together.
    fn index_report(
        &self,
        index: &ImageRecord,
        platforms: &[(String, String)],
    ) -> Result<MatchReport> {
        let mut out = MatchReport::default();
        for (i, (_, child)) in self
            .index_children(index, platforms)?
            .into_iter()
            .enumerate()
        {
            let r = self.report_of(&child)?;
            if i == 0 {
                out.db_version = r.db_version;
                out.coverage = r.coverage;
            }
            out.findings.extend(r.findings);
            out.unmatched.extend(r.unmatched);
        }
        Ok(out)
    }

    fn sbom_of(&self, digest: &str) -> Result<Sbom> {
        let v = self.store.get_sbom(digest)?.ok_or_else(|| {
            EngineError::Conflict(format!(
                "image {digest} is not analysed yet: wait for analysis"
            ))
        })?;
        serde_json::from_value(v).map_err(|e| {
            EngineError::Store(portcullis_store::Error::Corrupt(format!(
                "SBOM of {digest}: {e}"
            )))
        })
    }

    /// Evaluates an image by tag (default: its first tag) against a bundle (default: the active one), records
    /// the evaluation and caches the verdict.
    pub fn check(
        &self,
        digest: &str,
        tag: Option<&str>,
        policy: Option<&str>,
    ) -> Result<CheckResult> {
        let image = self.image(digest)?;
        let evaluator = self.stages.evaluator.as_ref().ok_or_else(|| {
            EngineError::Unavailable("no policy evaluator is configured in this service".into())
        })?;
        let tag = match tag.map(normalise_tag) {
            Some(t) => {
                if !image.tags.contains(&t) {
                    return Err(EngineError::NotFound(format!(
                        "image {digest} was never seen with tag {t:?}; its tags: {}",
                        image.tags.join(", ")
                    )));
                }
                t
            }
            None => image.tags.first().cloned().ok_or_else(|| {
                EngineError::BadRequest(format!(
                    "image {digest} has no tag: pass `tag` to say which tag to evaluate"
                ))
            })?,
        };
        let bundle = match policy {
            Some(id) => self
                .store
                .get_policy(&self.config.account, id)?
                .ok_or_else(|| {
                    EngineError::NotFound(format!("policy bundle {id:?} does not exist"))
                })?,
            None => self
                .store
                .active_policy(&self.config.account)?
                .ok_or_else(|| {
                    EngineError::Conflict("no policy bundle is active: add and activate one".into())
                })?,
        };
        let compiled = evaluator
            .compile(&bundle.bundle)
            .map_err(|e| EngineError::Upstream(format!("evaluating {digest} ({tag}): {e}")))?;
        let facts = self.sigs.latest(digest);
        let facts = facts.as_deref();
        let (verdict, mut report) = match index_platforms(&image) {
            None => {
                let report = self.report_of(&image)?;
                let sbom = self.sbom_of(digest)?;
                (
                    evaluator.evaluate(&compiled, &sbom, &report, &tag, facts),
                    report,
                )
            }
            Some(platforms) => {
                let mut verdicts = Vec::new();
                let mut db_version = String::new();
                for (platform, child) in self.index_children(&image, &platforms)? {
                    let report = self.report_of(&child)?;
                    let sbom = self.sbom_of(&child.digest)?;
                    verdicts.push((
                        platform,
                        evaluator.evaluate(&compiled, &sbom, &report, &tag, facts),
                    ));
                    db_version = report.db_version;
                }
                let verdict = worst_of_platforms(verdicts).ok_or_else(|| {
                    EngineError::Conflict(format!(
                        "image {digest}: the index has no analysed platform; re-add it"
                    ))
                })?;
                (
                    verdict,
                    MatchReport {
                        db_version,
                        ..Default::default()
                    },
                )
            }
        };
        report
            .db_version
            .push_str(&crate::signatures::facts_version(facts));
        let id = self.record_evaluation(digest, &tag, &bundle, &report.db_version, &verdict)?;
        let verdict_arc = Arc::new(verdict.clone());
        insert_bounded(
            &mut self.cache_lock(),
            (digest.to_string(), tag.clone(), bundle.digest.clone()),
            verdict_arc,
            self.config.cache_ttl,
            MAX_CACHED_VERDICTS,
        );
        Ok(CheckResult {
            image_digest: digest.to_string(),
            status: if verdict.passed() { "pass" } else { "fail" }.into(),
            tag,
            db_version: report.db_version,
            evaluation_id: id,
            verdict,
        })
    }

    fn record_evaluation(
        &self,
        digest: &str,
        tag: &str,
        bundle: &PolicyRecord,
        db_version: &str,
        verdict: &Verdict,
    ) -> Result<i64> {
        let action = verdict.final_action.as_str().to_string();
        Ok(self.store.put_evaluation(&NewEvaluation {
            digest: digest.to_string(),
            tag: tag.to_string(),
            bundle_id: bundle.id.clone(),
            bundle_digest: bundle.digest.clone(),
            db_version: db_version.to_string(),
            final_action: action,
            verdict: serde_json::to_value(verdict).map_err(|e| {
                EngineError::Store(portcullis_store::Error::Corrupt(format!("verdict: {e}")))
            })?,
        })?)
    }

    /// Evaluates an image by each of its tags against `bundle` and records the evaluations; returns how many
    /// were recorded and the evaluation errors (`digest (tag): error`). Nothing when no evaluator is configured.
    fn evaluate_tags(
        &self,
        digest: &str,
        sbom: &Sbom,
        report: &MatchReport,
        bundle: &PolicyRecord,
    ) -> Result<(usize, Vec<String>)> {
        let Some(ev) = &self.stages.evaluator else {
            return Ok((0, Vec::new()));
        };
        let (mut n, mut errors) = (0, Vec::new());
        let compiled = match ev.compile(&bundle.bundle) {
            Ok(c) => c,
            Err(e) => {
                errors.push(format!("{digest}: {e}"));
                return Ok((n, errors));
            }
        };
        for tag in self
            .store
            .get_image(digest)?
            .map(|i| i.tags)
            .unwrap_or_default()
        {
            let facts = self.sigs.latest(digest);
            let v = ev.evaluate(&compiled, sbom, report, &tag, facts.as_deref());
            let version = format!(
                "{}{}",
                report.db_version,
                crate::signatures::facts_version(facts.as_deref())
            );
            self.record_evaluation(digest, &tag, bundle, &version, &v)?;
            n += 1;
        }
        Ok((n, errors))
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, (Instant, Arc<Verdict>)>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn invalidate(&self, digest: &str) {
        self.cache_lock().retain(|k, _| k.0 != digest);
    }

    /// Drops every cached verdict.
    pub fn invalidate_all(&self) {
        self.cache_lock().clear();
    }

    /// The admission path: the verdict for an image digest by tag under the active bundle, from the in-memory
    /// cache when fresh, else evaluated from stored results. `None` when the image is unknown or not analysed
    /// (the caller decides: queue it, allow or deny per its mode).
    pub fn verdict_for(&self, digest: &str, tag: &str) -> Result<Option<Arc<Verdict>>> {
        let Some(active) = self.store.active_policy(&self.config.account)? else {
            return Err(EngineError::Conflict("no policy bundle is active".into()));
        };
        let key = (digest.to_string(), tag.to_string(), active.digest.clone());
        if let Some((at, v)) = self.cache_lock().get(&key)
            && at.elapsed() < self.config.cache_ttl
        {
            return Ok(Some(v.clone()));
        }
        match self.store.get_image(digest)? {
            Some(img) if img.status == portcullis_store::AnalysisStatus::Analyzed => {}
            _ => return Ok(None),
        }
        if tag.is_empty() {
            return Err(EngineError::BadRequest("empty tag".into()));
        }
        // Record the tag so `check` accepts it (admission may see a tag the image was not added with).
        self.store
            .upsert_image(digest, Some(tag), &BTreeMap::new())?;
        let result = self.check(digest, Some(tag), Some(&active.id))?;
        Ok(Some(Arc::new(result.verdict)))
    }

    /// Number of cached verdicts (for status and tests).
    pub fn cached_verdicts(&self) -> usize {
        self.cache_lock().len()
    }

    /// Validates and stores a bundle (replacing one with the same id); the account's first becomes active.
    pub fn add_policy(&self, bundle: serde_json::Value) -> Result<PolicyRecord> {
        let invalid = |e: &dyn std::fmt::Display| {
            EngineError::BadRequest(format!("invalid policy bundle: {e}"))
        };
        let mut info = bundle_identity(&bundle).map_err(|e| invalid(&e))?;
        if let Some(ev) = &self.stages.evaluator {
            let compiled = ev.compile(&bundle).map_err(|e| invalid(&e))?;
            info.id = compiled.id().to_string();
            info.name = compiled.doc.name.clone();
        }
        let rec = self.store.put_policy(
            &self.config.account,
            &info.id,
            info.name.as_deref(),
            &info.digest,
            &bundle,
        )?;
        self.invalidate_all();
        Ok(rec)
    }

    /// The account's bundles.
    pub fn policies(&self) -> Result<Vec<PolicyRecord>> {
        Ok(self.store.list_policies(&self.config.account)?)
    }

    /// One bundle.
    pub fn policy(&self, id: &str) -> Result<PolicyRecord> {
        self.store
            .get_policy(&self.config.account, id)?
            .ok_or_else(|| EngineError::NotFound(format!("policy bundle {id:?} does not exist")))
    }

    /// Makes a bundle the active one.
    pub fn activate_policy(&self, id: &str) -> Result<PolicyRecord> {
        let rec = self
            .store
            .activate_policy(&self.config.account, id)
            .map_err(|e| match e {
                portcullis_store::Error::NotFound(m) => {
                    EngineError::NotFound(format!("{m} does not exist"))
                }
                other => EngineError::Store(other),
            })?;
        self.invalidate_all();
        Ok(rec)
    }

    /// Appends an admission decision to the audit trail.
    pub fn record_decision(&self, d: &NewDecision) -> Result<i64> {
        Ok(self.store.append_decision(d)?)
    }

    /// Audit-trail entries matching a filter.
    pub fn decisions(&self, f: &DecisionFilter) -> Result<Vec<DecisionRecord>> {
        Ok(self.store.list_decisions(f)?)
    }

    /// Engine status.
    pub fn status(&self) -> Result<Status> {
        let mut stages = BTreeMap::new();
        stages.insert("matcher".to_string(), self.stages.matcher.is_some());
        stages.insert("evaluator".to_string(), self.stages.evaluator.is_some());
        stages.insert("feeds".to_string(), self.stages.feeds.is_some());
        Ok(Status {
            status: "ok".into(),
            backend: self.store.backend().into(),
            schema_version: self.store.schema_version()?,
            replica_id: self.config.replica_id.clone(),
            workers: self.config.workers,
            queue: self.store.queue_stats()?.into(),
            db_version: self.stages.matcher.as_ref().map(|m| m.db_version()),
            vuln_data: self.stages.matcher.as_ref().and_then(|m| m.data_state()),
            vuln_sync: self.vuln_sync.snapshot(),
            stages,
        })
    }

    /// Feed states.
    pub fn feeds(&self) -> Result<Vec<FeedRecord>> {
        Ok(self.store.list_feeds()?)
    }

    /// Updates the vulnerability data (only one replica at a time), then re-matches and re-evaluates every
    /// stored SBOM and invalidates the verdict cache.
    pub fn sync_feeds(&self) -> Result<FeedSyncOutcome> {
        let source = self.stages.feeds.as_ref().ok_or_else(|| {
            EngineError::Unavailable(
                "no vulnerability feed source is configured in this service".into(),
            )
        })?;
        let _lock = self.store.try_feed_lock()?.ok_or_else(|| {
            EngineError::Conflict(
                "another replica is updating the feeds now; try again later".into(),
            )
        })?;
        self.vuln_sync.started();
        let (feeds, version) = source.sync().map_err(|e| {
            let e = format!("feed sync failed: {e}");
            self.vuln_sync.failed(&e);
            self.metrics.sync_failed();
            EngineError::Upstream(e)
        })?;
        self.vuln_sync.succeeded();
        if self.store.backend() == portcullis_store::Backend::Postgres {
            // Still holding the feed lock: the other replicas install what this one just synced.
            if let Err(e) = self.publish_vuln_data(source.as_ref()) {
                let e =
                    format!("publishing the synced vulnerability data to the other replicas: {e}");
                tracing::error!(error = %e, "the other replicas keep their data until the next sync");
                self.vuln_sync.failed(&e);
                self.metrics.sync_failed();
            }
        }
        let now = chrono::Utc::now().timestamp_millis();
        for (name, count) in feeds {
            self.store.put_feed(&FeedRecord {
                name,
                db_version: version.clone(),
                record_count: count,
                status: "ok".into(),
                updated_at: now,
            })?;
        }
        let rematch = self.rematch_all()?;
        Ok(FeedSyncOutcome {
            feeds: self
                .store
                .list_feeds()?
                .into_iter()
                .map(Feed::from)
                .collect(),
            rematch,
        })
    }

    /// Publishes the feed source's data as the next generation in the shared store.
    fn publish_vuln_data(&self, source: &dyn FeedSource) -> Result<()> {
        use sha2::Digest as _;
        let Some(version) = source.data_version() else {
            return Ok(());
        };
        let file = source.scratch("publish");
        let result = (|| {
            source
                .export(&file)
                .map_err(|e| EngineError::Upstream(e.message))?;
            let mut hasher = sha2::Sha256::new();
            let mut f = std::fs::File::open(&file)
                .map_err(|e| EngineError::Upstream(format!("reading {}: {e}", file.display())))?;
            std::io::copy(&mut f, &mut hasher)
                .map_err(|e| EngineError::Upstream(format!("reading {}: {e}", file.display())))?;
            let sha = hex::encode(hasher.finalize());
            let g = self.store.publish_vuln_generation(
                &file,
                &sha,
                &version,
                &self.config.replica_id,
            )?;
            tracing::info!(generation = g.generation, size = g.size, db_version = %version, "vulnerability data published");
            self.vuln_sync.installed(g.generation);
            self.metrics.set_generation(g.generation);
            Ok(())
        })();
        let _ = std::fs::remove_file(&file);
        result
    }

    /// Installs the newest vulnerability data generation another replica published, when it is newer than
    /// this replica's (PostgreSQL store only): downloaded beside the database, its SHA-256 checked, installed
    /// atomically, the matcher swapped and the verdict cache dropped. The stored findings need no re-match
    /// here: the publishing replica re-matched them in the shared store. Returns the generation installed.
    pub fn follow_vuln_data(&self) -> Result<Option<i64>> {
        use sha2::Digest as _;
        let Some(source) = self.stages.feeds.as_ref() else {
            return Ok(None);
        };
        if self.store.backend() != portcullis_store::Backend::Postgres {
            return Ok(None);
        }
        let Some(latest) = self.store.latest_vuln_generation()? else {
            return Ok(None);
        };
        if self.vuln_sync.snapshot().generation >= Some(latest.generation) {
            return Ok(None);
        }
        if source.data_version().as_deref() == Some(latest.db_version.as_str()) {
            self.vuln_sync.installed(latest.generation);
            self.metrics.set_generation(latest.generation);
            return Ok(None);
        }
        let file = source.scratch("generation");
        let result = (|| {
            self.store.read_vuln_generation(latest.generation, &file)?;
            let mut hasher = sha2::Sha256::new();
            let mut f = std::fs::File::open(&file)
                .map_err(|e| EngineError::Upstream(format!("reading {}: {e}", file.display())))?;
            std::io::copy(&mut f, &mut hasher)
                .map_err(|e| EngineError::Upstream(format!("reading {}: {e}", file.display())))?;
            let sha = hex::encode(hasher.finalize());
            if sha != latest.sha256 {
                return Err(EngineError::Upstream(format!(
                    "vulnerability data generation {} read from the store has SHA-256 {sha}, not the published {}; \
                     not installed (the next look tries again)",
                    latest.generation, latest.sha256
                )));
            }
            source
                .install(&file)
                .map_err(|e| EngineError::Upstream(e.message))
        })();
        let _ = std::fs::remove_file(&file);
        let version = result?;
        self.vuln_sync.installed(latest.generation);
        self.metrics.set_generation(latest.generation);
        self.invalidate_all();
        tracing::info!(
            generation = latest.generation,
            from = %latest.created_by,
            db_version = %version,
            "installed the vulnerability data another replica published"
        );
        Ok(Some(latest.generation))
    }

    /// Re-matches every stored SBOM with the current vulnerability data and re-evaluates it by each tag under
    /// the active bundle — no image is pulled again — then invalidates the verdict cache.
    pub fn rematch_all(&self) -> Result<RematchStats> {
        let matcher = self.stages.matcher.as_ref().ok_or_else(|| {
            EngineError::Unavailable(
                "no vulnerability matcher is configured in this service".into(),
            )
        })?;
        let active = self.store.active_policy(&self.config.account)?;
        let mut stats = RematchStats::default();
        let mut indexes = Vec::new();
        for digest in self.store.sbom_digests()? {
            // A multi-platform index has no packages of its own: re-judged from its platforms below.
            if let Some(img) = self.store.get_image(&digest)?
                && index_platforms(&img).is_some()
            {
                indexes.push(img);
                continue;
            }
            let sbom = match self.sbom_of(&digest) {
                Ok(s) => s,
                Err(e) => {
                    stats.errors.push(format!("{digest}: {e}"));
                    continue;
                }
            };
            let report = match matcher.match_sbom(&sbom) {
                Ok(r) => r,
                Err(e) => {
                    stats.errors.push(format!("{digest}: {e}"));
                    continue;
                }
            };
            let doc = serde_json::to_value(&report).map_err(|e| {
                EngineError::Store(portcullis_store::Error::Corrupt(format!("report: {e}")))
            })?;
            self.store.put_findings(&digest, &report.db_version, &doc)?;
            stats.rematched += 1;
            if let Some(bundle) = &active {
                let (n, errors) = self.evaluate_tags(&digest, &sbom, &report, bundle)?;
                stats.reevaluated += n;
                stats.errors.extend(errors);
            }
        }
        if let Some(bundle) = &active {
            for img in indexes {
                for tag in &img.tags {
                    match self.check(&img.digest, Some(tag), Some(&bundle.id)) {
                        Ok(_) => stats.reevaluated += 1,
                        Err(e) => stats.errors.push(format!("{} ({tag}): {e}", img.digest)),
                    }
                }
            }
        }
        self.invalidate_all();
        Ok(stats)
    }
}

/// `registry/repository:tag` for a tag reference; other text unchanged.
fn normalise_tag(tag: &str) -> String {
    match portcullis_image::ImageRef::parse(tag) {
        Ok(r) if r.digest.is_none() => r.tag_key(),
        _ => tag.to_string(),
    }
}

fn check_digest(digest: &str) -> Result<()> {
    if is_digest(digest) {
        Ok(())
    } else {
        Err(EngineError::BadRequest(format!(
            "{digest:?} is not an image digest: expected `sha256:` followed by 64 lowercase hex digits"
        )))
    }
}

/// Runs blocking store work off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Unavailable(format!("background task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_verdict_cache_is_bounded() {
        use super::insert_bounded;
        let key = |n: usize| (format!("sha256:{n}"), "t".to_string(), "b".to_string());
        let mut cache = HashMap::new();
        let ttl = Duration::from_secs(3600);
        for n in 0..1000 {
            insert_bounded(&mut cache, key(n), n, ttl, 100);
            assert!(cache.len() <= 100, "{}", cache.len());
        }
        assert!(cache.contains_key(&key(999)), "the newest entry is kept");
        // Expired entries go first: with a zero TTL everything older is dropped at the bound.
        let mut cache = HashMap::new();
        for n in 0..100 {
            insert_bounded(&mut cache, key(n), n, ttl, 100);
        }
        insert_bounded(&mut cache, key(100), 100, Duration::ZERO, 100);
        assert_eq!(cache.len(), 1);
        // Replacing an existing key at the bound drops nothing.
        let mut cache = HashMap::new();
        for n in 0..100 {
            insert_bounded(&mut cache, key(n), n, ttl, 100);
        }
        insert_bounded(&mut cache, key(5), 5, ttl, 100);
        assert_eq!(cache.len(), 100);
    }

    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn pull_strings_split() {
        let p = split_pull("127.0.0.1:5000/app/web:1.2").unwrap();
        assert_eq!(p.tag.as_deref(), Some("127.0.0.1:5000/app/web:1.2"));
        assert_eq!(
            (p.digest, p.registry.as_str(), p.repo.as_str()),
            (None, "127.0.0.1:5000", "127.0.0.1:5000/app/web")
        );
        let p = split_pull("nginx").unwrap();
        assert_eq!(
            (p.tag.as_deref(), p.registry.as_str()),
            (Some("docker.io/library/nginx:latest"), "docker.io")
        );
        let p = split_pull(&format!("reg.io/a@{D}")).unwrap();
        assert_eq!((p.tag, p.digest.as_deref()), (None, Some(D)));
        let p = split_pull(&format!("reg.io/a:v1@{D}")).unwrap();
        assert_eq!(p.tag.as_deref(), Some("reg.io/a:v1"));
        assert_eq!(normalise_tag("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalise_tag("reg.io/a:v1"), "reg.io/a:v1");
        for bad in [
            "",
            "a b",
            "reg/a@sha256:xyz",
            "/a",
            "a//b",
            "a\n",
            "Upper/Case:1",
            "http://reg/a:1",
        ] {
            assert!(
                matches!(split_pull(bad), Err(EngineError::BadRequest(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn digests_are_checked() {
        assert!(is_digest(D));
        assert!(!is_digest(&D.to_uppercase()));
        assert!(!is_digest("sha256:abc"));
        assert!(!is_digest(&D.replace("sha256", "sha512")));
    }
}
