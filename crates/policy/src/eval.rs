//! Bundle evaluation with anchore-engine's semantics.
//!
//! - The first mapping whose registry, repository and image selector match decides which policies (in
//!   order) and allowlists apply; an unmapped image gets [`EvalOptions::unmapped`] (GO by default).
//! - Every fired trigger becomes an [`EvalRow`]; a row matched by a non-expired allowlist item is marked with
//!   the allowlist and its action becomes GO.
//! - The final action is the worst non-allowlisted action (STOP > WARN > GO), GO when nothing fired.
//! - A denylisted (blacklisted) image is STOP whatever else matched; otherwise an allowlisted (whitelisted)
//!   image is GO; otherwise the policy result stands. The reason says which.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use portcullis_sbom::Sbom;
use portcullis_vuln::MatchReport;

use std::borrow::Cow;

use crate::bundle::{Allowlist, Bundle, GateItems, ImageSel, Policy, Rule, Selector};
use crate::gates::{self, Ctx};
use crate::pattern::{Pattern, TagParts};
use crate::{Action, EvalRow, FinalReason, Verdict};

/// What one evaluation looks at: the image's SBOM and findings, the tag it is evaluated as, the time, and the
/// optional data some triggers need (a trigger whose data is `None` reports that in `Verdict::not_evaluated`).
#[derive(Debug, Clone, Copy)]
pub struct ImageInput<'a> {
    /// The image's SBOM (packages, metadata, setuid/setgid files).
    pub sbom: &'a Sbom,
    /// The image's vulnerability findings.
    pub report: &'a MatchReport,
    /// The tag the image is evaluated as (`registry/repo:tag`), used by mappings.
    pub tag: &'a str,
    /// Evaluation time (allowlist expiry, vulnerability ages).
    pub now: DateTime<Utc>,
    /// The actual Dockerfile, when the user provided one (otherwise one is guessed from the history).
    pub dockerfile: Option<&'a str>,
    /// When the vulnerability database was last synced (`vulnerabilities.stale_feed_data`).
    pub feed_synced: Option<DateTime<Utc>>,
    /// Whether vulnerability data covers the image's distro (`vulnerabilities.vulnerability_data_unavailable`).
    pub vuln_data_available: Option<bool>,
    /// Every path in the image, when known (`files.name_match`; else package-owned and special files only).
    pub files: Option<&'a [String]>,
    /// `/etc/passwd`: `None` = not recorded, `Some(None)` = not present, `Some(Some(text))` = its content.
    pub passwd: Option<Option<&'a str>>,
    /// Retrieved file contents by path (`retrieved_files` gate), when the analyser retrieved any.
    pub retrieved_files: Option<&'a BTreeMap<String, String>>,
    /// What signature verification recorded for the image (`signature` gate), when it was verified.
    pub signatures: Option<&'a portcullis_verify::SignatureFacts>,
}

impl<'a> ImageInput<'a> {
    /// An input with only the required parts; set the optional fields directly. When the report records
    /// its coverage, `feed_synced` and `vuln_data_available` are taken from it (data never imported counts
    /// as synced at the Unix epoch, i.e. stale).
    pub fn new(sbom: &'a Sbom, report: &'a MatchReport, tag: &'a str, now: DateTime<Utc>) -> Self {
        let coverage = report.coverage.as_ref();
        ImageInput {
            sbom,
            report,
            tag,
            now,
            dockerfile: None,
            feed_synced: coverage.map(|c| {
                c.synced_at
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(DateTime::UNIX_EPOCH)
            }),
            vuln_data_available: coverage.map(|c| c.distro_covered),
            files: None,
            passwd: None,
            retrieved_files: None,
            signatures: None,
        }
    }

    fn image_id(&self) -> String {
        let md = &self.sbom.metadata;
        md.image_id
            .clone()
            .or_else(|| md.manifest_digest.clone())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// Evaluation options.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Final action for an image no mapping matches (Anchore: GO).
    pub unmapped: Action,
}

impl Default for EvalOptions {
    fn default() -> Self {
        EvalOptions {
            unmapped: Action::Go,
        }
    }
}

impl Selector {
    fn matches(&self, parts: &TagParts, image_id: Option<&str>, digest: Option<&str>) -> bool {
        if !self.registry.matches(&parts.registry) {
            return false;
        }
        if !parts
            .repo_candidates()
            .iter()
            .any(|r| self.repository.matches(r))
        {
            return false;
        }
        let digest_eq = |d: &str| digest == Some(d) || parts.digest.as_deref() == Some(d);
        let id_eq = |i: &str| {
            image_id == Some(i) || image_id.is_some_and(|x| x.strip_prefix("sha256:") == Some(i))
        };
        match &self.image {
            ImageSel::Digest(d) => digest_eq(d),
            ImageSel::Id(i) => id_eq(i),
            // A digest-pinned reference has no tag: only a `*` tag pattern selects it.
            ImageSel::Tag(p) => match &parts.tag {
                Some(t) => p.matches(t),
                None => matches!(p, Pattern::Any),
            },
        }
    }

    fn label(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.id.clone())
            .unwrap_or_default()
    }
}

impl GateItems {
    /// The first non-expired item matching `trigger_id`: exact trigger ids first, then patterns
    /// (anchore-engine's keyed-then-unkeyed candidate order). Returns the item's index.
    fn find(&self, trigger_id: &str, now: DateTime<Utc>) -> Option<usize> {
        let live = |i: &usize| self.items[*i].expires_on.is_none_or(|t| now < t);
        self.exact
            .get(trigger_id)
            .and_then(|v| v.iter().copied().find(live))
            .or_else(|| {
                self.patterns
                    .iter()
                    .copied()
                    .find(|i| live(i) && self.items[*i].pattern.matches(trigger_id))
            })
    }
}

/// The allowlist decision for one fired trigger: (allowlist index, item index).
type AllowHit = Option<(usize, usize)>;

/// What fired a row: a finding (its index in the match report), or another trigger (its index in
/// `Walk::others`, which holds that trigger's id and check output).
#[derive(Debug, Clone, Copy)]
enum Source {
    Finding(usize),
    Other(usize),
}

/// One evaluation-table row in compact form: references into the bundle, indexes into the input. A table
/// has thousands of rows per image; building each as an [`EvalRow`] (eight owned strings and a formatted
/// message) is most of the cost of an evaluation, so that happens only when a [`Verdict`] is asked for.
#[derive(Debug, Clone, Copy)]
struct Row<'a> {
    policy: &'a Policy,
    rule: &'a Rule,
    source: Source,
    action: Action,
    /// The allowlist and the index of its matching item among the items of the row's gate.
    hit: Option<(&'a Allowlist, usize)>,
}

/// What walking the mapped policies produced.
struct Walk<'a> {
    rows: Vec<Row<'a>>,
    /// (trigger id, check output) of the rows not fired by a finding.
    others: Vec<(String, String)>,
    policy_action: Action,
    policy_ids: Vec<String>,
    mapping: Option<String>,
    not_evaluated: Vec<String>,
    warnings: Vec<String>,
}

/// The final decision without the evaluation table (see [`Bundle::decide`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Final action.
    pub final_action: Action,
    /// Why.
    pub final_reason: FinalReason,
    /// The policies' own result before image allow/deny lists.
    pub policy_final_action: Action,
    /// Triggers that could not be evaluated among those that ran (`gate.trigger (rule id): reason`).
    pub not_evaluated: Vec<String>,
}

impl Decision {
    /// True when the image passes (`GO` or `WARN`).
    pub fn passed(&self) -> bool {
        self.final_action != Action::Stop
    }
}

/// A full evaluation whose table borrows the bundle and the input instead of copying them: every row is
/// there, with its trigger id, gate, trigger, action, allowlist match, policy and rule, and its check
/// output is rendered when asked for ([`TableRow::check_output`]). [`Evaluation::into_verdict`] makes the
/// owned [`Verdict`] (what [`Bundle::evaluate_with`] returns); a caller that only reads the table (to
/// explain a denial, to count rows) can skip that copy.
pub struct Evaluation<'a> {
    bundle: &'a Bundle,
    ctx: Ctx<'a>,
    walk: Walk<'a>,
    final_action: Action,
    final_reason: FinalReason,
    allowed: Option<String>,
    denied: Option<String>,
}

impl std::fmt::Debug for Evaluation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluation")
            .field("bundle", &self.bundle.id())
            .field("tag", &self.ctx.input.tag)
            .field("final_action", &self.final_action)
            .field("final_reason", &self.final_reason)
            .field("rows", &self.walk.rows.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Evaluation<'a> {
    /// Final action.
    pub fn final_action(&self) -> Action {
        self.final_action
    }

    /// Why.
    pub fn final_reason(&self) -> FinalReason {
        self.final_reason
    }

    /// The policies' own result before image allow/deny lists.
    pub fn policy_final_action(&self) -> Action {
        self.walk.policy_action
    }

    /// True when the image passes (`GO` or `WARN`).
    pub fn passed(&self) -> bool {
        self.final_action != Action::Stop
    }

    /// Triggers that could not be evaluated (as in [`Verdict::not_evaluated`]).
    pub fn not_evaluated(&self) -> &[String] {
        &self.walk.not_evaluated
    }

    /// Number of table rows.
    pub fn len(&self) -> usize {
        self.walk.rows.len()
    }

    /// True when no trigger fired.
    pub fn is_empty(&self) -> bool {
        self.walk.rows.is_empty()
    }

    /// The table rows, in evaluation order (the order of [`Verdict::rows`]).
    pub fn rows(&self) -> impl ExactSizeIterator<Item = TableRow<'_, 'a>> + '_ {
        self.walk
            .rows
            .iter()
            .map(move |row| TableRow { eval: self, row })
    }

    /// The owned verdict with every row built as an [`EvalRow`] (check outputs rendered).
    pub fn into_verdict(mut self) -> Verdict {
        let input = self.ctx.input;
        let image_id = input.image_id();
        let mut others = std::mem::take(&mut self.walk.others);
        let rows: Vec<EvalRow> = self
            .walk
            .rows
            .iter()
            .map(|row| {
                let r = TableRow { eval: &self, row };
                let (trigger_id, check_output) = match row.source {
                    Source::Other(i) => std::mem::take(&mut others[i]),
                    Source::Finding(fi) => (
                        self.ctx.vuln_id(fi).to_string(),
                        gates::finding_msg(&row.rule.check, &self.ctx, fi),
                    ),
                };
                r.with_texts(&image_id, trigger_id, check_output)
            })
            .collect();
        let b = self.bundle;
        Verdict {
            bundle_id: b.id().to_string(),
            bundle_name: b.doc.name.clone(),
            bundle_digest: b.digest.clone(),
            final_action: self.final_action,
            final_reason: self.final_reason,
            policy_ids: self.walk.policy_ids,
            rows,
            not_evaluated: self.walk.not_evaluated,
            image_id,
            tag: input.tag.to_string(),
            mapping: self.walk.mapping,
            policy_final_action: self.walk.policy_action,
            matched_whitelisted_image: self.allowed,
            matched_blacklisted_image: self.denied,
            warnings: self.walk.warnings,
        }
    }
}

/// One row of an [`Evaluation`]'s table: the columns of an [`EvalRow`], borrowed.
#[derive(Clone, Copy)]
pub struct TableRow<'e, 'a> {
    eval: &'e Evaluation<'a>,
    row: &'e Row<'a>,
}

impl std::fmt::Debug for TableRow<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableRow")
            .field("trigger_id", &self.trigger_id())
            .field("gate", &self.gate())
            .field("trigger", &self.trigger())
            .field("gate_action", &self.gate_action())
            .field("whitelisted", &self.whitelisted())
            .field("policy_id", &self.policy_id())
            .field("rule_id", &self.rule_id())
            .finish_non_exhaustive()
    }
}

impl<'e> TableRow<'e, '_> {
    /// Trigger id, e.g. `CVE-2023-0286+openssl`.
    pub fn trigger_id(&self) -> &'e str {
        match self.row.source {
            Source::Finding(fi) => self.eval.ctx.vuln_id(fi),
            Source::Other(i) => &self.eval.walk.others[i].0,
        }
    }

    /// Gate name.
    pub fn gate(&self) -> &'static str {
        self.row.rule.gate.name
    }

    /// Trigger name.
    pub fn trigger(&self) -> &'static str {
        self.row.rule.trigger.name
    }

    /// The action (GO when allowlisted).
    pub fn gate_action(&self) -> Action {
        self.row.action
    }

    /// The allowlist (id) that matched this row, when one did.
    pub fn whitelisted(&self) -> Option<&'e str> {
        self.row.hit.map(|(a, _)| a.id.as_str())
    }

    /// Name of the allowlist that matched, when one did and has a name.
    pub fn whitelist_name(&self) -> Option<&'e str> {
        self.row.hit.and_then(|(a, _)| a.name.as_deref())
    }

    /// Id of the allowlist item that matched, when one did.
    pub fn whitelist_item_id(&self) -> Option<&'e str> {
        self.row
            .hit
            .map(|(a, ii)| item_id(a, self.row.rule.gate.name, ii))
    }

    /// The policy the rule belongs to.
    pub fn policy_id(&self) -> &'e str {
        &self.row.policy.id
    }

    /// The rule id.
    pub fn rule_id(&self) -> &'e str {
        &self.row.rule.id
    }

    /// The human-readable check output (rendered now for a row a finding fired).
    pub fn check_output(&self) -> Cow<'e, str> {
        match self.row.source {
            Source::Finding(fi) => {
                Cow::Owned(gates::finding_msg(&self.row.rule.check, &self.eval.ctx, fi))
            }
            Source::Other(i) => Cow::Borrowed(&self.eval.walk.others[i].1),
        }
    }

    /// This row as an owned [`EvalRow`].
    pub fn to_eval_row(&self) -> EvalRow {
        self.with_texts(
            &self.eval.ctx.input.image_id(),
            self.trigger_id().to_string(),
            self.check_output().into_owned(),
        )
    }

    fn with_texts(&self, image_id: &str, trigger_id: String, check_output: String) -> EvalRow {
        EvalRow {
            image_id: image_id.to_string(),
            repo_tag: self.eval.ctx.input.tag.to_string(),
            trigger_id,
            gate: self.gate().to_string(),
            trigger: self.trigger().to_string(),
            check_output,
            gate_action: self.row.action,
            whitelisted: self.whitelisted().map(str::to_string),
            policy_id: self.policy_id().to_string(),
            rule_id: self.rule_id().to_string(),
            whitelist_name: self.whitelist_name().map(str::to_string),
            whitelist_item_id: self.whitelist_item_id().map(str::to_string),
            platform: None,
        }
    }
}

impl Bundle {
    /// Evaluates an image with the default options (unmapped → GO).
    pub fn evaluate(&self, input: &ImageInput<'_>) -> Verdict {
        self.evaluate_with(input, &EvalOptions::default())
    }

    /// Evaluates an image: the full verdict with every evaluation-table row.
    pub fn evaluate_with(&self, input: &ImageInput<'_>, opts: &EvalOptions) -> Verdict {
        self.evaluate_table(input, opts).into_verdict()
    }

    /// Evaluates an image, keeping the table compact (see [`Evaluation`]): the same rows, actions and
    /// final action as [`Bundle::evaluate_with`], without copying them into owned strings.
    pub fn evaluate_table<'a>(
        &'a self,
        input: &ImageInput<'a>,
        opts: &EvalOptions,
    ) -> Evaluation<'a> {
        let parts = TagParts::parse(input.tag);
        let ctx = Ctx::new(input);
        let walk = self.walk(&ctx, opts, &parts, true);
        let (final_action, final_reason, allowed, denied) =
            self.image_lists(input, &parts, walk.policy_action);
        Evaluation {
            bundle: self,
            ctx,
            walk,
            final_action,
            final_reason,
            allowed,
            denied,
        }
    }

    /// The final action only, as [`Bundle::evaluate_with`] would decide it, without building the table or
    /// any check output, skipping rules whose action cannot raise the result so far and stopping at the
    /// first non-allowlisted STOP: the fast path for admission-time evaluation. `not_evaluated` lists the
    /// triggers without data that it met before stopping.
    pub fn decide(&self, input: &ImageInput<'_>, opts: &EvalOptions) -> Decision {
        let parts = TagParts::parse(input.tag);
        let ctx = Ctx::new(input);
        let walk = self.walk(&ctx, opts, &parts, false);
        let (final_action, final_reason, _, _) =
            self.image_lists(input, &parts, walk.policy_action);
        Decision {
            final_action,
            final_reason,
            policy_final_action: walk.policy_action,
            not_evaluated: walk.not_evaluated,
        }
    }

    /// Denylisted image → STOP; else allowlisted image → GO; else the policy result.
    fn image_lists(
        &self,
        input: &ImageInput<'_>,
        parts: &TagParts,
        policy_action: Action,
    ) -> (Action, FinalReason, Option<String>, Option<String>) {
        let md = &input.sbom.metadata;
        let (id_ref, digest_ref) = (md.image_id.as_deref(), md.manifest_digest.as_deref());
        let matched = |list: &[Selector]| {
            list.iter()
                .find(|s| s.matches(parts, id_ref, digest_ref))
                .map(Selector::label)
        };
        let denied = matched(&self.denied_images);
        let allowed = matched(&self.allowed_images);
        let (action, reason) = if denied.is_some() {
            (Action::Stop, FinalReason::Blacklisted)
        } else if allowed.is_some() {
            (Action::Go, FinalReason::Whitelisted)
        } else {
            (policy_action, FinalReason::PolicyEvaluation)
        };
        (action, reason, allowed, denied)
    }

    fn walk<'a>(
        &'a self,
        ctx: &Ctx<'a>,
        opts: &EvalOptions,
        parts: &TagParts,
        full: bool,
    ) -> Walk<'a> {
        let input = &ctx.input;
        let md = &input.sbom.metadata;
        let (id_ref, digest_ref) = (md.image_id.as_deref(), md.manifest_digest.as_deref());
        let mut walk = Walk {
            rows: Vec::new(),
            others: Vec::new(),
            policy_action: opts.unmapped,
            policy_ids: Vec::new(),
            mapping: None,
            not_evaluated: Vec::new(),
            warnings: Vec::new(),
        };
        let Some(m) = self
            .mappings
            .iter()
            .find(|m| m.selector.matches(parts, id_ref, digest_ref))
        else {
            return walk;
        };
        walk.policy_action = Action::Go;
        walk.policy_ids = m.policy_ids.clone();
        walk.mapping = Some(m.selector.label());
        let allowlists: Vec<&'a Allowlist> = m
            .whitelist_ids
            .iter()
            .filter_map(|w| self.allowlists.get(w))
            .collect();
        // Vulnerability trigger ids repeat across rules: decide each finding against the allowlists once.
        let mut memo: Vec<Option<AllowHit>> = vec![None; input.report.findings.len()];
        let lookup = |items: &[(usize, &GateItems)], id: &str| -> AllowHit {
            items
                .iter()
                .find_map(|(ai, g)| g.find(id, input.now).map(|ii| (*ai, ii)))
        };
        let mut buffer = Vec::new();
        for pid in &m.policy_ids {
            let Some(policy) = self.policies.get(pid) else {
                continue;
            };
            for rule in &policy.rules {
                if rule.gate.lifecycle == crate::catalog::Lifecycle::Deprecated {
                    let w = format!("gate `{}` is deprecated", rule.gate.name);
                    if !walk.warnings.contains(&w) {
                        walk.warnings.push(w);
                    }
                }
                // Deciding only: a rule whose action cannot raise the result need not run (a trigger
                // without data still runs, to be reported).
                if !full && rule.action <= walk.policy_action && !rule.check.is_unevaluable() {
                    continue;
                }
                let mut outcome = gates::run(&rule.check, ctx, full, std::mem::take(&mut buffer));
                if let Some(reason) = outcome.not_evaluated {
                    walk.not_evaluated.push(format!(
                        "{}.{} (rule {}): could not be evaluated: {reason}",
                        rule.gate.name, rule.trigger.name, rule.id
                    ));
                }
                // The mapped allowlists' items for this rule's gate; none: nothing to look up.
                let items: Vec<(usize, &GateItems)> = allowlists
                    .iter()
                    .enumerate()
                    .filter_map(|(ai, a)| a.by_gate.get(rule.gate.name).map(|g| (ai, g)))
                    .collect();
                for fired in outcome.fired.drain(..) {
                    let hit = if items.is_empty() {
                        None
                    } else {
                        match fired.finding() {
                            // a merged finding is allowlisted by any of its ids (`GHSA-…+pkg` keeps
                            // working once the finding is shown as `CVE-…+pkg`)
                            Some(fi) => *memo[fi].get_or_insert_with(|| {
                                lookup(&items, fired.id(ctx)).or_else(|| {
                                    let f = &input.report.findings[fi];
                                    f.aliases.iter().find_map(|a| {
                                        lookup(&items, &format!("{a}+{}", f.package_name))
                                    })
                                })
                            }),
                            None => lookup(&items, fired.id(ctx)),
                        }
                    };
                    let action = if hit.is_some() {
                        Action::Go
                    } else {
                        rule.action
                    };
                    if hit.is_none() && action > walk.policy_action {
                        walk.policy_action = action;
                    }
                    if !full {
                        if walk.policy_action == Action::Stop {
                            return walk;
                        }
                        continue;
                    }
                    let source = match fired.finding() {
                        Some(fi) => Source::Finding(fi),
                        None => {
                            walk.others.push(fired.into_texts());
                            Source::Other(walk.others.len() - 1)
                        }
                    };
                    walk.rows.push(Row {
                        policy,
                        rule,
                        source,
                        action,
                        hit: hit.map(|(ai, ii)| (allowlists[ai], ii)),
                    });
                }
                buffer = outcome.fired;
            }
        }
        walk
    }
}

fn item_id<'a>(a: &'a Allowlist, gate: &str, ii: usize) -> &'a str {
    a.by_gate
        .get(gate)
        .map(|g| g.items[ii].id.as_str())
        .unwrap_or_default()
}
