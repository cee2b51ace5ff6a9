//! Where admission gets verdicts from: the [`ImageVerdicts`] trait (implemented by the engine) and an in-memory
//! implementation loaded from a JSON/YAML file (tests, `portcullis admit --verdicts`).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex, RwLock};

use chrono::{DateTime, Utc};
use portcullis_image::ImageRef;
use portcullis_policy::Verdict;
use portcullis_vuln::Finding;
use serde::{Deserialize, Serialize};

/// What is known about one image for one policy. Answered from memory, never by pulling or analysing.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageState {
    /// Never seen.
    Unknown,
    /// Queued or being analysed.
    Analyzing,
    /// Analysed.
    Analyzed {
        /// Manifest digest that was analysed.
        digest: String,
        /// The verdict for the requested policy; `None` when it has not been evaluated against that policy.
        verdict: Option<Arc<Verdict>>,
        /// Vulnerability findings of the image, used to explain denials (package version, fixed-in version).
        findings: Arc<Vec<Finding>>,
        /// When the analysis finished.
        analysed_at: DateTime<Utc>,
    },
    /// Analysis failed.
    Failed(String),
}

/// The verdict source admission reads. The engine implements it over its store and queue; every method must
/// return from memory (no I/O that can block a webhook request).
pub trait ImageVerdicts: Send + Sync {
    /// The state of `image` (with `digest` set when it is known) for policy bundle `policy`, as a request from
    /// `namespace` may know it (`Review::namespace`): an analysis pulled with another
    /// namespace's pull secret is [`ImageState::Unknown`] here until `namespace`'s own credentials or the
    /// shared access were seen to pull the image.
    fn lookup(&self, image: &ImageRef, policy: &str, namespace: &str) -> ImageState;
    /// Queues `image` for analysis (deduplicated by digest / reference) on behalf of `namespace`, whose pull
    /// secrets may be used for it. `requestor` says who asked, e.g. `admission shop/Pod/web`. Never called for
    /// dry-run requests.
    fn enqueue(&self, image: &ImageRef, requestor: &str, namespace: &str);
    /// A tag → digest mapping already known (from an earlier resolution or analysis), without network access.
    fn resolve_cached(&self, image: &ImageRef) -> Option<String>;
    /// Whether the source is ready to answer (`/readyz`). Defaults to true.
    fn ready(&self) -> bool {
        true
    }
    /// Lines `/readyz` adds after `ready` to say what the answers rest on (e.g. the vulnerability data's
    /// version, age, generation and coverage). Must not block. Defaults to none.
    fn readiness_detail(&self) -> Vec<String> {
        Vec::new()
    }
    /// Announces the policies (ids, names or `default`) admission's configuration looks verdicts up for, so
    /// that the source has them loaded before it says it is ready. Defaults to nothing.
    fn prepare_policies(&self, policies: &[String]) {
        let _ = policies;
    }
    /// Whether verdicts for all of `policies` are loaded (after [`ImageVerdicts::prepare_policies`]), so a
    /// configuration using them can be put in force without denying images that pass. Defaults to
    /// [`ImageVerdicts::ready`].
    fn policies_ready(&self, policies: &[String]) -> bool {
        let _ = policies;
        self.ready()
    }
    /// Why policy bundle `policy` (an id, a name, or `default` for the active bundle) cannot be used for
    /// `policy` mode, when it cannot (`/readyz` reports it). Defaults to no problem.
    fn policy_problem(&self, policy: &str) -> Option<String> {
        let _ = policy;
        None
    }
    /// Appends a validating decision to the audit trail. Called once per non-dry-run `/validate` review; must
    /// not block (implementations hand the record off). Defaults to recording nothing.
    fn record(&self, review: &crate::Review, decision: &crate::Decision) {
        let _ = (review, decision);
    }
    /// The recorded signature verification of `digest` against the requirements `verify` (see
    /// [`crate::signatures`]), from memory; `None` when it has not been verified yet. No default: a wrapper
    /// that forgot to pass it on would leave every image under a `verify` block unverified forever.
    fn signatures(
        &self,
        digest: &str,
        verify: &crate::config::VerifySpec,
    ) -> Option<Arc<portcullis_verify::SignatureFacts>>;
    /// Called for every reviewed image under a `verify` block (never for dry-run requests); must not block.
    /// Queues verification of `image` against `verify` when the source has no facts for it, or only facts it
    /// wants re-checked (older than its re-check interval; the old facts keep answering meanwhile). No default,
    /// for the same reason.
    fn enqueue_verification(
        &self,
        image: &ImageRef,
        verify: &crate::config::VerifySpec,
        namespace: &str,
    );
    /// Tells the source that a registry lookup resolved the tag of `image` to `digest` (so the newest resolution
    /// of a moved tag wins in [`ImageVerdicts::resolve_cached`]); must not block. Defaults to nothing.
    fn resolved(&self, image: &ImageRef, digest: &str) {
        let _ = (image, digest);
    }
}

/// Error of reading an image reference from a manifest.
#[derive(Debug, thiserror::Error)]
#[error("invalid image reference {image:?}: {reason}")]
pub struct InvalidReference {
    /// The text as written.
    pub image: String,
    /// Why it is invalid.
    pub reason: String,
}

/// Parses and normalises an image reference as the container runtime would (`nginx` →
/// `docker.io/library/nginx:latest`).
///
/// Uses `portcullis_image::ImageRef::parse`.
///
/// Results are memoised (bounded, cleared when full): parsing costs microseconds per reference, and
/// a cluster runs the same few hundred references over and over.
pub fn parse_image(s: &str) -> Result<ImageRef, InvalidReference> {
    if s.is_empty() {
        return Err(InvalidReference {
            image: String::new(),
            reason: "the container has no image".into(),
        });
    }
    if let Some(hit) = REF_CACHE.read().ok().and_then(|c| c.get(s).cloned()) {
        return hit.map_err(|reason| InvalidReference {
            image: s.to_string(),
            reason,
        });
    }
    let parsed = parse_image_uncached(s);
    if let Ok(mut c) = REF_CACHE.write() {
        if c.len() >= REF_CACHE_MAX {
            c.clear();
        }
        c.insert(
            s.to_string(),
            parsed
                .as_ref()
                .map(Clone::clone)
                .map_err(|e| e.reason.clone()),
        );
    }
    parsed
}

/// Most memoised references.
const REF_CACHE_MAX: usize = 8192;

type RefCache = RwLock<HashMap<String, Result<ImageRef, String>>>;

static REF_CACHE: LazyLock<RefCache> = LazyLock::new(|| RwLock::new(HashMap::new()));

fn parse_image_uncached(s: &str) -> Result<ImageRef, InvalidReference> {
    ImageRef::parse(s).map_err(|e| InvalidReference {
        image: s.to_string(),
        reason: e.to_string(),
    })
}

/// `registry/repository`, `registry/repository:tag`, `@digest` suffix when present.
pub fn display_ref(r: &ImageRef) -> String {
    let mut s = format!("{}/{}", r.registry, r.repository);
    if let Some(t) = &r.tag {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = &r.digest {
        s.push('@');
        s.push_str(d);
    }
    s
}

/// One image in a verdicts file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictEntry {
    /// Image reference (tag or digest form).
    pub image: String,
    /// Manifest digest the analysis used; required for `analyzed`.
    #[serde(default)]
    pub digest: Option<String>,
    /// `analyzed` (default), `analyzing` or `failed`.
    #[serde(default = "default_state")]
    pub state: String,
    /// Failure reason for `failed`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Analysis time (RFC 3339); defaults to the load time.
    #[serde(default)]
    pub analysed_at: Option<DateTime<Utc>>,
    /// Verdicts by policy bundle name/id.
    #[serde(default)]
    pub verdicts: HashMap<String, Verdict>,
    /// Findings, to explain denials.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Signature verification facts of the digest (for `verify` requirements); absent: not verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signatures: Option<portcullis_verify::SignatureFacts>,
}

fn default_state() -> String {
    "analyzed".into()
}

/// The file format of [`MemoryVerdicts::load`]: `{ "images": [ VerdictEntry… ] }` in JSON or YAML.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerdictsFile {
    /// Entries.
    #[serde(default)]
    pub images: Vec<VerdictEntry>,
}

/// Errors of loading a verdicts file.
#[derive(Debug, thiserror::Error)]
pub enum VerdictsError {
    /// Unreadable file.
    #[error("cannot read verdicts file {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not valid JSON/YAML of the expected shape.
    #[error(
        "verdicts file {path} is not valid ({{\"images\": [{{\"image\", \"digest\", \"verdicts\": {{policy: Verdict}}}}]}}): {reason}"
    )]
    Parse {
        /// File.
        path: String,
        /// Cause.
        reason: String,
    },
    /// A semantic problem with one entry.
    #[error("verdicts file {path}, entry {index} ({image}): {reason}")]
    Entry {
        /// File.
        path: String,
        /// Index of the entry.
        index: usize,
        /// Its image.
        image: String,
        /// What is wrong.
        reason: String,
    },
}

/// An in-memory [`ImageVerdicts`]: tests, offline `admit`, and the default of `serve` without an engine.
#[derive(Debug, Default)]
pub struct MemoryVerdicts {
    by_tag: HashMap<String, Arc<ImageState>>,
    by_digest: HashMap<String, Arc<ImageState>>,
    tag_digest: HashMap<String, String>,
    policies: HashMap<String, HashMap<String, Arc<Verdict>>>,
    signatures: HashMap<String, Arc<portcullis_verify::SignatureFacts>>,
    queued: Mutex<BTreeSet<String>>,
}

impl MemoryVerdicts {
    /// An empty source (every image unknown).
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a verdicts file (JSON or YAML).
    pub fn load(path: &Path) -> Result<Self, VerdictsError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| VerdictsError::Io {
            path: p.clone(),
            source,
        })?;
        let file: VerdictsFile = if text.trim_start().starts_with('{') {
            serde_json::from_str(&text).map_err(|e| VerdictsError::Parse {
                path: p.clone(),
                reason: e.to_string(),
            })?
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| VerdictsError::Parse {
                path: p.clone(),
                reason: e.to_string(),
            })?
        };
        Self::from_file(file, &p)
    }

    /// Builds the source from parsed entries; `origin` names the source in errors.
    pub fn from_file(file: VerdictsFile, origin: &str) -> Result<Self, VerdictsError> {
        let mut me = Self::new();
        for (index, e) in file.images.into_iter().enumerate() {
            let err = |reason: String| VerdictsError::Entry {
                path: origin.to_string(),
                index,
                image: e.image.clone(),
                reason,
            };
            let r = parse_image(&e.image).map_err(|x| err(x.to_string()))?;
            let digest = e.digest.clone().or(r.digest.clone());
            let state = match e.state.as_str() {
                "analyzed" | "analysed" => {
                    let Some(d) = digest.clone() else {
                        return Err(err("state analyzed needs \"digest\"".into()));
                    };
                    // Stored without a verdict; lookup fills in the policy's verdict.
                    ImageState::Analyzed {
                        digest: d,
                        verdict: None,
                        findings: Arc::new(e.findings.clone()),
                        analysed_at: e.analysed_at.unwrap_or_else(Utc::now),
                    }
                }
                "analyzing" | "analysing" => ImageState::Analyzing,
                "failed" => {
                    ImageState::Failed(e.reason.clone().unwrap_or_else(|| "analysis failed".into()))
                }
                other => {
                    return Err(err(format!(
                        "unknown state {other:?}; use analyzed, analyzing or failed"
                    )));
                }
            };
            let state = Arc::new(state);
            let verdicts: HashMap<String, Arc<Verdict>> = e
                .verdicts
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect();
            if r.tag.is_some() || r.digest.is_none() {
                me.by_tag.insert(r.tag_key(), state.clone());
                if let Some(d) = &digest {
                    me.tag_digest.insert(r.tag_key(), d.clone());
                }
            }
            if let (Some(d), Some(f)) = (&digest, e.signatures) {
                me.signatures.insert(d.clone(), Arc::new(f));
            }
            if let Some(d) = digest {
                me.policies.insert(d.clone(), verdicts);
                me.by_digest.insert(d, state);
            }
        }
        Ok(me)
    }

    /// The requests queued so far (`requestor image`), for tests and `admit` output.
    pub fn queued(&self) -> Vec<String> {
        self.queued
            .lock()
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl ImageVerdicts for MemoryVerdicts {
    fn lookup(&self, image: &ImageRef, policy: &str, _namespace: &str) -> ImageState {
        let state = match &image.digest {
            Some(d) => self.by_digest.get(d),
            None => self.by_tag.get(&image.tag_key()),
        };
        match state.map(|s| s.as_ref()) {
            None => ImageState::Unknown,
            Some(ImageState::Analyzed {
                digest,
                findings,
                analysed_at,
                ..
            }) => ImageState::Analyzed {
                digest: digest.clone(),
                verdict: self
                    .policies
                    .get(digest)
                    .and_then(|m| m.get(policy))
                    .cloned(),
                findings: findings.clone(),
                analysed_at: *analysed_at,
            },
            Some(other) => other.clone(),
        }
    }

    fn enqueue(&self, image: &ImageRef, requestor: &str, _namespace: &str) {
        if let Ok(mut q) = self.queued.lock() {
            q.insert(format!("{} {}", display_ref(image), requestor));
        }
    }

    fn signatures(
        &self,
        digest: &str,
        _verify: &crate::config::VerifySpec,
    ) -> Option<Arc<portcullis_verify::SignatureFacts>> {
        self.signatures.get(digest).cloned()
    }

    fn enqueue_verification(
        &self,
        image: &ImageRef,
        _verify: &crate::config::VerifySpec,
        _namespace: &str,
    ) {
        if image
            .digest
            .as_ref()
            .is_some_and(|d| self.signatures.contains_key(d))
        {
            return;
        }
        if let Ok(mut q) = self.queued.lock() {
            q.insert(format!("{} verify", display_ref(image)));
        }
    }

    fn resolve_cached(&self, image: &ImageRef) -> Option<String> {
        if image.digest.is_some() {
            return image.digest.clone();
        }
        self.tag_digest.get(&image.tag_key()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let r = parse_image("nginx").unwrap();
        assert_eq!(display_ref(&r), "docker.io/library/nginx:latest");
        let r = parse_image("127.0.0.1:5000/shop/migrate:1.4").unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "shop/migrate");
        let e = parse_image("Nginx:??").unwrap_err();
        assert!(e.to_string().contains("Nginx:??"), "{e}");
        assert!(parse_image("").is_err());
    }

    #[test]
    fn bad_file_entries_are_named() {
        let f: VerdictsFile =
            serde_json::from_str(r#"{"images":[{"image":"nginx:1","state":"analyzed"}]}"#).unwrap();
        let e = MemoryVerdicts::from_file(f, "x.json").unwrap_err();
        assert!(e.to_string().contains("entry 0 (nginx:1)"), "{e}");
    }
}
