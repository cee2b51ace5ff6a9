//! `ValidatingWebhookConfiguration` / `MutatingWebhookConfiguration` manifests for Portcullis.
//!
//! failurePolicy guidance: Portcullis answers from memory and keeps answering while registries, vulnerability
//! data or its database are down, so `Fail` is safe once it runs with two or more replicas (and is what policy
//! enforcement needs: with `Ignore`, a Portcullis outage silently admits everything). Use `Ignore` while
//! evaluating (passive/audit modes) or with a single replica. `kube-system` and Portcullis's own namespace are
//! excluded by the namespaceSelector so that Portcullis can always be restarted.

use serde_json::{Value, json};

/// What the generated configurations point at and how they behave.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Configuration and webhook name prefix (`portcullis` → `validate.portcullis.dev`).
    pub name: String,
    /// Service namespace.
    pub namespace: String,
    /// Service name.
    pub service: String,
    /// Service port.
    pub port: u16,
    /// A URL instead of a Service (out-of-cluster webhook); paths `/validate` and `/mutate` are appended.
    pub url: Option<String>,
    /// PEM CA bundle the API server trusts for the webhook.
    pub ca_bundle_pem: String,
    /// `timeoutSeconds` (1–30).
    pub timeout_seconds: u32,
    /// `Fail` or `Ignore`.
    pub failure_policy: String,
    /// Namespaces excluded by the namespaceSelector.
    pub exclude_namespaces: Vec<String>,
    /// Also emit the MutatingWebhookConfiguration.
    pub mutating: bool,
}

/// The resources every rule covers: group → resources.
pub const RULES: &[(&str, &[&str])] = &[
    (
        "",
        &["pods", "pods/ephemeralcontainers", "replicationcontrollers"],
    ),
    (
        "apps",
        &["deployments", "statefulsets", "daemonsets", "replicasets"],
    ),
    ("batch", &["jobs", "cronjobs"]),
];

fn client_config(o: &WebhookOptions, path: &str) -> Value {
    let ca = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &o.ca_bundle_pem);
    match &o.url {
        Some(u) => json!({ "url": format!("{}{path}", u.trim_end_matches('/')), "caBundle": ca }),
        None => json!({
            "service": { "namespace": o.namespace, "name": o.service, "path": path, "port": o.port },
            "caBundle": ca
        }),
    }
}

fn webhook(o: &WebhookOptions, kind: &str, path: &str) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|(g, res)| {
            json!({
                "apiGroups": [g],
                "apiVersions": ["*"],
                "operations": ["CREATE", "UPDATE"],
                "resources": res,
                "scope": "Namespaced"
            })
        })
        .collect();
    let mut w = json!({
        "name": format!("{kind}.{}.dev", o.name),
        "admissionReviewVersions": ["v1", "v1beta1"],
        "clientConfig": client_config(o, path),
        "rules": rules,
        "namespaceSelector": {
            "matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": o.exclude_namespaces
            }]
        },
        "matchPolicy": "Equivalent",
        // Queuing analysis is not a side effect on cluster objects, and is skipped for dry runs anyway.
        "sideEffects": "None",
        "timeoutSeconds": o.timeout_seconds,
        "failurePolicy": o.failure_policy
    });
    if kind == "mutate" {
        w["reinvocationPolicy"] = json!("IfNeeded");
    }
    w
}

/// Errors of option validation.
#[derive(Debug, thiserror::Error)]
#[error("webhook configuration: {0}")]
pub struct WebhookError(String);

/// The manifests as a multi-document YAML stream.
pub fn render(o: &WebhookOptions) -> Result<String, WebhookError> {
    if !(1..=30).contains(&o.timeout_seconds) {
        return Err(WebhookError(format!(
            "timeoutSeconds must be 1..30 (the API server's limit), got {}",
            o.timeout_seconds
        )));
    }
    if o.failure_policy != "Fail" && o.failure_policy != "Ignore" {
        return Err(WebhookError(format!(
            "failurePolicy must be Fail or Ignore, got {:?}",
            o.failure_policy
        )));
    }
    if !o.ca_bundle_pem.contains("BEGIN CERTIFICATE") {
        return Err(WebhookError(
            "the CA bundle holds no PEM certificate (use the ca.crt written by `portcullis certs`)"
                .into(),
        ));
    }
    let mut docs = vec![json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": { "name": o.name },
        "webhooks": [webhook(o, "validate", "/validate")]
    })];
    if o.mutating {
        docs.push(json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": { "name": o.name },
            "webhooks": [webhook(o, "mutate", "/mutate")]
        }));
    }
    let mut out = String::new();
    for d in docs {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(&d).map_err(|e| WebhookError(e.to_string()))?);
    }
    Ok(out)
}
