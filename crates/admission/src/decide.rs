//! The decision: per-image outcomes under the selected mode, the denial message, warnings, audit annotations and
//! the JSONPatch of `/mutate`.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use portcullis_image::ImageRef;
use portcullis_policy::{Action, CapSet, ScanStatus, Verdict, cap::CapAction};
use portcullis_vuln::Finding;
use serde::Serialize;

use crate::config::{Config, Mode, NamespaceMeta};
use crate::extract::{ContainerKind, extract};
use crate::owner::{VerifiedOwner, owner_claim};
use crate::review::{ApiVersion, Operation, Response, Review, Status};
use crate::verdicts::{ImageState, ImageVerdicts, display_ref, parse_image};

/// Annotation that keeps the original image references when `/mutate` pins them to digests (JSON object:
/// container name → original reference).
pub const ORIGINAL_IMAGES_ANNOTATION: &str = "portcullis.dev/original-images";
/// Most failing rules listed per image in a denial message.
pub const MAX_RULES_IN_MESSAGE: usize = 3;
/// Longest warning the API server shows unabridged.
pub const MAX_WARNING_CHARS: usize = 120;
/// Most warnings returned.
pub const MAX_WARNINGS: usize = 20;

/// Which webhook endpoint is answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `/validate`: may deny, never patches.
    Validate,
    /// `/mutate`: never denies, pins images to evaluated digests where the selector says so.
    Mutate,
}

impl Endpoint {
    /// `validate` / `mutate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// Inputs of a decision besides the review, the configuration and the verdict source.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// Namespace metadata from a lookup, when available (else only the name is known).
    pub namespace: Option<&'a NamespaceMeta>,
    /// Digests resolved for this request by the caller (image text as written → digest).
    pub resolved: Option<&'a HashMap<String, String>>,
    /// ContainerAdmissionPolicies in force (see [`crate::AdmissionPolicies`]); `None` or empty = none.
    pub policies: Option<&'a CapSet>,
    /// The object's controller owner, fetched and checked by the caller ([`crate::verify_owner`]). `skipOwned`
    /// skips only objects whose owner is verified; `None` = nothing is skipped.
    pub verified_owner: Option<&'a VerifiedOwner>,
}

impl Context<'_> {
    /// A context for `endpoint` with no namespace metadata and no resolved digests.
    pub fn new(endpoint: Endpoint) -> Context<'static> {
        Context {
            endpoint,
            namespace: None,
            resolved: None,
            policies: None,
            verified_owner: None,
        }
    }
}

/// What happened to one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "detail")]
pub enum Outcome {
    /// Verdict GO (policy/audit), or analysed (analysis mode).
    Passed,
    /// Verdict WARN.
    Warned,
    /// Verdict STOP.
    Failed,
    /// Analysed but not evaluated against the selected policy yet.
    NotEvaluated,
    /// Not analysed yet (queued unless dry run).
    NotAnalysed,
    /// Analysis is in progress.
    Analysing,
    /// Analysis failed (reason).
    AnalysisFailed(String),
    /// The reference cannot be parsed (reason).
    InvalidReference(String),
    /// UPDATE that kept this image: no fresh verdict needed.
    Unchanged,
    /// Break-glass mode: not checked.
    Breakglass,
}

/// The decision for one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageDecision {
    /// Container name.
    pub container: String,
    /// Container list.
    pub container_kind: ContainerKind,
    /// The image as written.
    pub image: String,
    /// Normalised reference.
    pub reference: Option<String>,
    /// Digest evaluated (or resolved).
    pub digest: Option<String>,
    /// Mode that applied.
    pub mode: Mode,
    /// Policy that applied.
    pub policy: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Whether this image causes a denial.
    pub denies: bool,
    /// Whether the image was queued for analysis by this request.
    pub queued: bool,
    /// Explanation (the denial/warning text for this image).
    pub explanation: Option<String>,
    /// The ContainerAdmissionPolicy rule that decided this image, when one matched.
    pub admission_policy: Option<PolicyRuleDecision>,
    #[serde(skip)]
    pointer: String,
    #[serde(skip)]
    mutate: bool,
}

/// A ContainerAdmissionPolicy rule's decision on one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyRuleDecision {
    /// The ContainerAdmissionPolicy.
    pub policy: String,
    /// Index of the rule that matched.
    pub rule: usize,
    /// `true` for Allow, `false` for Reject.
    pub allow: bool,
}

/// Why a request was admitted without looking at images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// The namespace is exempt.
    ExemptNamespace,
    /// The kind carries no pod spec.
    NoPodSpec,
    /// DELETE or CONNECT.
    Operation,
    /// Pod/ReplicaSet created by an already admitted controller.
    OwnedByController,
}

/// One JSONPatch operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchOp {
    /// `add` or `replace`.
    pub op: &'static str,
    /// JSON pointer.
    pub path: String,
    /// Value.
    pub value: serde_json::Value,
}

/// The decision for a review.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Request uid.
    pub uid: String,
    /// Version to answer in.
    #[serde(skip)]
    pub api_version: ApiVersion,
    /// Endpoint.
    pub endpoint: Endpoint,
    /// `Kind ns/name`.
    pub object: String,
    /// Admitted?
    pub allowed: bool,
    /// Why no image was looked at, if so.
    pub skipped: Option<Skip>,
    /// The strictest mode applied to any image (metrics label); `None` when skipped or no images.
    pub mode: Option<Mode>,
    /// Per-image decisions.
    pub images: Vec<ImageDecision>,
    /// Denial message.
    pub message: Option<String>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Audit annotations.
    pub audit_annotations: BTreeMap<String, String>,
    /// JSONPatch (only from `/mutate`).
    pub patch: Vec<PatchOp>,
    /// Dry run: nothing was queued.
    pub dry_run: bool,
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn severity_of<'f>(row_trigger_id: &str, findings: &'f [Finding]) -> Option<&'f Finding> {
    let (cve, pkg) = row_trigger_id.split_once('+')?;
    findings
        .iter()
        .find(|f| f.id == cve && f.package_name == pkg)
}

/// `STOP vulnerabilities.package CVE-2023-0286 openssl 3.0.7-1 (fixed in 3.0.8-1)`.
fn describe_row(row: &portcullis_policy::EvalRow, findings: &[Finding]) -> String {
    let action = match row.gate_action {
        Action::Go => "GO",
        Action::Warn => "WARN",
        Action::Stop => "STOP",
    };
    let detail = match severity_of(&row.trigger_id, findings) {
        Some(f) => {
            let fix = match &f.fixed_in {
                Some(v) => format!("(fixed in {v})"),
                None => "(no fix available)".to_string(),
            };
            format!("{} {} {} {fix}", f.id, f.package_name, f.package_version)
        }
        None if !row.check_output.is_empty() => truncate_chars(&row.check_output, 100),
        None => row.trigger_id.clone(),
    };
    format!("{action} {}.{} {detail}", row.gate, row.trigger)
}

/// Rows with `action`, not allowlisted, ordered by finding severity (most severe first).
fn rows_with<'a>(
    verdict: &'a Verdict,
    findings: &[Finding],
    action: Action,
) -> Vec<&'a portcullis_policy::EvalRow> {
    let mut rows: Vec<_> = verdict
        .rows
        .iter()
        .filter(|r| r.gate_action == action && r.whitelisted.is_none())
        .collect();
    rows.sort_by_key(|r| {
        std::cmp::Reverse(severity_of(&r.trigger_id, findings).map(|f| f.severity))
    });
    rows
}

fn failed_message(
    shown: &str,
    digest: &str,
    policy: &str,
    verdict: &Verdict,
    findings: &[Finding],
) -> String {
    let rows = rows_with(verdict, findings, Action::Stop);
    let mut parts: Vec<String> = rows
        .iter()
        .take(MAX_RULES_IN_MESSAGE)
        .map(|r| describe_row(r, findings))
        .collect();
    if parts.is_empty() {
        parts.push(format!("final action STOP ({:?})", verdict.final_reason).to_lowercase());
    }
    let more = rows.len().saturating_sub(MAX_RULES_IN_MESSAGE);
    let mut msg = format!(
        "image {shown} ({digest}) failed policy \"{policy}\": {}",
        parts.join(", ")
    );
    if more > 0 {
        msg.push_str(&format!(" [+{more} more]"));
    }
    msg
}

fn short_image(image: &str) -> &str {
    // Warnings are short: drop a digest, keep name and tag.
    image.split('@').next().unwrap_or(image)
}

/// Lets the first matching ContainerAdmissionPolicy rule decide the image (see the crate documentation): Reject
/// denies in blocking modes (and warns in audit), Allow admits even what the mode would deny.
fn apply_admission_policies(
    policies: &CapSet,
    id: &mut ImageDecision,
    shown: &str,
    (ns_labels, obj_labels): (&BTreeMap<String, String>, &BTreeMap<String, String>),
    (status, last_scan): (ScanStatus, Option<chrono::DateTime<chrono::Utc>>),
    blocking: bool,
) {
    let path = id.reference.as_deref().unwrap_or(&id.image);
    let Some(c) = policies.evaluate(
        ns_labels,
        obj_labels,
        path,
        status,
        last_scan,
        chrono::Utc::now(),
    ) else {
        return;
    };
    let allow = c.action == CapAction::Allow;
    id.admission_policy = Some(PolicyRuleDecision {
        policy: c.policy.clone(),
        rule: c.rule,
        allow,
    });
    if allow {
        id.denies = false;
        id.explanation = None;
    } else {
        let digest = id
            .digest
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        id.explanation = Some(format!(
            "image {shown}{digest} rejected by ContainerAdmissionPolicy \"{}\" rule {} (scan status {status:?})",
            c.policy, c.rule
        ));
        id.denies = blocking;
    }
}

/// Records an image's explanation as a denial reason or, in non-blocking modes, as a warning.
fn note(id: &ImageDecision, denials: &mut Vec<String>, warnings: &mut Vec<String>) {
    let Some(e) = &id.explanation else { return };
    if id.denies {
        denials.push(e.clone());
    } else if id.mode == Mode::Audit || (id.mode == Mode::Analysis && id.outcome == Outcome::Failed)
    {
        let rejected = id.admission_policy.as_ref().is_some_and(|p| !p.allow);
        let prefix = if id.outcome == Outcome::Failed || rejected {
            "would be denied: "
        } else {
            ""
        };
        warnings.push(truncate_chars(&format!("{prefix}{e}"), MAX_WARNING_CHARS));
    }
}

/// Whether `verified` is the controller owner `review`'s object claims (same kind, name and uid).
fn owner_is_verified(review: &Review, verified: Option<&VerifiedOwner>) -> bool {
    let (Some(v), Some(claim)) = (verified, owner_claim(review)) else {
        return false;
    };
    v.kind == claim.kind && v.name == claim.name && v.uid == claim.uid
}

/// Forces one-time initialisation (reference grammar regexes) so the first request is as fast as the rest.
pub fn warm_up() {
    let _ = parse_image("docker.io/library/warm-up:1");
}

/// Decides a review. Reads verdicts from memory only; queues unknown images unless the request is a dry run.
pub fn decide(
    review: &Review,
    cfg: &Config,
    verdicts: &dyn ImageVerdicts,
    ctx: &Context<'_>,
) -> Decision {
    let req = &review.request;
    let ns_name = review.namespace();
    let mut d = Decision {
        uid: req.uid.clone(),
        api_version: review.api_version,
        endpoint: ctx.endpoint,
        object: review.describe(),
        allowed: true,
        skipped: None,
        mode: None,
        images: Vec::new(),
        message: None,
        warnings: Vec::new(),
        audit_annotations: BTreeMap::new(),
        patch: Vec::new(),
        dry_run: req.dry_run,
    };
    let skip = |mut d: Decision, why: Skip, note: &str| {
        d.audit_annotations
            .insert("decision".into(), format!("allowed: {note}"));
        d.skipped = Some(why);
        d
    };
    if matches!(req.operation, Operation::Delete | Operation::Connect) {
        return skip(d, Skip::Operation, "operation not checked");
    }
    if cfg.is_exempt(ns_name) {
        return skip(
            d,
            Skip::ExemptNamespace,
            &format!("namespace {ns_name} is exempt"),
        );
    }
    let Some(uses) = extract(review) else {
        return skip(d, Skip::NoPodSpec, "kind carries no container images");
    };
    let no_meta = crate::review::ObjectMeta::default();
    let obj_meta = req.object.as_ref().map(|o| &o.metadata).unwrap_or(&no_meta);
    if cfg.skip_owned && owner_is_verified(review, ctx.verified_owner) {
        return skip(
            d,
            Skip::OwnedByController,
            "created by a verified, admitted controller",
        );
    }
    let fallback_ns;
    let ns = match ctx.namespace {
        Some(n) => n,
        None => {
            // The API server labels every namespace with its name; selectors may rely on it.
            fallback_ns = NamespaceMeta {
                name: ns_name.to_string(),
                labels: BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_string(),
                    ns_name.to_string(),
                )]),
                ..Default::default()
            };
            &fallback_ns
        }
    };
    let requestor = format!("admission {}", d.object);
    let mut denials = Vec::new();
    for u in uses {
        let parsed = parse_image(&u.image);
        let normalised = parsed.as_ref().ok().map(display_ref);
        let assign = cfg.select(ns, obj_meta, &u.image, normalised.as_deref());
        let mode = assign.mode;
        let mut id = ImageDecision {
            container: u.container.clone(),
            container_kind: u.container_kind,
            image: u.image.clone(),
            reference: normalised.clone(),
            digest: None,
            mode,
            policy: assign.policy.clone(),
            outcome: Outcome::Passed,
            denies: false,
            queued: false,
            explanation: None,
            admission_policy: None,
            pointer: u.pointer.clone(),
            mutate: assign.mutate,
        };
        let blocking = matches!(mode, Mode::Policy | Mode::Analysis);
        let shown = if u.image.is_empty() {
            format!("<none> (container {})", u.container)
        } else {
            u.image.clone()
        };
        if mode == Mode::Breakglass {
            id.outcome = Outcome::Breakglass;
            d.images.push(id);
            continue;
        }
        if !u.changed && !cfg.recheck_unchanged {
            id.outcome = Outcome::Unchanged;
            d.images.push(id);
            continue;
        }
        let mut r: ImageRef = match parsed {
            Ok(r) => r,
            Err(e) => {
                id.outcome = Outcome::InvalidReference(e.reason.clone());
                id.explanation = Some(format!(
                    "container {:?}: {e}; fix the image field of the manifest",
                    u.container
                ));
                id.denies = blocking;
                note(&id, &mut denials, &mut d.warnings);
                d.images.push(id);
                continue;
            }
        };
        if r.digest.is_none() {
            r.digest = ctx
                .resolved
                .and_then(|m| m.get(&u.image).cloned())
                .or_else(|| verdicts.resolve_cached(&r));
        }
        id.digest = r.digest.clone();
        let state = verdicts.lookup(&r, &assign.policy);
        let scan = match &state {
            ImageState::Analyzed {
                verdict,
                analysed_at,
                ..
            } => (
                ScanStatus::from_verdict(verdict.as_deref()),
                Some(*analysed_at),
            ),
            _ => (ScanStatus::Unknown, None),
        };
        let mut queue = false;
        match state {
            ImageState::Unknown => {
                id.outcome = Outcome::NotAnalysed;
                queue = true;
                id.explanation = Some(format!(
                    "image {shown} is not analysed yet{}; {}",
                    if req.dry_run {
                        ""
                    } else {
                        " (queued for analysis)"
                    },
                    if blocking {
                        "retry once analysis has finished"
                    } else {
                        "admitted without a verdict"
                    }
                ));
                id.denies = blocking;
            }
            ImageState::Analyzing => {
                id.outcome = Outcome::Analysing;
                id.explanation = Some(format!(
                    "image {shown} is being analysed; {}",
                    if blocking {
                        "retry once analysis has finished"
                    } else {
                        "admitted without a verdict"
                    }
                ));
                id.denies = blocking;
            }
            ImageState::Failed(reason) => {
                id.explanation = Some(format!("analysis of image {shown} failed: {reason}"));
                id.outcome = Outcome::AnalysisFailed(reason);
                id.denies = blocking;
            }
            ImageState::Analyzed {
                digest,
                verdict,
                findings,
                ..
            } => {
                id.digest = Some(digest.clone());
                match verdict {
                    None => {
                        id.outcome = if mode == Mode::Analysis {
                            Outcome::Passed
                        } else {
                            queue = true;
                            id.explanation = Some(format!(
                                "image {shown} ({digest}) has not been evaluated against policy \"{}\" yet",
                                assign.policy
                            ));
                            id.denies = mode == Mode::Policy;
                            Outcome::NotEvaluated
                        };
                    }
                    Some(v) => {
                        for row in rows_with(&v, &findings, Action::Warn) {
                            if mode != Mode::Passive {
                                d.warnings.push(truncate_chars(
                                    &format!(
                                        "{}: {}",
                                        short_image(&shown),
                                        describe_row(row, &findings)
                                    ),
                                    MAX_WARNING_CHARS,
                                ));
                            }
                        }
                        if v.passed() {
                            id.outcome = if v.final_action == Action::Warn {
                                Outcome::Warned
                            } else {
                                Outcome::Passed
                            };
                        } else {
                            id.outcome = Outcome::Failed;
                            let msg =
                                failed_message(&shown, &digest, &assign.policy, &v, &findings);
                            id.denies = mode == Mode::Policy;
                            id.explanation = Some(msg);
                        }
                    }
                }
            }
        }
        if let Some(policies) = ctx.policies.filter(|p| !p.is_empty()) {
            apply_admission_policies(
                policies,
                &mut id,
                &shown,
                (&ns.labels, &obj_meta.labels),
                scan,
                blocking,
            );
        }
        if queue && !req.dry_run && ctx.endpoint == Endpoint::Validate {
            verdicts.enqueue(&r, &requestor);
            id.queued = true;
        }
        note(&id, &mut denials, &mut d.warnings);
        d.images.push(id);
    }
    d.mode = d
        .images
        .iter()
        .map(|i| i.mode)
        .filter(|m| *m != Mode::Breakglass)
        .min()
        .or(d.images.first().map(|i| i.mode));
    if d.warnings.len() > MAX_WARNINGS {
        let extra = d.warnings.len() - (MAX_WARNINGS - 1);
        d.warnings.truncate(MAX_WARNINGS - 1);
        d.warnings.push(format!("… {extra} more warnings"));
    }
    let denied = !denials.is_empty();
    if ctx.endpoint == Endpoint::Validate && denied {
        d.allowed = false;
        d.message = Some(denials.join("; "));
    }
    let failing = d.images.iter().filter(|i| i.denies).count();
    let summary = if ctx.endpoint == Endpoint::Mutate {
        format!(
            "allowed (mutating webhook never denies); {failing} of {} images would be denied",
            d.images.len()
        )
    } else if denied {
        format!("denied: {failing} of {} images", d.images.len())
    } else {
        format!("allowed: {} images", d.images.len())
    };
    d.audit_annotations.insert("decision".into(), summary);
    if let Some(m) = d.mode {
        d.audit_annotations.insert("mode".into(), m.as_str().into());
    }
    let images: Vec<String> = d
        .images
        .iter()
        .map(|i| {
            let o = match &i.outcome {
                Outcome::Passed => "passed",
                Outcome::Warned => "warned",
                Outcome::Failed => "failed",
                Outcome::NotEvaluated => "not-evaluated",
                Outcome::NotAnalysed => "not-analysed",
                Outcome::Analysing => "analysing",
                Outcome::AnalysisFailed(_) => "analysis-failed",
                Outcome::InvalidReference(_) => "invalid-reference",
                Outcome::Unchanged => "unchanged",
                Outcome::Breakglass => "breakglass",
            };
            format!("{}={o}", i.image)
        })
        .collect();
    d.audit_annotations
        .insert("images".into(), truncate_chars(&images.join(","), 1024));
    let by_policy: Vec<String> = d
        .images
        .iter()
        .filter_map(|i| {
            let p = i.admission_policy.as_ref()?;
            let action = if p.allow { "Allow" } else { "Reject" };
            Some(format!(
                "{}={}/rules[{}]:{action}",
                i.image, p.policy, p.rule
            ))
        })
        .collect();
    if !by_policy.is_empty() {
        d.audit_annotations.insert(
            "admission-policies".into(),
            truncate_chars(&by_policy.join(","), 1024),
        );
    }
    if ctx.endpoint == Endpoint::Mutate {
        d.patch = pin_patch(review, &d.images);
    }
    d
}

/// The JSONPatch pinning images to their evaluated digests. Idempotent: pinned images (with `@`) are left alone,
/// and the annotation only gains containers it does not list yet.
fn pin_patch(review: &Review, images: &[ImageDecision]) -> Vec<PatchOp> {
    let mut ops = Vec::new();
    let meta = review.request.object.as_ref().map(|o| &o.metadata);
    let mut originals: BTreeMap<String, String> = meta
        .and_then(|m| m.annotations.get(ORIGINAL_IMAGES_ANNOTATION))
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or_default();
    let mut changed = false;
    for i in images {
        let pinnable = i.mutate
            && !i.denies
            && matches!(i.outcome, Outcome::Passed | Outcome::Warned)
            && !i.image.contains('@');
        let Some(digest) = i.digest.as_ref().filter(|_| pinnable) else {
            continue;
        };
        ops.push(PatchOp {
            op: "replace",
            path: i.pointer.clone(),
            value: serde_json::Value::String(format!("{}@{digest}", i.image)),
        });
        originals
            .entry(i.container.clone())
            .or_insert_with(|| i.image.clone());
        changed = true;
    }
    if changed {
        let value = serde_json::to_string(&originals).unwrap_or_default();
        let has_annotations = meta.is_some_and(|m| !m.annotations.is_empty());
        if has_annotations {
            ops.push(PatchOp {
                op: "add",
                path: format!(
                    "/metadata/annotations/{}",
                    ORIGINAL_IMAGES_ANNOTATION
                        .replace('~', "~0")
                        .replace('/', "~1")
                ),
                value: serde_json::Value::String(value),
            });
        } else {
            let mut m = serde_json::Map::new();
            m.insert(
                ORIGINAL_IMAGES_ANNOTATION.to_string(),
                serde_json::Value::String(value),
            );
            ops.push(PatchOp {
                op: "add",
                path: "/metadata/annotations".into(),
                value: serde_json::Value::Object(m),
            });
        }
    }
    ops
}

impl Decision {
    /// The AdmissionReview response.
    pub fn response(&self) -> Response {
        let (patch_type, patch) = if self.patch.is_empty() || self.endpoint != Endpoint::Mutate {
            (None, None)
        } else {
            let bytes = serde_json::to_vec(&self.patch).unwrap_or_default();
            (
                Some("JSONPatch".to_string()),
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            )
        };
        Response {
            uid: self.uid.clone(),
            allowed: self.allowed,
            status: self.message.as_ref().map(|m| Status {
                code: 403,
                message: m.clone(),
            }),
            warnings: self.warnings.clone(),
            audit_annotations: self.audit_annotations.clone(),
            patch_type,
            patch,
        }
    }

    /// The full AdmissionReview JSON sent back, in the version the request came in.
    pub fn to_review_json(&self) -> Vec<u8> {
        self.response().to_review_json(self.api_version)
    }

    /// Result label for metrics: `allowed`, `denied`, `skipped`.
    pub fn result_label(&self) -> &'static str {
        if !self.allowed {
            "denied"
        } else if self.skipped.is_some() {
            "skipped"
        } else {
            "allowed"
        }
    }

    /// A human-readable multi-line summary (for `portcullis admit`).
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} {}{}\n",
            if self.allowed { "ADMITTED" } else { "DENIED" },
            self.object,
            if self.dry_run { " (dry run)" } else { "" }
        );
        if let Some(skip) = &self.skipped {
            s.push_str(&format!("  not checked: {skip:?}\n"));
        }
        for i in &self.images {
            s.push_str(&format!(
                "  {:<8} {:<24} {} [{} / policy {}]{}\n",
                if i.denies { "DENY" } else { "ok" },
                i.container,
                i.image,
                i.mode.as_str(),
                i.policy,
                i.explanation
                    .as_ref()
                    .map(|e| format!("\n           {e}"))
                    .unwrap_or_default()
            ));
        }
        for w in &self.warnings {
            s.push_str(&format!("  warning: {w}\n"));
        }
        s
    }
}
