//! The analysis queue: enqueueing, claiming with leases, finishing, failing with retries, recovery and stats.

use super::*;

impl<D: Db> SqlStore<D> {
    pub(super) fn queue_enqueue(&self, q: &EnqueueRequest) -> Result<Enqueued> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            let existing = c.query("SELECT state FROM queue WHERE digest = $1", &[t(&q.digest)])?;
            let state = existing.first().map(|r| r.text(0)).transpose()?;
            let adds = match state.as_deref() {
                None => true,
                Some("queued") | Some("claimed") => false,
                Some(_) => q.force,
            };
            if adds {
                Self::check_queue_room(c, q)?;
            }
            let outcome = match state.as_deref() {
                None => {
                    c.exec(
                        "INSERT INTO queue (digest, pull, registry, state, attempts, max_attempts, not_before, enqueued_at, updated_at, namespace) \
                         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5, $5, $6)",
                        &[t(&q.digest), t(&q.pull), t(&q.registry), i(q.max_attempts.max(1) as i64), i(now), t(&q.namespace)],
                    )?;
                    Enqueued::Queued
                }
                Some("queued") | Some("claimed") if !q.force => Enqueued::AlreadyQueued,
                Some("claimed") => Enqueued::AlreadyQueued,
                Some(_) if !q.force => Enqueued::AlreadyDone,
                Some(_) => {
                    c.exec(
                        "UPDATE queue SET pull = $2, registry = $3, state = 'queued', attempts = 0, max_attempts = $4, \
                         not_before = $5, claimed_by = NULL, lease_until = NULL, last_error = NULL, enqueued_at = $5, updated_at = $5, \
                         namespace = $6 WHERE digest = $1",
                        &[t(&q.digest), t(&q.pull), t(&q.registry), i(q.max_attempts.max(1) as i64), i(now), t(&q.namespace)],
                    )?;
                    Enqueued::Queued
                }
            };
            if outcome == Enqueued::Queued {
                self.set_status(c, &q.digest, AnalysisStatus::NotAnalyzed, None)?;
            }
            Ok(outcome)
        })
    }

    /// Refuses a new queue entry past the per-namespace and overall bounds of waiting images.
    fn check_queue_room(c: &mut dyn Conn, q: &EnqueueRequest) -> Result<()> {
        let count = |c: &mut dyn Conn, sql: &str, params: &[P]| -> Result<i64> {
            let rows = c.query(sql, params)?;
            Ok(rows.first().map(|r| r.int(0)).transpose()?.unwrap_or(0))
        };
        let ns = count(
            c,
            "SELECT COUNT(*) FROM queue WHERE state = 'queued' AND namespace = $1",
            &[t(&q.namespace)],
        )?;
        if ns >= MAX_QUEUED_PER_NAMESPACE {
            return Err(Error::QueueFull {
                digest: q.digest.clone(),
                scope: format!(" for namespace {:?}", q.namespace),
                waiting: ns,
                limit: MAX_QUEUED_PER_NAMESPACE,
            });
        }
        let all = count(c, "SELECT COUNT(*) FROM queue WHERE state = 'queued'", &[])?;
        if all >= MAX_QUEUED {
            return Err(Error::QueueFull {
                digest: q.digest.clone(),
                scope: String::new(),
                waiting: all,
                limit: MAX_QUEUED,
            });
        }
        Ok(())
    }

    pub(super) fn queue_claim(
        &self,
        worker: &str,
        lease: Duration,
        limits: &RateLimits,
    ) -> Result<Option<Claim>> {
        let sql = format!(
            "UPDATE queue SET state = 'claimed', claimed_by = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE digest = (SELECT digest FROM queue WHERE \
               ((state = 'queued' AND not_before <= $3) OR (state = 'claimed' AND lease_until < $3 AND attempts < max_attempts)) \
               AND registry NOT IN (SELECT registry FROM registry_limits WHERE next_allowed > $3) \
               AND (CAST($4 AS BIGINT) = 0 OR registry NOT IN (SELECT registry FROM queue WHERE state = 'claimed' AND lease_until >= $3 \
                 AND substr(claimed_by, 1, length($5)) = $5 GROUP BY registry HAVING COUNT(*) >= CAST($4 AS BIGINT))) \
               ORDER BY COALESCE((SELECT turn FROM queue_turns WHERE queue_turns.namespace = queue.namespace), 0), \
               not_before, enqueued_at, digest LIMIT 1 {}) \
             RETURNING digest, pull, registry, attempts, namespace",
            self.db.skip_locked()
        );
        self.db.tx(&mut |c| {
            let now = now_ms();
            let rows = c.query(
                &sql,
                &[
                    t(worker),
                    i(now.saturating_add(ms(lease))),
                    i(now),
                    i(i64::from(limits.max_claimed_per_registry)),
                    t(&format!(
                        "{}/",
                        worker
                            .rsplit_once('/')
                            .map_or(worker, |(replica, _)| replica)
                    )),
                ],
            )?;
            let Some(r) = rows.first() else {
                return Ok(None);
            };
            let claim = Claim {
                digest: r.text(0)?,
                pull: r.text(1)?,
                registry: r.text(2)?,
                attempt: u32::try_from(r.int(3)?).unwrap_or(u32::MAX),
                worker: worker.to_string(),
            };
            // The namespace served goes to the back of the line (round-robin across namespaces).
            c.exec(
                "INSERT INTO queue_turns (namespace, turn) VALUES ($1, (SELECT COALESCE(MAX(turn), 0) + 1 FROM queue_turns)) \
                 ON CONFLICT (namespace) DO UPDATE SET turn = excluded.turn",
                &[t(&r.text(4)?)],
            )?;
            let interval = limits.interval(&claim.registry);
            if !interval.is_zero() {
                c.exec(
                    "INSERT INTO registry_limits (registry, next_allowed) VALUES ($1, $2) \
                     ON CONFLICT (registry) DO UPDATE SET next_allowed = excluded.next_allowed",
                    &[t(&claim.registry), i(now.saturating_add(ms(interval)))],
                )?;
            }
            self.set_status(c, &claim.digest, AnalysisStatus::Analyzing, None)?;
            Ok(Some(claim))
        })
    }

    pub(super) fn queue_heartbeat(&self, claim: &Claim, lease: Duration) -> Result<bool> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            Ok(c.exec(
                "UPDATE queue SET lease_until = $3, updated_at = $4 WHERE digest = $1 AND claimed_by = $2 AND state = 'claimed'",
                &[t(&claim.digest), t(&claim.worker), i(now.saturating_add(ms(lease))), i(now)],
            )? == 1)
        })
    }

    pub(super) fn queue_finish_analysis(
        &self,
        claim: &Claim,
        image_id: Option<&str>,
        sbom: &serde_json::Value,
        findings: Option<(&str, &serde_json::Value)>,
    ) -> Result<bool> {
        let sbom_text = js(sbom, "SBOM")?;
        let findings_text = findings
            .map(|(v, r)| Ok::<_, Error>((v.to_string(), js(r, "findings")?)))
            .transpose()?;
        self.db.tx(&mut |c| {
            let now = now_ms();
            let owned = c.exec(
                "UPDATE queue SET state = 'done', claimed_by = NULL, lease_until = NULL, last_error = NULL, updated_at = $3 \
                 WHERE digest = $1 AND claimed_by = $2 AND state = 'claimed'",
                &[t(&claim.digest), t(&claim.worker), i(now)],
            )?;
            if owned != 1 {
                return Ok(false);
            }
            c.exec(
                "INSERT INTO sboms (digest, sbom, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (digest) DO UPDATE SET sbom = excluded.sbom, created_at = excluded.created_at",
                &[t(&claim.digest), sbom_text.clone(), i(now)],
            )?;
            if let Some((version, report)) = &findings_text {
                c.exec(
                    FINDINGS_UPSERT,
                    &[t(&claim.digest), t(version), report.clone(), i(now)],
                )?;
            }
            c.exec(
                "UPDATE images SET status = 'analyzed', error = NULL, image_id = COALESCE($2, image_id), \
                 analyzed_at = $3, updated_at = $3 WHERE digest = $1",
                &[t(&claim.digest), ot(image_id), i(now)],
            )?;
            self.touch(c, &claim.digest)?;
            Ok(true)
        })
    }

    pub(super) fn queue_fail_analysis(
        &self,
        claim: &Claim,
        error: &str,
        permanent: bool,
        retry: &RetryPolicy,
    ) -> Result<FailOutcome> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            let rows = c.query(
                "SELECT attempts, max_attempts FROM queue WHERE digest = $1 AND claimed_by = $2 AND state = 'claimed'",
                &[t(&claim.digest), t(&claim.worker)],
            )?;
            let Some(r) = rows.first() else {
                return Ok(FailOutcome::ClaimLost);
            };
            let (attempts, max) = (r.int(0)?, r.int(1)?);
            if permanent || attempts >= max {
                c.exec(
                    "UPDATE queue SET state = 'failed', claimed_by = NULL, lease_until = NULL, last_error = $2, updated_at = $3 WHERE digest = $1",
                    &[t(&claim.digest), t(error), i(now)],
                )?;
                self.set_status(c, &claim.digest, AnalysisStatus::AnalysisFailed, Some(error))?;
                Ok(FailOutcome::Failed)
            } else {
                let delay = retry.delay(u32::try_from(attempts).unwrap_or(u32::MAX));
                c.exec(
                    "UPDATE queue SET state = 'queued', claimed_by = NULL, lease_until = NULL, last_error = $2, \
                     not_before = $3, updated_at = $4 WHERE digest = $1",
                    &[t(&claim.digest), t(error), i(now.saturating_add(ms(delay))), i(now)],
                )?;
                self.set_status(c, &claim.digest, AnalysisStatus::NotAnalyzed, Some(error))?;
                Ok(FailOutcome::Retrying(delay))
            }
        })
    }

    pub(super) fn queue_recover_stale(&self) -> Result<usize> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            let failed = c.query(
                "UPDATE queue SET state = 'failed', claimed_by = NULL, lease_until = NULL, updated_at = $1, \
                 last_error = 'analysis interrupted ' || CAST(attempts AS TEXT) || ' times (worker lost); giving up' \
                 WHERE state = 'claimed' AND lease_until < $1 AND attempts >= max_attempts RETURNING digest, last_error",
                &[i(now)],
            )?;
            for r in &failed {
                self.set_status(c, &r.text(0)?, AnalysisStatus::AnalysisFailed, r.opt_text(1)?.as_deref())?;
            }
            let requeued = c.query(
                "UPDATE queue SET state = 'queued', claimed_by = NULL, lease_until = NULL, updated_at = $1, \
                 last_error = 'worker lost during analysis; requeued' \
                 WHERE state = 'claimed' AND lease_until < $1 RETURNING digest",
                &[i(now)],
            )?;
            for r in &requeued {
                self.set_status(c, &r.text(0)?, AnalysisStatus::NotAnalyzed, None)?;
            }
            Ok(failed.len() + requeued.len())
        })
    }

    pub(super) fn queue_counts(&self) -> Result<QueueStats> {
        self.db.tx(&mut |c| {
            let mut s = QueueStats::default();
            for r in c.query("SELECT state, COUNT(*) FROM queue GROUP BY state", &[])? {
                let n = r.int(1)?;
                match r.text(0)?.as_str() {
                    "queued" => s.queued = n,
                    "claimed" => s.claimed = n,
                    "done" => s.done = n,
                    "failed" => s.failed = n,
                    other => return Err(Error::Corrupt(format!("queue state {other:?}"))),
                }
            }
            Ok(s)
        })
    }
}
