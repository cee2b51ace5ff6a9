//! Anchore policy bundles, ContainerAdmissionPolicy rules and their evaluation.
//!
//! Input: an image's [`portcullis_sbom::Sbom`] and [`portcullis_vuln::MatchReport`]. Output: a [`Verdict`].
//!
//! - [`Bundle::from_path`] / [`Bundle::from_slice`] load an Anchore bundle (version `1_0` or `2`), validate it
//!   against the gate catalogue ([`catalog::GATES`], the single source of truth also printed by
//!   `portcullis policy describe`) and compile it; [`Error::Invalid`] lists every problem with its rule.
//! - [`Bundle::evaluate`] runs it on an [`ImageInput`] with anchore-engine's semantics (see the `eval` module
//!   notes on [`EvalOptions`]); [`report`] renders the Anchore evaluation table as text or JSON.
//! - Admission-time speed: [`Bundle::decide`] gives the final action without the table;
//!   [`Bundle::evaluate_table`] gives the whole table as an [`Evaluation`] that borrows the bundle and the
//!   input (check outputs rendered when read), and [`Evaluation::into_verdict`] turns it into the owned
//!   [`Verdict`] that [`Bundle::evaluate`] returns. Figures: `benches/README.md`.
//! - A trigger whose data the analyser does not collect (or that the input does not carry) never passes
//!   silently: it is listed in [`Verdict::not_evaluated`] with the reason. It does not change the final
//!   action — a caller that must fail closed can treat a non-empty `not_evaluated` as a failure.
//! - [`CapSet`] evaluates Calico-style ContainerAdmissionPolicies (see [`cap`]).

use serde::{Deserialize, Serialize};

pub mod bundle;
pub mod cap;
pub mod catalog;
mod eval;
mod gates;
mod pattern;
pub mod report;
pub mod selector;

pub use bundle::{Bundle, BundleDoc, Problem};
pub use cap::{CapDecision, CapImage, CapSet, ScanStatus, SignatureStatus};
/// The `chrono` this API's times use (so callers need not depend on it themselves).
pub use chrono;
pub use eval::{Decision, EvalOptions, Evaluation, ImageInput, TableRow};

/// Portcullis's own default bundle (Anchore bundle JSON), active out of the box when no other bundle is:
/// STOP critical/high vulnerabilities with a fix available and images whose distro has no vulnerability data;
/// WARN stale vulnerability data (older than 2 days), known-exploited vulnerabilities and any other
/// vulnerability of medium severity or more.
pub const DEFAULT_BUNDLE_JSON: &str = include_str!("default_bundle.json");

/// The id of [`DEFAULT_BUNDLE_JSON`].
pub const DEFAULT_BUNDLE_ID: &str = "portcullis-default";

/// [`DEFAULT_BUNDLE_JSON`] compiled (a test keeps it valid).
pub fn default_bundle() -> Result<Bundle, Error> {
    Bundle::from_slice(
        DEFAULT_BUNDLE_JSON.as_bytes(),
        "Portcullis's default bundle",
    )
}

/// Errors of the policy stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The document is not well-formed JSON/YAML of the expected shape.
    #[error("{what} is not a valid document: at `{path}`: {message}")]
    Parse {
        /// What was being read (file name or description).
        what: String,
        /// Where in the document (`policies[0].rules[2].gate`, `.` for the top).
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The bundle is well-formed but invalid; every problem is listed with the rule/mapping it belongs to.
    #[error("bundle `{bundle}` is invalid ({} problem(s)):\n{}", problems.len(), report::problem_lines(problems))]
    Invalid {
        /// Bundle id.
        bundle: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// A ContainerAdmissionPolicy is invalid.
    #[error("ContainerAdmissionPolicy `{policy}` is invalid: {message}")]
    Cap {
        /// Policy name (or index).
        policy: String,
        /// What is wrong and where.
        message: String,
    },
}

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

impl Action {
    /// The lower-case name the JSON and the store use (`go`, `warn`, `stop`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Go => "go",
            Action::Warn => "warn",
            Action::Stop => "stop",
        }
    }
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
    /// Name of the allowlist that matched, when one did.
    #[serde(default)]
    pub whitelist_name: Option<String>,
    /// Id of the allowlist item that matched, when one did.
    #[serde(default)]
    pub whitelist_item_id: Option<String>,
    /// The platform (`linux/arm64`) of a multi-platform image this row is about; `None` for a single-platform
    /// image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
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
    /// The image id evaluated.
    #[serde(default)]
    pub image_id: String,
    /// The tag evaluated.
    #[serde(default)]
    pub tag: String,
    /// The mapping that matched (name, else id); `None` when the image was unmapped.
    #[serde(default)]
    pub mapping: Option<String>,
    /// The policies' own result before image allow/deny lists (Anchore's `policy_final_action`).
    #[serde(default = "default_go")]
    pub policy_final_action: Action,
    /// The allowlisted-image rule that matched, if any.
    #[serde(default)]
    pub matched_whitelisted_image: Option<String>,
    /// The denylisted-image rule that matched, if any.
    #[serde(default)]
    pub matched_blacklisted_image: Option<String>,
    /// Warnings (deprecated gates used).
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn default_go() -> Action {
    Action::Go
}

impl Verdict {
    /// True when the image passes (`GO` or `WARN`).
    pub fn passed(&self) -> bool {
        self.final_action != Action::Stop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_the_serde_names() {
        for a in [Action::Go, Action::Warn, Action::Stop] {
            assert_eq!(serde_json::to_value(a).unwrap().as_str(), Some(a.as_str()));
        }
    }
}
