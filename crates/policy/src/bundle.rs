//! Anchore policy bundles (versions `1_0` and `2`): the document model, the loader and the validator.
//!
//! Loading never stops at the first problem: every problem of every rule, mapping and allowlist is collected
//! with the place it belongs to, so one `policy validate` run shows everything to fix.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{self, Lifecycle};
use crate::gates::{self, Check};
use crate::pattern::Pattern;
use crate::{Action, Error};

/// Bundle document versions this loader accepts.
pub const SUPPORTED_VERSIONS: &[&str] = &["1_0", "2"];

/// A bundle as written (field names of version `1_0`; version `2` names are accepted as aliases).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleDoc {
    /// Bundle id.
    #[serde(default)]
    pub id: Option<String>,
    /// Bundle name.
    #[serde(default)]
    pub name: Option<String>,
    /// Document version: `1_0` or `2`.
    #[serde(default)]
    pub version: Option<String>,
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// Policies (`rule_sets` in version 2).
    #[serde(default, alias = "rule_sets")]
    pub policies: Vec<PolicyDoc>,
    /// Allowlists (`allowlists` in version 2).
    #[serde(default, alias = "allowlists")]
    pub whitelists: Vec<AllowlistDoc>,
    /// Mappings, evaluated in order; the first match wins.
    #[serde(default)]
    pub mappings: Vec<MappingDoc>,
    /// Images that always pass (`allowlisted_images` in version 2).
    #[serde(default, alias = "allowlisted_images")]
    pub whitelisted_images: Vec<ImageRuleDoc>,
    /// Images that always fail (`denylisted_images` in version 2).
    #[serde(default, alias = "denylisted_images")]
    pub blacklisted_images: Vec<ImageRuleDoc>,
}

/// A policy (version 2: a rule set).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyDoc {
    /// Policy id (what mappings reference).
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Version (`1_0` in version-1_0 bundles).
    #[serde(default)]
    pub version: Option<String>,
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// Rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<RuleDoc>,
}

/// One rule: a gate, a trigger, its parameters and the action when it fires.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleDoc {
    /// Rule id.
    #[serde(default)]
    pub id: Option<String>,
    /// Gate name.
    pub gate: String,
    /// Trigger name.
    pub trigger: String,
    /// `STOP`, `WARN` or `GO` (any case).
    pub action: String,
    /// Parameters.
    #[serde(default)]
    pub params: Vec<ParamDoc>,
}

/// A trigger parameter (`name`/`value`; non-string scalars are taken as their text).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamDoc {
    /// Parameter name.
    pub name: String,
    /// Value.
    #[serde(deserialize_with = "scalar_string")]
    pub value: String,
}

fn scalar_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Bool(b) => Ok(b.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "a parameter value must be a string, number or boolean, not {other}"
        ))),
    }
}

/// An allowlist (whitelist).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllowlistDoc {
    /// Allowlist id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Version.
    #[serde(default)]
    pub version: Option<String>,
    /// Free text.
    #[serde(default)]
    pub comment: Option<String>,
    /// Items.
    #[serde(default)]
    pub items: Vec<AllowItemDoc>,
}

/// One allowlist item: matches fired triggers by gate and trigger id (`*` wildcards allowed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllowItemDoc {
    /// Item id.
    #[serde(default)]
    pub id: Option<String>,
    /// Gate name.
    pub gate: String,
    /// Trigger id, e.g. `CVE-2023-0286+openssl` or `CVE-2023-0286+*`.
    pub trigger_id: String,
    /// RFC 3339 time after which the item no longer applies.
    #[serde(default)]
    pub expires_on: Option<String>,
}

/// How a mapping or image rule selects the image part of a reference.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageSelDoc {
    /// `tag`, `digest` or `id`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The tag pattern, digest or image id.
    pub value: String,
}

/// A mapping: which policies and allowlists apply to which images.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MappingDoc {
    /// Mapping id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Registry pattern.
    pub registry: String,
    /// Repository pattern.
    pub repository: String,
    /// Image selector.
    pub image: ImageSelDoc,
    /// One policy (version 1_0, older form).
    #[serde(default)]
    pub policy_id: Option<String>,
    /// Several policies, evaluated in order (`rule_set_ids` in version 2).
    #[serde(default, alias = "rule_set_ids")]
    pub policy_ids: Option<Vec<String>>,
    /// Allowlists applied to the policies' results (`allowlist_ids` in version 2).
    #[serde(default, alias = "allowlist_ids")]
    pub whitelist_ids: Vec<String>,
}

/// An allowlisted or denylisted image rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRuleDoc {
    /// Rule id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Registry pattern.
    pub registry: String,
    /// Repository pattern.
    pub repository: String,
    /// Image selector.
    pub image: ImageSelDoc,
}

/// One validation problem and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where: e.g. `policies[0] (id 7dcb…) rules[1] (dockerfile.instruction)`.
    pub location: String,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// A compiled rule, ready to evaluate.
#[derive(Debug)]
pub(crate) struct Rule {
    pub id: String,
    pub gate: &'static catalog::GateSpec,
    pub trigger: &'static catalog::TriggerSpec,
    pub action: Action,
    pub check: Check,
}

/// A compiled policy.
#[derive(Debug)]
pub(crate) struct Policy {
    pub id: String,
    pub rules: Vec<Rule>,
}

/// A compiled allowlist item.
#[derive(Debug)]
pub(crate) struct AllowItem {
    pub id: String,
    pub pattern: Pattern,
    pub expires_on: Option<DateTime<Utc>>,
}

/// The allowlist items of one gate, with exact trigger ids indexed (the admission path looks up one row per
/// fired trigger, thousands per image).
#[derive(Debug, Default)]
pub(crate) struct GateItems {
    pub items: Vec<AllowItem>,
    /// Exact trigger id → indexes into `items`, in bundle order.
    pub exact: HashMap<String, Vec<usize>>,
    /// Indexes of wildcard / `regexp:` items, in bundle order.
    pub patterns: Vec<usize>,
}

impl GateItems {
    fn push(&mut self, item: AllowItem) {
        let idx = self.items.len();
        match &item.pattern {
            Pattern::Exact(id) => self.exact.entry(id.clone()).or_default().push(idx),
            _ => self.patterns.push(idx),
        }
        self.items.push(item);
    }
}

/// A compiled allowlist, indexed by (lower-case) gate name.
#[derive(Debug)]
pub(crate) struct Allowlist {
    pub id: String,
    pub name: Option<String>,
    pub by_gate: BTreeMap<String, GateItems>,
}

/// A compiled mapping or image rule selector.
#[derive(Debug)]
pub(crate) struct Selector {
    pub id: Option<String>,
    pub name: Option<String>,
    pub registry: Pattern,
    pub repository: Pattern,
    pub image: ImageSel,
}

/// The image part of a selector.
#[derive(Debug)]
pub(crate) enum ImageSel {
    Tag(Pattern),
    Digest(String),
    Id(String),
}

/// A compiled mapping.
#[derive(Debug)]
pub(crate) struct Mapping {
    pub selector: Selector,
    pub policy_ids: Vec<String>,
    pub whitelist_ids: Vec<String>,
}

/// A loaded, validated and compiled policy bundle: evaluate it with [`Bundle::evaluate`].
#[derive(Debug)]
pub struct Bundle {
    /// The document as loaded.
    pub doc: BundleDoc,
    /// `sha256:` digest of the document's canonical JSON: the policy version verdicts are cached by.
    pub digest: String,
    /// Warnings found while loading (deprecated gates, triggers that cannot be evaluated, bad regexes).
    pub warnings: Vec<Problem>,
    pub(crate) policies: BTreeMap<String, Policy>,
    pub(crate) allowlists: BTreeMap<String, Allowlist>,
    pub(crate) mappings: Vec<Mapping>,
    pub(crate) allowed_images: Vec<Selector>,
    pub(crate) denied_images: Vec<Selector>,
}

impl BundleDoc {
    /// Reads a document from parsed JSON; `what` names the source in errors.
    pub fn from_value(value: &serde_json::Value, what: &str) -> Result<BundleDoc, Error> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Error::Parse {
                what: what.to_string(),
                path,
                message: inner.to_string(),
            }
        })
    }

    /// `sha256:` digest of the document's canonical JSON (as this crate re-serialises it, so key order,
    /// whitespace and unknown fields do not count): the one bundle version that stored policies, evaluations
    /// and cached verdicts are keyed by ([`Bundle::digest`]).
    pub fn digest(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        format!("sha256:{}", hex::encode(Sha256::digest(&canonical)))
    }
}

impl Bundle {
    /// Reads and loads a bundle file.
    pub fn from_path(path: &std::path::Path) -> Result<Bundle, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Bundle::from_slice(&bytes, &path.display().to_string())
    }

    /// Loads a bundle from JSON bytes; `what` names the source in errors.
    pub fn from_slice(bytes: &[u8], what: &str) -> Result<Bundle, Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let doc: BundleDoc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            Error::Parse {
                what: what.to_string(),
                path,
                message: inner.to_string(),
            }
        })?;
        Bundle::from_doc(doc)
    }

    /// Validates and compiles a parsed document.
    pub fn from_doc(doc: BundleDoc) -> Result<Bundle, Error> {
        let mut b = Builder::default();
        let compiled = b.build(&doc);
        if !b.errors.is_empty() {
            return Err(Error::Invalid {
                bundle: doc.id.clone().unwrap_or_else(|| "<no id>".into()),
                problems: b.errors,
            });
        }
        let (policies, allowlists, mappings, allowed_images, denied_images) = compiled;
        let digest = doc.digest();
        Ok(Bundle {
            doc,
            digest,
            warnings: b.warnings,
            policies,
            allowlists,
            mappings,
            allowed_images,
            denied_images,
        })
    }

    /// Bundle id.
    pub fn id(&self) -> &str {
        self.doc.id.as_deref().unwrap_or("")
    }
}

type Compiled = (
    BTreeMap<String, Policy>,
    BTreeMap<String, Allowlist>,
    Vec<Mapping>,
    Vec<Selector>,
    Vec<Selector>,
);

#[derive(Default)]
struct Builder {
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
}

fn id_note(id: &Option<String>) -> String {
    match id {
        Some(i) => format!(" (id {i})"),
        None => String::new(),
    }
}

impl Builder {
    fn err(&mut self, location: &str, message: impl Into<String>) {
        self.errors.push(Problem {
            location: location.to_string(),
            message: message.into(),
        });
    }

    fn warn(&mut self, location: &str, message: impl Into<String>) {
        self.warnings.push(Problem {
            location: location.to_string(),
            message: message.into(),
        });
    }

    fn build(&mut self, doc: &BundleDoc) -> Compiled {
        let version = doc.version.as_deref().unwrap_or("");
        if !SUPPORTED_VERSIONS.contains(&version) {
            self.err(
                "bundle",
                format!(
                    "version `{version}` is not supported; use one of {}",
                    SUPPORTED_VERSIONS.join(", ")
                ),
            );
        }
        if doc.id.as_deref().unwrap_or("").is_empty() {
            self.err("bundle", "has no `id`; give the bundle a unique id");
        }
        let strict_children = version == "1_0";

        let mut policies = BTreeMap::new();
        for (pi, pol) in doc.policies.iter().enumerate() {
            let ploc = format!("policies[{pi}]{}", id_note(&pol.id));
            if strict_children && pol.version.as_deref() != Some("1_0") {
                self.err(
                    &ploc,
                    format!(
                        "version `{}` is not supported in a 1_0 bundle; set `\"version\": \"1_0\"`",
                        pol.version.as_deref().unwrap_or("")
                    ),
                );
            }
            let Some(pid) = pol.id.clone().filter(|s| !s.is_empty()) else {
                self.err(&ploc, "has no `id`; mappings reference policies by id");
                continue;
            };
            let rules: Vec<Rule> = pol
                .rules
                .iter()
                .enumerate()
                .filter_map(|(ri, r)| self.rule(&ploc, ri, r))
                .collect();
            if policies.contains_key(&pid) {
                self.err(&ploc, format!("duplicate policy id `{pid}`"));
                continue;
            }
            policies.insert(pid.clone(), Policy { id: pid, rules });
        }

        let mut allowlists = BTreeMap::new();
        for (wi, wl) in doc.whitelists.iter().enumerate() {
            let wloc = format!("whitelists[{wi}]{}", id_note(&wl.id));
            if strict_children && wl.version.as_deref() != Some("1_0") {
                self.err(
                    &wloc,
                    format!(
                        "version `{}` is not supported in a 1_0 bundle; set `\"version\": \"1_0\"`",
                        wl.version.as_deref().unwrap_or("")
                    ),
                );
            }
            let Some(wid) = wl.id.clone().filter(|s| !s.is_empty()) else {
                self.err(&wloc, "has no `id`; mappings reference allowlists by id");
                continue;
            };
            let mut by_gate: BTreeMap<String, GateItems> = BTreeMap::new();
            for (ii, item) in wl.items.iter().enumerate() {
                let iloc = format!("{wloc} items[{ii}]{}", id_note(&item.id));
                let expires_on = match item.expires_on.as_deref().filter(|s| !s.is_empty()) {
                    None => None,
                    Some(s) => match DateTime::parse_from_rfc3339(s) {
                        Ok(t) => Some(t.with_timezone(&Utc)),
                        Err(e) => {
                            self.err(
                                &iloc,
                                format!(
                                    "`expires_on` `{s}` is not an RFC 3339 time ({e}); write e.g. 2026-12-31T00:00:00Z"
                                ),
                            );
                            continue;
                        }
                    },
                };
                let pattern = match Pattern::new(&item.trigger_id) {
                    Ok(p) => p,
                    Err(e) => {
                        self.err(&iloc, format!("`trigger_id`: {e}"));
                        continue;
                    }
                };
                by_gate
                    .entry(item.gate.to_ascii_lowercase())
                    .or_default()
                    .push(AllowItem {
                        id: item.id.clone().unwrap_or_default(),
                        pattern,
                        expires_on,
                    });
            }
            if allowlists.contains_key(&wid) {
                self.err(&wloc, format!("duplicate whitelist id `{wid}`"));
                continue;
            }
            allowlists.insert(
                wid.clone(),
                Allowlist {
                    id: wid,
                    name: wl.name.clone(),
                    by_gate,
                },
            );
        }

        let mut mappings = Vec::new();
        for (mi, m) in doc.mappings.iter().enumerate() {
            let mloc = format!("mappings[{mi}]{}", id_note(&m.id));
            let selector =
                self.selector(&mloc, &m.id, &m.name, &m.registry, &m.repository, &m.image);
            let policy_ids = match (&m.policy_id, &m.policy_ids) {
                (Some(_), Some(_)) => {
                    self.err(
                        &mloc,
                        "has both `policy_id` and `policy_ids`; use one or the other",
                    );
                    continue;
                }
                (Some(one), None) => vec![one.clone()],
                (None, Some(many)) if !many.is_empty() => many.clone(),
                _ => {
                    self.err(
                        &mloc,
                        "has no `policy_id` or `policy_ids`; name the policies to evaluate",
                    );
                    continue;
                }
            };
            for pid in &policy_ids {
                if !doc.policies.iter().any(|p| p.id.as_deref() == Some(pid)) {
                    self.err(
                        &mloc,
                        format!(
                            "references policy `{pid}`, which is not in the bundle (policies: {})",
                            list_ids(doc.policies.iter().map(|p| &p.id))
                        ),
                    );
                }
            }
            for wid in &m.whitelist_ids {
                if !doc.whitelists.iter().any(|w| w.id.as_deref() == Some(wid)) {
                    self.err(
                        &mloc,
                        format!(
                            "references whitelist `{wid}`, which is not in the bundle (whitelists: {})",
                            list_ids(doc.whitelists.iter().map(|w| &w.id))
                        ),
                    );
                }
            }
            if let Some(selector) = selector {
                mappings.push(Mapping {
                    selector,
                    policy_ids,
                    whitelist_ids: m.whitelist_ids.clone(),
                });
            }
        }

        let mut images = |list: &[ImageRuleDoc], field: &str| -> Vec<Selector> {
            list.iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    let loc = format!("{field}[{i}]{}", id_note(&r.id));
                    self.selector(&loc, &r.id, &r.name, &r.registry, &r.repository, &r.image)
                })
                .collect()
        };
        let allowed = images(&doc.whitelisted_images, "whitelisted_images");
        let denied = images(&doc.blacklisted_images, "blacklisted_images");
        (policies, allowlists, mappings, allowed, denied)
    }

    fn selector(
        &mut self,
        loc: &str,
        id: &Option<String>,
        name: &Option<String>,
        registry: &str,
        repository: &str,
        image: &ImageSelDoc,
    ) -> Option<Selector> {
        let mut ok = true;
        let mut pat = |this: &mut Self, field: &str, raw: &str| match Pattern::new(raw) {
            Ok(p) => Some(p),
            Err(e) => {
                this.err(loc, format!("`{field}`: {e}"));
                ok = false;
                None
            }
        };
        let registry = pat(self, "registry", registry);
        let repository = pat(self, "repository", repository);
        let image = match image.kind.as_str() {
            "tag" => pat(self, "image.value", &image.value).map(ImageSel::Tag),
            "digest" => Some(ImageSel::Digest(image.value.clone())),
            "id" => Some(ImageSel::Id(image.value.clone())),
            other => {
                self.err(
                    loc,
                    format!("`image.type` `{other}` is not one of tag, digest, id"),
                );
                None
            }
        };
        match (registry, repository, image) {
            (Some(registry), Some(repository), Some(image)) if ok => Some(Selector {
                id: id.clone(),
                name: name.clone(),
                registry,
                repository,
                image,
            }),
            _ => None,
        }
    }

    fn rule(&mut self, ploc: &str, ri: usize, r: &RuleDoc) -> Option<Rule> {
        let loc = format!(
            "{ploc} rules[{ri}]{} ({}.{})",
            id_note(&r.id),
            r.gate,
            r.trigger
        );
        let before = self.errors.len();
        let action = match r.action.to_ascii_lowercase().as_str() {
            "stop" => Some(Action::Stop),
            "warn" => Some(Action::Warn),
            "go" => Some(Action::Go),
            _ => {
                self.err(
                    &loc,
                    format!("action `{}` is not one of STOP, WARN, GO", r.action),
                );
                None
            }
        };
        let Some(gate) = catalog::gate(&r.gate) else {
            let valid: Vec<&str> = catalog::GATES
                .iter()
                .filter(|g| g.lifecycle != Lifecycle::Eol)
                .map(|g| g.name)
                .collect();
            self.err(
                &loc,
                format!(
                    "gate `{}` does not exist; valid gates: {}",
                    r.gate,
                    valid.join(", ")
                ),
            );
            return None;
        };
        match gate.lifecycle {
            Lifecycle::Eol => {
                let hint = gate
                    .superseded_by
                    .map(|s| format!("; rewrite the rule for gate `{s}`"))
                    .unwrap_or_default();
                self.err(
                    &loc,
                    format!(
                        "gate `{}` is end-of-life and no longer evaluated{hint}",
                        r.gate
                    ),
                );
                return None;
            }
            Lifecycle::Deprecated => self.warn(
                &loc,
                format!("gate `{}` is deprecated in Anchore", gate.name),
            ),
            Lifecycle::Active => {}
        }
        let Some(trigger) = gate.trigger(&r.trigger) else {
            let valid: Vec<&str> = gate.triggers.iter().map(|t| t.name).collect();
            self.err(
                &loc,
                format!(
                    "trigger `{}` does not exist in gate `{}`; valid triggers: {}",
                    r.trigger,
                    gate.name,
                    valid.join(", ")
                ),
            );
            return None;
        };
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for prm in &r.params {
            let name = prm.name.to_ascii_lowercase();
            if !seen.insert(name.clone()) {
                self.err(&loc, format!("parameter `{}` is given twice", prm.name));
                continue;
            }
            match trigger.params.iter().find(|s| s.name == name) {
                None => {
                    let valid: Vec<&str> = trigger.params.iter().map(|s| s.name).collect();
                    self.err(
                        &loc,
                        format!(
                            "parameter `{}` is not a parameter of {}.{}; valid parameters: {}",
                            prm.name,
                            gate.name,
                            trigger.name,
                            if valid.is_empty() {
                                "(none)".to_string()
                            } else {
                                valid.join(", ")
                            }
                        ),
                    );
                }
                Some(spec) => {
                    if let Err(e) = spec.ty.check(&prm.value) {
                        self.err(&loc, format!("parameter `{}`: {e}", spec.name));
                    } else {
                        params.insert(name, prm.value.clone());
                    }
                }
            }
        }
        for spec in trigger.params.iter().filter(|s| s.required) {
            if !seen.contains(spec.name) {
                self.err(
                    &loc,
                    format!(
                        "required parameter `{}` is missing ({}; e.g. `{}`)",
                        spec.name,
                        spec.ty.describe(),
                        spec.example
                    ),
                );
            }
        }
        if self.errors.len() == before
            && let Err(e) = gates::validate(gate.name, trigger, &params)
        {
            self.err(&loc, e);
        }
        if self.errors.len() != before {
            return None;
        }
        let check = match gates::compile(gate.name, trigger, &params) {
            Ok(c) => c,
            Err(reason) => {
                self.warn(&loc, format!("cannot be evaluated: {reason}"));
                Check::Invalid(reason)
            }
        };
        if let Some(missing) = trigger.missing_data {
            self.warn(&loc, format!("cannot be evaluated: {missing}"));
        }
        Some(Rule {
            id: r.id.clone().unwrap_or_default(),
            gate,
            trigger,
            action: action?,
            check,
        })
    }
}

fn list_ids<'a>(ids: impl Iterator<Item = &'a Option<String>>) -> String {
    let v: Vec<&str> = ids.filter_map(|i| i.as_deref()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
