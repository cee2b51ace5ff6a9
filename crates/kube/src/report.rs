//! Per-workload `ImageReport`s (PolicyReport-shaped) built from policy verdicts and written with
//! server-side apply, and Kubernetes Events recorded on denials.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use portcullis_policy::{Action, Verdict};

use crate::crd::{
    ImageReport, ImageReportSpec, ReportOutcome, ReportResult, ReportScope, ReportSummary,
};

/// Field manager used for everything Portcullis writes.
pub const FIELD_MANAGER: &str = "portcullis";

/// Report name for a workload: `<kind>-<name>` in lower case, cut to a valid object name.
pub fn report_name(kind: &str, name: &str) -> String {
    let mut n = format!("{}-{}", kind.to_ascii_lowercase(), name);
    n.truncate(253);
    n.trim_end_matches(['-', '.']).to_string()
}

/// One image's verdict, as reported.
pub struct ImageOutcome<'a> {
    /// Image reference as written in the workload.
    pub image: &'a str,
    /// Digest evaluated, when known.
    pub digest: Option<&'a str>,
    /// The verdict; `None` when the image has not been analysed yet.
    pub verdict: Option<&'a Verdict>,
    /// What its `verify` requirements established (signers, or why not met), when it has any.
    pub signature: Option<&'a portcullis_admission::signatures::SignatureDecision>,
}

fn outcome(a: Action) -> ReportOutcome {
    match a {
        Action::Go => ReportOutcome::Pass,
        Action::Warn => ReportOutcome::Warn,
        Action::Stop => ReportOutcome::Fail,
    }
}

/// Builds a report for a workload from its images' verdicts: one result per non-allowlisted evaluation
/// row (STOP → fail, WARN → warn, GO → pass), a pass result for an image that passed with no rows, a
/// skip result for an image not analysed yet, and an error result per trigger that could not be evaluated.
pub fn build_report(scope: ReportScope, images: &[ImageOutcome<'_>], now: &str) -> ImageReport {
    let mut results = Vec::new();
    for img in images {
        let mut props = BTreeMap::from([("image".to_string(), img.image.to_string())]);
        if let Some(d) = img.digest {
            props.insert("digest".into(), d.to_string());
        }
        if let Some(s) = img.signature {
            results.push(signature_result(img.image, s, &props, now));
        }
        let Some(v) = img.verdict else {
            results.push(ReportResult {
                source: "portcullis".into(),
                policy: "analysis".into(),
                rule: None,
                result: ReportOutcome::Skip,
                severity: None,
                category: None,
                message: Some(format!("image {} has not been analysed yet", img.image)),
                timestamp: Some(now.into()),
                properties: props,
            });
            continue;
        };
        let rows: Vec<_> = v.rows.iter().filter(|r| r.whitelisted.is_none()).collect();
        for r in &rows {
            let mut p = props.clone();
            p.insert("gate".into(), r.gate.clone());
            p.insert("trigger".into(), r.trigger.clone());
            p.insert("bundle".into(), v.bundle_id.clone());
            results.push(ReportResult {
                source: "portcullis".into(),
                policy: r.policy_id.clone(),
                rule: Some(r.trigger_id.clone()),
                result: outcome(r.gate_action),
                severity: None,
                category: Some(r.gate.clone()),
                message: Some(r.check_output.clone()),
                timestamp: Some(now.into()),
                properties: p,
            });
        }
        if rows.is_empty() {
            let mut p = props.clone();
            p.insert("bundle".into(), v.bundle_id.clone());
            results.push(ReportResult {
                source: "portcullis".into(),
                policy: v.bundle_id.clone(),
                rule: None,
                result: outcome(v.final_action),
                severity: None,
                category: None,
                message: Some(format!(
                    "image {} final action {:?} ({:?})",
                    img.image, v.final_action, v.final_reason
                )),
                timestamp: Some(now.into()),
                properties: p,
            });
        }
        for ne in &v.not_evaluated {
            results.push(ReportResult {
                source: "portcullis".into(),
                policy: v.bundle_id.clone(),
                rule: ne.split(':').next().map(str::to_string),
                result: ReportOutcome::Error,
                severity: None,
                category: None,
                message: Some(ne.clone()),
                timestamp: Some(now.into()),
                properties: props.clone(),
            });
        }
    }
    let mut summary = ReportSummary::default();
    for r in &results {
        match r.result {
            ReportOutcome::Pass => summary.pass += 1,
            ReportOutcome::Fail => summary.fail += 1,
            ReportOutcome::Warn => summary.warn += 1,
            ReportOutcome::Error => summary.error += 1,
            ReportOutcome::Skip => summary.skip += 1,
        }
    }
    let name = report_name(&scope.kind, &scope.name);
    let mut report = ImageReport::new(
        &name,
        ImageReportSpec {
            scope: scope.clone(),
            summary,
            results,
        },
    );
    report.metadata.namespace = scope.namespace.clone();
    report.metadata.labels = Some(BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "portcullis".to_string(),
        ),
        (
            "portcullis.dev/scope-kind".to_string(),
            scope.kind.to_ascii_lowercase(),
        ),
    ]));
    report
}

/// The result row of an image's signature requirements: Pass (property `signers`), Fail with the reason, or
/// Skip while not verified yet.
fn signature_result(
    image: &str,
    s: &portcullis_admission::signatures::SignatureDecision,
    props: &BTreeMap<String, String>,
    now: &str,
) -> ReportResult {
    let mut p = props.clone();
    if !s.signers.is_empty() {
        p.insert("signers".into(), s.signers.join(","));
    }
    let (result, message) = match (&s.reason, s.verified) {
        (_, true) => (
            ReportOutcome::Pass,
            format!("image {image} signed by {}", s.signers.join(", ")),
        ),
        (Some(r), false) => (ReportOutcome::Fail, format!("image {image}: {r}")),
        (None, false) => (
            ReportOutcome::Skip,
            format!("image {image}: signatures not verified yet"),
        ),
    };
    ReportResult {
        source: "portcullis".into(),
        policy: "verify".into(),
        rule: None,
        result,
        severity: None,
        category: Some("signature".into()),
        message: Some(message),
        timestamp: Some(now.into()),
        properties: p,
    }
}

/// Errors writing reports or events.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report has no namespace (reports are namespaced, like their workloads).
    #[error("report {0} has no namespace; ImageReports live in their workload's namespace")]
    NoNamespace(String),
    /// The API server refused the write.
    #[error("writing {what}: {source}")]
    Api {
        /// What was written.
        what: String,
        /// The API error.
        source: kube::Error,
    },
}

/// Creates or updates a report with server-side apply (idempotent; Portcullis owns the fields).
pub async fn apply_report(
    client: &kube::Client,
    report: &ImageReport,
) -> Result<ImageReport, ReportError> {
    let name = report.metadata.name.clone().unwrap_or_default();
    let ns = report
        .metadata
        .namespace
        .clone()
        .ok_or_else(|| ReportError::NoNamespace(name.clone()))?;
    let api: Api<ImageReport> = Api::namespaced(client.clone(), &ns);
    let mut body = report.clone();
    body.metadata.managed_fields = None;
    body.metadata.resource_version = None;
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|source| ReportError::Api {
        what: format!("ImageReport {ns}/{name}"),
        source,
    })
}

/// Records Kubernetes Events about admission decisions.
pub struct DenialEvents {
    recorder: Recorder,
}

impl DenialEvents {
    /// An event recorder reporting as `portcullis` from `instance` (the Pod name).
    pub fn new(client: kube::Client, instance: Option<String>) -> Self {
        Self {
            recorder: Recorder::new(
                client,
                Reporter {
                    controller: "portcullis".into(),
                    instance,
                },
            ),
        }
    }

    /// Records a `Warning` event `AdmissionDenied` about the denied object (which may not exist, e.g. a
    /// denied CREATE), in its namespace, with the denial message (cut to the API's 1 kB limit).
    pub async fn denied(&self, object: &ObjectReference, message: &str) -> Result<(), ReportError> {
        let mut note = message.to_string();
        if note.len() > 1000 {
            let mut cut = 997;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
            note.push_str("...");
        }
        self.recorder
            .publish(
                &Event {
                    type_: EventType::Warning,
                    reason: "AdmissionDenied".into(),
                    note: Some(note),
                    action: "Admit".into(),
                    secondary: None,
                },
                object,
            )
            .await
            .map_err(|source| ReportError::Api {
                what: format!(
                    "Event for {}/{}",
                    object.namespace.as_deref().unwrap_or(""),
                    object.name.as_deref().unwrap_or("")
                ),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_policy::{EvalRow, FinalReason};

    fn row(trigger_id: &str, action: Action, whitelisted: Option<&str>) -> EvalRow {
        EvalRow {
            image_id: "abc".into(),
            repo_tag: "r/app:1".into(),
            trigger_id: trigger_id.into(),
            gate: "vulnerabilities".into(),
            trigger: "package".into(),
            check_output: format!("{trigger_id} found"),
            gate_action: action,
            whitelisted: whitelisted.map(str::to_string),
            policy_id: "default".into(),
            rule_id: "r1".into(),
            whitelist_name: None,
            whitelist_item_id: None,
            platform: None,
        }
    }

    #[test]
    fn report_maps_rows_and_counts_outcomes() {
        let v = Verdict {
            bundle_id: "prod".into(),
            bundle_name: None,
            bundle_digest: "sha256:00".into(),
            final_action: Action::Stop,
            final_reason: FinalReason::PolicyEvaluation,
            policy_ids: vec!["default".into()],
            rows: vec![
                row("CVE-2023-0286+openssl", Action::Stop, None),
                row("CVE-2022-1+zlib", Action::Warn, None),
                row("CVE-2022-2+zlib", Action::Stop, Some("allow-zlib")),
            ],
            not_evaluated: vec!["secret_scans.content_regex_checks: no file contents".into()],
            image_id: "img".into(),
            tag: "x".into(),
            mapping: None,
            policy_final_action: Action::Stop,
            matched_whitelisted_image: None,
            matched_blacklisted_image: None,
            warnings: vec![],
        };
        let scope = ReportScope {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("team".into()),
            name: "web".into(),
            uid: None,
        };
        let r = build_report(
            scope,
            &[
                ImageOutcome {
                    image: "r/app:1",
                    digest: Some("sha256:aa"),
                    verdict: Some(&v),
                    signature: None,
                },
                ImageOutcome {
                    image: "r/side:2",
                    digest: None,
                    verdict: None,
                    signature: None,
                },
            ],
            "2026-01-01T00:00:00Z",
        );
        assert_eq!(r.metadata.name.as_deref(), Some("deployment-web"));
        assert_eq!(r.metadata.namespace.as_deref(), Some("team"));
        let s = &r.spec.summary;
        assert_eq!((s.pass, s.fail, s.warn, s.error, s.skip), (0, 1, 1, 1, 1));
        let fail = r
            .spec
            .results
            .iter()
            .find(|x| x.result == ReportOutcome::Fail)
            .unwrap();
        assert_eq!(fail.rule.as_deref(), Some("CVE-2023-0286+openssl"));
        assert_eq!(fail.properties["digest"], "sha256:aa");
        assert!(
            !r.spec
                .results
                .iter()
                .any(|x| x.rule.as_deref() == Some("CVE-2022-2+zlib"))
        );
    }

    #[test]
    fn report_records_the_signers() {
        use portcullis_admission::signatures::SignatureDecision;
        let scope = ReportScope {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("team".into()),
            name: "web".into(),
            uid: None,
        };
        let signed = SignatureDecision {
            verified: true,
            signers: vec!["/keys/ci.pub".into()],
            reason: None,
        };
        let refused = SignatureDecision {
            verified: false,
            signers: vec![],
            reason: Some("not signed by any of the required keys (no signature found)".into()),
        };
        let r = build_report(
            scope,
            &[
                ImageOutcome {
                    image: "r/app:1",
                    digest: Some("sha256:aa"),
                    verdict: None,
                    signature: Some(&signed),
                },
                ImageOutcome {
                    image: "r/side:2",
                    digest: Some("sha256:bb"),
                    verdict: None,
                    signature: Some(&refused),
                },
            ],
            "2026-01-01T00:00:00Z",
        );
        let sig: Vec<_> = r
            .spec
            .results
            .iter()
            .filter(|x| x.category.as_deref() == Some("signature"))
            .collect();
        assert_eq!(sig.len(), 2);
        assert_eq!(sig[0].result, ReportOutcome::Pass);
        assert_eq!(sig[0].properties["signers"], "/keys/ci.pub");
        assert_eq!(sig[1].result, ReportOutcome::Fail);
        assert_eq!(
            sig[1].message.as_deref(),
            Some("image r/side:2: not signed by any of the required keys (no signature found)")
        );
    }

    #[test]
    fn report_names_are_valid() {
        assert_eq!(report_name("CronJob", "nightly"), "cronjob-nightly");
        assert!(report_name("Pod", &"x".repeat(300)).len() <= 253);
    }
}
