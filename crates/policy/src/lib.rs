//! Anchore policy bundles, ContainerAdmissionPolicy rules and their evaluation.
//!
//! Input: an image's [`portcullis_sbom::Sbom`] and [`portcullis_vuln::MatchReport`]. Output: a [`Verdict`].

use serde::{Deserialize, Serialize};

/// A gate action, ordered from least to most severe: `GO < WARN < STOP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Allowed.
    Go,
    /// Allowed with a warning.
    Warn,
    /// Denied.
    Stop,
}

/// Why the final action is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalReason {
    /// The worst non-allowlisted trigger decided.
    PolicyEvaluation,
    /// The image is on the bundle's allowlisted (whitelisted) images.
    Whitelisted,
    /// The image is on the bundle's denylisted (blacklisted) images.
    Blacklisted,
}

/// One row of the evaluation table (Anchore's columns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalRow {
    /// Image id.
    pub image_id: String,
    /// The tag evaluated.
    pub repo_tag: String,
    /// Trigger id, e.g. `CVE-2023-0286+openssl`.
    pub trigger_id: String,
    /// Gate name.
    pub gate: String,
    /// Trigger name.
    pub trigger: String,
    /// Human-readable output.
    pub check_output: String,
    /// The rule's action.
    pub gate_action: Action,
    /// The allowlist (id) that matched this row, when one did.
    pub whitelisted: Option<String>,
    /// The policy the rule belongs to.
    pub policy_id: String,
    /// The rule id.
    pub rule_id: String,
}

/// The outcome of evaluating one image against one bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// Bundle id.
    pub bundle_id: String,
    /// Bundle name, when it has one.
    pub bundle_name: Option<String>,
    /// Digest of the bundle's canonical JSON (`sha256:…`): the policy version verdicts are cached by.
    pub bundle_digest: String,
    /// Final action.
    pub final_action: Action,
    /// Why.
    pub final_reason: FinalReason,
    /// The matched mapping's policy ids, in evaluation order.
    pub policy_ids: Vec<String>,
    /// Every evaluation row.
    pub rows: Vec<EvalRow>,
    /// Triggers that could not be evaluated, with the reason (missing data), as `gate.trigger: reason`.
    pub not_evaluated: Vec<String>,
}

impl Verdict {
    /// True when the image passes (`GO` or `WARN`).
    pub fn passed(&self) -> bool {
        self.final_action != Action::Stop
    }
}
