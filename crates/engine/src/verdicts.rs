//! The engine as admission's verdict source: [`EngineVerdicts`] implements
//! [`portcullis_admission::ImageVerdicts`] from an in-memory snapshot of the store that a background task
//! refreshes; every trait method answers from memory, never blocking a webhook request on the database.
//! Verdicts are evaluated ahead of time for every analysed image, each of its tags and each policy admission
//! has asked for; enqueue requests are handed to the background task.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use portcullis_admission::{Decision, ImageState, ImageVerdicts, Outcome, Review};
use portcullis_image::ImageRef;
use portcullis_store::{AnalysisStatus, NewDecision, PolicyRecord};
use tokio::sync::{mpsc, watch};

use crate::engine::{Engine, blocking};

mod dispatch;
mod snapshot;

pub use snapshot::RefreshStats;
use snapshot::Snapshot;

/// Most images kept for a retry of their queueing while the store is unavailable.
const MAX_PENDING: usize = 10_000;
/// Tries to queue an image when the failure is not the store's (registry unreachable, credentials missing).
const ENQUEUE_ATTEMPTS: u32 = 5;
/// Images handed over by admission and not yet taken by the queueing task (more are dropped, with a warning).
const QUEUE_BOUND: usize = 4096;
/// Most images one namespace may have waiting to be queued (its fair share of [`MAX_PENDING`]).
const MAX_PENDING_PER_NAMESPACE: usize = 1000;
/// Delay before the first retry of a failed queueing; doubled after each further failure.
const ENQUEUE_RETRY: Duration = Duration::from_secs(2);
/// How often unwritten audit records are retried.
const AUDIT_RETRY: Duration = Duration::from_secs(2);

/// An image admission handed over: pull string, requestor, and the namespace whose credentials may be used.
pub(super) type Queued = (String, String, String);

/// Admission's verdict source over the engine.
pub struct EngineVerdicts {
    engine: Arc<Engine>,
    snap: RwLock<Snapshot>,
    wanted_policies: Mutex<HashSet<String>>,
    wanted_tags: Mutex<HashSet<(String, String)>>,
    /// (digest, tag) resolutions reported by the webhook that the snapshot does not hold yet; recorded in the
    /// store by the next refresh.
    resolutions: Mutex<HashSet<(String, String)>>,
    queue: mpsc::Sender<Queued>,
    audit: mpsc::UnboundedSender<NewDecision>,
    ready: AtomicBool,
    /// Policies admission's configuration uses: not ready until the snapshot holds verdicts for them.
    prepared: Mutex<HashSet<String>>,
    /// The last refresh failed (store down): readiness does not wait for verdicts it cannot compute.
    refresh_failing: AtomicBool,
    /// Wakes the refresh task before its interval (new policies prepared).
    wake: tokio::sync::Notify,
    /// Signature verification facts (admission's `verify` requirements).
    sigs: Arc<crate::signatures::SignatureCache>,
    /// The verification task's queue; `None` without a verifier.
    verify: Option<mpsc::Sender<crate::signatures::VerifyJob>>,
}

/// The audit-trail record of one admission decision: who, what object, images and digests, the strictest
/// mode, the verdict summary (`skipped`, `pass`, `warn`, `fail`, `unknown`) and the reasons given.
pub fn audit_record(review: &Review, d: &Decision) -> NewDecision {
    let req = &review.request;
    let verdict = if d.skipped.is_some() {
        "skipped"
    } else if d.images.iter().any(|i| i.outcome == Outcome::Failed) {
        "fail"
    } else if d.images.iter().any(|i| {
        matches!(
            i.outcome,
            Outcome::NotAnalysed
                | Outcome::Analysing
                | Outcome::NotEvaluated
                | Outcome::AnalysisFailed(_)
                | Outcome::NotFound
        )
    }) {
        "unknown"
    } else if d.images.iter().any(|i| i.outcome == Outcome::Warned) {
        "warn"
    } else {
        "pass"
    };
    let mut reasons: Vec<String> = d.message.iter().cloned().collect();
    if let Some(signers) = d.audit_annotations.get("signers") {
        reasons.push(format!("signers: {signers}"));
    }
    reasons.extend(d.images.iter().filter_map(|i| i.explanation.clone()));
    reasons.extend(d.warnings.iter().cloned());
    // The user name is what the request body says; only a caller authenticated by client certificate (the API
    // server) vouches for it.
    let who = match d.audit_annotations.get("caller").map(String::as_str) {
        Some("unauthenticated") => format!("{} (unauthenticated caller)", req.user_info.username),
        _ => req.user_info.username.clone(),
    };
    NewDecision {
        who,
        operation: req.operation.as_str().to_string(),
        kind: req.kind.kind.clone(),
        namespace: review.namespace().to_string(),
        name: d.object.rsplit('/').next().unwrap_or_default().to_string(),
        uid: d.uid.clone(),
        images: d.images.iter().map(|i| i.image.clone()).collect(),
        digests: d
            .images
            .iter()
            .map(|i| i.digest.clone().unwrap_or_default())
            .collect(),
        mode: d.mode.map(|m| m.as_str()).unwrap_or("none").to_string(),
        allowed: d.allowed,
        verdict: verdict.to_string(),
        reasons,
    }
}

impl EngineVerdicts {
    /// Starts the source and its refresh task (every `refresh`) on the current tokio runtime; the task stops
    /// when `shutdown` turns true. The policy `default` means the account's active bundle unless a bundle
    /// has that id or name.
    pub fn start(
        engine: Arc<Engine>,
        refresh: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) -> Arc<EngineVerdicts> {
        let (tx, rx) = mpsc::channel::<Queued>(QUEUE_BOUND);
        let (audit_tx, mut audit_rx) = mpsc::unbounded_channel::<NewDecision>();
        let sigs = engine.signature_cache().clone();
        let verify = engine
            .verifier()
            .map(|v| sigs.start(v, engine.store().clone(), shutdown.clone()));
        let me = Arc::new(EngineVerdicts {
            engine,
            snap: RwLock::new(Snapshot::default()),
            wanted_policies: Mutex::new(["default".to_string()].into_iter().collect()),
            wanted_tags: Mutex::new(HashSet::new()),
            resolutions: Mutex::new(HashSet::new()),
            queue: tx,
            audit: audit_tx,
            ready: AtomicBool::new(false),
            prepared: Mutex::new(HashSet::new()),
            refresh_failing: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            sigs,
            verify,
        });
        let store = me.engine.store().clone();
        tokio::spawn(async move {
            // Decisions not yet written (store unavailable), oldest first; written in order once it is back.
            let mut backlog: std::collections::VecDeque<NewDecision> = Default::default();
            let mut tick = tokio::time::interval(AUDIT_RETRY);
            loop {
                tokio::select! {
                    d = audit_rx.recv() => match d {
                        Some(d) => backlog.push_back(d),
                        None => break,
                    },
                    _ = tick.tick() => {}
                }
                while let Some(d) = backlog.pop_front() {
                    let s = store.clone();
                    let written = tokio::task::spawn_blocking(move || {
                        let r = s.append_decision(&d);
                        (r, d)
                    })
                    .await;
                    let (res, d) = match written {
                        Ok(x) => x,
                        Err(e) => {
                            tracing::error!(error = %e, "recording an admission decision panicked");
                            continue;
                        }
                    };
                    if let Err(e) = res {
                        if backlog.len() >= MAX_PENDING {
                            tracing::error!(error = %e, "audit backlog full; dropping the oldest decision");
                            backlog.pop_front();
                        } else {
                            tracing::warn!(error = %e, backlog = backlog.len() + 1, "recording an admission decision failed; will retry");
                        }
                        backlog.push_front(d);
                        break;
                    }
                }
            }
        });
        let this = me.clone();
        let sd = shutdown.clone();
        tokio::spawn(async move { this.dispatch(rx, sd).await });
        // The snapshot refreshes on its own timer, whatever the queue is doing.
        let this = me.clone();
        tokio::spawn(async move {
            let mut refresh_failures: u64 = 0;
            loop {
                let t = this.clone();
                let refreshed = blocking(move || t.refresh()).await;
                this.refresh_failing
                    .store(refreshed.is_err(), Ordering::SeqCst);
                match refreshed {
                    Ok(()) if refresh_failures > 0 => {
                        tracing::info!(
                            refresh_failures,
                            "refreshing admission verdicts works again"
                        );
                        refresh_failures = 0;
                    }
                    Ok(()) => {}
                    Err(e) => {
                        if refresh_failures == 0 {
                            tracing::error!(error = %e, "refreshing admission verdicts failed; answering from the cached snapshot");
                        }
                        refresh_failures += 1;
                    }
                }
                // Ready once the first refresh was tried: with the store down, admission still answers (from
                // an empty cache, by each mode's unknown-image rule) rather than leaving the webhook without
                // endpoints.
                this.ready.store(true, Ordering::SeqCst);
                tokio::select! {
                    _ = tokio::time::sleep(refresh) => {}
                    _ = this.wake.notified() => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    break;
                }
            }
        });
        me
    }

    /// True when the snapshot holds verdicts for every one of `policies` (or the store cannot be read, so
    /// there is nothing more to wait for).
    fn holds(&self, policies: impl IntoIterator<Item = String>) -> bool {
        if self.refresh_failing.load(Ordering::SeqCst) {
            return true;
        }
        let snap = self.current();
        policies.into_iter().all(|p| snap.computed_for.contains(&p))
    }

    fn current(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.snap.read().unwrap_or_else(|p| p.into_inner())
    }

    fn resolve_policy(policies: &[PolicyRecord], name: &str) -> Option<PolicyRecord> {
        policies
            .iter()
            .find(|p| p.id == name)
            .or_else(|| policies.iter().find(|p| p.name.as_deref() == Some(name)))
            .or_else(|| {
                (name == "default")
                    .then(|| policies.iter().find(|p| p.active))
                    .flatten()
            })
            .cloned()
    }

    /// Brings the snapshot up to date with the store (incrementally), evaluating verdicts that are missing or
    /// out of date.
    fn refresh(&self) -> crate::Result<()> {
        // Facts first: verdicts of digests whose facts changed are evaluated again by this refresh.
        self.sigs.reload(self.engine.store().as_ref())?;
        self.refresh_snapshot()?;
        Ok(())
    }

    /// Appends a decision to the audit trail in the background (never blocks the webhook).
    pub fn record(&self, review: &Review, decision: &Decision) {
        if self.audit.send(audit_record(review, decision)).is_err() {
            tracing::error!(uid = %decision.uid, "audit trail writer stopped; decision not recorded");
        }
    }

    /// Refreshes the snapshot now (blocking; tests and start-up); says what it read and evaluated.
    pub fn refresh_now(&self) -> crate::Result<RefreshStats> {
        self.refresh_snapshot()
    }

    /// Queues a background check of `namespace`'s access to `digest` (its fact went stale).
    fn recheck(&self, image: &ImageRef, digest: &str, namespace: &str) {
        let pinned = format!("{}/{}@{digest}", image.registry, image.repository);
        let item = (pinned, String::new(), namespace.to_string());
        if self.queue.try_send(item).is_err() {
            tracing::warn!(image = %image, "admission's analysis queue is full or stopped; access not re-checked");
        }
    }
}

impl ImageVerdicts for EngineVerdicts {
    fn signatures(
        &self,
        digest: &str,
        verify: &portcullis_admission::config::VerifySpec,
    ) -> Option<Arc<portcullis_verify::SignatureFacts>> {
        self.sigs.get(digest, verify)
    }

    fn enqueue_verification(
        &self,
        image: &ImageRef,
        verify: &portcullis_admission::config::VerifySpec,
        _namespace: &str,
    ) {
        self.engine.note_sbom_attestation(image, verify);
        if !self.sigs.needs_verification(image, verify) {
            return;
        }
        match &self.verify {
            Some(tx) => self.sigs.request(
                tx,
                crate::signatures::VerifyJob {
                    image: image.clone(),
                    spec: verify.clone(),
                },
            ),
            None => {
                tracing::warn!(image = %image, "no signature verifier configured; `verify` requirements are never met")
            }
        }
    }

    fn readiness_detail(&self) -> Vec<String> {
        self.engine.vuln_data_summary()
    }

    fn record(&self, review: &Review, decision: &Decision) {
        // The inherent method: hands the record to the audit writer task.
        EngineVerdicts::record(self, review, decision)
    }

    fn lookup(&self, image: &ImageRef, policy: &str, namespace: &str) -> ImageState {
        let snap = self.current();
        let digest = image
            .digest
            .clone()
            .or_else(|| snap.digest_of(&image.tag_key()).cloned());
        let Some(digest) = digest else {
            return ImageState::Unknown;
        };
        let Some(entry) = snap.images.get(&digest) else {
            return ImageState::Unknown;
        };
        match entry.status {
            AnalysisStatus::NotAnalyzed | AnalysisStatus::Analyzing => ImageState::Analyzing,
            AnalysisStatus::AnalysisFailed => ImageState::Failed(
                entry
                    .error
                    .clone()
                    .unwrap_or_else(|| "analysis failed".into()),
            ),
            AnalysisStatus::Analyzed => {
                // Analysed with another namespace's pull secret: not this namespace's to know until its own
                // access (or the shared one) is seen to pull it; the check runs in the background.
                match self.engine.access().allows(&digest, namespace) {
                    crate::access::Allowed::Yes => {}
                    crate::access::Allowed::Stale => {
                        if self.engine.access().should_recheck(&digest, namespace) {
                            self.recheck(image, &digest, namespace)
                        }
                    }
                    crate::access::Allowed::No => return ImageState::Unknown,
                }
                let tag = if image.tag.is_some() {
                    Some(image.tag_key())
                } else {
                    // Pinned by digest alone: a tag it is known by, else the pinned reference itself (an image
                    // stored without any tag is given that one by the next refresh, then evaluated).
                    entry.tags.first().cloned().or_else(|| {
                        Some(format!("{}/{}@{digest}", image.registry, image.repository))
                    })
                };
                let verdict = tag.as_ref().and_then(|t| {
                    snap.verdicts
                        .get(&(digest.clone(), t.clone(), policy.to_string()))
                        .map(|(_, _, v)| v.clone())
                });
                if verdict.is_none() {
                    self.wanted_policies
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(policy.to_string());
                    if let Some(t) = tag
                        && !entry.tags.contains(&t)
                    {
                        self.wanted_tags
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert((digest.clone(), t));
                    }
                }
                ImageState::Analyzed {
                    digest,
                    verdict,
                    findings: entry.findings.clone(),
                    analysed_at: entry.analysed_at,
                }
            }
        }
    }

    fn enqueue(&self, image: &ImageRef, requestor: &str, namespace: &str) {
        match self.queue.try_send((
            image.to_string(),
            requestor.to_string(),
            namespace.to_string(),
        )) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(image = %image, bound = QUEUE_BOUND, "admission's analysis queue is full; image not queued (a later review queues it)")
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::warn!(image = %image, "admission verdict source stopped; image not queued")
            }
        }
    }

    fn resolved(&self, image: &ImageRef, digest: &str) {
        if image.digest.is_some() || !crate::is_digest(digest) {
            return;
        }
        let tag = image.tag_key();
        if self.current().digest_of(&tag).map(String::as_str) == Some(digest) {
            return;
        }
        let mut pending = self.resolutions.lock().unwrap_or_else(|p| p.into_inner());
        if pending.len() < MAX_PENDING {
            pending.insert((digest.to_string(), tag));
        }
    }

    fn resolve_cached(&self, image: &ImageRef) -> Option<String> {
        if image.digest.is_some() {
            return image.digest.clone();
        }
        self.current().digest_of(&image.tag_key()).cloned()
    }

    fn ready(&self) -> bool {
        if !self.ready.load(Ordering::SeqCst) {
            return false;
        }
        let prepared: Vec<String> = self
            .prepared
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        self.holds(prepared)
    }

    fn prepare_policies(&self, policies: &[String]) {
        let mut added = false;
        {
            let mut wanted = self
                .wanted_policies
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for p in policies {
                added |= wanted.insert(p.clone());
            }
        }
        *self.prepared.lock().unwrap_or_else(|p| p.into_inner()) =
            policies.iter().cloned().collect();
        if added {
            self.wake.notify_one();
        }
    }

    fn policies_ready(&self, policies: &[String]) -> bool {
        self.ready.load(Ordering::SeqCst) && self.holds(policies.iter().cloned())
    }

    fn policy_problem(&self, policy: &str) -> Option<String> {
        let snap = self.current();
        // Never read (store down since the start): the store is the problem, and each mode's unknown-image
        // rule answers meanwhile.
        let policies = snap.policies.as_ref()?;
        let found = policies
            .iter()
            .any(|(id, name, _)| id == policy || name.as_deref() == Some(policy))
            || (policy == "default" && policies.iter().any(|(_, _, active)| *active));
        if found {
            return None;
        }
        let known: Vec<&str> = policies.iter().map(|(id, _, _)| id.as_str()).collect();
        Some(if policy == "default" {
            format!(
                "no policy bundle is active (stored: {}): activate one (`portcullis policy activate ID`, \
                 `serve --active-bundle ID`)",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        } else {
            format!(
                "no policy bundle has id or name {policy:?} (stored: {}): add it (`serve --policy-bundle FILE`, \
                 `portcullis policy add`) or change the admission configuration",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_records_say_when_the_user_name_is_unvouched() {
        let review = Review::parse(
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","namespace":"shop","userInfo":{"username":"alice"},"kind":{"group":"","version":"v1","kind":"ConfigMap"},"resource":{"group":"","version":"v1","resource":"configmaps"}}}"#,
        )
        .unwrap();
        let mut d = portcullis_admission::decide(
            &review,
            &portcullis_admission::Config::default(),
            &portcullis_admission::MemoryVerdicts::new(),
            &portcullis_admission::Context::new(portcullis_admission::Endpoint::Validate),
        );
        assert_eq!(
            audit_record(&review, &d).who,
            "alice",
            "not through the server"
        );
        d.audit_annotations
            .insert("caller".into(), "unauthenticated".into());
        assert_eq!(
            audit_record(&review, &d).who,
            "alice (unauthenticated caller)"
        );
        d.audit_annotations
            .insert("caller".into(), "authenticated".into());
        assert_eq!(audit_record(&review, &d).who, "alice");
    }
}
