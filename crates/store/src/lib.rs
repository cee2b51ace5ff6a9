//! Persistence: SQLite (default) and PostgreSQL backends, analysis queue, audit trail.
//!
//! One storage interface, [`Store`], with two real backends that share every query (see `sql/`): embedded
//! SQLite in WAL mode ([`open`] with a file path or `sqlite:` URL) and PostgreSQL (`postgres://…`) for running
//! several replicas on one database. Stage results (SBOM, findings, verdicts) are stored as JSON documents plus
//! the columns needed to find and invalidate them, so this crate does not depend on the stage crates.

mod postgres_backend;
mod reopen;
mod sql;
mod sqlite_backend;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use reopen::Reopening;

use sql::SqlStore;

/// Latest schema version the migrations of this build create.
pub const SCHEMA_VERSION: i64 = 6;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite database failed.
    #[error("SQLite store {path}: {source}")]
    Sqlite {
        /// Database file.
        path: String,
        /// The driver error.
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL database failed.
    #[error("PostgreSQL store {url}: {source}")]
    Postgres {
        /// Connection URL with any password removed.
        url: String,
        /// The driver error.
        #[source]
        source: postgres::Error,
    },
    /// A file of the store could not be created or protected.
    #[error("SQLite store {path}: {what}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// What was being done.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store URL could not be understood.
    #[error(
        "store URL {0:?} not understood: use a file path, `sqlite:PATH` or `postgres://user@host:port/db`"
    )]
    BadUrl(String),
    /// A stored document could not be (de)serialised.
    #[error("stored {what} is not valid JSON: {source}")]
    Json {
        /// What was being read or written.
        what: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The database schema is newer than this build understands.
    #[error(
        "database schema version {found} is newer than this build's {supported}: upgrade portcullis"
    )]
    SchemaTooNew {
        /// Version found in the database.
        found: i64,
        /// Latest version this build knows.
        supported: i64,
    },
    /// A row held a value this build does not understand.
    #[error("corrupt store row: {0}")]
    Corrupt(String),
    /// The referenced object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The analysis queue is full: the image was not queued (see [`MAX_QUEUED_PER_NAMESPACE`] and [`MAX_QUEUED`]).
    #[error(
        "the analysis queue already holds {waiting} images waiting{scope} (limit {limit}); {digest} was not \
         queued — it is asked for again at its next review; if this persists, look for a workload creating \
         images faster than they can be analysed"
    )]
    QueueFull {
        /// The image not queued.
        digest: String,
        /// ` for namespace "x"` for the per-namespace bound, empty for the overall one.
        scope: String,
        /// Images waiting in that scope.
        waiting: i64,
        /// The bound reached.
        limit: i64,
    },
    /// The database could not be opened yet (see [`Reopening`]); the call can be retried later.
    #[error("store {url} is unavailable: {reason}; retrying in the background")]
    Unavailable {
        /// Store URL (password removed) or path.
        url: String,
        /// Why the last attempt failed.
        reason: String,
    },
}

/// Most images one namespace may have waiting in the analysis queue (a namespace's images past this are not
/// queued, so one tenant cannot grow the shared queue without bound; claims are round-robin anyway).
pub const MAX_QUEUED_PER_NAMESPACE: i64 = 10_000;

/// Most images waiting in the analysis queue overall.
pub const MAX_QUEUED: i64 = 100_000;

/// Result type of the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// Analysis status of an image (Anchore's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisStatus {
    /// Known but not analysed (queued or waiting for a retry).
    NotAnalyzed,
    /// A worker holds the analysis claim.
    Analyzing,
    /// SBOM stored.
    Analyzed,
    /// Analysis failed for good; see the error.
    AnalysisFailed,
}

impl AnalysisStatus {
    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAnalyzed => "not_analyzed",
            Self::Analyzing => "analyzing",
            Self::Analyzed => "analyzed",
            Self::AnalysisFailed => "analysis_failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "not_analyzed" => Self::NotAnalyzed,
            "analyzing" => Self::Analyzing,
            "analyzed" => Self::Analyzed,
            "analysis_failed" => Self::AnalysisFailed,
            _ => return None,
        })
    }
}

/// One image known to the engine, keyed by manifest digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// Manifest digest (`sha256:…`).
    pub digest: String,
    /// Analysis status.
    pub status: AnalysisStatus,
    /// Why analysis failed (last error), when it did.
    pub error: Option<String>,
    /// Every tag the image was seen with, sorted.
    pub tags: Vec<String>,
    /// Annotations (`requestor=portcullis-admission`, …); later additions overwrite keys.
    pub annotations: BTreeMap<String, String>,
    /// Image id (config digest), once analysed.
    pub image_id: Option<String>,
    /// When first added (Unix milliseconds).
    pub created_at: i64,
    /// Last change (Unix milliseconds).
    pub updated_at: i64,
    /// When the SBOM was stored (Unix milliseconds).
    pub analyzed_at: Option<i64>,
}

/// Stored match result of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredFindings {
    /// Image digest.
    pub digest: String,
    /// Vulnerability DB version the match used.
    pub db_version: String,
    /// The match report document (`portcullis_vuln::MatchReport` as JSON).
    pub report: serde_json::Value,
    /// When it was stored (Unix milliseconds).
    pub created_at: i64,
}

/// A stored policy bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyRecord {
    /// Account the bundle belongs to.
    pub account: String,
    /// Bundle id.
    pub id: String,
    /// Bundle name, when it has one.
    pub name: Option<String>,
    /// Digest of the bundle's canonical JSON.
    pub digest: String,
    /// Whether it is the account's active bundle.
    pub active: bool,
    /// The bundle document.
    pub bundle: serde_json::Value,
    /// When first stored (Unix milliseconds).
    pub created_at: i64,
    /// Last change (Unix milliseconds).
    pub updated_at: i64,
}

/// An evaluation to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvaluation {
    /// Image digest.
    pub digest: String,
    /// Tag evaluated.
    pub tag: String,
    /// Bundle id.
    pub bundle_id: String,
    /// Bundle digest (policy version).
    pub bundle_digest: String,
    /// Vulnerability DB version of the findings used.
    pub db_version: String,
    /// Final action (`go`, `warn`, `stop`).
    pub final_action: String,
    /// The verdict document (`portcullis_policy::Verdict` as JSON).
    pub verdict: serde_json::Value,
}

/// A stored evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRecord {
    /// Row id.
    pub id: i64,
    /// What was evaluated and the outcome.
    #[serde(flatten)]
    pub evaluation: NewEvaluation,
    /// When (Unix milliseconds).
    pub created_at: i64,
}

/// One admission decision for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewDecision {
    /// Who asked (user name from the AdmissionReview).
    pub who: String,
    /// Operation (`CREATE`, `UPDATE`, …).
    pub operation: String,
    /// Object kind (`Pod`, `Deployment`, …).
    pub kind: String,
    /// Namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
    /// AdmissionReview uid.
    pub uid: String,
    /// Image references of the object.
    pub images: Vec<String>,
    /// Digests they resolved to (same order; empty string when unresolved).
    pub digests: Vec<String>,
    /// Admission mode (`policy`, `analysis`, `breakglass`, …).
    pub mode: String,
    /// Whether it was allowed.
    pub allowed: bool,
    /// Verdict summary (`pass`, `fail`, `unknown`, …).
    pub verdict: String,
    /// Reasons given to the API server.
    pub reasons: Vec<String>,
}

/// A stored admission decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Row id (increasing).
    pub id: i64,
    /// When (Unix milliseconds).
    pub at: i64,
    /// The decision.
    #[serde(flatten)]
    pub decision: NewDecision,
}

/// Filter for [`Store::list_decisions`]; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DecisionFilter {
    /// Namespace equals.
    pub namespace: Option<String>,
    /// Kind equals.
    pub kind: Option<String>,
    /// Object name equals.
    pub name: Option<String>,
    /// Allowed equals.
    pub allowed: Option<bool>,
    /// Images or digests contain this string.
    pub image: Option<String>,
    /// At or after (Unix milliseconds).
    pub since: Option<i64>,
    /// Maximum rows (newest first); default 100, at most 1000.
    pub limit: Option<u32>,
}

/// What a stored triage document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TriageKind {
    /// A VEX document (OpenVEX, CycloneDX VEX or CSAF VEX).
    Vex,
    /// An ignore-rules file (YAML or JSON).
    IgnoreRules,
}

impl TriageKind {
    /// `vex` / `ignore-rules`.
    pub fn as_str(self) -> &'static str {
        match self {
            TriageKind::Vex => "vex",
            TriageKind::IgnoreRules => "ignore-rules",
        }
    }

    /// The kind named by [`TriageKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vex" => Some(TriageKind::Vex),
            "ignore-rules" => Some(TriageKind::IgnoreRules),
            _ => None,
        }
    }
}

/// A triage document in the shared store: every replica applies it to every match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageDocument {
    /// Id: the SHA-256 (hex) of the content, so storing the same document twice is one document.
    pub id: String,
    /// VEX or ignore rules.
    pub kind: TriageKind,
    /// A name for people (the file name it came from, or what the caller gave).
    pub name: String,
    /// The document, as posted (validated before it is stored).
    pub content: String,
    /// When it was stored (Unix milliseconds).
    pub created_at: i64,
}

/// A vulnerability feed's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedRecord {
    /// Feed name (`debian`, `osv`, `vulndb`, …).
    pub name: String,
    /// Data version (DB version) last imported.
    pub db_version: String,
    /// Records in the feed.
    pub record_count: i64,
    /// `ok`, `syncing` or `failed: …`.
    pub status: String,
    /// Last change (Unix milliseconds).
    pub updated_at: i64,
}

/// A generation of vulnerability data published into the store (the bundle itself is read with
/// [`Store::read_vuln_generation`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnGeneration {
    /// Increasing number (1 for the first).
    pub generation: i64,
    /// SHA-256 (hex) of the bundle file.
    pub sha256: String,
    /// Bundle size in bytes.
    pub size: i64,
    /// The vulnerability database version the bundle holds.
    pub db_version: String,
    /// The replica that published it.
    pub created_by: String,
    /// When (Unix milliseconds).
    pub created_at: i64,
}

/// Bytes of a bundle per stored chunk (stored as base64 text, so a chunk row is about 5.4 MB).
pub const VULN_CHUNK_BYTES: usize = 4 << 20;

/// Generations kept in the store: the newest and the one before it (a replica may still be reading it).
pub const VULN_GENERATIONS_KEPT: i64 = 2;

/// Most access records [`Store::list_access`] returns (the most recently seen first).
pub const MAX_ACCESS_RECORDS: i64 = 100_000;

/// That an access (whose credentials: the engine's encoding, e.g. `shared` or `namespace:shop`) was seen to
/// pull an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// Manifest digest.
    pub digest: String,
    /// Whose access.
    pub access: String,
    /// When it was last seen to work (Unix milliseconds).
    pub seen_at: i64,
}

/// Most signature records [`Store::list_signatures`] returns (the most recently verified first).
pub const MAX_SIGNATURE_RECORDS: i64 = 100_000;

/// The signature verification of an image digest against one requirement set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureRecord {
    /// Manifest digest.
    pub digest: String,
    /// Which requirements (the engine's key of a `verify` block).
    pub requirement: String,
    /// What verification established (`portcullis_verify::SignatureFacts` as JSON).
    pub facts: serde_json::Value,
    /// When it was verified (Unix milliseconds).
    pub verified_at: i64,
}

/// Options of a queue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnqueueRequest {
    /// Manifest digest the analysis is keyed by.
    pub digest: String,
    /// Pull string (`registry/repo@sha256:…` or with tag) the worker pulls.
    pub pull: String,
    /// Registry host (rate limits apply per registry).
    pub registry: String,
    /// Re-queue even when already analysed, queued or failed.
    pub force: bool,
    /// The namespace the image was asked for by (empty: none, e.g. the API); the queue claims round-robin
    /// across namespaces.
    pub namespace: String,
    /// Attempts before the image is marked `analysis_failed`.
    pub max_attempts: u32,
}

/// Images changed since a point in time ([`Store::image_changes`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageChanges {
    /// The database's clock when the changes were read: pass it as `since` next time.
    pub as_of: i64,
    /// The images changed (with all their tags).
    pub images: Vec<ImageRecord>,
    /// Of each changed image's tags, when the tag last led to it: its last registry resolution to this
    /// digest, else when the store first saw it on this digest (Unix milliseconds).
    pub tag_times: Vec<TagTime>,
}

/// When a tag last led to a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTime {
    /// Image digest.
    pub digest: String,
    /// `registry/repository:tag`.
    pub tag: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// What [`Store::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Enqueued {
    /// Newly queued (or re-queued with force).
    Queued,
    /// Already queued or being analysed: nothing changed (deduplicated by digest).
    AlreadyQueued,
    /// Already analysed (or failed for good) and not forced: nothing changed.
    AlreadyDone,
}

/// A claimed queue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// Digest.
    pub digest: String,
    /// Pull string.
    pub pull: String,
    /// Registry host.
    pub registry: String,
    /// Attempt number (1 for the first).
    pub attempt: u32,
    /// Worker holding the claim.
    pub worker: String,
}

/// Per-registry rate limits: the minimum time between two claims of images from one registry, and how many
/// analyses of one registry's images may run at once (so a registry that does not answer holds at most that
/// many workers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimits {
    /// Interval for registries not listed (zero: unlimited).
    pub default_interval: Duration,
    /// Interval by registry host.
    pub per_registry: BTreeMap<String, Duration>,
    /// Most live claims of one registry's images by one replica — the workers whose names share the claiming
    /// worker's `replica/` prefix (zero: unlimited). Below the number of workers, a registry that does not
    /// answer can never hold every worker of a replica.
    pub max_claimed_per_registry: u32,
}

impl RateLimits {
    /// The interval for one registry.
    pub fn interval(&self, registry: &str) -> Duration {
        self.per_registry
            .get(registry)
            .copied()
            .unwrap_or(self.default_interval)
    }
}

/// How failed analyses are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubled after each further one.
    pub base: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            max: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1` after `attempt` failed attempts.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

/// What [`Store::fail_analysis`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Re-queued; retried after the delay.
    Retrying(Duration),
    /// Attempts exhausted (or the error is permanent): the image is `analysis_failed`.
    Failed,
    /// The worker no longer held the claim (it expired and was taken over): nothing changed.
    ClaimLost,
}

/// Counts of the analysis queue by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// Waiting (including retries).
    pub queued: i64,
    /// Claimed by a worker.
    pub claimed: i64,
    /// Finished.
    pub done: i64,
    /// Failed for good.
    pub failed: i64,
}

/// Held while one replica runs a feed update; dropping it releases the lock.
pub trait FeedLock: Send {}

/// The storage interface; both backends implement it with the same queries.
///
/// All methods are blocking: call them from async code through `tokio::task::spawn_blocking`.
pub trait Store: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;
    /// The schema version of the database.
    fn schema_version(&self) -> Result<i64>;

    /// Adds an image (or records one more tag and annotations for a known one).
    fn upsert_image(
        &self,
        digest: &str,
        tag: Option<&str>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<ImageRecord>;
    /// One image.
    fn get_image(&self, digest: &str) -> Result<Option<ImageRecord>>;
    /// Records that a registry lookup just resolved `tag` to the known image `digest` (the newest resolution
    /// of a tag wins); false when the image is not known.
    fn record_resolution(&self, digest: &str, tag: &str) -> Result<bool>;
    /// Images changed since `since` (an earlier [`ImageChanges::as_of`]; `None`: every image). Changes
    /// committed up to a few seconds late are included again next time, so callers must accept seeing an
    /// image twice.
    fn image_changes(&self, since: Option<i64>) -> Result<ImageChanges>;
    /// Images, newest first; with `tag`, only those seen with it.
    fn list_images(&self, tag: Option<&str>) -> Result<Vec<ImageRecord>>;
    /// The SBOM document of an image.
    fn get_sbom(&self, digest: &str) -> Result<Option<serde_json::Value>>;
    /// Digests of every image that has an SBOM.
    fn sbom_digests(&self) -> Result<Vec<String>>;
    /// Stores (replaces) the findings of an image.
    fn put_findings(
        &self,
        digest: &str,
        db_version: &str,
        report: &serde_json::Value,
    ) -> Result<()>;
    /// The findings of an image.
    fn get_findings(&self, digest: &str) -> Result<Option<StoredFindings>>;

    /// Stores (or replaces) a bundle; the account's first bundle becomes active.
    fn put_policy(
        &self,
        account: &str,
        id: &str,
        name: Option<&str>,
        digest: &str,
        bundle: &serde_json::Value,
    ) -> Result<PolicyRecord>;
    /// The account's bundles.
    fn list_policies(&self, account: &str) -> Result<Vec<PolicyRecord>>;
    /// One bundle.
    fn get_policy(&self, account: &str, id: &str) -> Result<Option<PolicyRecord>>;
    /// Makes a bundle the account's only active one; [`Error::NotFound`] when it does not exist.
    fn activate_policy(&self, account: &str, id: &str) -> Result<PolicyRecord>;
    /// The account's active bundle.
    fn active_policy(&self, account: &str) -> Result<Option<PolicyRecord>>;

    /// Records an evaluation.
    fn put_evaluation(&self, evaluation: &NewEvaluation) -> Result<i64>;
    /// The latest evaluation of an image by tag and bundle.
    fn latest_evaluation(
        &self,
        digest: &str,
        tag: &str,
        bundle_id: &str,
    ) -> Result<Option<EvaluationRecord>>;

    /// Appends an admission decision to the audit trail (which cannot be changed afterwards).
    fn append_decision(&self, decision: &NewDecision) -> Result<i64>;
    /// Decisions matching a filter, newest first.
    fn list_decisions(&self, filter: &DecisionFilter) -> Result<Vec<DecisionRecord>>;

    /// Queues an analysis (deduplicated by digest) and sets the image `not_analyzed` when queued.
    fn enqueue(&self, request: &EnqueueRequest) -> Result<Enqueued>;
    /// Claims the next due entry for `worker` (also taking over expired claims) and sets the image `analyzing`.
    fn claim(&self, worker: &str, lease: Duration, limits: &RateLimits) -> Result<Option<Claim>>;
    /// Extends a claim; false when the worker no longer holds it.
    fn heartbeat(&self, claim: &Claim, lease: Duration) -> Result<bool>;
    /// Stores the SBOM (and findings, when matched) and finishes the claim, in one transaction, only if the
    /// worker still holds the claim; false (nothing written) otherwise.
    fn finish_analysis(
        &self,
        claim: &Claim,
        image_id: Option<&str>,
        sbom: &serde_json::Value,
        findings: Option<(&str, &serde_json::Value)>,
    ) -> Result<bool>;
    /// Records a failed attempt: retried with backoff, or `analysis_failed` when attempts are exhausted or
    /// `permanent`.
    fn fail_analysis(
        &self,
        claim: &Claim,
        error: &str,
        permanent: bool,
        retry: &RetryPolicy,
    ) -> Result<FailOutcome>;
    /// Returns expired claims to the queue (or fails them when attempts are exhausted) and resets their images
    /// from `analyzing`; returns how many were recovered.
    fn recover_stale(&self) -> Result<usize>;
    /// Queue counts.
    fn queue_stats(&self) -> Result<QueueStats>;

    /// Records that `access` pulled (or may pull) the image `digest`, now.
    fn record_access(&self, digest: &str, access: &str) -> Result<()>;
    /// Forgets that `access` may pull the image `digest` (it was refused).
    fn forget_access(&self, digest: &str, access: &str) -> Result<()>;
    /// The access records seen at or after `since` (Unix milliseconds; `None`: all), most recently seen first,
    /// at most [`MAX_ACCESS_RECORDS`]. Replicas read only what changed since their last read (every snapshot
    /// refresh), not the whole table.
    fn list_access(&self, since: Option<i64>) -> Result<Vec<AccessRecord>>;
    /// Records (or replaces) the signature verification of `digest` against `requirement`, now.
    fn put_signatures(
        &self,
        digest: &str,
        requirement: &str,
        facts: &serde_json::Value,
    ) -> Result<()>;
    /// The signature records verified at or after `since` (Unix milliseconds; all when `None`), most recently
    /// verified first, at most [`MAX_SIGNATURE_RECORDS`].
    fn list_signatures(&self, since: Option<i64>) -> Result<Vec<SignatureRecord>>;

    /// Records a feed's state.
    fn put_feed(&self, feed: &FeedRecord) -> Result<()>;
    /// Every feed.
    fn list_feeds(&self) -> Result<Vec<FeedRecord>>;
    /// Tries to become the one replica running feed updates (PostgreSQL advisory lock; SQLite: one lock per
    /// process, as SQLite is for a single replica). `None` when another holder has it.
    fn try_feed_lock(&self) -> Result<Option<Box<dyn FeedLock>>>;

    /// Stores a triage document (its `id` is the SHA-256 of its content); returns the stored record, the one
    /// already stored when the same content was stored before.
    fn put_triage_document(&self, doc: &TriageDocument) -> Result<TriageDocument>;
    /// Every stored triage document of `kind` (all kinds when `None`), oldest first.
    fn list_triage_documents(&self, kind: Option<TriageKind>) -> Result<Vec<TriageDocument>>;
    /// Deletes a triage document of `kind`; false when there was none with that id.
    fn delete_triage_document(&self, kind: TriageKind, id: &str) -> Result<bool>;
    /// Publishes the bundle file `bundle` (SHA-256 `sha256`, holding `db_version`) as the next generation of
    /// vulnerability data, in one transaction, and drops all but the newest [`VULN_GENERATIONS_KEPT`]. Call it
    /// holding the feed lock. Returns the new generation.
    fn publish_vuln_generation(
        &self,
        bundle: &std::path::Path,
        sha256: &str,
        db_version: &str,
        created_by: &str,
    ) -> Result<VulnGeneration>;
    /// The newest published generation, if any.
    fn latest_vuln_generation(&self) -> Result<Option<VulnGeneration>>;
    /// Writes generation `generation`'s bundle to the file `dest` (chunk by chunk); the caller checks its
    /// SHA-256. `NotFound` when the generation was dropped meanwhile.
    fn read_vuln_generation(&self, generation: i64, dest: &std::path::Path) -> Result<()>;
}

/// Opens (creating and migrating) a store: `postgres://…`/`postgresql://…` for PostgreSQL, otherwise a SQLite
/// file path (optionally prefixed `sqlite:`).
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Box::new(SqlStore::new(postgres_backend::PgDb::connect(
            url,
        )?)?))
    } else {
        let path = url.strip_prefix("sqlite:").unwrap_or(url);
        if path.is_empty() {
            return Err(Error::BadUrl(url.to_string()));
        }
        Ok(Box::new(SqlStore::new(sqlite_backend::SqliteDb::open(
            std::path::Path::new(path),
        )?)?))
    }
}

/// Current time in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Removes the password from a PostgreSQL URL for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let r = RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        assert_eq!(r.delay(1), Duration::from_secs(1));
        assert_eq!(r.delay(2), Duration::from_secs(2));
        assert_eq!(r.delay(3), Duration::from_secs(4));
        assert_eq!(r.delay(10), Duration::from_secs(10));
        assert_eq!(r.delay(100), Duration::from_secs(10));
    }
}
