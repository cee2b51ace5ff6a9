//! The REST API's request and response types (documented in `openapi.json`): what goes over the wire, kept
//! apart from the store's row structs so a storage change cannot change the API by accident. Each type converts
//! from the store row it is built from; field names and order are the API's.

use std::collections::BTreeMap;

use portcullis_policy::Verdict;
use portcullis_sbom::PackageType;
use portcullis_store::{
    AnalysisStatus as StoreStatus, Backend, DecisionRecord, Enqueued, FeedRecord, ImageRecord,
    PolicyRecord, QueueStats,
};
use portcullis_vuln::Finding;
use serde::{Deserialize, Serialize};

/// The JSON body of an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// HTTP status code.
    pub status: u16,
    /// Status reason (`Bad Request`, …).
    pub error: String,
    /// What was wrong and what to do.
    pub message: String,
}

/// Body of `POST /v1/images`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddImageRequest {
    /// Pull string: `registry/repo:tag` or `registry/repo@sha256:…`.
    pub tag: String,
    /// Annotations to record (`requestor=…`).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Re-analyse even when already analysed.
    #[serde(default)]
    pub force: bool,
}

/// Answer of `POST /v1/images`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddImageResponse {
    /// The image.
    pub image: Image,
    /// What happened in the queue.
    pub queue: QueueOutcome,
}

/// Analysis status of an image (Anchore's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisStatus {
    /// Known but not analysed (queued or waiting for a retry).
    NotAnalyzed,
    /// Being analysed.
    Analyzing,
    /// SBOM stored.
    Analyzed,
    /// Analysis failed for good; see the error.
    AnalysisFailed,
}

impl AnalysisStatus {
    /// The API name (`analyzed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotAnalyzed => "not_analyzed",
            Self::Analyzing => "analyzing",
            Self::Analyzed => "analyzed",
            Self::AnalysisFailed => "analysis_failed",
        }
    }
}

impl From<StoreStatus> for AnalysisStatus {
    fn from(s: StoreStatus) -> Self {
        match s {
            StoreStatus::NotAnalyzed => Self::NotAnalyzed,
            StoreStatus::Analyzing => Self::Analyzing,
            StoreStatus::Analyzed => Self::Analyzed,
            StoreStatus::AnalysisFailed => Self::AnalysisFailed,
        }
    }
}

/// One image (`GET /v1/images/{digest}`), keyed by manifest digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// Manifest digest (`sha256:…`).
    pub digest: String,
    /// Analysis status.
    pub status: AnalysisStatus,
    /// Why analysis failed (last error), when it did.
    pub error: Option<String>,
    /// Every tag the image was seen with, sorted.
    pub tags: Vec<String>,
    /// Annotations (`requestor=portcullis-admission`, …).
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

impl From<ImageRecord> for Image {
    fn from(r: ImageRecord) -> Self {
        Self {
            digest: r.digest,
            status: r.status.into(),
            error: r.error,
            tags: r.tags,
            annotations: r.annotations,
            image_id: r.image_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            analyzed_at: r.analyzed_at,
        }
    }
}

/// What adding an image did in the analysis queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueOutcome {
    /// Newly queued (or re-queued with force).
    Queued,
    /// Already queued or being analysed: nothing changed (deduplicated by digest).
    AlreadyQueued,
    /// Already analysed (or failed for good) and not forced: nothing changed.
    AlreadyDone,
}

impl From<Enqueued> for QueueOutcome {
    fn from(e: Enqueued) -> Self {
        match e {
            Enqueued::Queued => Self::Queued,
            Enqueued::AlreadyQueued => Self::AlreadyQueued,
            Enqueued::AlreadyDone => Self::AlreadyDone,
        }
    }
}

/// A stored bundle with its document (`GET /v1/policies/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Account the bundle belongs to.
    pub account: String,
    /// Bundle id.
    pub id: String,
    /// Bundle name, when it has one.
    pub name: Option<String>,
    /// The bundle version ([`portcullis_policy::BundleDoc::digest`]).
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

impl From<PolicyRecord> for Policy {
    fn from(p: PolicyRecord) -> Self {
        Self {
            account: p.account,
            id: p.id,
            name: p.name,
            digest: p.digest,
            active: p.active,
            bundle: p.bundle,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Which store backend the engine runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl From<Backend> for StoreBackend {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Sqlite => Self::Sqlite,
            Backend::Postgres => Self::Postgres,
        }
    }
}

/// Counts of the analysis queue by state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounts {
    /// Waiting (including retries).
    pub queued: i64,
    /// Claimed by a worker.
    pub claimed: i64,
    /// Finished.
    pub done: i64,
    /// Failed for good.
    pub failed: i64,
}

impl From<QueueStats> for QueueCounts {
    fn from(q: QueueStats) -> Self {
        Self {
            queued: q.queued,
            claimed: q.claimed,
            done: q.done,
            failed: q.failed,
        }
    }
}

/// A stored triage document (`/v1/vex`, `/v1/ignore-rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageDocumentSummary {
    /// Id: the SHA-256 of the content.
    pub id: String,
    /// `vex` or `ignore-rules`.
    pub kind: String,
    /// Name (the `name` query parameter it was posted with, else derived from the id).
    pub name: String,
    /// Size of the document in bytes.
    pub bytes: usize,
    /// When it was stored (Unix milliseconds).
    pub created_at: i64,
    /// The document itself (only from `GET /v1/vex/{id}` / `GET /v1/ignore-rules/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl From<&portcullis_store::TriageDocument> for TriageDocumentSummary {
    fn from(d: &portcullis_store::TriageDocument) -> Self {
        TriageDocumentSummary {
            id: d.id.clone(),
            kind: d.kind.as_str().to_string(),
            name: d.name.clone(),
            bytes: d.content.len(),
            created_at: d.created_at,
            content: None,
        }
    }
}

/// A vulnerability feed's state (`GET /v1/system/feeds`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feed {
    /// Feed name (`debian`, `osv`, …).
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

impl From<FeedRecord> for Feed {
    fn from(f: FeedRecord) -> Self {
        Self {
            name: f.name,
            db_version: f.db_version,
            record_count: f.record_count,
            status: f.status,
            updated_at: f.updated_at,
        }
    }
}

/// One recorded admission decision (`GET /v1/decisions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Row id (increasing).
    pub id: i64,
    /// When (Unix milliseconds).
    pub at: i64,
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

impl From<DecisionRecord> for Decision {
    fn from(r: DecisionRecord) -> Self {
        let d = r.decision;
        Self {
            id: r.id,
            at: r.at,
            who: d.who,
            operation: d.operation,
            kind: d.kind,
            namespace: d.namespace,
            name: d.name,
            uid: d.uid,
            images: d.images,
            digests: d.digests,
            mode: d.mode,
            allowed: d.allowed,
            verdict: d.verdict,
            reasons: d.reasons,
        }
    }
}

/// Query of `GET /v1/decisions`; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionQuery {
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

/// A bundle summary (`GET /v1/policies`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySummary {
    /// Bundle id.
    pub id: String,
    /// Name.
    pub name: Option<String>,
    /// Active.
    pub active: bool,
    /// Digest.
    pub digest: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Updated (Unix ms).
    pub updated_at: i64,
}

impl From<&PolicyRecord> for PolicySummary {
    fn from(p: &PolicyRecord) -> Self {
        Self {
            id: p.id.clone(),
            name: p.name.clone(),
            active: p.active,
            digest: p.digest.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// Body of `PUT /v1/policies/{id}` (optional).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// Must be true: bundles are deactivated by activating another.
    pub active: bool,
}

/// Which findings `vulns` returns (Anchore's `os`, `non-os`, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VulnKind {
    /// Distribution packages (deb, apk, rpm).
    Os,
    /// Language packages.
    NonOs,
    /// Both.
    All,
}

impl VulnKind {
    /// Parses `os`, `non-os` or `all`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "os" => Some(Self::Os),
            "non-os" => Some(Self::NonOs),
            "all" => Some(Self::All),
            _ => None,
        }
    }
    pub(crate) fn includes(self, t: PackageType) -> bool {
        let os = t.is_os_package();
        match self {
            Self::Os => os,
            Self::NonOs => !os,
            Self::All => true,
        }
    }
}

/// An image's vulnerabilities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnReport {
    /// Image digest.
    pub image_digest: String,
    /// Which kind was asked for.
    pub vulnerability_type: VulnKind,
    /// Vulnerability DB version the findings came from.
    pub db_version: String,
    /// Findings.
    pub vulnerabilities: Vec<Finding>,
    /// What the vulnerability data covered: its sync time and the packages that had no data to be matched
    /// against (absent for findings stored before coverage was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<portcullis_vuln::Coverage>,
    /// Packages not checked because the database has no data for their release or ecosystem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched: Vec<portcullis_vuln::Unmatched>,
    /// Findings suppressed by the engine's VEX documents or ignore rules (`serve --vex`, `--ignore-file`),
    /// each with `suppressed: {by, reason, source}`; policy gates do not count them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Finding>,
}

/// The result of a policy check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Image digest.
    pub image_digest: String,
    /// Tag evaluated.
    pub tag: String,
    /// `pass` or `fail`.
    pub status: String,
    /// Vulnerability DB version of the findings used.
    pub db_version: String,
    /// Id of the stored evaluation.
    pub evaluation_id: i64,
    /// The verdict (rows included).
    pub verdict: Verdict,
}

/// Engine status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// `ok` when the store answers.
    pub status: String,
    /// Store backend.
    pub backend: StoreBackend,
    /// Store schema version.
    pub schema_version: i64,
    /// This replica's id.
    pub replica_id: String,
    /// Analysis workers in this replica.
    pub workers: usize,
    /// Analysis queue counts.
    pub queue: QueueCounts,
    /// Vulnerability DB version in use, when a matcher is configured.
    pub db_version: Option<String>,
    /// The vulnerability data's last sync and coverage, when a matcher is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vuln_data: Option<crate::stages::VulnDataState>,
    /// This replica's vulnerability data syncs (schedule, last attempt, success, error, failures).
    #[serde(default)]
    pub vuln_sync: crate::vuln_sync::VulnSyncStatus,
    /// Which stages are configured.
    pub stages: BTreeMap<String, bool>,
}

/// What a re-match after a feed update did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RematchStats {
    /// SBOMs re-matched.
    pub rematched: usize,
    /// Evaluations recorded afresh.
    pub reevaluated: usize,
    /// SBOMs that could not be re-matched (with the reason).
    pub errors: Vec<String>,
}

/// What a feed sync did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedSyncOutcome {
    /// Feeds after the sync.
    pub feeds: Vec<Feed>,
    /// The re-match that followed.
    pub rematch: RematchStats,
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_store::NewDecision;

    /// The wire types serialise byte for byte as the store rows the API returned before they existed.
    #[test]
    fn wire_json_is_the_store_rows_json() {
        let same = |wire: serde_json::Result<String>, row: serde_json::Result<String>| {
            assert_eq!(wire.unwrap(), row.unwrap());
        };
        let image = ImageRecord {
            digest: format!("sha256:{:064x}", 7),
            status: StoreStatus::AnalysisFailed,
            error: Some("pull failed".into()),
            tags: vec!["r/a:1".into()],
            annotations: [("requestor".to_string(), "me".to_string())].into(),
            image_id: None,
            created_at: 1,
            updated_at: 2,
            analyzed_at: Some(3),
        };
        same(
            serde_json::to_string(&Image::from(image.clone())),
            serde_json::to_string(&image),
        );
        for s in [
            StoreStatus::NotAnalyzed,
            StoreStatus::Analyzing,
            StoreStatus::Analyzed,
            StoreStatus::AnalysisFailed,
        ] {
            assert_eq!(AnalysisStatus::from(s).as_str(), s.as_str());
            same(
                serde_json::to_string(&AnalysisStatus::from(s)),
                serde_json::to_string(&s),
            );
        }
        for e in [
            Enqueued::Queued,
            Enqueued::AlreadyQueued,
            Enqueued::AlreadyDone,
        ] {
            same(
                serde_json::to_string(&QueueOutcome::from(e)),
                serde_json::to_string(&e),
            );
        }
        let policy = PolicyRecord {
            account: "admin".into(),
            id: "p".into(),
            name: Some("n".into()),
            digest: "sha256:x".into(),
            active: true,
            bundle: serde_json::json!({"id": "p", "b": [1, 2]}),
            created_at: 1,
            updated_at: 2,
        };
        same(
            serde_json::to_string(&Policy::from(policy.clone())),
            serde_json::to_string(&policy),
        );
        let feed = FeedRecord {
            name: "debian".into(),
            db_version: "v".into(),
            record_count: 9,
            status: "ok".into(),
            updated_at: 4,
        };
        same(
            serde_json::to_string(&Feed::from(feed.clone())),
            serde_json::to_string(&feed),
        );
        let decision = DecisionRecord {
            id: 5,
            at: 6,
            decision: NewDecision {
                who: "u".into(),
                operation: "CREATE".into(),
                kind: "Pod".into(),
                namespace: "ns".into(),
                name: "web".into(),
                uid: "uid".into(),
                images: vec!["a".into()],
                digests: vec!["".into()],
                mode: "policy".into(),
                allowed: false,
                verdict: "fail".into(),
                reasons: vec!["r".into()],
            },
        };
        same(
            serde_json::to_string(&Decision::from(decision.clone())),
            serde_json::to_string(&decision),
        );
        let q = QueueStats {
            queued: 1,
            claimed: 2,
            done: 3,
            failed: 4,
        };
        same(
            serde_json::to_string(&QueueCounts::from(q.clone())),
            serde_json::to_string(&q),
        );
        for b in [Backend::Sqlite, Backend::Postgres] {
            same(
                serde_json::to_string(&StoreBackend::from(b)),
                serde_json::to_string(&b),
            );
        }
    }
}
