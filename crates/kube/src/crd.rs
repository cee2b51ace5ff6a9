//! Portcullis's custom resources: `ContainerAdmissionPolicy` (Calico's shape, in group `portcullis.dev`)
//! and `ImageReport` (one per workload, shaped like the wg-policy `PolicyReport` / OpenReports `Report`).
//!
//! The YAML shipped under `deploy/crds/` is generated from these types (`portcullis-kube` test
//! `crds_match_types` fails if they drift; regenerate with `cargo run -p portcullis-kube --example crds`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of Portcullis's custom resources.
pub const GROUP: &str = "portcullis.dev";

/// Spec of a ContainerAdmissionPolicy: which workloads it applies to and its ordered rules
/// (the first matching rule decides). Same fields as Calico's `containersecurity.tigera.io/v1beta1`
/// ContainerAdmissionPolicy, so existing policies only change their `apiVersion`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "portcullis.dev",
    version = "v1beta1",
    kind = "ContainerAdmissionPolicy",
    shortname = "cap",
    derive = "PartialEq",
    status = "ContainerAdmissionPolicyStatus",
    printcolumn = r#"{"name":"Order","type":"number","jsonPath":".spec.order"}"#,
    printcolumn = r#"{"name":"Valid","type":"string","jsonPath":".status.conditions[?(@.type==\"Valid\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ContainerAdmissionPolicySpec {
    /// Calico selector over the workload's labels (default `all()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Calico selector over the namespace's labels (default `all()`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<String>,
    /// Precedence: policies with a lower order are applied first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<f64>,
    /// Ordered rules; the first whose conditions all hold decides.
    #[serde(default)]
    pub rules: Vec<CapRule>,
}

/// One rule: an action and the conditions (all must hold; none means "always").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapRule {
    /// What to do when the rule matches.
    pub action: CapAction,
    /// Condition on the image reference (regular expressions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_path: Option<CapSetCondition>,
    /// Condition on the image's scan status (`Pass`, `Warn`, `Fail`, `Unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_scan_status: Option<CapSetCondition>,
    /// Condition on when the image was last scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_last_scan: Option<CapTimeCondition>,
    /// Condition on the image's signature status (`Verified`, `Unverified`, `Unknown`), as the admission config's
    /// `verify` block established it (a Portcullis addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_signature_status: Option<CapSetCondition>,
}

/// A rule's action.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CapAction {
    /// Admit.
    Allow,
    /// Deny.
    Reject,
}

/// `operator` over a list of `values`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapSetCondition {
    /// `IsOneOf` or `IsNoneOf`.
    pub operator: CapSetOperator,
    /// Values (regular expressions for `imagePath`; statuses for `imageScanStatus`).
    pub values: Vec<String>,
}

/// Set operators.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum CapSetOperator {
    /// The value matches one of the values.
    IsOneOf,
    /// The value matches none of the values.
    IsNoneOf,
}

/// Comparison of the last scan time with a duration ago or an absolute time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapTimeCondition {
    /// `gt` (scanned after) or `lt` (scanned before).
    pub operator: CapTimeOperator,
    /// A duration before now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<CapDuration>,
    /// An absolute RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// Time comparison operators.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CapTimeOperator {
    /// Greater than (after).
    Gt,
    /// Less than (before).
    Lt,
}

/// A duration in days/hours/minutes/seconds (summed).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct CapDuration {
    /// Days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// Hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<u32>,
    /// Minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u32>,
}

/// Status written by Portcullis: whether the policy loaded, and why not.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerAdmissionPolicyStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions; `Valid` is `True` when the policy is in force.
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// Every problem found, each naming the rule (`rules[2].imagePath.values[0]: ...`).
    #[serde(default)]
    pub errors: Vec<String>,
}

/// A status condition (the `metav1.Condition` shape).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Valid`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// Machine-readable reason (CamelCase).
    #[serde(default)]
    pub reason: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// The generation this condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Spec-less report (like wg-policy `PolicyReport`): the workload it is about, a summary, and one result
/// per (image, rule/finding). Namespaced; one per workload, named `<kind>-<name>` in lower case.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "portcullis.dev",
    version = "v1alpha1",
    kind = "ImageReport",
    namespaced,
    shortname = "irep",
    derive = "PartialEq",
    printcolumn = r#"{"name":"Kind","type":"string","jsonPath":".spec.scope.kind"}"#,
    printcolumn = r#"{"name":"Name","type":"string","jsonPath":".spec.scope.name"}"#,
    printcolumn = r#"{"name":"Pass","type":"integer","jsonPath":".spec.summary.pass"}"#,
    printcolumn = r#"{"name":"Fail","type":"integer","jsonPath":".spec.summary.fail"}"#,
    printcolumn = r#"{"name":"Warn","type":"integer","jsonPath":".spec.summary.warn"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ImageReportSpec {
    /// The workload reported on.
    pub scope: ReportScope,
    /// Counts of results by outcome.
    pub summary: ReportSummary,
    /// One result per image policy outcome or finding.
    #[serde(default)]
    pub results: Vec<ReportResult>,
}

/// The object a report is about (an `ObjectReference`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportScope {
    /// apiVersion of the workload.
    pub api_version: String,
    /// Kind of the workload.
    pub kind: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// UID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// Counts of results by outcome (PolicyReport's `summary`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ReportSummary {
    /// Passed.
    pub pass: u32,
    /// Failed.
    pub fail: u32,
    /// Warnings.
    pub warn: u32,
    /// Could not be evaluated.
    pub error: u32,
    /// Skipped.
    pub skip: u32,
}

/// Outcome of one result (PolicyReport's `result`).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportOutcome {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Warning.
    Warn,
    /// Could not be evaluated.
    Error,
    /// Skipped.
    Skip,
}

/// One result (PolicyReport's `results[]`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReportResult {
    /// Always `portcullis`.
    pub source: String,
    /// Policy bundle (or ContainerAdmissionPolicy) name.
    pub policy: String,
    /// Rule / trigger id (e.g. `CVE-2023-0286+openssl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Outcome.
    pub result: ReportOutcome,
    /// Severity of the finding, lower case (`critical`, `high`, `medium`, `low`, `info`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Category, e.g. `vulnerabilities`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When evaluated (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// Extra facts: `image`, `digest`, `package`, `version`, `fixedIn`, ...
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub properties: std::collections::BTreeMap<String, String>,
}

/// All CRDs as one multi-document YAML string (what `deploy/crds/portcullis.yaml` holds).
pub fn crds_yaml() -> Result<String, serde_yaml_ng::Error> {
    use kube::CustomResourceExt;
    let mut out = String::from(
        "# Generated from crates/kube/src/crd.rs by `cargo run -p portcullis-kube --example crds`; do not edit.\n",
    );
    for crd in [ContainerAdmissionPolicy::crd(), ImageReport::crd()] {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&crd)?);
    }
    Ok(out)
}
