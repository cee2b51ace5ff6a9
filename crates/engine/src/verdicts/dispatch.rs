//! Admission's queueing task: images admission hands over are resolved and queued concurrently — a bounded
//! number at once, a bounded number per registry, taken round-robin across namespaces — so a registry that
//! does not answer delays no other registry's images, and one namespace cannot starve another. Resolution
//! itself goes through the engine's [`crate::resolve::ResolvePool`] (deadline, per-registry circuit breaker).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use super::{
    ENQUEUE_ATTEMPTS, ENQUEUE_RETRY, EngineVerdicts, MAX_PENDING, MAX_PENDING_PER_NAMESPACE,
};
use crate::EngineError;
use crate::fair::FairQueue;

/// Longest delay between two tries to queue one image.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// One image to queue.
struct Job {
    pull: String,
    requestor: String,
    registry: String,
    attempts: u32,
}

fn retry_delay(attempts: u32) -> Duration {
    ENQUEUE_RETRY
        .saturating_mul(1u32.checked_shl(attempts.min(16)).unwrap_or(u32::MAX))
        .min(MAX_RETRY_DELAY)
}

impl EngineVerdicts {
    /// Runs until `rx` closes or `shutdown` turns true.
    pub(super) async fn dispatch(
        self: Arc<Self>,
        mut rx: mpsc::Receiver<super::Queued>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let cfg = *self.engine.resolve_pool().config();
        let (concurrency, per_registry) = (cfg.concurrency.max(1), cfg.per_registry.max(1));
        let mut queue: FairQueue<Job> = FairQueue::new(MAX_PENDING, MAX_PENDING_PER_NAMESPACE);
        // (namespace, pull string) queued here or being queued now (deduplication).
        let mut known: HashSet<(String, String)> = HashSet::new();
        let mut running: HashMap<String, usize> = HashMap::new();
        let mut total = 0usize;
        type Done = (String, Job, Result<(), EngineError>);
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        loop {
            let now = Instant::now();
            while total < concurrency {
                let Some((ns, job)) = queue.pop(now, |j| {
                    running.get(&j.registry).copied().unwrap_or(0) < per_registry
                }) else {
                    break;
                };
                *running.entry(job.registry.clone()).or_default() += 1;
                total += 1;
                let (this, done) = (self.clone(), done_tx.clone());
                tokio::spawn(async move {
                    // An access re-check has no requestor: the image's annotations stay as they are.
                    let ann = [("requestor".to_string(), job.requestor.clone())]
                        .into_iter()
                        .filter(|(_, r)| !r.is_empty())
                        .collect();
                    let namespace = (!ns.is_empty()).then_some(ns.as_str());
                    let r = this
                        .engine
                        .add_image_for(&job.pull, ann, false, namespace)
                        .await;
                    let _ = done.send((ns, job, r.map(|_| ())));
                });
            }
            let wake = queue.next_due(now).map(tokio::time::Instant::from_std);
            tokio::select! {
                m = rx.recv() => match m {
                    Some((pull, requestor, ns)) => {
                        if known.contains(&(ns.clone(), pull.clone())) {
                            continue;
                        }
                        let registry = portcullis_image::ImageRef::parse(&pull)
                            .map(|r| r.registry)
                            .unwrap_or_default();
                        let job = Job { pull: pull.clone(), requestor, registry, attempts: 0 };
                        match queue.push(&ns, job, now) {
                            Ok(()) => {
                                known.insert((ns, pull));
                            }
                            Err((why, _)) => tracing::warn!(image = %pull, namespace = %ns, reason = ?why,
                                "admission's analysis queue is full (for this namespace); image not queued (a later review queues it)"),
                        }
                    }
                    None => break,
                },
                Some((ns, mut job, result)) = done_rx.recv() => {
                    total -= 1;
                    if let Some(n) = running.get_mut(&job.registry) {
                        *n -= 1;
                        if *n == 0 {
                            running.remove(&job.registry);
                        }
                    }
                    let retry = match result {
                        Ok(()) => false,
                        Err(EngineError::Store(e)) => {
                            tracing::warn!(image = %job.pull, error = %e, "queueing an image for admission failed; will retry");
                            true
                        }
                        Err(e) if job.attempts + 1 < ENQUEUE_ATTEMPTS => {
                            job.attempts += 1;
                            tracing::info!(image = %job.pull, error = %e, attempt = job.attempts, "queueing an image for admission failed; will retry");
                            true
                        }
                        Err(e) => {
                            tracing::warn!(image = %job.pull, error = %e, "queueing an image for admission failed");
                            false
                        }
                    };
                    if !retry {
                        known.remove(&(ns.clone(), job.pull.clone()));
                        continue;
                    }
                    let due = Instant::now() + retry_delay(job.attempts);
                    if let Err((why, job)) = queue.push(&ns, job, due) {
                        tracing::warn!(image = %job.pull, reason = ?why, "admission's analysis queue is full; retry dropped");
                        known.remove(&(ns.clone(), job.pull.clone()));
                    }
                }
                _ = async {
                    match wake {
                        Some(w) => tokio::time::sleep_until(w).await,
                        None => std::future::pending().await,
                    }
                } => {}
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_bound() {
        assert_eq!(retry_delay(0), Duration::from_secs(2));
        assert_eq!(retry_delay(40), MAX_RETRY_DELAY);
    }
}
