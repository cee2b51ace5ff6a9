//! The pipeline stages the engine drives, as traits so the engine does not care how each stage is built:
//! resolve → pull + analyse → match → evaluate. [`RegistryAnalyser`] and [`RegistryResolver`] are the real
//! implementations over `portcullis_image` and `portcullis_sbom`; matcher and evaluator are supplied by whoever
//! wires the service (the vulnerability DB and the policy engine live in their own crates).

use std::future::Future;
use std::pin::Pin;

use portcullis_policy::Verdict;
use portcullis_sbom::{ImageMetadata, Sbom};
use portcullis_vuln::MatchReport;

/// A boxed future, for object-safe async stage traits.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A stage failure: the message for the user and whether retrying could help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    /// What went wrong, naming the image and what to do.
    pub message: String,
    /// True when retrying cannot help (unknown manifest, invalid reference, unsupported format).
    pub permanent: bool,
}

impl StageError {
    /// A transient error (retried with backoff).
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }
    /// A permanent error (the image is marked `analysis_failed` at once).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

/// The outcome of analysing one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Image id (config digest), when known.
    pub image_id: Option<String>,
    /// The SBOM.
    pub sbom: Sbom,
}

/// Resolves a pull string (`registry/repo:tag`) to the manifest digest the registry serves.
pub trait Resolver: Send + Sync + 'static {
    /// The digest (`sha256:…`).
    fn resolve<'a>(&'a self, pull: &'a str) -> BoxFuture<'a, Result<String, StageError>>;
}

/// Pulls and analyses an image into an SBOM.
pub trait Analyser: Send + Sync + 'static {
    /// Analyses the image `pull` (a `…@sha256:` pull string when the digest is known).
    fn analyse<'a>(&'a self, pull: &'a str) -> BoxFuture<'a, Result<Analysis, StageError>>;
}

/// Matches SBOMs against the current vulnerability data.
pub trait Matcher: Send + Sync + 'static {
    /// Version of the vulnerability data [`Matcher::match_sbom`] uses now.
    fn db_version(&self) -> String;
    /// Matches one SBOM.
    fn match_sbom(&self, sbom: &Sbom) -> Result<MatchReport, StageError>;
}

/// What validating a bundle found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// Bundle id.
    pub id: String,
    /// Bundle name.
    pub name: Option<String>,
}

/// Validates and evaluates policy bundles.
pub trait Evaluator: Send + Sync + 'static {
    /// Checks a bundle document; the error names what is wrong and where.
    fn validate(&self, bundle: &serde_json::Value) -> Result<BundleInfo, String>;
    /// Evaluates one image (its SBOM and findings) by `tag` against a bundle.
    fn evaluate(
        &self,
        bundle: &serde_json::Value,
        sbom: &Sbom,
        report: &MatchReport,
        tag: &str,
    ) -> Result<Verdict, StageError>;
}

/// Re-imports vulnerability data (the feed sync behind `POST /v1/system/feeds`).
pub trait FeedSource: Send + Sync + 'static {
    /// Updates the data; returns each feed's (name, record count) and the new DB version.
    fn sync(&self) -> Result<(Vec<(String, i64)>, String), StageError>;
}

/// What the engine itself needs of a bundle whatever the evaluator: a JSON object with an `id` usable in the
/// API's paths (non-empty, at most 200 characters, no `/`), and its `name`. Everything else about the
/// bundle is the evaluator's to check ([`Evaluator::validate`]), so there is one source of truth for it.
pub fn bundle_identity(bundle: &serde_json::Value) -> Result<BundleInfo, String> {
    let obj = bundle
        .as_object()
        .ok_or("a policy bundle must be a JSON object")?;
    let id = obj
        .get("id")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .ok_or("bundle field `id` (non-empty string) is missing")?;
    if id.len() > 200 || id.contains('/') {
        return Err(format!(
            "bundle id {id:?} is not usable: at most 200 characters, no `/`"
        ));
    }
    Ok(BundleInfo {
        id: id.to_string(),
        name: obj.get("name").and_then(|v| v.as_str()).map(str::to_string),
    })
}

/// Most credentials remembered per repository.
const MAX_LEARNED_PER_REPOSITORY: usize = 8;

/// Registry credentials learned while running (from the Kubernetes pull secrets of the workloads that use an
/// image), remembered per image repository and tried before the configured ones. Cloning shares them.
///
/// They are kept in memory only (never written to the store) and are keyed by the repositories the workload
/// referenced, so a secret is only offered to the registry it was written for.
#[derive(Clone, Default)]
pub struct LearnedCredentials {
    inner: std::sync::Arc<
        std::sync::RwLock<std::collections::HashMap<String, Vec<portcullis_image::Credential>>>,
    >,
}

impl LearnedCredentials {
    fn key(r: &portcullis_image::ImageRef) -> String {
        format!("{}/{}", r.registry, r.repository)
    }

    /// Remembers `credentials` for the repository of `image` (newest first; duplicates dropped).
    pub fn learn(
        &self,
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
        let mut map = self.inner.write().unwrap_or_else(|p| p.into_inner());
        let list = map.entry(Self::key(image)).or_default();
        for c in matching.into_iter().rev() {
            list.retain(|o| {
                !(o.registry == c.registry && o.username == c.username && o.password == c.password)
            });
            list.insert(0, c);
        }
        list.truncate(MAX_LEARNED_PER_REPOSITORY);
    }

    /// The credentials remembered for the repository of `image`.
    pub fn for_image(
        &self,
        image: &portcullis_image::ImageRef,
    ) -> Vec<portcullis_image::Credential> {
        self.inner
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&Self::key(image))
            .cloned()
            .unwrap_or_default()
    }

    /// The option sets to try for `image`, in order: one per learned credential (that credential first, so it
    /// is the one used for the registry), then `opts` alone (configured credentials, else anonymous).
    fn candidates(
        &self,
        opts: &portcullis_image::PullOptions,
        image: &portcullis_image::ImageRef,
    ) -> Vec<portcullis_image::PullOptions> {
        let mut out: Vec<_> = self
            .for_image(image)
            .into_iter()
            .map(|c| {
                let mut o = opts.clone();
                o.credentials.insert(0, c);
                o
            })
            .collect();
        out.push(opts.clone());
        out
    }
}

/// Runs `attempt` with each candidate option set in turn until one is not refused by the registry (401/403): a
/// wrong credential learned first must not hide a valid one learned later. The last refusal is returned when
/// every candidate is refused.
async fn with_each_candidate<T, F, Fut>(
    candidates: Vec<portcullis_image::PullOptions>,
    mut attempt: F,
) -> Result<T, portcullis_image::Error>
where
    F: FnMut(portcullis_image::PullOptions) -> Fut,
    Fut: Future<Output = Result<T, portcullis_image::Error>>,
{
    let mut last = None;
    for o in candidates {
        match attempt(o).await {
            Err(e @ portcullis_image::Error::Auth { .. }) => last = Some(e),
            other => return other,
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
    fn resolve<'a>(&'a self, pull: &'a str) -> BoxFuture<'a, Result<String, StageError>> {
        Box::pin(async move {
            let r = portcullis_image::ImageRef::parse(pull)
                .map_err(|e| StageError::permanent(format!("image reference {pull:?}: {e}")))?;
            let candidates = self.learned.candidates(&self.opts, &r);
            with_each_candidate(candidates, |o| {
                let r = r.clone();
                async move { portcullis_image::resolve_digest(&r, &o).await }
            })
            .await
            .map_err(|e| StageError::transient(format!("resolving {pull}: {e}")))
        })
    }
}

/// Pulls with `portcullis_image::open` and catalogues with `portcullis_sbom::catalog`.
pub struct RegistryAnalyser {
    /// Registry access options.
    pub opts: portcullis_image::PullOptions,
    /// Parent of the per-analysis work directories.
    pub work_dir: std::path::PathBuf,
    /// Credentials learned from pull secrets, tried first.
    pub learned: LearnedCredentials,
}

impl Analyser for RegistryAnalyser {
    fn analyse<'a>(&'a self, pull: &'a str) -> BoxFuture<'a, Result<Analysis, StageError>> {
        Box::pin(async move {
            let r = portcullis_image::ImageRef::parse(pull)
                .map_err(|e| StageError::permanent(format!("image reference {pull:?}: {e}")))?;
            let work = tempfile::Builder::new()
                .prefix("analysis-")
                .tempdir_in(&self.work_dir)
                .map_err(|e| {
                    StageError::transient(format!(
                        "creating a work directory under {}: {e}",
                        self.work_dir.display()
                    ))
                })?;
            let candidates = self.learned.candidates(&self.opts, &r);
            let source = portcullis_image::Source::Registry(r);
            let image =
                with_each_candidate(candidates, |o| {
                    let (source, work) = (&source, work.path());
                    async move {
                        portcullis_image::open(source, &o, work, &portcullis_sbom::wanted).await
                    }
                })
                .await
                .map_err(|e| StageError::transient(format!("pulling {pull}: {e}")))?;
            let metadata = ImageMetadata {
                manifest_digest: image.manifest_digest.clone(),
                image_id: Some(image.image_id.clone()),
                reference: Some(pull.to_string()),
                os: Some(image.config.os.clone()),
                architecture: Some(image.config.architecture.clone()),
                variant: image.config.variant.clone(),
                size: image.layers.iter().map(|l| l.size).sum(),
                layer_count: image.layers.len(),
                layers: image.layers.iter().map(|l| l.digest.clone()).collect(),
                created: image.config.created.clone(),
                labels: image.config.labels.clone(),
                env: image.config.env.clone(),
                user: image.config.user.clone(),
                exposed_ports: image.config.exposed_ports.clone(),
                entrypoint: image.config.entrypoint.clone(),
                cmd: image.config.cmd.clone(),
                history: image
                    .config
                    .history
                    .iter()
                    .filter_map(|h| h.created_by.clone())
                    .collect(),
                dockerfile: None,
            };
            let sbom = portcullis_sbom::catalog(&image.fs, pull, metadata)
                .map_err(|e| StageError::permanent(e.to_string()))?;
            Ok(Analysis {
                image_id: Some(image.image_id),
                sbom,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> std::path::PathBuf {
        std::env::var_os("PORTCULLIS_SHARED")
            .map(Into::into)
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into())
    }

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
            bundle_identity(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
            match ev.validate(&v) {
                Ok(_) => accepted += 1,
                Err(e) => {
                    assert!(!e.is_empty(), "{name}");
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
        assert!(e.contains("no `/`"), "{e}");
    }
}

/// The real evaluator: Anchore bundles loaded, validated and evaluated by `portcullis_policy`; compiled
/// bundles are cached by their document digest.
#[derive(Default)]
pub struct PolicyEvaluator {
    compiled: std::sync::Mutex<
        std::collections::HashMap<String, std::sync::Arc<portcullis_policy::Bundle>>,
    >,
}

impl PolicyEvaluator {
    fn compile(
        &self,
        bundle: &serde_json::Value,
    ) -> Result<std::sync::Arc<portcullis_policy::Bundle>, String> {
        let key = crate::json_digest(bundle);
        if let Some(b) = self
            .compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(b.clone());
        }
        let bytes = serde_json::to_vec(bundle).map_err(|e| e.to_string())?;
        let compiled = std::sync::Arc::new(
            portcullis_policy::Bundle::from_slice(&bytes, "the policy bundle")
                .map_err(|e| e.to_string())?,
        );
        let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 64 {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
        Ok(compiled)
    }
}

impl Evaluator for PolicyEvaluator {
    fn validate(&self, bundle: &serde_json::Value) -> Result<BundleInfo, String> {
        let b = self.compile(bundle)?;
        Ok(BundleInfo {
            id: b.id().to_string(),
            name: b.doc.name.clone(),
        })
    }

    fn evaluate(
        &self,
        bundle: &serde_json::Value,
        sbom: &Sbom,
        report: &MatchReport,
        tag: &str,
    ) -> Result<Verdict, StageError> {
        let b = self.compile(bundle).map_err(StageError::permanent)?;
        let input = portcullis_policy::ImageInput::new(sbom, report, tag, chrono::Utc::now());
        Ok(b.evaluate(&input))
    }
}

/// The real matcher: `portcullis_vuln`'s in-memory index, swapped atomically after a feed sync.
pub struct IndexMatcher {
    index: std::sync::RwLock<std::sync::Arc<portcullis_vuln::Index>>,
}

impl IndexMatcher {
    /// Loads the index of a vulnerability database.
    pub fn load(db: &portcullis_vuln::VulnDb) -> Result<IndexMatcher, String> {
        let index = db.load_index().map_err(|e| e.to_string())?;
        Ok(IndexMatcher {
            index: std::sync::RwLock::new(std::sync::Arc::new(index)),
        })
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
        self.current().db_version().to_string()
    }

    fn match_sbom(&self, sbom: &Sbom) -> Result<MatchReport, StageError> {
        Ok(self.current().match_sbom(sbom))
    }
}

/// Feed sync over a `portcullis_vuln` database file: re-imports each source, then swaps the matcher's index.
pub struct VulnDbFeeds {
    /// The database file.
    pub path: std::path::PathBuf,
    /// Import sources, as `portcullis db import` takes them.
    pub sources: Vec<String>,
    /// The matcher to refresh.
    pub matcher: std::sync::Arc<IndexMatcher>,
}

impl FeedSource for VulnDbFeeds {
    fn sync(&self) -> Result<(Vec<(String, i64)>, String), StageError> {
        let mut db = portcullis_vuln::VulnDb::open(&self.path)
            .map_err(|e| StageError::transient(format!("opening {}: {e}", self.path.display())))?;
        let mut feeds = Vec::new();
        for source in &self.sources {
            let r = db
                .import(source)
                .map_err(|e| StageError::transient(format!("importing {source}: {e}")))?;
            let records: usize = r.provenance.records.values().sum();
            feeds.push((source.clone(), i64::try_from(records).unwrap_or(i64::MAX)));
        }
        let index = db
            .load_index()
            .map_err(|e| StageError::transient(format!("loading the index: {e}")))?;
        let version = index.db_version().to_string();
        self.matcher.replace(index);
        Ok((feeds, version))
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
}
