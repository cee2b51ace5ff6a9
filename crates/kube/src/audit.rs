//! The periodic audit of running Pods (re-evaluated against the latest verdicts with the same decision code
//! the webhook uses, reporting what would now be denied) and a namespace watch cache for the webhook's
//! namespace selectors.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use portcullis_admission::{
    Config, Context, Endpoint, ImageVerdicts, NamespaceMeta, Review, decide,
};
use serde_json::json;

/// Namespace labels/annotations from a watch cache, answered from memory (for namespace selectors).
#[derive(Clone)]
pub struct NamespaceCache {
    store: Store<Namespace>,
}

impl NamespaceCache {
    /// Starts watching Namespaces; returns the cache and the future that keeps it current (spawn it).
    pub fn start(client: kube::Client) -> (Self, impl std::future::Future<Output = ()> + Send) {
        let (store, writer) = reflector::store();
        let api: Api<Namespace> = Api::all(client);
        let fut = async move {
            let stream = reflector::reflector(
                writer,
                watcher(api, watcher::Config::default()).default_backoff(),
            );
            let mut stream = std::pin::pin!(stream);
            while let Some(ev) = stream.next().await {
                if let Err(e) = ev {
                    tracing::warn!(error = %e, "namespace watch error; retrying");
                }
            }
        };
        (Self { store }, fut)
    }

    /// Waits until the first full list has been received.
    pub async fn ready(&self) {
        let _ = self.store.wait_until_ready().await;
    }

    /// Metadata of namespace `name`, when known.
    pub fn get(&self, name: &str) -> Option<NamespaceMeta> {
        let ns = self
            .store
            .get(&reflector::ObjectRef::<Namespace>::new(name))?;
        Some(NamespaceMeta {
            name: name.to_string(),
            labels: ns.metadata.labels.clone().unwrap_or_default(),
            annotations: ns.metadata.annotations.clone().unwrap_or_default(),
        })
    }
}

impl portcullis_admission::NamespaceLookup for NamespaceCache {
    fn namespace(&self, name: &str) -> Option<NamespaceMeta> {
        self.get(name)
    }
}

/// One running Pod that the current data and configuration would deny.
#[derive(Debug, Clone, PartialEq)]
pub struct WouldDeny {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// The Pod's controller (`ReplicaSet/web-7d9f`), when it has one.
    pub owner: Option<String>,
    /// apiVersion of that controller (`apps/v1`).
    pub owner_api_version: Option<String>,
    /// The denial message the webhook would give.
    pub message: String,
}

/// Result of one audit pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditResult {
    /// Pods looked at.
    pub pods_checked: usize,
    /// Pods that would now be denied.
    pub would_deny: Vec<WouldDeny>,
    /// Pods that could not be evaluated (each says why).
    pub errors: Vec<String>,
}

/// Errors of the audit.
#[derive(Debug, thiserror::Error)]
#[error("listing Pods for the audit: {0}")]
pub struct AuditError(#[from] kube::Error);

/// Re-evaluates every Pod in the cluster as if it were being created now (validating webhook, same
/// `decide` as the server), with the given configuration, verdicts, namespace metadata and
/// ContainerAdmissionPolicies. Only reads;
/// dry-run semantics (nothing is queued for analysis).
pub async fn audit_pods(
    client: &kube::Client,
    config: &Config,
    verdicts: &dyn ImageVerdicts,
    namespaces: Option<&NamespaceCache>,
    policies: Option<&portcullis_policy::CapSet>,
) -> Result<AuditResult, AuditError> {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut result = AuditResult::default();
    let mut continue_token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(500);
        if let Some(t) = &continue_token {
            lp = lp.continue_token(t);
        }
        let list = pods.list(&lp).await?;
        for pod in &list.items {
            result.pods_checked += 1;
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let mut object = match serde_json::to_value(pod) {
                Ok(v) => v,
                Err(e) => {
                    result.errors.push(format!("pod {ns}/{name}: {e}"));
                    continue;
                }
            };
            object["apiVersion"] = json!("v1");
            object["kind"] = json!("Pod");
            // As the webhook would see a new Pod: dry run (no analysis is queued by an audit).
            let review = json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {
                    "uid": format!("audit-{}", pod.metadata.uid.clone().unwrap_or_default()),
                    "kind": {"group": "", "version": "v1", "kind": "Pod"},
                    "resource": {"group": "", "version": "v1", "resource": "pods"},
                    "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
                    "requestResource": {"group": "", "version": "v1", "resource": "pods"},
                    "name": name,
                    "namespace": ns,
                    "operation": "CREATE",
                    "userInfo": {"username": "system:serviceaccount:portcullis:audit"},
                    "object": object,
                    "oldObject": null,
                    "dryRun": true,
                    "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
                }
            });
            let bytes = serde_json::to_vec(&review).unwrap_or_default();
            let review = match Review::parse(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    result.errors.push(format!("pod {ns}/{name}: {e}"));
                    continue;
                }
            };
            let meta = namespaces.and_then(|c| c.get(&ns));
            let mut ctx = Context::new(Endpoint::Validate);
            ctx.namespace = meta.as_ref();
            ctx.policies = policies;
            let decision = decide(&review, config, verdicts, &ctx);
            if !decision.allowed {
                let controller = pod
                    .metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|o| o.controller == Some(true));
                result.would_deny.push(WouldDeny {
                    namespace: ns,
                    pod: name,
                    owner: controller.map(|o| format!("{}/{}", o.kind, o.name)),
                    owner_api_version: controller.map(|o| o.api_version.clone()),
                    message: decision.message.unwrap_or_default(),
                });
            }
        }
        continue_token = list.metadata.continue_.filter(|t| !t.is_empty());
        if continue_token.is_none() {
            break;
        }
    }
    Ok(result)
}

/// Groups audit results by namespace and owner (or Pod), e.g. to write one report per workload.
pub fn by_workload(result: &AuditResult) -> BTreeMap<(String, String), Vec<&WouldDeny>> {
    let mut out: BTreeMap<(String, String), Vec<&WouldDeny>> = BTreeMap::new();
    for w in &result.would_deny {
        let key = w.owner.clone().unwrap_or_else(|| format!("Pod/{}", w.pod));
        out.entry((w.namespace.clone(), key)).or_default().push(w);
    }
    out
}

/// One ImageReport per workload (the Pods' controller, or the Pod) with a `fail` result per Pod that would
/// now be denied, carrying the webhook's message; written with server-side apply. Returns how many.
pub async fn write_audit_reports(
    client: &kube::Client,
    result: &AuditResult,
    now: &str,
) -> Result<usize, crate::report::ReportError> {
    use crate::crd::{
        ImageReport, ImageReportSpec, ReportOutcome, ReportResult, ReportScope, ReportSummary,
    };
    let mut written = 0;
    for ((ns, key), denials) in by_workload(result) {
        let (kind, name) = key.split_once('/').unwrap_or(("Pod", key.as_str()));
        let api_version = denials
            .first()
            .and_then(|d| d.owner_api_version.clone())
            .unwrap_or_else(|| "v1".into());
        let results: Vec<ReportResult> = denials
            .iter()
            .map(|d| ReportResult {
                source: "portcullis".into(),
                policy: "audit".into(),
                rule: None,
                result: ReportOutcome::Fail,
                severity: None,
                category: Some("audit".into()),
                message: Some(d.message.clone()),
                timestamp: Some(now.into()),
                properties: BTreeMap::from([("pod".to_string(), d.pod.clone())]),
            })
            .collect();
        let scope = ReportScope {
            api_version,
            kind: kind.into(),
            namespace: Some(ns.clone()),
            name: name.into(),
            uid: None,
        };
        let mut report = ImageReport::new(
            &crate::report::report_name(kind, name),
            ImageReportSpec {
                scope,
                summary: ReportSummary {
                    fail: u32::try_from(results.len()).unwrap_or(u32::MAX),
                    ..Default::default()
                },
                results,
            },
        );
        report.metadata.namespace = Some(ns.clone());
        report.metadata.labels = Some(BTreeMap::from([
            (
                "app.kubernetes.io/managed-by".to_string(),
                "portcullis".to_string(),
            ),
            ("portcullis.dev/source".to_string(), "audit".to_string()),
        ]));
        crate::report::apply_report(client, &report).await?;
        written += 1;
    }
    Ok(written)
}

/// Shares a [`NamespaceCache`] as the server's lookup.
pub fn namespace_lookup(cache: NamespaceCache) -> Arc<dyn portcullis_admission::NamespaceLookup> {
    Arc::new(cache)
}
