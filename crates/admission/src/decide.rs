//! The decision: per-image outcomes under the selected mode, the denial message, warnings, audit annotations and
//! the JSONPatch of `/mutate`.

use std::collections::{BTreeMap, HashMap, HashSet};

use base64::Engine as _;
use portcullis_image::ImageRef;
use portcullis_policy::{Action, CapSet, ScanStatus, SignatureStatus, Verdict};
use portcullis_vuln::Finding;
use serde::Serialize;

use crate::config::{Config, Mode, NamespaceMeta};
use crate::explain::{
    describe_row, failed_message, failed_parts, rows_with, severity_of, short_image, summarise,
    truncate_chars,
};
use crate::extract::{ContainerKind, ImageUse};
use crate::owner::VerifiedOwner;
use crate::plan::{Scope, checks_image, scope};
use crate::review::{ApiVersion, ObjectMeta, Response, Review, Status};
use crate::verdicts::{ImageState, ImageVerdicts, display_ref, parse_image};

/// Annotation that keeps the original image references when `/mutate` pins them to digests (JSON object:
/// container name → original reference).
pub const ORIGINAL_IMAGES_ANNOTATION: &str = "portcullis.dev/original-images";
/// Most failing rules listed per image in a denial message.
pub const MAX_RULES_IN_MESSAGE: usize = 3;
/// Longest warning the API server keeps whole: k8s.io/apiserver's warning recorder (`filters/warning.go`,
/// `truncateItemRunes`) cuts each warning to 256 runes once the total passes [`MAX_WARNINGS_TOTAL_CHARS`].
/// Longer texts are summarised at word boundaries before that can happen.
pub const MAX_WARNING_CHARS: usize = 256;
/// Total warning text the API server passes on untouched (`truncateAtTotalRunes`, 4 Ki runes).
pub const MAX_WARNINGS_TOTAL_CHARS: usize = 4096;
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
    /// Images (as written) the registry answered 404 for when the caller resolved them: said to be missing
    /// instead of queued for an analysis that would fail.
    pub missing: Option<&'a HashSet<String>>,
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
            missing: None,
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
    /// The registry has no such tag or digest (HTTP 404): not queued.
    NotFound,
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
    /// What its `verify` requirements established (signers, or why not met), when it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::signatures::SignatureDecision>,
    #[serde(skip)]
    pointer: String,
    /// For a failed image: the explanation's head and every failing rule (a warning fits as many as it can).
    #[serde(skip)]
    failed_rules: Option<(String, Vec<String>)>,
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

/// Denial reasons, one clause per distinct reason (an image run by several containers is one clause naming
/// them all), in the order first seen.
#[derive(Debug, Default)]
struct Denials(Vec<(String, Vec<String>)>);

impl Denials {
    fn add(&mut self, reason: &str, container: &str) {
        match self.0.iter_mut().find(|(r, _)| r == reason) {
            Some((_, containers)) => {
                if !containers.iter().any(|c| c == container) {
                    containers.push(container.to_string());
                }
            }
            None => self
                .0
                .push((reason.to_string(), vec![container.to_string()])),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `container "a": reason; containers "b", "c": reason`.
    fn message(&self) -> String {
        let clauses: Vec<String> = self
            .0
            .iter()
            .map(|(reason, containers)| {
                let names: Vec<String> = containers.iter().map(|c| format!("{c:?}")).collect();
                let noun = if names.len() == 1 {
                    "container"
                } else {
                    "containers"
                };
                format!("{noun} {}: {reason}", names.join(", "))
            })
            .collect();
        clauses.join("; ")
    }
}

/// Records an image's explanation as a denial reason or, in non-blocking modes, as a warning.
fn note(id: &ImageDecision, denials: &mut Denials, warnings: &mut Vec<String>) {
    let Some(e) = &id.explanation else { return };
    if id.denies {
        // Each reason names the container(s) it is about (the same image may run in several).
        denials.add(e, &id.container);
    } else if id.mode == Mode::Audit || (id.mode == Mode::Analysis && id.outcome == Outcome::Failed)
    {
        let rejected = id.admission_policy.as_ref().is_some_and(|p| !p.allow)
            || id
                .signature
                .as_ref()
                .is_some_and(|s| !s.verified && s.reason.is_some());
        let prefix = if id.outcome == Outcome::Failed || rejected {
            "would be denied: "
        } else {
            ""
        };
        let text = match (&id.failed_rules, rejected) {
            (Some((head, items)), false) => summarise(
                &format!("{prefix}{head}"),
                items,
                "rules",
                MAX_WARNING_CHARS,
            ),
            _ => truncate_chars(&format!("{prefix}{e}"), MAX_WARNING_CHARS),
        };
        warnings.push(text);
    }
}

/// Forces one-time initialisation (reference grammar regexes) so the first request is as fast as the rest.
pub fn warm_up() {
    let _ = parse_image("docker.io/library/warm-up:1");
}

/// Decides a review. Reads verdicts from memory only; queues unknown images unless the request is a dry run.
///
/// The steps: the request-level rules ([`crate::plan`]'s scope), then [`decide_image`] per image (assignment,
/// reference, verdict state, ContainerAdmissionPolicies, queueing), then [`conclude`] (mode, warnings, message,
/// audit annotations, patch).
pub fn decide(
    review: &Review,
    cfg: &Config,
    verdicts: &dyn ImageVerdicts,
    ctx: &Context<'_>,
) -> Decision {
    let mut d = Decision::open(review, ctx.endpoint);
    let (uses, object, namespace) = match scope(review, cfg, ctx.namespace, ctx.verified_owner) {
        Scope::Skipped(why, note) => return d.skip(why, &note),
        Scope::Images {
            uses,
            object,
            namespace,
        } => (uses, object, namespace),
    };
    let look = Look {
        cfg,
        verdicts,
        ctx,
        namespace: &namespace,
        object: &object,
        dry_run: review.request.dry_run,
        requestor: format!("admission {}", d.object),
        requested_in: review.namespace(),
    };
    let mut denials = Denials::default();
    for u in &uses {
        let id = decide_image(u, &look, &mut d.warnings);
        note(&id, &mut denials, &mut d.warnings);
        d.images.push(id);
    }
    conclude(&mut d, review, denials);
    d
}

/// What every image of one review is decided with.
struct Look<'a> {
    cfg: &'a Config,
    verdicts: &'a dyn ImageVerdicts,
    ctx: &'a Context<'a>,
    namespace: &'a NamespaceMeta,
    object: &'a ObjectMeta,
    dry_run: bool,
    requestor: String,
    /// The request's namespace (`Review::namespace`): whose pull secrets, and whose view of analyses.
    requested_in: &'a str,
}

impl Decision {
    /// An allowing decision with no images yet.
    fn open(review: &Review, endpoint: Endpoint) -> Decision {
        Decision {
            uid: review.request.uid.clone(),
            api_version: review.api_version,
            endpoint,
            object: review.describe(),
            allowed: true,
            skipped: None,
            mode: None,
            images: Vec::new(),
            message: None,
            warnings: Vec::new(),
            audit_annotations: BTreeMap::new(),
            patch: Vec::new(),
            dry_run: review.request.dry_run,
        }
    }

    /// Admitted without looking at images.
    fn skip(mut self, why: Skip, note: &str) -> Decision {
        self.audit_annotations
            .insert("decision".into(), format!("allowed: {note}"));
        self.skipped = Some(why);
        self
    }
}

/// One image: its assignment, then (unless break-glass or unchanged) its reference, verdict state,
/// ContainerAdmissionPolicies and queueing. WARN rows of its verdict are appended to `warnings`.
fn decide_image(u: &ImageUse, look: &Look<'_>, warnings: &mut Vec<String>) -> ImageDecision {
    let parsed = parse_image(&u.image);
    let normalised = parsed.as_ref().ok().map(display_ref);
    let assign = look
        .cfg
        .select(look.namespace, look.object, &u.image, normalised.as_deref());
    let mut id = ImageDecision {
        container: u.container.clone(),
        container_kind: u.container_kind,
        image: u.image.clone(),
        reference: normalised,
        digest: None,
        mode: assign.mode,
        policy: assign.policy.clone(),
        outcome: Outcome::Passed,
        denies: false,
        queued: false,
        explanation: None,
        admission_policy: None,
        signature: None,
        pointer: u.pointer.clone(),
        failed_rules: None,
        mutate: assign.mutate,
    };
    if !checks_image(u, assign, look.cfg) {
        id.outcome = if assign.mode == Mode::Breakglass {
            Outcome::Breakglass
        } else {
            Outcome::Unchanged
        };
        return id;
    }
    let blocking = matches!(assign.mode, Mode::Policy | Mode::Analysis);
    let shown = if u.image.is_empty() {
        format!("<none> (container {})", u.container)
    } else {
        u.image.clone()
    };
    let mut r: ImageRef = match parsed {
        Ok(r) => r,
        Err(e) => {
            id.outcome = Outcome::InvalidReference(e.reason.clone());
            id.explanation = Some(format!("{e}; fix the image field of the manifest"));
            id.denies = blocking;
            return id;
        }
    };
    if r.digest.is_none() {
        r.digest = look
            .ctx
            .resolved
            .and_then(|m| m.get(&u.image).cloned())
            .or_else(|| look.verdicts.resolve_cached(&r));
    }
    id.digest = r.digest.clone();
    let state = look.verdicts.lookup(&r, &assign.policy, look.requested_in);
    let scan = scan_status(&state);
    let judged = Judged {
        shown: &shown,
        blocking,
        dry_run: look.dry_run,
    };
    let queue = match state {
        ImageState::Analyzed {
            digest,
            verdict,
            findings,
            ..
        } => judged.analysed(&mut id, digest, verdict.as_deref(), &findings, warnings),
        ImageState::Unknown if look.ctx.missing.is_some_and(|m| m.contains(&u.image)) => {
            judged.not_found(&mut id, &r)
        }
        ImageState::Unknown => judged.unknown(&mut id),
        ImageState::Analyzing => judged.analysing(&mut id),
        ImageState::Failed(reason) => judged.failed(&mut id, reason),
    };
    let facts = match (&assign.verify, id.digest.as_deref()) {
        (Some(spec), Some(d)) => look.verdicts.signatures(d, spec),
        _ => None,
    };
    if let Some(policies) = look.ctx.policies.filter(|p| !p.is_empty()) {
        let signature = match &assign.verify {
            Some(_) => SignatureStatus::from_facts(facts.as_deref()),
            None => SignatureStatus::Unknown,
        };
        crate::policies::apply_admission_policies(
            policies,
            &mut id,
            &shown,
            (&look.namespace.labels, &look.object.labels),
            (scan.0, scan.1, signature),
            blocking,
        );
    }
    // After the ContainerAdmissionPolicies: an Allow rule never lifts the config's signature requirement.
    if let Some(spec) = &assign.verify {
        crate::signatures::apply(
            &mut id,
            spec,
            facts.as_deref(),
            &shown,
            (blocking, look.dry_run),
        );
        // Asked on every review, verified or not: the source verifies what it has no facts for, and
        // re-verifies facts older than its re-check interval off the request path (an image signed or attested
        // after it was first seen), answering from the old facts meanwhile.
        if !look.dry_run && look.ctx.endpoint == Endpoint::Validate {
            look.verdicts
                .enqueue_verification(&r, spec, look.requested_in);
        }
    }
    if queue && !look.dry_run && look.ctx.endpoint == Endpoint::Validate {
        look.verdicts
            .enqueue(&r, &look.requestor, look.requested_in);
        id.queued = true;
    }
    id
}

/// The scan status ContainerAdmissionPolicies see, and when the image was analysed.
fn scan_status(state: &ImageState) -> (ScanStatus, Option<chrono::DateTime<chrono::Utc>>) {
    match state {
        ImageState::Analyzed {
            verdict,
            analysed_at,
            ..
        } => (
            ScanStatus::from_verdict(verdict.as_deref()),
            Some(*analysed_at),
        ),
        _ => (ScanStatus::Unknown, None),
    }
}

/// How one image's verdict state is turned into its outcome.
struct Judged<'a> {
    shown: &'a str,
    blocking: bool,
    dry_run: bool,
}

impl Judged<'_> {
    /// What the blocking modes tell the user to do about an image without a verdict.
    fn retry_hint(&self) -> &'static str {
        if self.blocking {
            "retry once analysis has finished"
        } else {
            "admitted without a verdict"
        }
    }

    /// Not analysed yet: the mode's unknown-image rule. Returns true (queue the image).
    fn unknown(&self, id: &mut ImageDecision) -> bool {
        id.outcome = Outcome::NotAnalysed;
        let queued = if self.dry_run {
            ""
        } else {
            " (queued for analysis)"
        };
        id.explanation = Some(format!(
            "image {} is not analysed yet{queued}; {}",
            self.shown,
            self.retry_hint()
        ));
        id.denies = self.blocking;
        true
    }

    /// The registry answered 404 for the reference: nothing to analyse, so nothing is queued. Returns false.
    fn not_found(&self, id: &mut ImageDecision, r: &ImageRef) -> bool {
        id.outcome = Outcome::NotFound;
        let what = match (&r.digest, &r.tag) {
            (Some(d), _) => format!("digest {d}"),
            (None, Some(t)) => format!("tag {t:?}"),
            (None, None) => "tag \"latest\"".to_string(),
        };
        id.explanation = Some(format!(
            "image {} not found in the registry ({} has no {what} in repository {}); check the image name and \
             tag",
            self.shown, r.registry, r.repository
        ));
        id.denies = self.blocking;
        false
    }

    /// Being analysed: the mode's unknown-image rule. Returns false (already queued).
    fn analysing(&self, id: &mut ImageDecision) -> bool {
        id.outcome = Outcome::Analysing;
        id.explanation = Some(format!(
            "image {} is being analysed; {}",
            self.shown,
            self.retry_hint()
        ));
        id.denies = self.blocking;
        false
    }

    /// Analysis failed: the mode's unknown-image rule. Returns false (not queued again).
    fn failed(&self, id: &mut ImageDecision, reason: String) -> bool {
        id.explanation = Some(format!("analysis of image {} failed: {reason}", self.shown));
        id.outcome = Outcome::AnalysisFailed(reason);
        id.denies = self.blocking;
        false
    }

    /// Analysed: not evaluated against the policy yet, or the verdict decides. Returns whether to queue the image
    /// (for evaluation).
    fn analysed(
        &self,
        id: &mut ImageDecision,
        digest: String,
        verdict: Option<&Verdict>,
        findings: &[Finding],
        warnings: &mut Vec<String>,
    ) -> bool {
        let shown = self.shown;
        id.digest = Some(digest.clone());
        let Some(v) = verdict else {
            if id.mode == Mode::Analysis {
                id.outcome = Outcome::Passed;
                return false;
            }
            id.explanation = Some(format!(
                "image {shown} ({digest}) has not been evaluated against policy \"{}\" yet",
                id.policy
            ));
            id.denies = id.mode == Mode::Policy;
            id.outcome = Outcome::NotEvaluated;
            return true;
        };
        if id.mode != Mode::Passive {
            // One warning per image: its WARN rows, most severe first, as many as fit, then "… and N more".
            let rows = rows_with(v, findings, Action::Warn);
            if !rows.is_empty() {
                let noun = if rows
                    .iter()
                    .all(|r| severity_of(&r.trigger_id, findings).is_some())
                {
                    "findings"
                } else {
                    "rules"
                };
                let items: Vec<String> = rows.iter().map(|r| describe_row(r, findings)).collect();
                warnings.push(summarise(
                    &format!("{}: ", short_image(shown)),
                    &items,
                    noun,
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
            id.denies = id.mode == Mode::Policy;
            let (head, items) = failed_parts(shown, &digest, &id.policy, v, findings);
            id.explanation = Some(failed_message(&head, &items));
            id.failed_rules = Some((head, items));
        }
        false
    }
}

/// The request-level result once every image is decided: the strictest mode, capped warnings, the denial
/// message, audit annotations and (for `/mutate`) the patch.
fn conclude(d: &mut Decision, review: &Review, denials: Denials) {
    d.mode = d
        .images
        .iter()
        .map(|i| i.mode)
        .filter(|m| *m != Mode::Breakglass)
        .min()
        .or(d.images.first().map(|i| i.mode));
    d.warnings = fit_warnings(std::mem::take(&mut d.warnings));
    let denied = !denials.is_empty();
    if d.endpoint == Endpoint::Validate && denied {
        d.allowed = false;
        d.message = Some(denials.message());
    }
    annotate(d, denied);
    if d.endpoint == Endpoint::Mutate {
        d.patch = pin_patch(review, &d.images);
    }
}

/// Warnings as the API server passes them on untouched: control characters (which make it drop a warning)
/// turned into spaces, each within [`MAX_WARNING_CHARS`] (summarised at a word boundary), duplicates removed
/// (the first kept), at most [`MAX_WARNINGS`] and [`MAX_WARNINGS_TOTAL_CHARS`] in all, the last saying how many
/// were left out.
pub fn fit_warnings(warnings: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    let unique: Vec<String> = warnings
        .into_iter()
        .map(|w| {
            let clean: String = w
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            truncate_chars(clean.trim(), MAX_WARNING_CHARS)
        })
        .filter(|w| !w.is_empty() && seen.insert(w.clone()))
        .collect();
    let mut out = Vec::new();
    let mut total = 0;
    for (i, w) in unique.iter().enumerate() {
        let after = unique.len() - i - 1;
        // While more remain, room is kept for the closing "… N more warnings" line.
        let (reserve, room) = if after > 0 {
            (40, MAX_WARNINGS - 1)
        } else {
            (0, MAX_WARNINGS)
        };
        let len = w.chars().count();
        if out.len() >= room || total + len + reserve > MAX_WARNINGS_TOTAL_CHARS {
            out.push(format!("… {} more warnings", unique.len() - i));
            return out;
        }
        total += len;
        out.push(w.clone());
    }
    out
}

/// Audit annotations: `decision`, `mode`, `images` and `admission-policies`.
fn annotate(d: &mut Decision, denied: bool) {
    let failing = d.images.iter().filter(|i| i.denies).count();
    let summary = if d.endpoint == Endpoint::Mutate {
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
        .map(|i| format!("{}={}", i.image, i.outcome.label()))
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
    if let Some(signers) = crate::signatures::signers_annotation(&d.images) {
        d.audit_annotations
            .insert("signers".into(), truncate_chars(&signers, 1024));
    }
}

impl Outcome {
    /// The label in the `images` audit annotation, e.g. `not-analysed`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Warned => "warned",
            Outcome::Failed => "failed",
            Outcome::NotEvaluated => "not-evaluated",
            Outcome::NotAnalysed => "not-analysed",
            Outcome::Analysing => "analysing",
            Outcome::AnalysisFailed(_) => "analysis-failed",
            Outcome::InvalidReference(_) => "invalid-reference",
            Outcome::NotFound => "not-found",
            Outcome::Unchanged => "unchanged",
            Outcome::Breakglass => "breakglass",
        }
    }
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
