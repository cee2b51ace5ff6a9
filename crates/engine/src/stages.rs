//! The pipeline stages the engine drives, as traits so the engine does not care how each stage is built:
//! resolve → pull + analyse → match → evaluate. [`RegistryAnalyser`] and [`RegistryResolver`] are the real
//! implementations over `portcullis_image` and `portcullis_sbom`; matcher and evaluator are supplied by whoever
//! wires the service (the vulnerability DB and the policy engine live in their own crates).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portcullis_image::{Digest, ImageRef};
use portcullis_policy::{Bundle, Verdict};
use portcullis_sbom::Sbom;
use portcullis_vuln::MatchReport;

/// A boxed future, for object-safe async stage traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A stage failure: the message for the user and whether retrying could help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{message}")]
pub struct StageError {
    /// What went wrong, naming the image and what to do.
    pub message: String,
    /// True when retrying cannot help (unknown manifest, invalid reference, unsupported format).
    pub permanent: bool,
    /// True when the registry could not be reached or did not answer in time (what opens its circuit breaker,
    /// see [`crate::resolve`]).
    pub unreachable: bool,
}

impl StageError {
    /// A transient error (retried with backoff).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            unreachable: false,
        }
    }
    /// A permanent error (the image is marked `analysis_failed` at once).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
            unreachable: false,
        }
    }
    /// A transient error because the registry could not be reached or did not answer in time.
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
            unreachable: true,
        }
    }
}

/// The outcome of analysing one image (serialisable: the analysis worker process answers with it).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Analysis {
    /// Image id (config digest), when known.
    pub image_id: Option<String>,
    /// The SBOM (empty for a multi-platform index: its platforms are analysed as their own images).
    pub sbom: Sbom,
    /// For a multi-platform index: the selected platform manifests, each analysed as its own image; the
    /// index's verdict is the worst of theirs. Empty for a single-platform image (and never sent by an
    /// analysis worker: the server lists an index's platforms itself).
    #[serde(skip)]
    pub platforms: Vec<PlatformManifest>,
    /// Whose credentials the image was pulled with.
    pub pulled_with: Access,
}

/// One selected platform manifest of a multi-platform index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    /// The platform, `os/arch[/variant]` (`linux/arm64`).
    pub platform: String,
    /// The digest of its manifest.
    pub digest: Digest,
}

/// Whose credentials a registry request used: what decides which namespaces may be told about an analysis.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Access {
    /// No learned credential: the configured ones (the operator's, offered for every namespace) or none.
    Shared,
    /// A credential learned from this namespace's pull secrets.
    Namespace(String),
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Shared => f.write_str("shared (configured or anonymous) access"),
            Access::Namespace(ns) => write!(f, "the pull secrets of namespace {ns:?}"),
        }
    }
}

/// Resolves a tag reference to the manifest digest the registry serves.
pub trait Resolver: Send + Sync + 'static {
    /// The digest of `image` (a reference without a digest), asked with the shared access and the credentials
    /// learned for `namespace` (none when `None`).
    fn resolve<'a>(
        &'a self,
        image: &'a ImageRef,
        namespace: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Digest, StageError>>;
    /// Whether `image` (pinned by digest) can be pulled with the shared access, else with the credentials
    /// learned for `namespace`: which access worked, or `None` when the registry refused (or hid) the
    /// manifest to every one of them. A cheap manifest HEAD, never a pull.
    fn access<'a>(
        &'a self,
        image: &'a ImageRef,
        namespace: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Access>, StageError>>;
}

/// Pulls and analyses an image into an SBOM.
pub trait Analyser: Send + Sync + 'static {
    /// Analyses `image` (pinned to its digest when the digest is known), pulling it with the credentials
    /// learned for `namespaces` (in turn), then the shared access; [`Analysis::pulled_with`] says which worked.
    fn analyse<'a>(
        &'a self,
        image: &'a ImageRef,
        namespaces: &'a [String],
    ) -> BoxFuture<'a, Result<Analysis, StageError>>;
}

/// How fresh the vulnerability data is and what it covers (`system status`).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct VulnDataState {
    /// The oldest import time of all sources (RFC 3339); `None` when nothing was imported.
    pub synced_at: Option<String>,
    /// Namespaces with data (`debian:12`, `npm`, …) → the oldest import time of their sources.
    pub namespaces: std::collections::BTreeMap<String, Option<String>>,
}

/// Matches SBOMs against the current vulnerability data.
pub trait Matcher: Send + Sync + 'static {
    /// Version of the vulnerability data [`Matcher::match_sbom`] uses now.
    fn db_version(&self) -> String;
    /// The data's age and coverage, when the matcher knows them.
    fn data_state(&self) -> Option<VulnDataState> {
        None
    }
    /// Matches one SBOM.
    fn match_sbom(&self, sbom: &Sbom) -> Result<MatchReport, StageError>;
    /// Replaces the triage documents from the shared store (applied after the matcher's own, e.g.
    /// `serve --vex`); false when this matcher does not apply triage.
    fn set_shared_triage(&self, _triage: &portcullis_vuln::triage::Triage) -> bool {
        false
    }
}

/// What the engine needs of a bundle to store it: its id, name and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// Bundle id.
    pub id: String,
    /// Bundle name.
    pub name: Option<String>,
    /// The bundle version: [`portcullis_policy::BundleDoc::digest`], the same digest the policy crate writes
    /// into every verdict (`Verdict::bundle_digest`).
    pub digest: String,
}

/// Compiles and evaluates policy bundles.
pub trait Evaluator: Send + Sync + 'static {
    /// Validates and compiles a bundle document; the error names what is wrong and where.
    fn compile(&self, bundle: &serde_json::Value) -> Result<Arc<Bundle>, portcullis_policy::Error>;
    /// Evaluates one image (its SBOM and findings) by `tag` (`registry/repository:tag`) against a compiled
    /// bundle; `signatures` are the image's verification facts, when it was verified (gate `signature`).
    fn evaluate(
        &self,
        bundle: &Bundle,
        sbom: &Sbom,
        report: &MatchReport,
        tag: &str,
        signatures: Option<&portcullis_verify::SignatureFacts>,
    ) -> Verdict;
}

/// Re-imports vulnerability data (the feed sync behind `POST /v1/system/feeds`).
pub trait FeedSource: Send + Sync + 'static {
    /// Updates the data; returns each feed's (name, record count) and the new DB version.
    fn sync(&self) -> Result<(Vec<(String, i64)>, String), StageError>;
    /// The version of the data in use (without triage), to tell whether a published generation is new to
    /// this replica. `None` when the source cannot share its data between replicas.
    fn data_version(&self) -> Option<String> {
        None
    }
    /// Writes the data in use to `dest` as one bundle file that [`FeedSource::install`] reads.
    fn export(&self, dest: &std::path::Path) -> Result<(), StageError> {
        let _ = dest;
        Err(StageError::permanent(
            "this feed source cannot export its data for other replicas",
        ))
    }
    /// Installs a bundle another replica published (atomically) and serves its data from now on; returns the
    /// new data version.
    fn install(&self, bundle: &std::path::Path) -> Result<String, StageError> {
        let _ = bundle;
        Err(StageError::permanent(
            "this feed source cannot install data published by other replicas",
        ))
    }
    /// A file path for a bundle being downloaded or exported (on the data's own filesystem).
    fn scratch(&self, what: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("portcullis-{what}-{}", std::process::id()))
    }
}

/// Why a bundle cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The document is not a JSON object.
    #[error("a policy bundle must be a JSON object")]
    NotAnObject,
    /// The `id` is missing or empty.
    #[error("bundle field `id` (non-empty string) is missing")]
    MissingId,
    /// The `id` cannot be used in the API's paths.
    #[error("bundle id {0:?} is not usable: at most 200 characters, no `/`")]
    UnusableId(String),
    /// The policy crate refused the document.
    #[error(transparent)]
    Policy(#[from] portcullis_policy::Error),
}

/// What the engine itself needs of a bundle whatever the evaluator: a JSON object with an `id` usable in the
/// API's paths (non-empty, at most 200 characters, no `/`), its `name`, and the policy crate's digest of the
/// document. Everything else about the bundle is the evaluator's to check ([`Evaluator::compile`]), so there is
/// one source of truth for it.
pub fn bundle_identity(bundle: &serde_json::Value) -> Result<BundleInfo, BundleError> {
    let obj = bundle.as_object().ok_or(BundleError::NotAnObject)?;
    let id = obj
        .get("id")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .ok_or(BundleError::MissingId)?;
    if id.len() > 200 || id.contains('/') {
        return Err(BundleError::UnusableId(id.to_string()));
    }
    let doc = portcullis_policy::BundleDoc::from_value(bundle, "the policy bundle")?;
    Ok(BundleInfo {
        id: id.to_string(),
        name: obj.get("name").and_then(|v| v.as_str()).map(str::to_string),
        digest: doc.digest(),
    })
}

/// Most credentials remembered per (namespace, repository).
const MAX_LEARNED_PER_REPOSITORY: usize = 8;
/// Most (namespace, repository) keys remembered; the map is cleared (and relearned from later reviews) when
/// it would grow past this.
const MAX_LEARNED_KEYS: usize = 10_000;

type LearnedKey = (String, String);

/// Registry credentials learned while running (from the Kubernetes pull secrets of the workloads that use an
/// image), remembered per (namespace, image repository): a namespace's secret is only ever offered for that
/// namespace's own requests, never for another namespace's. Cloning shares them.
///
/// They are kept in memory only (never written to the store) and are keyed by the repositories the workload
/// referenced, so a secret is only offered to the registry it was written for.
#[derive(Clone, Default)]
pub struct LearnedCredentials {
    inner: std::sync::Arc<
        std::sync::RwLock<std::collections::HashMap<LearnedKey, Vec<portcullis_image::Credential>>>,
    >,
}

impl LearnedCredentials {
    fn key(namespace: &str, r: &portcullis_image::ImageRef) -> LearnedKey {
        (
            namespace.to_string(),
            format!("{}/{}", r.registry, r.repository),
        )
    }

    /// Remembers `credentials` of `namespace` for the repository of `image` (newest first; duplicates
    /// dropped).
    pub fn learn(
        &self,
        namespace: &str,
        image: &portcullis_image::ImageRef,
        credentials: &[portcullis_image::Credential],
    ) {
        let matching: Vec<_> = credentials
            .iter()
            .filter(|c| {
                portcullis_image::credential_for(&image.registry, std::slice::from_ref(c)).is_some()
            })
            .cloned()
            .collect();
        if matching.is_empty() {
            return;
        }
        let key = Self::key(namespace, image);
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_LEARNED_KEYS && !map.contains_key(&key) {
            tracing::warn!(
                keys = map.len(),
                "too many learned pull-secret credentials; forgetting them (later reviews teach them again)"
            );
            map.clear();
        }
        let list = map.entry(key).or_default();
        for c in matching.into_iter().rev() {
            list.retain(|o| {
                !(o.registry == c.registry && o.username == c.username && o.password == c.password)
            });
            list.insert(0, c);
        }
        list.truncate(MAX_LEARNED_PER_REPOSITORY);
    }

    /// The credentials `namespace` taught for the repository of `image`.
    pub fn for_image(
        &self,
        namespace: &str,
        image: &portcullis_image::ImageRef,
    ) -> Vec<portcullis_image::Credential> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&Self::key(namespace, image))
            .cloned()
            .unwrap_or_default()
    }

    /// The option sets to try for `image` with the access each stands for: one per credential learned for
    /// each of `namespaces` (that credential first, so it is the one used for the registry), and `opts` alone
    /// (configured credentials, else anonymous) — first when `shared_first`, else last.
    fn candidates(
        &self,
        opts: &portcullis_image::PullOptions,
        image: &portcullis_image::ImageRef,
        namespaces: &[String],
        shared_first: bool,
    ) -> Vec<(Access, portcullis_image::PullOptions)> {
        let mut out = Vec::new();
        if shared_first {
            out.push((Access::Shared, opts.clone()));
        }
        for ns in namespaces {
            for c in self.for_image(ns, image) {
                let mut o = opts.clone();
                o.credentials.insert(0, c);
                out.push((Access::Namespace(ns.clone()), o));
            }
        }
        if !shared_first {
            out.push((Access::Shared, opts.clone()));
        }
        out
    }
}

/// True for a registry answer that means "not with these credentials": 401/403, or a 404 (registries hide
/// private repositories from callers without access).
fn refused(e: &portcullis_image::Error) -> bool {
    matches!(
        e,
        portcullis_image::Error::Auth { .. } | portcullis_image::Error::NotFound { .. }
    )
}

/// Runs `attempt` with each candidate option set in turn until one is not refused by the registry (401/403): a
/// wrong credential learned first must not hide a valid one learned later. The last refusal is returned when
/// every candidate is refused; on success, the access that worked.
async fn with_each_candidate<T, F, Fut>(
    candidates: Vec<(Access, portcullis_image::PullOptions)>,
    mut attempt: F,
) -> Result<(T, Access), portcullis_image::Error>
where
    F: FnMut(portcullis_image::PullOptions) -> Fut,
    Fut: Future<Output = Result<T, portcullis_image::Error>>,
{
    let mut last = None;
    for (access, o) in candidates {
        match attempt(o).await {
            Err(e @ portcullis_image::Error::Auth { .. }) => last = Some(e),
            Ok(t) => return Ok((t, access)),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| portcullis_image::Error::Manifest {
        image: String::new(),
        reason: "no registry options to try".into(),
    }))
}

/// Resolves digests with `portcullis_image::resolve_digest`.
pub struct RegistryResolver {
    /// Registry access options.
    pub opts: portcullis_image::PullOptions,
    /// Credentials learned from pull secrets, tried first.
    pub learned: LearnedCredentials,
}

impl Resolver for RegistryResolver {
    fn resolve<'a>(
        &'a self,
        image: &'a ImageRef,
        namespace: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Digest, StageError>> {
        Box::pin(async move {
            let namespaces: Vec<String> = namespace.map(str::to_string).into_iter().collect();
            let candidates = self
                .learned
                .candidates(&self.opts, image, &namespaces, false);
            let (d, _) = with_each_candidate(candidates, |o| async move {
                portcullis_image::resolve_digest(image, &o).await
            })
            .await
            .map_err(|e| match e {
                portcullis_image::Error::Unreachable { .. } => {
                    StageError::unreachable(format!("resolving {image}: {e}"))
                }
                e => StageError::transient(format!("resolving {image}: {e}")),
            })?;
            Digest::parse(&d).map_err(|e| {
                StageError::transient(format!("resolving {image}: the registry answered {e}"))
            })
        })
    }

    fn access<'a>(
        &'a self,
        image: &'a ImageRef,
        namespace: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Access>, StageError>> {
        Box::pin(async move {
            let Some(want) = image.digest.as_deref() else {
                return Err(StageError::permanent(format!(
                    "checking access to {image}: the reference is not pinned by digest"
                )));
            };
            let namespaces: Vec<String> = namespace.map(str::to_string).into_iter().collect();
            // The shared access first: an image anyone may pull is then known to be so.
            for (access, o) in self
                .learned
                .candidates(&self.opts, image, &namespaces, true)
            {
                match portcullis_image::check_manifest(image, &o).await {
                    Ok(d) if d == want => return Ok(Some(access)),
                    Ok(d) => {
                        return Err(StageError::transient(format!(
                            "checking access to {image}: the registry served digest {d} instead"
                        )));
                    }
                    Err(e) if refused(&e) => {}
                    Err(e) => {
                        return Err(StageError::transient(format!(
                            "checking access to {image}: {e}"
                        )));
                    }
                }
            }
            Ok(None)
        })
    }
}

/// Pulls and catalogues with [`portcullis_sbom::analyse`], the one analysis `portcullis sbom` and
/// `portcullis scan` run too, so an image gets the same SBOM and [`portcullis_sbom::ImageMetadata`] (dockerfile
/// included) offline and in the cluster.
pub struct RegistryAnalyser {
    /// Registry access options.
    pub opts: portcullis_image::PullOptions,
    /// Parent of the per-analysis work directories.
    pub work_dir: std::path::PathBuf,
    /// Credentials learned from pull secrets, tried first.
    pub learned: LearnedCredentials,
    /// The platforms the cluster runs. When set, a multi-platform index is analysed as each of these
    /// platforms it offers ([`Analysis::platforms`]); when empty, only `opts.platform` is analysed.
    pub platforms: Vec<portcullis_image::Platform>,
}

/// The selected platform manifests when `image` is a multi-platform index and `platforms` is not empty;
/// `None` for a single-platform image (or when no platforms are configured).
async fn index_platforms(
    opts: &portcullis_image::PullOptions,
    learned: &LearnedCredentials,
    platforms: &[portcullis_image::Platform],
    image: &ImageRef,
    namespaces: &[String],
) -> Result<Option<(Vec<PlatformManifest>, Access)>, StageError> {
    if platforms.is_empty() {
        return Ok(None);
    }
    let candidates = learned.candidates(opts, image, namespaces, false);
    let (found, access) = with_each_candidate(candidates, |o| async move {
        portcullis_image::index_platforms(image, &o, platforms).await
    })
    .await
    .map_err(|e| match e {
        e @ portcullis_image::Error::NoPlatform { .. } => StageError::permanent(format!(
            "{e}: the cluster runs none of the index's platforms (configure them with `serve --platform` \
             or the chart value `analysis.platforms`)"
        )),
        e => StageError::transient(format!("pulling {image}: {e}")),
    })?;
    let Some(found) = found else {
        return Ok(None);
    };
    found
        .into_iter()
        .map(|(p, d)| {
            Ok(PlatformManifest {
                platform: p.to_string(),
                digest: Digest::parse_sha256(&d).map_err(|e| {
                    StageError::permanent(format!(
                        "{image}: index entry for {p} has an unusable digest: {e}"
                    ))
                })?,
            })
        })
        .collect::<Result<Vec<_>, StageError>>()
        .map(|p| Some((p, access)))
}

/// The analysis of a multi-platform index (its selected platform manifests, no SBOM of its own) when `image`
/// is one and platforms are configured; `None` for a single-platform image.
pub(crate) async fn index_analysis(
    opts: &portcullis_image::PullOptions,
    learned: &LearnedCredentials,
    platforms: &[portcullis_image::Platform],
    image: &ImageRef,
    namespaces: &[String],
) -> Result<Option<Analysis>, StageError> {
    Ok(index_platforms(opts, learned, platforms, image, namespaces)
        .await?
        .map(|(platforms, pulled_with)| Analysis {
            image_id: None,
            sbom: Sbom {
                source: image.to_string(),
                ..Default::default()
            },
            platforms,
            pulled_with,
        }))
}

/// A fresh work directory for one analysis under `parent`, removed when dropped (on every exit path).
pub(crate) fn analysis_work_dir(parent: &std::path::Path) -> Result<tempfile::TempDir, StageError> {
    tempfile::Builder::new()
        .prefix("analysis-")
        .tempdir_in(parent)
        .map_err(|e| {
            StageError::transient(format!(
                "creating a work directory under {}: {e}",
                parent.display()
            ))
        })
}

impl Analyser for RegistryAnalyser {
    fn analyse<'a>(
        &'a self,
        image: &'a ImageRef,
        namespaces: &'a [String],
    ) -> BoxFuture<'a, Result<Analysis, StageError>> {
        Box::pin(async move {
            if let Some(index) = index_analysis(
                &self.opts,
                &self.learned,
                &self.platforms,
                image,
                namespaces,
            )
            .await?
            {
                return Ok(index);
            }
            let work = analysis_work_dir(&self.work_dir)?;
            let source = portcullis_image::Source::Registry(image.clone());
            let mut last = None;
            let mut sbom = None;
            for (access, opts) in self
                .learned
                .candidates(&self.opts, image, namespaces, false)
            {
                match portcullis_sbom::analyse(&source, &opts, work.path()).await {
                    Ok(s) => {
                        sbom = Some((s, access));
                        break;
                    }
                    // A refused credential: try the next candidate (a bogus one must not block a valid one).
                    Err(portcullis_sbom::Error::Image(
                        e @ portcullis_image::Error::Auth { .. },
                    )) => last = Some(e),
                    Err(portcullis_sbom::Error::Image(
                        e @ portcullis_image::Error::Unreachable { .. },
                    )) => {
                        return Err(StageError::unreachable(format!("pulling {image}: {e}")));
                    }
                    Err(portcullis_sbom::Error::Image(e)) => {
                        return Err(StageError::transient(format!("pulling {image}: {e}")));
                    }
                    Err(other) => return Err(StageError::permanent(other.to_string())),
                }
            }
            let (sbom, pulled_with) = match (sbom, last) {
                (Some(s), _) => s,
                (None, Some(e)) => {
                    return Err(StageError::transient(format!("pulling {image}: {e}")));
                }
                (None, None) => {
                    return Err(StageError::permanent(format!(
                        "pulling {image}: no registry options to try"
                    )));
                }
            };
            Ok(Analysis {
                image_id: sbom.metadata.image_id.clone(),
                sbom,
                platforms: Vec::new(),
                pulled_with,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use portcullis_testkit::shared;

    #[test]
    fn real_bundles_validate_and_invalid_ones_fail_with_the_policy_crates_errors() {
        let dir = shared().join("policies/anchore-engine");
        let ev = PolicyEvaluator::default();
        // The policy crate's verdict on the shared bundles (crates/policy/tests/bundles.rs pins its messages).
        let mut refused = Vec::new();
        let mut accepted = 0;
        for e in std::fs::read_dir(&dir).expect("shared policies") {
            let p = e.expect("entry").path();
            let text = std::fs::read_to_string(&p).expect("read");
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            match ev.compile(&v) {
                Ok(b) => {
                    let info = bundle_identity(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(info.digest, b.digest, "{name}: one bundle digest");
                    accepted += 1;
                }
                Err(e) => {
                    assert!(!e.to_string().is_empty(), "{name}");
                    refused.push(name);
                }
            }
        }
        refused.sort();
        assert_eq!(
            refused,
            [
                "bad_bundle.json",
                "bad_policy_id_bundle.json",
                "empty.json",
                "trivial_bundle.json"
            ],
            "in {}",
            dir.display()
        );
        assert_eq!(accepted, 3);
        assert!(bundle_identity(&serde_json::json!([])).is_err());
        let e = bundle_identity(&serde_json::json!({"id": "a/b"})).unwrap_err();
        assert!(e.to_string().contains("no `/`"), "{e}");
    }
}

/// The real evaluator: Anchore bundles compiled and evaluated by `portcullis_policy`; compiled bundles are
/// cached by their digest ([`portcullis_policy::BundleDoc::digest`]).
#[derive(Default)]
pub struct PolicyEvaluator {
    compiled: std::sync::Mutex<std::collections::HashMap<String, Arc<Bundle>>>,
}

impl Evaluator for PolicyEvaluator {
    fn compile(&self, bundle: &serde_json::Value) -> Result<Arc<Bundle>, portcullis_policy::Error> {
        let doc = portcullis_policy::BundleDoc::from_value(bundle, "the policy bundle")?;
        let key = doc.digest();
        if let Some(b) = self
            .compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(b.clone());
        }
        let compiled = Arc::new(Bundle::from_doc(doc)?);
        let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
        Ok(compiled)
    }

    fn evaluate(
        &self,
        bundle: &Bundle,
        sbom: &Sbom,
        report: &MatchReport,
        tag: &str,
        signatures: Option<&portcullis_verify::SignatureFacts>,
    ) -> Verdict {
        // Verified OpenVEX attestations on this image apply to its findings (suppressed ones are kept, with
        // their reason), for this evaluation only.
        let vex = signatures.map(|s| s.vex_documents()).unwrap_or_default();
        let triaged;
        let report = if vex.is_empty() {
            report
        } else {
            let mut r = report.clone();
            portcullis_vuln::triage::apply_vex(&mut r, &vex);
            triaged = r;
            &triaged
        };
        let mut input = portcullis_policy::ImageInput::new(sbom, report, tag, chrono::Utc::now());
        input.signatures = signatures;
        bundle.evaluate(&input)
    }
}

/// The real matcher: `portcullis_vuln`'s in-memory index, swapped atomically after a feed sync.
pub struct IndexMatcher {
    index: std::sync::RwLock<std::sync::Arc<portcullis_vuln::Index>>,
    /// Triage from configuration (`serve --vex` / `--ignore-file`).
    triage: portcullis_vuln::triage::Triage,
    /// What is applied: the configured triage followed by the shared store's documents.
    effective: std::sync::RwLock<std::sync::Arc<portcullis_vuln::triage::Triage>>,
}

impl IndexMatcher {
    /// Loads the index of a vulnerability database.
    pub fn load(db: &portcullis_vuln::VulnDb) -> Result<IndexMatcher, portcullis_vuln::Error> {
        let index = db.load_index()?;
        Ok(IndexMatcher {
            index: std::sync::RwLock::new(std::sync::Arc::new(index)),
            triage: Default::default(),
            effective: Default::default(),
        })
    }

    /// Applies `triage` (VEX documents, ignore rules) to every match. The version this matcher reports is the
    /// database's plus `+triage.<digest>` of the triage files and expired rules, so results say which triage
    /// made them (stored findings are re-matched by the next feed sync, [`crate::Engine::rematch_all`]).
    pub fn with_triage(mut self, triage: portcullis_vuln::triage::Triage) -> IndexMatcher {
        self.effective = std::sync::RwLock::new(std::sync::Arc::new(triage.clone()));
        self.triage = triage;
        self
    }

    fn effective(&self) -> std::sync::Arc<portcullis_vuln::triage::Triage> {
        self.effective
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn version_on(&self, index: &portcullis_vuln::Index, today: chrono::NaiveDate) -> String {
        let fp = self.effective().fingerprint(today);
        if fp.is_empty() {
            index.db_version().to_string()
        } else {
            format!("{}+triage.{fp}", index.db_version())
        }
    }

    /// Replaces the index (after an import).
    pub fn replace(&self, index: portcullis_vuln::Index) {
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = std::sync::Arc::new(index);
    }

    fn current(&self) -> std::sync::Arc<portcullis_vuln::Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Matcher for IndexMatcher {
    fn db_version(&self) -> String {
        self.version_on(&self.current(), chrono::Utc::now().date_naive())
    }

    fn data_state(&self) -> Option<VulnDataState> {
        let index = self.current();
        Some(VulnDataState {
            synced_at: index.synced_at().map(str::to_string),
            namespaces: index
                .namespaces()
                .map(|(ns, at)| (ns.to_string(), at.map(str::to_string)))
                .collect(),
        })
    }

    fn match_sbom(&self, sbom: &Sbom) -> Result<MatchReport, StageError> {
        let index = self.current();
        let mut report = index.match_sbom(sbom);
        let triage = self.effective();
        if !triage.is_empty() {
            let today = chrono::Utc::now().date_naive();
            triage.apply(&mut report, today);
            report.db_version = self.version_on(&index, today);
        }
        Ok(report)
    }

    fn set_shared_triage(&self, shared: &portcullis_vuln::triage::Triage) -> bool {
        *self.effective.write().unwrap_or_else(|p| p.into_inner()) =
            std::sync::Arc::new(self.triage.merged(shared));
        true
    }
}

/// Feed sync over a `portcullis_vuln` database file: rebuilds it from the sources in a scratch file and swaps it
/// in ([`portcullis_vuln::sync::sync`]; a failure keeps the old data), then swaps the matcher's index.
pub struct VulnDbFeeds {
    /// The database file.
    pub path: std::path::PathBuf,
    /// Sources, as `portcullis db import` takes them, or `portcullis db export` bundles (file or URL).
    pub sources: Vec<String>,
    /// The matcher to refresh.
    pub matcher: std::sync::Arc<IndexMatcher>,
}

impl FeedSource for VulnDbFeeds {
    fn sync(&self) -> Result<(Vec<(String, i64)>, String), StageError> {
        let report = portcullis_vuln::sync::sync(&self.path, &self.sources)
            .map_err(|e| StageError::transient(e.to_string()))?;
        let db = portcullis_vuln::VulnDb::open(&self.path)
            .map_err(|e| StageError::transient(format!("opening {}: {e}", self.path.display())))?;
        let index = db
            .load_index()
            .map_err(|e| StageError::transient(format!("loading the index: {e}")))?;
        self.matcher.replace(index);
        let mut feeds: Vec<(String, i64)> = report
            .bundles
            .iter()
            .map(|b| {
                (
                    b.clone(),
                    i64::try_from(report.status.vulns).unwrap_or(i64::MAX),
                )
            })
            .collect();
        for r in &report.imports {
            let records: usize = r.provenance.records.values().sum();
            feeds.push((
                r.provenance.source.clone(),
                i64::try_from(records).unwrap_or(i64::MAX),
            ));
        }
        Ok((feeds, self.matcher.db_version()))
    }

    fn data_version(&self) -> Option<String> {
        Some(self.matcher.current().db_version().to_string())
    }

    fn export(&self, dest: &std::path::Path) -> Result<(), StageError> {
        portcullis_vuln::VulnDb::open(&self.path)
            .and_then(|db| db.export(dest))
            .map_err(|e| {
                StageError::transient(format!(
                    "exporting {} to {}: {e}",
                    self.path.display(),
                    dest.display()
                ))
            })
    }

    fn install(&self, bundle: &std::path::Path) -> Result<String, StageError> {
        let fail = |e: portcullis_vuln::Error| {
            StageError::transient(format!(
                "installing {} into {}: {e}",
                bundle.display(),
                self.path.display()
            ))
        };
        portcullis_vuln::install_bundle(bundle, &self.path).map_err(fail)?;
        let index = portcullis_vuln::VulnDb::open(&self.path)
            .and_then(|db| db.load_index())
            .map_err(fail)?;
        self.matcher.replace(index);
        Ok(self.matcher.db_version())
    }

    fn scratch(&self, what: &str) -> std::path::PathBuf {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "vuln.db".into());
        self.path
            .with_file_name(format!(".{name}.{what}-{}", std::process::id()))
    }
}

#[cfg(test)]
mod vuln_tests {
    use super::*;

    #[test]
    fn index_matcher_over_an_empty_database_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = portcullis_vuln::VulnDb::open(dir.path().join("v.db")).unwrap();
        let m = IndexMatcher::load(&db).unwrap();
        let sbom = Sbom {
            packages: vec![],
            ..Default::default()
        };
        let r = m.match_sbom(&sbom).unwrap();
        assert!(r.findings.is_empty());
        assert_eq!(r.db_version, m.db_version());
        let feeds = VulnDbFeeds {
            path: dir.path().join("v.db"),
            sources: vec![dir.path().join("missing-source").display().to_string()],
            matcher: std::sync::Arc::new(m),
        };
        let err = feeds.sync().unwrap_err();
        assert!(err.message.contains("missing-source"), "{err}");
    }

    /// `serve --ignore-file` / `--vex`: the matcher applies the triage to every match and reports a version
    /// that changes with it (real GHSA record of requests, CVE-2023-32681).
    #[test]
    fn index_matcher_applies_triage_and_versions_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = portcullis_vuln::VulnDb::open(dir.path().join("v.db")).unwrap();
        let src = portcullis_testkit::shared()
            .join("vulndata/osv/ghsa/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q");
        assert!(src.exists(), "{} missing", src.display());
        db.import(src.to_str().unwrap()).unwrap();
        let rules = dir.path().join("rules.yaml");
        std::fs::write(
            &rules,
            "- {vulnerability: CVE-2023-32681, reason: no proxies, expires: \"2099-01-01\"}\n",
        )
        .unwrap();
        let triage = portcullis_vuln::triage::Triage::load(&[], &[rules]).unwrap();
        let today = chrono::Utc::now().date_naive();
        let later = chrono::NaiveDate::from_ymd_opt(2099, 1, 1).unwrap();
        assert_ne!(
            triage.fingerprint(today),
            triage.fingerprint(later),
            "an expiry changes the version"
        );
        let plain = IndexMatcher::load(&db).unwrap().db_version();
        let m = IndexMatcher::load(&db).unwrap().with_triage(triage);
        let sbom = Sbom {
            packages: vec![
                portcullis_testkit::package(
                    portcullis_sbom::PackageType::Python,
                    "requests",
                    "2.30.0",
                )
                .build(),
            ],
            ..Default::default()
        };
        let r = m.match_sbom(&sbom).unwrap();
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.suppressed.len(), 1);
        assert_eq!(
            r.suppressed[0].suppressed.as_ref().unwrap().reason,
            "no proxies"
        );
        assert_eq!(r.db_version, m.db_version());
        assert!(
            r.db_version.starts_with(&format!("{plain}+triage.")),
            "{}",
            r.db_version
        );
    }
}
