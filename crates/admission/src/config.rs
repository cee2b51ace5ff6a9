//! Modes and ordered selectors: which mode, policy bundle and mutation setting apply to each image.
//!
//! Two configuration formats are accepted:
//! - the native format (YAML or JSON), regexes anchored (`prod-.*` must match the whole value):
//!   ```yaml
//!   exemptNamespaces: [kube-system, portcullis]   # never checked (default shown)
//!   default: { mode: passive, policy: default }    # when no selector matches (default shown)
//!   recheckUnchanged: false                        # on UPDATE, re-check images the old object already ran
//!   skipOwned: false                               # skip Pods/ReplicaSets created by an admitted controller
//!   selectors:
//!     - { resource: namespace, field: name, value: "prod-.*", mode: policy, policy: prod, mutate: true }
//!     - { resource: object, field: label, key: "team", value: "payments", mode: policy, policy: strict }
//!     - { resource: image, value: "registry\\.example\\.com/.*", mode: policy, policy: strict }
//!     - { resource: image, value: "ghcr\\.io/example/.*", mode: policy, verify: { keys: [/etc/keys/ci.pub] } }
//!   ```
//! - the Anchore admission controller's configuration as-is (`{"PolicySelectors": [{"Selector": {"ResourceType":
//!   "pod|namespace|image", "SelectorKeyRegex", "SelectorValueRegex"}, "PolicyReference": {"Username",
//!   "PolicyBundleId"}, "Mode": "policy|analysis|breakglass"}]}`), with Anchore's unanchored (search) regexes and
//!   its special `name` key.
//!
//! **Selectors on the object's own fields** (`resource: object`: its name, labels, annotations — Anchore's `pod`
//! selectors included) are written by whoever creates the workload. Unless marked `trustObjectFields: true`
//! (Anchore format: top-level `TrustObjectFields: true`) such a selector is applied only where it makes the checks
//! at least as strict as what applies without it; where it would weaken them it is taken as not matching, and
//! [`Config::warnings`] names it.
//!
//! **Default when nothing matches: `passive` with policy `default`** — never block, queue analysis, record the
//! decision. A cluster without configuration can therefore never be taken down by Portcullis.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

pub mod verify;

pub use verify::VerifySpec;

/// How a matched image is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Admit only analysed images whose verdict passes the policy. Unknown images are denied (and queued).
    Policy,
    /// Admit only analysed images (any verdict). Unknown images are denied (and queued).
    Analysis,
    /// Evaluate and warn, never deny (for dry runs of a policy). Unknown images are admitted with a warning.
    Audit,
    /// Never block; queue analysis of unknown images; record the decision.
    Passive,
    /// Anchore's break-glass: admit without checking or queueing anything.
    Breakglass,
}

impl Mode {
    /// How much the mode checks: `policy` 4, `analysis` 3, `audit` 2, `passive` 1, `breakglass` 0.
    pub fn strictness(self) -> u8 {
        match self {
            Mode::Policy => 4,
            Mode::Analysis => 3,
            Mode::Audit => 2,
            Mode::Passive => 1,
            Mode::Breakglass => 0,
        }
    }

    /// Lower-case name, used in metrics and audit annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Policy => "policy",
            Mode::Analysis => "analysis",
            Mode::Audit => "audit",
            Mode::Passive => "passive",
            Mode::Breakglass => "breakglass",
        }
    }
}

/// What a selector (or the default) assigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assignment {
    /// Mode.
    pub mode: Mode,
    /// Policy bundle id/name verdicts are looked up for.
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Pin images to evaluated digests from `/mutate` (off by default).
    #[serde(default)]
    pub mutate: bool,
    /// Signatures and attestations the image must carry (see [`verify`]); none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
}

fn default_policy() -> String {
    "default".into()
}

impl Assignment {
    /// Whether this assignment checks at least as much as `other`: a stricter mode (or the same mode with the
    /// same policy bundle), pinning kept when `other` pins, and every signature requirement of `other` kept.
    pub fn at_least_as_strict_as(&self, other: &Assignment) -> bool {
        let mode = self.mode.strictness() > other.mode.strictness()
            || (self.mode == other.mode && self.policy == other.policy);
        mode && (self.mutate || !other.mutate)
            && VerifySpec::at_least_as_strict_as(self.verify.as_ref(), other.verify.as_ref())
    }
}

impl Default for Assignment {
    fn default() -> Self {
        Assignment {
            mode: Mode::Passive,
            policy: default_policy(),
            mutate: false,
            verify: None,
        }
    }
}

/// What a selector looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resource {
    /// The namespace (name, and labels/annotations when a namespace lookup provides them).
    Namespace,
    /// The object under review (its metadata).
    Object,
    /// The image reference (as written, and normalised).
    Image,
}

/// Which part of the metadata a selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// `metadata.name`.
    Name,
    /// A label (key matched by `key`).
    Label,
    /// An annotation (key matched by `key`).
    Annotation,
    /// Any label or annotation, or the name when `key` matches `name` (the Anchore rule).
    Any,
}

/// One native selector, as written in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorSpec {
    /// What to look at.
    pub resource: Resource,
    /// Which metadata field (ignored for images). Default `name`.
    #[serde(default)]
    pub field: Option<Field>,
    /// Regex for the label/annotation key. Default `.*`.
    #[serde(default)]
    pub key: Option<String>,
    /// Regex for the value (or name, or image reference).
    pub value: String,
    /// For `resource: object`: let the object's fields (which the workload's author writes) choose an assignment
    /// weaker than the one that would apply without this selector. Off by default: such a selector then only
    /// ever makes checks stricter.
    #[serde(default)]
    pub trust_object_fields: bool,
    /// What it assigns.
    #[serde(flatten)]
    pub assign: Assignment,
}

/// The native configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigFile {
    /// Namespaces never checked.
    #[serde(default = "default_exempt")]
    pub exempt_namespaces: Vec<String>,
    /// Assignment when no selector matches.
    #[serde(default)]
    pub default: Assignment,
    /// Re-check images an UPDATE did not change.
    #[serde(default)]
    pub recheck_unchanged: bool,
    /// Skip Pods/ReplicaSets whose controller owner was admitted already.
    #[serde(default)]
    pub skip_owned: bool,
    /// Ordered selectors; first match wins.
    #[serde(default)]
    pub selectors: Vec<SelectorSpec>,
}

fn default_exempt() -> Vec<String> {
    vec!["kube-system".into(), "portcullis".into()]
}

impl Default for ConfigFile {
    fn default() -> Self {
        ConfigFile {
            exempt_namespaces: default_exempt(),
            default: Assignment::default(),
            recheck_unchanged: false,
            skip_owned: false,
            selectors: Vec::new(),
        }
    }
}

/// A configuration error, naming the file/selector and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("cannot read admission config {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The text does not parse in the format it was recognised as.
    #[error("admission config {path} is not valid in the {format} format: {reason}")]
    Parse {
        /// File.
        path: String,
        /// Which format it was read as.
        format: &'static str,
        /// Parser message (with line/column).
        reason: String,
    },
    /// The file has no content (e.g. read while being rewritten). Never taken as "all defaults": on reload
    /// the previous configuration stays in force.
    #[error(
        "admission config {path} is empty; write at least `default: {{mode: passive}}` to mean the defaults"
    )]
    Empty {
        /// File.
        path: String,
    },
    /// A bad regex.
    #[error("admission config selector {index}: invalid regex {regex:?}: {reason}")]
    Regex {
        /// Selector index.
        index: usize,
        /// The regex.
        regex: String,
        /// Cause.
        reason: String,
    },
    /// A bad `verify` block.
    #[error("admission config {origin}: verify: {reason}")]
    Verify {
        /// `selector N` or `default`.
        origin: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// An unsupported Anchore value.
    #[error("Anchore PolicySelectors[{index}]: {reason}")]
    Anchore {
        /// Selector index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// A compiled selector.
#[derive(Debug, Clone)]
pub struct Selector {
    /// What it looks at.
    pub resource: Resource,
    /// Which field.
    pub field: Field,
    /// Key regex.
    pub key: Regex,
    /// Value regex.
    pub value: Regex,
    /// Whether an object-field match may weaken the checks (see [`SelectorSpec::trust_object_fields`]).
    pub trust_object_fields: bool,
    /// Where it was written, e.g. `selector 2` or `Anchore PolicySelectors[0]`, for warnings.
    pub origin: String,
    /// What it assigns.
    pub assign: Assignment,
}

/// Namespace metadata for namespace selectors (labels/annotations), passed to [`crate::decide()`] and
/// [`crate::plan()`] as [`NamespaceMeta`]; the kube integration implements it over a watch cache. Must answer
/// from memory.
pub trait NamespaceLookup: Send + Sync {
    /// Metadata of namespace `name`, when known.
    fn namespace(&self, name: &str) -> Option<NamespaceMeta>;
}

impl Selector {
    /// Whether the workload's author decides if this selector matches and it was not marked as trusted.
    pub fn author_controlled(&self) -> bool {
        self.resource == Resource::Object && !self.trust_object_fields
    }

    fn matches(
        &self,
        ns: &NamespaceMeta,
        obj: &crate::review::ObjectMeta,
        image_written: &str,
        image_normalised: Option<&str>,
    ) -> bool {
        match self.resource {
            Resource::Namespace => meta_match(self, &ns.name, &ns.labels, &ns.annotations),
            Resource::Object => meta_match(self, &obj.name, &obj.labels, &obj.annotations),
            Resource::Image => {
                self.value.is_match(image_written)
                    || image_normalised.is_some_and(|n| self.value.is_match(n))
            }
        }
    }
}

/// Namespace metadata, when a lookup can provide it (the review itself carries only the name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceMeta {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The compiled admission configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Namespaces never checked.
    pub exempt_namespaces: Vec<String>,
    /// Assignment when no selector matches.
    pub default: Assignment,
    /// Re-check images an UPDATE did not change.
    pub recheck_unchanged: bool,
    /// Skip Pods/ReplicaSets owned by a controller.
    pub skip_owned: bool,
    /// Ordered selectors.
    pub selectors: Vec<Selector>,
}

impl Default for Config {
    fn default() -> Self {
        // The default file compiles without error (no selectors).
        Config::compile(ConfigFile::default()).unwrap_or(Config {
            exempt_namespaces: default_exempt(),
            default: Assignment::default(),
            recheck_unchanged: false,
            skip_owned: false,
            selectors: Vec::new(),
        })
    }
}

fn compile_re(index: usize, re: &str, anchored: bool) -> Result<Regex, ConfigError> {
    let src = if anchored {
        format!("^(?:{re})$")
    } else {
        re.to_string()
    };
    Regex::new(&src).map_err(|e| ConfigError::Regex {
        index,
        regex: re.to_string(),
        reason: e.to_string(),
    })
}

// --- Anchore format ---

#[derive(Debug, Deserialize)]
struct AnchoreConfig {
    #[serde(rename = "PolicySelectors", default)]
    policy_selectors: Option<Vec<AnchoreSelector>>,
    #[serde(rename = "Validator", default)]
    _validator: Option<serde_json::Value>,
    #[serde(rename = "AnchoreEndpoint", default)]
    _endpoint: Option<String>,
    /// Portcullis's addition: let `pod` selectors weaken checks (e.g. a breakglass label).
    #[serde(rename = "TrustObjectFields", default)]
    trust_object_fields: bool,
}

#[derive(Debug, Deserialize)]
struct AnchoreSelector {
    #[serde(rename = "Selector")]
    selector: AnchoreResourceSelector,
    #[serde(rename = "PolicyReference", default)]
    policy_reference: Option<AnchorePolicyRef>,
    #[serde(rename = "Mode")]
    mode: String,
}

#[derive(Debug, Deserialize)]
struct AnchoreResourceSelector {
    #[serde(rename = "ResourceType")]
    resource_type: String,
    #[serde(rename = "SelectorKeyRegex", default)]
    key: String,
    #[serde(rename = "SelectorValueRegex", default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct AnchorePolicyRef {
    #[serde(rename = "Username", default)]
    _username: Option<String>,
    #[serde(rename = "PolicyBundleId", default)]
    policy_bundle_id: Option<String>,
}

impl Config {
    /// Compiles a native configuration.
    pub fn compile(file: ConfigFile) -> Result<Config, ConfigError> {
        let check_verify = |origin: String, a: &Assignment| match &a.verify {
            Some(v) => v
                .validate()
                .map_err(|reason| ConfigError::Verify { origin, reason }),
            None => Ok(()),
        };
        check_verify("default".into(), &file.default)?;
        let mut selectors = Vec::with_capacity(file.selectors.len());
        for (i, s) in file.selectors.into_iter().enumerate() {
            check_verify(format!("selector {i}"), &s.assign)?;
            selectors.push(Selector {
                resource: s.resource,
                field: s.field.unwrap_or(Field::Name),
                key: compile_re(i, s.key.as_deref().unwrap_or(".*"), true)?,
                value: compile_re(i, &s.value, true)?,
                trust_object_fields: s.trust_object_fields,
                origin: format!("selector {i}"),
                assign: s.assign,
            });
        }
        Ok(Config {
            exempt_namespaces: file.exempt_namespaces,
            default: file.default,
            recheck_unchanged: file.recheck_unchanged,
            skip_owned: file.skip_owned,
            selectors,
        })
    }

    fn from_anchore(a: AnchoreConfig) -> Result<Config, ConfigError> {
        let trust_object_fields = a.trust_object_fields;
        let mut selectors = Vec::new();
        for (i, s) in a
            .policy_selectors
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let mode = match s.mode.to_ascii_lowercase().as_str() {
                "policy" => Mode::Policy,
                "analysis" => Mode::Analysis,
                "breakglass" => Mode::Breakglass,
                other => {
                    return Err(ConfigError::Anchore {
                        index: i,
                        reason: format!(
                            "Mode {other:?} is not one of policy, analysis, breakglass"
                        ),
                    });
                }
            };
            let resource = match s.selector.resource_type.to_ascii_lowercase().as_str() {
                "pod" => Resource::Object,
                "namespace" => Resource::Namespace,
                "image" => Resource::Image,
                other => {
                    return Err(ConfigError::Anchore {
                        index: i,
                        reason: format!(
                            "ResourceType {other:?} is not one of pod, namespace, image"
                        ),
                    });
                }
            };
            let policy = s
                .policy_reference
                .and_then(|p| p.policy_bundle_id)
                .filter(|p| !p.is_empty())
                .unwrap_or_else(default_policy);
            selectors.push(Selector {
                resource,
                field: Field::Any,
                key: compile_re(i, &s.selector.key, false)?,
                value: compile_re(i, &s.selector.value, false)?,
                trust_object_fields,
                origin: format!("Anchore PolicySelectors[{i}]"),
                assign: Assignment {
                    mode,
                    policy,
                    mutate: false,
                    verify: None,
                },
            });
        }
        Ok(Config {
            exempt_namespaces: default_exempt(),
            // Anchore admits when no selector matches.
            default: Assignment::default(),
            recheck_unchanged: false,
            skip_owned: false,
            selectors,
        })
    }

    /// Parses a configuration text in either format (JSON or YAML); `origin` names it in errors. A text with
    /// `PolicySelectors` is read as the Anchore controller's format, anything else as the native format.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let blank = text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---"
        });
        if blank {
            return Err(ConfigError::Empty {
                path: origin.to_string(),
            });
        }
        if text.contains("PolicySelectors") {
            let a: AnchoreConfig =
                serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Parse {
                    path: origin.to_string(),
                    format: "Anchore controller",
                    reason: e.to_string(),
                })?;
            return Config::from_anchore(a);
        }
        let n: ConfigFile = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            format: "native",
            reason: e.to_string(),
        })?;
        Config::compile(n)
    }

    /// Reads a configuration file in either format.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// The Kubernetes Secret keys (namespace, name, data key) the `verify` blocks of the default and every
    /// selector name, each once, sorted: what the Kubernetes integration reads for the verifier.
    pub fn key_secrets(&self) -> Vec<verify::SecretRef> {
        let mut out: Vec<verify::SecretRef> = self
            .selectors
            .iter()
            .map(|s| &s.assign)
            .chain(std::iter::once(&self.default))
            .filter_map(|a| a.verify.as_ref())
            .flat_map(|v| v.key_refs().unwrap_or_default())
            .filter_map(|k| k.secret_ref())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether `namespace` is exempt.
    pub fn is_exempt(&self, namespace: &str) -> bool {
        self.exempt_namespaces.iter().any(|n| n == namespace)
    }

    /// The assignment for one image: the first matching selector, else the default. A matching
    /// [author-controlled](Selector::author_controlled) selector wins only when it is at least as strict as what
    /// applies without it; otherwise it is taken as not matching.
    pub fn select(
        &self,
        ns: &NamespaceMeta,
        obj: &crate::review::ObjectMeta,
        image_written: &str,
        image_normalised: Option<&str>,
    ) -> &Assignment {
        let mut chosen_by_author: Option<&Assignment> = None;
        let mut trusted = &self.default;
        for s in &self.selectors {
            if s.author_controlled() && chosen_by_author.is_some() {
                continue;
            }
            if !s.matches(ns, obj, image_written, image_normalised) {
                continue;
            }
            if s.author_controlled() {
                chosen_by_author = Some(&s.assign);
                continue;
            }
            trusted = &s.assign;
            break;
        }
        match chosen_by_author {
            Some(a) if a.at_least_as_strict_as(trusted) => a,
            _ => trusted,
        }
    }

    /// Load-time warnings: every selector whose match the workload's author decides and that is not marked
    /// `trustObjectFields`, named with what it would assign.
    pub fn warnings(&self) -> Vec<String> {
        self.selectors
            .iter()
            .filter(|s| s.author_controlled())
            .map(|s| {
                format!(
                    "admission config {} (object {} {}) looks at fields the workload's author writes: it is \
                     applied only where mode {} with policy {:?} is at least as strict as what applies \
                     without it; mark it `trustObjectFields: true` to let anyone who can create workloads \
                     choose it",
                    s.origin,
                    field_name(s.field),
                    s.value.as_str(),
                    s.assign.mode.as_str(),
                    s.assign.policy
                )
            })
            .collect()
    }
}

fn field_name(f: Field) -> &'static str {
    match f {
        Field::Name => "name",
        Field::Label => "label",
        Field::Annotation => "annotation",
        Field::Any => "label/annotation/name",
    }
}

fn kv_match(s: &Selector, map: &BTreeMap<String, String>) -> bool {
    map.iter()
        .any(|(k, v)| s.key.is_match(k) && s.value.is_match(v))
}

fn meta_match(
    s: &Selector,
    name: &str,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> bool {
    match s.field {
        Field::Name => s.value.is_match(name),
        Field::Label => kv_match(s, labels),
        Field::Annotation => kv_match(s, annotations),
        Field::Any => {
            kv_match(s, labels)
                || kv_match(s, annotations)
                || (s.key.as_str().eq_ignore_ascii_case("name") && s.value.is_match(name))
        }
    }
}

#[cfg(test)]
mod tests;
