//! ContainerAdmissionPolicy objects: validated, watched and applied without restart; each object's
//! status says whether it is in force and lists every problem found.
//!
//! [`watch_policies`] keeps a [`PolicySet`] (valid policies, ordered by `order` then name) current and
//! writes each object's `status`. Structural checks live here ([`validate_spec`]); the evaluator's own
//! parser (selector language) can be plugged in as an extra validator.

use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::crd::{
    Condition, ContainerAdmissionPolicy, ContainerAdmissionPolicySpec,
    ContainerAdmissionPolicyStatus,
};

/// Scan statuses `imageScanStatus` accepts.
pub const SCAN_STATUSES: [&str; 4] = ["Pass", "Warn", "Fail", "Unknown"];

/// Checks a policy spec and returns every problem, each prefixed with the field it is about
/// (`rules[1].imagePath.values[0]: ...`). Empty means valid.
pub fn validate_spec(spec: &ContainerAdmissionPolicySpec) -> Vec<String> {
    let mut errors = Vec::new();
    for (field, sel) in [
        ("selector", &spec.selector),
        ("namespaceSelector", &spec.namespace_selector),
    ] {
        if let Some(s) = sel
            && s.trim().is_empty()
        {
            errors.push(format!("{field}: empty selector (omit it, or use all())"));
        }
    }
    if let Some(o) = spec.order
        && !o.is_finite()
    {
        errors.push("order: must be a finite number".into());
    }
    if spec.rules.is_empty() {
        errors.push("rules: no rules (a policy needs at least one Allow or Reject rule)".into());
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        if let Some(path) = &rule.image_path {
            if path.values.is_empty() {
                errors.push(format!("rules[{i}].imagePath.values: empty list"));
            }
            for (j, v) in path.values.iter().enumerate() {
                if let Err(e) = regex::Regex::new(v) {
                    let first = e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    errors.push(format!(
                        "rules[{i}].imagePath.values[{j}]: invalid regular expression {v:?}: {first}"
                    ));
                }
            }
        }
        if let Some(status) = &rule.image_scan_status {
            if status.values.is_empty() {
                errors.push(format!("rules[{i}].imageScanStatus.values: empty list"));
            }
            for (j, v) in status.values.iter().enumerate() {
                if !SCAN_STATUSES.contains(&v.as_str()) {
                    errors.push(format!(
                        "rules[{i}].imageScanStatus.values[{j}]: {v:?} is not one of Pass, Warn, Fail, Unknown"
                    ));
                }
            }
        }
        if let Some(last) = &rule.image_last_scan {
            match (&last.duration, &last.time) {
                (Some(_), Some(_)) => errors.push(format!(
                    "rules[{i}].imageLastScan: give either duration or time, not both"
                )),
                (None, None) => errors.push(format!(
                    "rules[{i}].imageLastScan: needs a duration or a time"
                )),
                (None, Some(t)) => {
                    if chrono::DateTime::parse_from_rfc3339(t).is_err() {
                        errors.push(format!(
                            "rules[{i}].imageLastScan.time: {t:?} is not an RFC 3339 time (e.g. 2024-01-31T00:00:00Z)"
                        ));
                    }
                }
                (Some(d), None) => {
                    if d.days.is_none()
                        && d.hours.is_none()
                        && d.minutes.is_none()
                        && d.seconds.is_none()
                    {
                        errors.push(format!(
                            "rules[{i}].imageLastScan.duration: set days, hours, minutes or seconds"
                        ));
                    }
                }
            }
        }
    }
    errors
}

/// An extra validator: returns problems like [`validate_spec`].
pub type Validator = Arc<dyn Fn(&ContainerAdmissionPolicySpec) -> Vec<String> + Send + Sync>;

/// Wraps a spec as the ContainerAdmissionPolicy document the policy crate reads.
fn policy_doc(name: &str, spec: &ContainerAdmissionPolicySpec) -> serde_json::Value {
    json!({
        "apiVersion": "portcullis.dev/v1beta1",
        "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// Validation by the evaluator itself (`portcullis_policy::CapSet`): selector language, operators, regexes —
/// exactly what evaluation will accept. Always applied by [`watch_policies`].
pub fn evaluator_validation(spec: &ContainerAdmissionPolicySpec) -> Vec<String> {
    match portcullis_policy::CapSet::from_json(&policy_doc("policy", spec).to_string()) {
        Ok(_) => Vec::new(),
        Err(e) => vec![format!("evaluator: {e}")],
    }
}

/// The policies currently in force, shared between the watcher and the admission path.
#[derive(Clone, Default)]
pub struct PolicySet {
    inner: Arc<RwLock<(u64, Vec<ContainerAdmissionPolicy>)>>,
    /// Where each change is put in force, compiled (the webhook's policies).
    sink: Option<portcullis_admission::AdmissionPolicies>,
}

impl PolicySet {
    /// A set that also compiles every change into `sink`, which the admission path reads.
    pub fn feeding(sink: portcullis_admission::AdmissionPolicies) -> Self {
        PolicySet {
            sink: Some(sink),
            ..Default::default()
        }
    }

    /// Valid policies ordered by `order` (missing = last) then name.
    pub fn snapshot(&self) -> Vec<ContainerAdmissionPolicy> {
        self.inner.read().map(|g| g.1.clone()).unwrap_or_default()
    }

    /// Increases on every change; lets consumers rebuild compiled forms only when needed.
    pub fn generation(&self) -> u64 {
        self.inner.read().map(|g| g.0).unwrap_or_default()
    }

    /// The policies in force compiled for evaluation (`portcullis_policy::CapSet::evaluate`).
    pub fn compile(&self) -> Result<portcullis_policy::CapSet, portcullis_policy::Error> {
        let docs: Vec<serde_json::Value> = self
            .snapshot()
            .iter()
            .map(|p| policy_doc(&p.name_any(), &p.spec))
            .collect();
        portcullis_policy::CapSet::from_json(&serde_json::Value::Array(docs).to_string())
    }

    fn replace(&self, mut policies: Vec<ContainerAdmissionPolicy>) {
        policies.sort_by(|a, b| {
            let oa = a.spec.order.unwrap_or(f64::INFINITY);
            let ob = b.spec.order.unwrap_or(f64::INFINITY);
            oa.total_cmp(&ob)
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        let changed = match self.inner.write() {
            Ok(mut g) if g.1 != policies => {
                g.0 += 1;
                g.1 = policies;
                true
            }
            _ => false,
        };
        if let Some(sink) = self.sink.as_ref().filter(|_| changed) {
            match self.compile() {
                Ok(compiled) => {
                    tracing::info!(
                        policies = compiled.len(),
                        "ContainerAdmissionPolicies in force"
                    );
                    sink.replace(compiled);
                }
                Err(e) => tracing::error!(error = %e, "ContainerAdmissionPolicies do not compile"),
            }
        }
    }
}

/// Errors of the policy watcher.
#[derive(Debug, thiserror::Error)]
pub enum CapError {
    /// The watch failed irrecoverably.
    #[error("watching ContainerAdmissionPolicies: {0}")]
    Watch(String),
}

fn status_for(
    p: &ContainerAdmissionPolicy,
    errors: Vec<String>,
    previous: Option<&ContainerAdmissionPolicyStatus>,
) -> ContainerAdmissionPolicyStatus {
    let valid = errors.is_empty();
    let status = if valid { "True" } else { "False" };
    let (reason, message) = if valid {
        ("Loaded".to_string(), "policy is in force".to_string())
    } else {
        (
            "Invalid".to_string(),
            format!(
                "policy is NOT in force: {} problem(s); see status.errors",
                errors.len()
            ),
        )
    };
    // Keep the transition time when the condition's status did not change.
    let last_transition_time = previous
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Valid"))
        .filter(|c| c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .or_else(|| Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()));
    ContainerAdmissionPolicyStatus {
        observed_generation: p.metadata.generation,
        conditions: vec![Condition {
            type_: "Valid".into(),
            status: status.into(),
            reason,
            message,
            last_transition_time,
            observed_generation: p.metadata.generation,
        }],
        errors,
    }
}

fn all_errors(spec: &ContainerAdmissionPolicySpec, extra: &[Validator]) -> Vec<String> {
    let mut errors = validate_spec(spec);
    // The evaluator's parser repeats structural problems already reported; ask it only when they are fixed.
    if errors.is_empty() {
        errors.extend(evaluator_validation(spec));
    }
    for v in extra {
        errors.extend(v(spec));
    }
    errors
}

/// Watches ContainerAdmissionPolicies until the stream ends, keeping `set` current and writing each
/// object's status (only when it changes). Validation: [`validate_spec`], then [`evaluator_validation`],
/// then the `extra` validators.
pub async fn watch_policies(
    client: Client,
    set: PolicySet,
    extra: Vec<Validator>,
) -> Result<(), CapError> {
    let api: Api<ContainerAdmissionPolicy> = Api::all(client);
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api.clone(), watcher::Config::default()).default_backoff(),
    );
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(error = %e, "ContainerAdmissionPolicy watch error; retrying");
                continue;
            }
        };
        let changed: Vec<ContainerAdmissionPolicy> = match ev {
            watcher::Event::Apply(p) | watcher::Event::InitApply(p) => vec![p],
            _ => Vec::new(),
        };
        for p in changed {
            let errors = all_errors(&p.spec, &extra);
            let status = status_for(&p, errors, p.status.as_ref());
            let same = p.status.as_ref().is_some_and(|s| {
                s.observed_generation == status.observed_generation
                    && s.errors == status.errors
                    && s.conditions.first().map(|c| &c.status)
                        == status.conditions.first().map(|c| &c.status)
            });
            if !same {
                let patch = json!({ "status": status });
                if let Err(e) = api
                    .patch_status(
                        &p.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                {
                    tracing::warn!(policy = %p.name_any(), error = %e, "cannot write ContainerAdmissionPolicy status");
                }
            }
        }
        // Rebuild the set from the reflector's view (covers deletes and restarts).
        let mut valid = Vec::new();
        for p in reader.state() {
            if all_errors(&p.spec, &extra).is_empty() {
                valid.push((*p).clone());
            }
        }
        set.replace(valid);
    }
    Err(CapError::Watch("watch stream ended".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ContainerAdmissionPolicySpec {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn calico_sample_is_valid() {
        let s = spec(
            r#"
selector: all()
namespaceSelector: all()
order: 10
rules:
- action: Reject
  imagePath: {operator: IsNoneOf, values: ["^gcr.io/company/production-repository/.*"]}
- action: Allow
  imageScanStatus: {operator: IsOneOf, values: [Pass, Warn]}
- action: Reject
"#,
        );
        assert_eq!(validate_spec(&s), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let s = spec(
            r#"
selector: " "
rules:
- action: Reject
  imagePath: {operator: IsOneOf, values: ["(unclosed"]}
- action: Allow
  imageScanStatus: {operator: IsOneOf, values: [Passed]}
  imageLastScan: {operator: gt, time: "yesterday"}
"#,
        );
        let e = validate_spec(&s);
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[0].starts_with("selector: empty"));
        assert!(e[1].starts_with("rules[0].imagePath.values[0]: invalid regular expression"));
        assert!(e[2].starts_with("rules[1].imageScanStatus.values[0]: \"Passed\""));
        assert!(e[3].starts_with("rules[1].imageLastScan.time"));
        assert!(validate_spec(&spec("rules: []"))[0].starts_with("rules: no rules"));
    }

    #[test]
    fn the_evaluator_checks_the_selector_language() {
        let s = spec("selector: \"env == \"\nrules: [{action: Reject}]");
        assert!(validate_spec(&s).is_empty(), "structurally fine");
        let e = evaluator_validation(&s);
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("evaluator: "), "{e:?}");
        assert!(
            evaluator_validation(&spec(
                "selector: \"env == 'prod'\"\nrules: [{action: Reject}]"
            ))
            .is_empty()
        );
    }

    #[test]
    fn policy_set_compiles_for_evaluation() {
        let set = PolicySet::default();
        set.replace(vec![ContainerAdmissionPolicy::new(
            "reject-unscanned",
            spec("rules: [{action: Allow, imageScanStatus: {operator: IsOneOf, values: [Pass]}}, {action: Reject}]"),
        )]);
        let caps = set.compile().unwrap();
        assert_eq!(caps.len(), 1);
        let none = std::collections::BTreeMap::new();
        let now = chrono::Utc::now();
        let d = caps
            .evaluate(
                &none,
                &none,
                "r/x:1",
                portcullis_policy::ScanStatus::Unknown,
                None,
                now,
            )
            .expect("a rule matches");
        assert!(format!("{d:?}").contains("Reject"), "{d:?}");
    }

    #[test]
    fn policy_set_orders_by_order_then_name() {
        let mk = |name: &str, order: Option<f64>| {
            let mut p = ContainerAdmissionPolicy::new(name, spec("rules: [{action: Allow}]"));
            p.spec.order = order;
            p
        };
        let set = PolicySet::default();
        set.replace(vec![
            mk("c", None),
            mk("b", Some(5.0)),
            mk("a", Some(5.0)),
            mk("z", Some(1.0)),
        ]);
        let names: Vec<_> = set.snapshot().iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["z", "a", "b", "c"]);
        let g = set.generation();
        set.replace(set.snapshot());
        assert_eq!(set.generation(), g, "no change, no new generation");
    }
}
