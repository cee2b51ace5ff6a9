//! Everything `portcullis serve` runs against the API server, started in one call: the namespace cache
//! (namespace selectors), the ContainerAdmissionPolicy watcher (policies in force without a restart), pull
//! secrets of the workloads under review (registry credentials for resolving and pulling their images),
//! denial Events, per-workload ImageReports, and the leader-elected periodic audit of running Pods.
//!
//! The admission path is not slowed down: [`start`] wraps the verdict source so that each recorded
//! validating decision is handed to a background task (bounded queue; when it is full, the Kubernetes side
//! effects of that decision are skipped and logged, the decision itself is unaffected).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{LocalObjectReference, ObjectReference, PodSpec};
use portcullis_admission::{
    AdmissionPolicies, Config, Decision, Endpoint, ImageState, ImageVerdicts, Review, parse_image,
};
use portcullis_image::{Credential, ImageRef};
use tokio::sync::{mpsc, watch};

use crate::audit::{NamespaceCache, audit_pods, write_audit_reports};
use crate::cap::{PolicySet, watch_policies};
use crate::crd::ReportScope;
use crate::leader::LeaderElector;
use crate::report::{DenialEvents, ImageOutcome, apply_report, build_report};
use crate::settings::KubeSettings;

/// Decisions waiting for their Kubernetes side effects.
const QUEUE: usize = 1024;
/// How long a leader's Lease lasts without renewal.
const LEASE_DURATION: Duration = Duration::from_secs(15);

/// Called with the namespace and pull-secret credentials of a workload for each of its images (e.g. the
/// engine's `LearnedCredentials::learn`, which offers them for that namespace's requests only).
pub type LearnCredentials = Arc<dyn Fn(&str, &ImageRef, &[Credential]) + Send + Sync>;

/// What the integration needs besides the client.
pub struct IntegrationOptions {
    /// Which integrations run.
    pub settings: KubeSettings,
    /// The admission configuration file the audit decides with (as the server does); `None` = defaults.
    pub admission_config: Option<PathBuf>,
    /// This replica's identity for the Lease and Events (the Pod name).
    pub identity: String,
    /// Receives pull-secret credentials; `None` = pull secrets are not read.
    pub learn_credentials: Option<LearnCredentials>,
    /// Receives the public keys `verify` blocks take from Secrets; `None` = they are not read.
    pub key_secrets: Option<crate::key_secrets::KeySecretSink>,
}

/// The parts the server plugs in.
pub struct Integration {
    /// Namespace metadata from the watch cache.
    pub namespaces: Arc<dyn portcullis_admission::NamespaceLookup>,
    /// ContainerAdmissionPolicies in force, kept current by the watcher.
    pub policies: AdmissionPolicies,
    /// The verdict source, wrapped so that recorded decisions also reach Kubernetes.
    pub verdicts: Arc<dyn ImageVerdicts>,
    /// Whether this replica currently leads (always true with leader election off).
    pub leading: watch::Receiver<bool>,
    /// Fetches controller owners so that `skipOwned` skips only verified ones.
    pub owners: Arc<dyn portcullis_admission::OwnerLookup>,
}

struct Recorded {
    review: Review,
    decision: Decision,
}

/// The verdict source with Kubernetes side effects on `record`.
struct KubeVerdicts {
    inner: Arc<dyn ImageVerdicts>,
    tx: mpsc::Sender<Recorded>,
    /// Whether any side effect is on (reports, events, pull secrets); if not, nothing is copied or sent.
    wanted: bool,
}

impl ImageVerdicts for KubeVerdicts {
    fn lookup(&self, image: &ImageRef, policy: &str, namespace: &str) -> ImageState {
        self.inner.lookup(image, policy, namespace)
    }
    fn enqueue(&self, image: &ImageRef, requestor: &str, namespace: &str) {
        self.inner.enqueue(image, requestor, namespace)
    }
    fn resolve_cached(&self, image: &ImageRef) -> Option<String> {
        self.inner.resolve_cached(image)
    }
    fn resolved(&self, image: &ImageRef, digest: &str) {
        self.inner.resolved(image, digest)
    }
    fn signatures(
        &self,
        digest: &str,
        verify: &portcullis_admission::config::VerifySpec,
    ) -> Option<Arc<portcullis_verify::SignatureFacts>> {
        self.inner.signatures(digest, verify)
    }
    fn enqueue_verification(
        &self,
        image: &ImageRef,
        verify: &portcullis_admission::config::VerifySpec,
        namespace: &str,
    ) {
        self.inner.enqueue_verification(image, verify, namespace)
    }
    fn ready(&self) -> bool {
        self.inner.ready()
    }
    fn readiness_detail(&self) -> Vec<String> {
        self.inner.readiness_detail()
    }
    fn policy_problem(&self, policy: &str) -> Option<String> {
        self.inner.policy_problem(policy)
    }
    fn prepare_policies(&self, policies: &[String]) {
        self.inner.prepare_policies(policies)
    }
    fn policies_ready(&self, policies: &[String]) -> bool {
        self.inner.policies_ready(policies)
    }
    fn record(&self, review: &Review, decision: &Decision) {
        self.inner.record(review, decision);
        if !self.wanted
            || decision.skipped.is_some()
            || decision.endpoint != Endpoint::Validate
            || decision.dry_run
        {
            return;
        }
        let item = Recorded {
            review: review.clone(),
            decision: decision.clone(),
        };
        if self.tx.try_send(item).is_err() {
            tracing::warn!(object = %decision.object, "Kubernetes side effects skipped: the queue is full");
        }
    }
}

/// Starts the integration on the current tokio runtime. Nothing here blocks the start: watches fill in the
/// background (selectors see no namespace labels until the first list arrives).
pub fn start(
    client: kube::Client,
    opts: IntegrationOptions,
    inner: Arc<dyn ImageVerdicts>,
) -> Integration {
    let (cache, watch_namespaces) = NamespaceCache::start(client.clone());
    tokio::spawn(watch_namespaces);

    let policies = AdmissionPolicies::default();
    let set = PolicySet::feeding(policies.clone());
    {
        let (client, set) = (client.clone(), set.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = watch_policies(client.clone(), set.clone(), Vec::new()).await {
                    tracing::warn!(error = %e, "ContainerAdmissionPolicy watch ended; restarting");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    let (lead_tx, leading) = watch::channel(!opts.settings.leader_election.enabled);
    if opts.settings.leader_election.enabled {
        let ns = opts
            .settings
            .leader_election
            .namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| "default".into());
        let elector = LeaderElector::new(
            client.clone(),
            &ns,
            &opts.settings.leader_election.lease_name,
            &opts.identity,
            LEASE_DURATION,
        );
        tokio::spawn(elector.run(lead_tx));
    }

    if opts.settings.audit.enabled {
        // Parsed when the settings were loaded; fall back to the default if it was built by hand.
        let every = opts
            .settings
            .audit_interval()
            .unwrap_or(Duration::from_secs(3600));
        let (client, cache, policies, inner) = (
            client.clone(),
            cache.clone(),
            policies.clone(),
            inner.clone(),
        );
        let (config_path, mut leading) = (opts.admission_config.clone(), leading.clone());
        tokio::spawn(async move {
            cache.ready().await;
            loop {
                while !*leading.borrow_and_update() {
                    if leading.changed().await.is_err() {
                        return;
                    }
                }
                run_audit(
                    &client,
                    config_path.as_ref(),
                    inner.as_ref(),
                    &cache,
                    &policies,
                )
                .await;
                tokio::time::sleep(every).await;
            }
        });
    }

    if let Some(sink) = opts.key_secrets.clone() {
        tokio::spawn(crate::key_secrets::run(
            client.clone(),
            opts.admission_config.clone(),
            sink,
        ));
    }

    let owners = crate::owners::ApiOwners::shared(client.clone());
    let wanted = opts.settings.reports || opts.settings.events || opts.learn_credentials.is_some();
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(side_effects(
        client,
        opts.settings,
        opts.identity,
        opts.learn_credentials,
        inner.clone(),
        rx,
    ));
    Integration {
        namespaces: crate::audit::namespace_lookup(cache),
        policies,
        verdicts: Arc::new(KubeVerdicts { inner, tx, wanted }),
        leading,
        owners,
    }
}

async fn run_audit(
    client: &kube::Client,
    config_path: Option<&PathBuf>,
    verdicts: &dyn ImageVerdicts,
    cache: &NamespaceCache,
    policies: &AdmissionPolicies,
) {
    let config = match config_path.map(|p| Config::load(p)).transpose() {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => {
            tracing::error!(error = %e, "audit skipped: the admission configuration is unusable");
            return;
        }
    };
    let caps = policies.current();
    match audit_pods(client, &config, verdicts, Some(cache), Some(&caps)).await {
        Ok(result) => {
            let now = now();
            match write_audit_reports(client, &result, &now).await {
                Ok(n) => tracing::info!(
                    pods = result.pods_checked,
                    would_deny = result.would_deny.len(),
                    reports = n,
                    "audit of running Pods finished"
                ),
                Err(e) => tracing::warn!(error = %e, "writing audit reports failed"),
            }
        }
        Err(e) => tracing::warn!(error = %e, "audit of running Pods failed"),
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn side_effects(
    client: kube::Client,
    settings: KubeSettings,
    identity: String,
    learn: Option<LearnCredentials>,
    verdicts: Arc<dyn ImageVerdicts>,
    mut rx: mpsc::Receiver<Recorded>,
) {
    let events = settings
        .events
        .then(|| DenialEvents::new(client.clone(), Some(identity)));
    let mut budget = crate::budget::NamespaceBudget::new(
        settings.side_effects_per_minute,
        Duration::from_secs(60),
    );
    while let Some(Recorded { review, decision }) = rx.recv().await {
        let ns = review.namespace().to_string();
        if !budget.take(&ns, std::time::Instant::now()) {
            tracing::warn!(namespace = %ns, object = %decision.object, "side effects skipped: the namespace used its budget of {} reviews per minute", settings.side_effects_per_minute);
            continue;
        }
        let req = &review.request;
        let name = req
            .name
            .clone()
            .or_else(|| req.object.as_ref().map(|o| o.metadata.name.clone()))
            .unwrap_or_default();
        let api_version = if req.kind.group.is_empty() {
            req.kind.version.clone()
        } else {
            format!("{}/{}", req.kind.group, req.kind.version)
        };
        if let Some(learn) = &learn
            && settings.pull_secrets.covers(&ns)
            && decision.images.iter().any(|i| i.queued)
        {
            learn_pull_secrets(&client, &ns, &review, &decision, learn.as_ref()).await;
        }
        if let Some(events) = &events
            && !decision.allowed
        {
            let object = ObjectReference {
                api_version: Some(api_version.clone()),
                kind: Some(req.kind.kind.clone()),
                namespace: Some(ns.clone()),
                name: Some(name.clone()),
                ..Default::default()
            };
            let message = decision.message.clone().unwrap_or_default();
            if let Err(e) = events.denied(&object, &message).await {
                tracing::warn!(error = %e, "recording the denial Event failed");
            }
        }
        if settings.reports && !name.is_empty() {
            let states: Vec<(String, Option<String>, ImageState, _)> = decision
                .images
                .iter()
                .map(|i| {
                    let state = parse_image(&i.image)
                        .map(|mut r| {
                            if r.digest.is_none() {
                                r.digest = i.digest.clone();
                            }
                            verdicts.lookup(&r, &i.policy, &ns)
                        })
                        .unwrap_or(ImageState::Unknown);
                    (
                        i.image.clone(),
                        i.digest.clone(),
                        state,
                        i.signature.clone(),
                    )
                })
                .collect();
            let outcomes: Vec<ImageOutcome<'_>> = states
                .iter()
                .map(|(image, digest, state, signature)| ImageOutcome {
                    image,
                    digest: digest.as_deref(),
                    signature: signature.as_ref(),
                    verdict: match state {
                        ImageState::Analyzed { verdict, .. } => verdict.as_deref(),
                        _ => None,
                    },
                })
                .collect();
            let scope = ReportScope {
                api_version,
                kind: req.kind.kind.clone(),
                namespace: Some(ns.clone()),
                name: name.clone(),
                uid: None,
            };
            // build_report names the report and sets its namespace and labels; add what admission knows.
            let mut report = build_report(scope, &outcomes, &now());
            report
                .metadata
                .labels
                .get_or_insert_with(BTreeMap::new)
                .extend([
                    ("portcullis.dev/source".to_string(), "admission".to_string()),
                    (
                        "portcullis.dev/allowed".to_string(),
                        decision.allowed.to_string(),
                    ),
                ]);
            if let Err(e) = apply_report(&client, &report).await {
                tracing::warn!(error = %e, "writing the ImageReport failed");
            }
        }
    }
}

/// Reads the workload's pull secrets (its own, then its ServiceAccount's) and hands them over for each
/// queued image.
async fn learn_pull_secrets(
    client: &kube::Client,
    ns: &str,
    review: &Review,
    decision: &Decision,
    learn: &(dyn Fn(&str, &ImageRef, &[Credential]) + Send + Sync),
) {
    let Some(spec) = review
        .request
        .object
        .as_ref()
        .and_then(|o| o.spec.as_ref())
        .map(|s| s.pod_spec())
    else {
        return;
    };
    let pod_spec = PodSpec {
        image_pull_secrets: Some(
            spec.image_pull_secrets
                .iter()
                .map(|r| LocalObjectReference {
                    name: r.name.clone(),
                })
                .collect(),
        ),
        service_account_name: Some(spec.service_account_name.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    match crate::pullsecrets::pod_pull_credentials(client, ns, &pod_spec).await {
        Ok(found) => {
            for w in &found.warnings {
                tracing::warn!(namespace = ns, "{w}");
            }
            if found.credentials.is_empty() {
                return;
            }
            for i in decision.images.iter().filter(|i| i.queued) {
                if let Ok(r) = parse_image(&i.image) {
                    learn(ns, &r, &found.credentials);
                }
            }
        }
        Err(e) => tracing::warn!(namespace = ns, error = %e, "reading pull secrets failed"),
    }
}
