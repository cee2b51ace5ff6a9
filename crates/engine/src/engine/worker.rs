//! The analysis workers: each claims a queued image, pulls and analyses it through the [`crate::stages::Analyser`] stage,
//! matches and evaluates it, and records the outcome (retrying transient failures with backoff); a recovery
//! loop returns claims whose worker stopped heartbeating.

use std::sync::Arc;
use std::time::Duration;

use portcullis_store::FailOutcome;
use tokio::sync::watch;

use super::{Engine, EngineError, blocking};
use crate::stages::StageError;

impl Engine {
    /// Starts this replica's analysis workers (bounded by `config.workers`) and the stale-claim recovery loop;
    /// they stop when `shutdown` turns true.
    pub fn spawn_workers(
        self: &Arc<Self>,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        for n in 0..self.config.workers.max(1) {
            let this = self.clone();
            let sd = shutdown.clone();
            handles.push(tokio::spawn(async move { this.worker_loop(n, sd).await }));
        }
        let this = self.clone();
        let mut sd = shutdown;
        handles.push(tokio::spawn(async move {
            loop {
                let s = this.store.clone();
                match blocking(move || Ok(s.recover_stale()?)).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(n, "recovered stale analysis claims"),
                    Err(e) => tracing::error!(error = %e, "stale-claim recovery failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(this.config.lease) => {}
                    _ = sd.changed() => {}
                }
                if *sd.borrow() {
                    break;
                }
            }
        }));
        handles
    }

    async fn worker_loop(self: Arc<Self>, n: usize, mut shutdown: watch::Receiver<bool>) {
        let worker = format!("{}/{n}", self.config.replica_id);
        // Consecutive failed claims: logged once, then retried with a growing pause (store down).
        let mut failures: u32 = 0;
        while !*shutdown.borrow() {
            let (s, w, lease, limits) = (
                self.store.clone(),
                worker.clone(),
                self.config.lease,
                self.config.rate_limits.clone(),
            );
            let claim = blocking(move || Ok(s.claim(&w, lease, &limits)?)).await;
            if claim.is_ok() && failures > 0 {
                tracing::info!(
                    worker,
                    failures,
                    "claiming from the analysis queue works again"
                );
                failures = 0;
            }
            match claim {
                Ok(Some(c)) => self.process(c).await,
                Ok(None) => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    if failures == 0 {
                        tracing::error!(worker, error = %e, "claiming from the analysis queue failed; retrying with backoff");
                    } else {
                        tracing::debug!(worker, error = %e, "claiming from the analysis queue failed again");
                    }
                    failures = failures.saturating_add(1);
                    let pause = (self.config.poll * 2u32.saturating_pow(failures.min(6)))
                        .min(Duration::from_secs(30));
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = shutdown.changed() => {}
                    }
                }
            }
        }
    }

    async fn process(self: &Arc<Self>, claim: portcullis_store::Claim) {
        let hb = {
            let (s, c, lease, every) = (
                self.store.clone(),
                claim.clone(),
                self.config.lease,
                self.config.heartbeat,
            );
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let (s2, c2) = (s.clone(), c.clone());
                    match blocking(move || Ok(s2.heartbeat(&c2, lease)?)).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(digest = %c.digest, "analysis claim lost");
                            break;
                        }
                        Err(e) => tracing::error!(error = %e, "heartbeat failed"),
                    }
                }
            })
        };
        let started = std::time::Instant::now();
        let result = self.analyse_claim(&claim).await;
        hb.abort();
        self.metrics.analysed(result.is_ok(), started.elapsed());
        let s = self.store.clone();
        let retry = self.config.retry;
        let digest = claim.digest.clone();
        let outcome = match result {
            Ok(()) => Ok(()),
            Err(e) => blocking(move || {
                let o = s.fail_analysis(&claim, &e.message, e.permanent, &retry)?;
                match o {
                    FailOutcome::Retrying(d) => {
                        tracing::warn!(digest = %claim.digest, error = %e.message, retry_in = ?d, "analysis failed; will retry")
                    }
                    FailOutcome::Failed => {
                        tracing::error!(digest = %claim.digest, error = %e.message, "analysis failed")
                    }
                    FailOutcome::ClaimLost => {}
                }
                Ok(())
            })
            .await,
        };
        if let Err(e) = outcome {
            tracing::error!(digest = %digest, error = %e, "recording the analysis outcome failed");
        }
    }

    async fn analyse_claim(
        self: &Arc<Self>,
        claim: &portcullis_store::Claim,
    ) -> Result<(), StageError> {
        let reference = portcullis_image::ImageRef::parse(&claim.pull)
            .map_err(|e| StageError::permanent(format!("image reference {:?}: {e}", claim.pull)))?;
        let requestors = self.access.requestors(&claim.digest);
        // The pull's outcome counts towards the registry's breaker (its tag lookups fail at once while it is
        // open); how many workers one registry may hold is the queue's `max_claimed_per_registry`.
        let sbom_started = std::time::Instant::now();
        let attested = self.attested_analysis(&claim.digest, &reference).await;
        let sbom_source = attested
            .as_ref()
            .map_or_else(|| "layers".to_string(), |a| a.1.clone());
        let pulled = match attested {
            Some((a, _)) => Ok(a),
            None => self.stages.analyser.analyse(&reference, &requestors).await,
        };
        let analysis = match pulled {
            Ok(a) => {
                self.resolve.report(&reference.registry, Ok(()));
                a
            }
            Err(e) => {
                if e.unreachable {
                    self.resolve.report(&reference.registry, Err(&e.message));
                }
                return Err(e);
            }
        };
        tracing::info!(digest = %claim.digest, sbom_source = %sbom_source, sbom_ms = sbom_started.elapsed().as_millis() as u64, "image SBOM obtained");
        let pulled_with = analysis.pulled_with.clone();
        // True whatever happens to the claim, and known before the image shows as analysed, so admission never
        // sees the analysis without knowing whose access pulled it.
        self.remember_access(&claim.digest, pulled_with.clone())
            .await;
        let this = self.clone();
        let digest = claim.digest.clone();
        let claim = claim.clone();
        if !analysis.platforms.is_empty() {
            // Each platform manifest is pulled with the same namespaces' credentials as its index.
            for p in &analysis.platforms {
                for ns in &requestors {
                    self.access.requested(p.digest.as_str(), ns);
                }
            }
            blocking(move || this.finish_index(&claim, &reference, &analysis))
                .await
                .map_err(|e| StageError::transient(e.to_string()))?;
            self.access.done(&digest);
            return Ok(());
        }
        let finished = blocking(move || {
            let report = match &this.stages.matcher {
                Some(m) => Some(m.match_sbom(&analysis.sbom).map_err(|e| EngineError::Upstream(e.message))?),
                None => None,
            };
            let sbom_doc = serde_json::to_value(&analysis.sbom)
                .map_err(|e| EngineError::BadRequest(format!("SBOM not serialisable: {e}")))?;
            let report_doc = report
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| EngineError::BadRequest(format!("findings not serialisable: {e}")))?;
            let findings = match (&report, &report_doc) {
                (Some(r), Some(d)) => Some((r.db_version.as_str(), d)),
                _ => None,
            };
            if !this
                .store
                .finish_analysis(&claim, analysis.image_id.as_deref(), &sbom_doc, findings)?
            {
                tracing::warn!(digest = %claim.digest, "claim was taken over before the analysis finished; result dropped");
                return Ok(false);
            }
            let source = [(super::SBOM_SOURCE_ANNOTATION.to_string(), sbom_source)].into();
            this.store.upsert_image(&claim.digest, None, &source)?;
            this.invalidate(&claim.digest);
            // A platform manifest of an index: the index's verdict changes with it.
            if let Some(parent) = this
                .store
                .get_image(&claim.digest)?
                .and_then(|i| i.annotations.get(super::INDEX_ANNOTATION).cloned())
            {
                this.invalidate(&parent);
            }
            // Evaluate against the active bundle now so the admission path finds a stored verdict.
            if let (Some(report), Some(bundle)) =
                (&report, this.store.active_policy(&this.config.account)?)
            {
                let (_, errors) = this.evaluate_tags(&claim.digest, &analysis.sbom, report, &bundle)?;
                for e in errors {
                    tracing::warn!(error = %e, "evaluation failed");
                }
            }
            Ok(true)
        })
        .await
        .map_err(|e| StageError::transient(e.to_string()))?;
        if finished {
            self.access.done(&digest);
            // Pulled with a namespace's secret: whether everyone may pull it too is one HEAD away.
            if pulled_with != crate::stages::Access::Shared {
                match self.stages.resolver.access(&reference, None).await {
                    Ok(Some(a)) => self.remember_access(&digest, a).await,
                    Ok(None) => {}
                    Err(e) => {
                        tracing::debug!(digest = %digest, error = %e, "checking shared access failed")
                    }
                }
            }
        }
        Ok(())
    }

    /// The analysis a verified SBOM attestation gives the image, with where it came from, when admission's
    /// `verify` block for it says `sbomFromAttestation` and a signer it trusts attested one; else `None` (its
    /// layers are analysed).
    async fn attested_analysis(
        &self,
        digest: &str,
        reference: &portcullis_image::ImageRef,
    ) -> Option<(crate::stages::Analysis, String)> {
        let spec = self.sbom_attestation_spec(digest, reference)?;
        let verifier = self.stages.verifier.clone()?;
        let pinned = reference.with_digest(digest);
        match verifier.attested_sbom(&pinned, &spec).await {
            Ok(Some(a)) => {
                tracing::info!(digest = %digest, source = %a.source, "analysis from an attested SBOM; layers not pulled");
                Some((
                    crate::stages::Analysis {
                        image_id: a.sbom.metadata.image_id.clone(),
                        sbom: a.sbom,
                        platforms: Vec::new(),
                        pulled_with: crate::stages::Access::Shared,
                    },
                    a.source,
                ))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(digest = %digest, error = %e, "looking for an SBOM attestation failed; analysing the layers");
                None
            }
        }
    }

    /// Finishes the analysis of a multi-platform index: records its selected platform manifests (on the index
    /// and on each manifest, with its platform) and queues each of them as its own image. The index's verdict
    /// is then the worst of theirs ([`Engine::check`]).
    fn finish_index(
        &self,
        claim: &portcullis_store::Claim,
        reference: &portcullis_image::ImageRef,
        analysis: &crate::stages::Analysis,
    ) -> Result<(), EngineError> {
        let listed: Vec<String> = analysis
            .platforms
            .iter()
            .map(|p| format!("{}={}", p.platform, p.digest))
            .collect();
        let index_annotations = std::collections::BTreeMap::from([(
            super::PLATFORMS_ANNOTATION.to_string(),
            listed.join(","),
        )]);
        self.store
            .upsert_image(&claim.digest, None, &index_annotations)?;
        for p in &analysis.platforms {
            let digest = p.digest.as_str().to_string();
            let annotations = std::collections::BTreeMap::from([
                (super::INDEX_ANNOTATION.to_string(), claim.digest.clone()),
                (super::PLATFORM_ANNOTATION.to_string(), p.platform.clone()),
            ]);
            self.store.upsert_image(&digest, None, &annotations)?;
            self.store.enqueue(&portcullis_store::EnqueueRequest {
                digest: digest.clone(),
                pull: format!("{}/{}@{digest}", reference.registry, reference.repository),
                registry: claim.registry.clone(),
                force: false,
                max_attempts: self.config.max_attempts,
                // The platforms share the index's place in the fair queue (no namespace is known here).
                namespace: String::new(),
            })?;
        }
        let sbom_doc = serde_json::to_value(&analysis.sbom)
            .map_err(|e| EngineError::BadRequest(format!("SBOM not serialisable: {e}")))?;
        if !self.store.finish_analysis(claim, None, &sbom_doc, None)? {
            tracing::warn!(digest = %claim.digest, "claim was taken over before the analysis finished; result dropped");
        }
        self.invalidate(&claim.digest);
        Ok(())
    }
}
