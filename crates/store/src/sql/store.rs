//! The [`Store`] trait over any [`Db`] backend: images, SBOMs and findings, policies, evaluations, the
//! decision log, feeds; the queue operations delegate to `queue.rs`.

use super::*;

impl<D: Db> Store for SqlStore<D> {
    fn backend(&self) -> Backend {
        self.db.backend()
    }

    fn schema_version(&self) -> Result<i64> {
        self.db.tx(&mut |c| {
            let rows = c.query("SELECT MAX(version) FROM schema_version", &[])?;
            Ok(rows
                .first()
                .map(|r| r.opt_int(0))
                .transpose()?
                .flatten()
                .unwrap_or(0))
        })
    }

    fn upsert_image(
        &self,
        digest: &str,
        tag: Option<&str>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<ImageRecord> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            let existing = c.query(
                "SELECT annotations FROM images WHERE digest = $1",
                &[t(digest)],
            )?;
            match existing.first() {
                Some(r) => {
                    let mut merged: BTreeMap<String, String> = r.json(0, "image annotations")?;
                    let before = merged.clone();
                    merged.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
                    if merged != before {
                        c.exec(
                            "UPDATE images SET annotations = $2, updated_at = $3 WHERE digest = $1",
                            &[t(digest), js(&merged, "image annotations")?, i(now)],
                        )?;
                    }
                }
                None => {
                    c.exec(
                        "INSERT INTO images (digest, status, annotations, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4)",
                        &[
                            t(digest),
                            t(AnalysisStatus::NotAnalyzed.as_str()),
                            js(annotations, "image annotations")?,
                            i(now),
                        ],
                    )?;
                }
            }
            if let Some(tag) = tag {
                c.exec(
                    "INSERT INTO image_tags (digest, tag, first_seen, last_seen) VALUES ($1, $2, $3, $3) \
                     ON CONFLICT (digest, tag) DO UPDATE SET last_seen = excluded.last_seen",
                    &[t(digest), t(tag), i(now)],
                )?;
            }
            self.touch(c, digest)?;
            Self::image_in(c, digest)?
                .ok_or_else(|| Error::Corrupt(format!("image {digest} vanished after upsert")))
        })
    }

    fn get_image(&self, digest: &str) -> Result<Option<ImageRecord>> {
        self.db.tx(&mut |c| Self::image_in(c, digest))
    }

    fn record_resolution(&self, digest: &str, tag: &str) -> Result<bool> {
        self.db.tx(&mut |c| {
            if c
                .query("SELECT digest FROM images WHERE digest = $1", &[t(digest)])?
                .is_empty()
            {
                return Ok(false);
            }
            let now = now_ms();
            c.exec(
                "INSERT INTO image_tags (digest, tag, first_seen, last_seen, resolved_at) VALUES ($1, $2, $3, $3, $3) \
                 ON CONFLICT (digest, tag) DO UPDATE SET last_seen = excluded.last_seen, resolved_at = excluded.resolved_at",
                &[t(digest), t(tag), i(now)],
            )?;
            self.touch(c, digest)?;
            Ok(true)
        })
    }

    fn image_changes(&self, since: Option<i64>) -> Result<ImageChanges> {
        self.db.tx(&mut |c| self.changes_in(c, since))
    }

    fn list_images(&self, tag: Option<&str>) -> Result<Vec<ImageRecord>> {
        self.db.tx(&mut |c| {
            let rows = match tag {
                Some(tag) => c.query(
                    &format!(
                        "SELECT {IMAGE_COLS} FROM images WHERE digest IN \
                         (SELECT digest FROM image_tags WHERE tag = $1) ORDER BY created_at DESC, digest"
                    ),
                    &[t(tag)],
                )?,
                None => c.query(
                    &format!("SELECT {IMAGE_COLS} FROM images ORDER BY created_at DESC, digest"),
                    &[],
                )?,
            };
            rows.iter().map(|r| Self::image_row(c, r)).collect()
        })
    }

    fn get_sbom(&self, digest: &str) -> Result<Option<serde_json::Value>> {
        self.db.tx(&mut |c| {
            c.query("SELECT sbom FROM sboms WHERE digest = $1", &[t(digest)])?
                .first()
                .map(|r| r.json(0, "SBOM"))
                .transpose()
        })
    }

    fn sbom_digests(&self) -> Result<Vec<String>> {
        self.db.tx(&mut |c| {
            c.query("SELECT digest FROM sboms ORDER BY digest", &[])?
                .iter()
                .map(|r| r.text(0))
                .collect()
        })
    }

    fn put_findings(
        &self,
        digest: &str,
        db_version: &str,
        report: &serde_json::Value,
    ) -> Result<()> {
        self.db.tx(&mut |c| {
            c.exec(
                FINDINGS_UPSERT,
                &[
                    t(digest),
                    t(db_version),
                    js(report, "findings")?,
                    i(now_ms()),
                ],
            )?;
            self.touch(c, digest)?;
            Ok(())
        })
    }

    fn get_findings(&self, digest: &str) -> Result<Option<StoredFindings>> {
        self.db.tx(&mut |c| {
            c.query(
                "SELECT digest, db_version, report, created_at FROM findings WHERE digest = $1",
                &[t(digest)],
            )?
            .first()
            .map(|r| {
                Ok(StoredFindings {
                    digest: r.text(0)?,
                    db_version: r.text(1)?,
                    report: r.json(2, "findings")?,
                    created_at: r.int(3)?,
                })
            })
            .transpose()
        })
    }

    fn put_policy(
        &self,
        account: &str,
        id: &str,
        name: Option<&str>,
        digest: &str,
        bundle: &serde_json::Value,
    ) -> Result<PolicyRecord> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            let has_active = !c
                .query(
                    "SELECT id FROM policies WHERE account = $1 AND active = 1",
                    &[t(account)],
                )?
                .is_empty();
            c.exec(
                "INSERT INTO policies (account, id, name, digest, active, bundle, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (account, id) DO UPDATE SET \
                 name = excluded.name, digest = excluded.digest, bundle = excluded.bundle, \
                 updated_at = excluded.updated_at",
                &[
                    t(account),
                    t(id),
                    ot(name),
                    t(digest),
                    i(if has_active { 0 } else { 1 }),
                    js(bundle, "policy bundle")?,
                    i(now),
                ],
            )?;
            Self::policy_in(c, account, id)?.ok_or_else(|| Error::NotFound(format!("policy {id}")))
        })
    }

    fn list_policies(&self, account: &str) -> Result<Vec<PolicyRecord>> {
        self.db.tx(&mut |c| {
            c.query(
                &format!(
                    "SELECT {POLICY_COLS} FROM policies WHERE account = $1 ORDER BY created_at, id"
                ),
                &[t(account)],
            )?
            .iter()
            .map(Self::policy_row)
            .collect()
        })
    }

    fn get_policy(&self, account: &str, id: &str) -> Result<Option<PolicyRecord>> {
        self.db.tx(&mut |c| Self::policy_in(c, account, id))
    }

    fn activate_policy(&self, account: &str, id: &str) -> Result<PolicyRecord> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            if Self::policy_in(c, account, id)?.is_none() {
                return Err(Error::NotFound(format!(
                    "policy bundle {id:?} of account {account:?}"
                )));
            }
            // Deactivate first: a unique index allows one active bundle per account.
            c.exec(
                "UPDATE policies SET active = 0, updated_at = $3 WHERE account = $1 AND id <> $2 AND active = 1",
                &[t(account), t(id), i(now)],
            )?;
            c.exec(
                "UPDATE policies SET active = 1, updated_at = $3 WHERE account = $1 AND id = $2",
                &[t(account), t(id), i(now)],
            )?;
            Self::policy_in(c, account, id)?.ok_or_else(|| Error::NotFound(format!("policy {id}")))
        })
    }

    fn active_policy(&self, account: &str) -> Result<Option<PolicyRecord>> {
        self.db.tx(&mut |c| {
            c.query(
                &format!("SELECT {POLICY_COLS} FROM policies WHERE account = $1 AND active = 1"),
                &[t(account)],
            )?
            .first()
            .map(Self::policy_row)
            .transpose()
        })
    }

    fn put_evaluation(&self, e: &NewEvaluation) -> Result<i64> {
        self.db.tx(&mut |c| {
            let rows = c.query(
                "INSERT INTO evaluations (digest, tag, bundle_id, bundle_digest, db_version, final_action, verdict, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    t(&e.digest),
                    t(&e.tag),
                    t(&e.bundle_id),
                    t(&e.bundle_digest),
                    t(&e.db_version),
                    t(&e.final_action),
                    js(&e.verdict, "verdict")?,
                    i(now_ms()),
                ],
            )?;
            rows.first()
                .ok_or_else(|| Error::Corrupt("INSERT … RETURNING returned no row".into()))?
                .int(0)
        })
    }

    fn latest_evaluation(
        &self,
        digest: &str,
        tag: &str,
        bundle_id: &str,
    ) -> Result<Option<EvaluationRecord>> {
        self.db.tx(&mut |c| {
            c.query(
                "SELECT id, digest, tag, bundle_id, bundle_digest, db_version, final_action, verdict, created_at \
                 FROM evaluations WHERE digest = $1 AND tag = $2 AND bundle_id = $3 ORDER BY id DESC LIMIT 1",
                &[t(digest), t(tag), t(bundle_id)],
            )?
            .first()
            .map(|r| {
                Ok(EvaluationRecord {
                    id: r.int(0)?,
                    evaluation: NewEvaluation {
                        digest: r.text(1)?,
                        tag: r.text(2)?,
                        bundle_id: r.text(3)?,
                        bundle_digest: r.text(4)?,
                        db_version: r.text(5)?,
                        final_action: r.text(6)?,
                        verdict: r.json(7, "verdict")?,
                    },
                    created_at: r.int(8)?,
                })
            })
            .transpose()
        })
    }

    fn append_decision(&self, d: &NewDecision) -> Result<i64> {
        self.db.tx(&mut |c| {
            let rows = c.query(
                "INSERT INTO decisions (at, who, operation, kind, namespace, name, uid, images, digests, mode, allowed, verdict, reasons) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                &[
                    i(now_ms()),
                    t(&d.who),
                    t(&d.operation),
                    t(&d.kind),
                    t(&d.namespace),
                    t(&d.name),
                    t(&d.uid),
                    js(&d.images, "decision images")?,
                    js(&d.digests, "decision digests")?,
                    t(&d.mode),
                    i(d.allowed as i64),
                    t(&d.verdict),
                    js(&d.reasons, "decision reasons")?,
                ],
            )?;
            rows.first()
                .ok_or_else(|| Error::Corrupt("INSERT … RETURNING returned no row".into()))?
                .int(0)
        })
    }

    fn list_decisions(&self, f: &DecisionFilter) -> Result<Vec<DecisionRecord>> {
        let mut sql = format!("SELECT {DECISION_COLS} FROM decisions WHERE 1 = 1");
        let mut params = Vec::new();
        let mut add = |cond: &str, p: P, params: &mut Vec<P>| {
            params.push(p);
            sql.push_str(&cond.replace("$?", &format!("${}", params.len())));
        };
        if let Some(v) = &f.namespace {
            add(" AND namespace = $?", t(v), &mut params);
        }
        if let Some(v) = &f.kind {
            add(" AND kind = $?", t(v), &mut params);
        }
        if let Some(v) = &f.name {
            add(" AND name = $?", t(v), &mut params);
        }
        if let Some(v) = f.allowed {
            add(" AND allowed = $?", i(v as i64), &mut params);
        }
        if let Some(v) = f.since {
            add(" AND at >= $?", i(v), &mut params);
        }
        if let Some(v) = &f.image {
            // Substring match on the JSON arrays; `%`/`_` in the needle are escaped.
            let esc = v
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            add(
                " AND (images LIKE $? ESCAPE '\\'",
                t(&format!("%{esc}%")),
                &mut params,
            );
            add(
                " OR digests LIKE $? ESCAPE '\\')",
                t(&format!("%{esc}%")),
                &mut params,
            );
        }
        let limit = f.limit.unwrap_or(100).clamp(1, 1000);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
        self.db.tx(&mut |c| {
            c.query(&sql, &params)?
                .iter()
                .map(|r| {
                    Ok(DecisionRecord {
                        id: r.int(0)?,
                        at: r.int(1)?,
                        decision: NewDecision {
                            who: r.text(2)?,
                            operation: r.text(3)?,
                            kind: r.text(4)?,
                            namespace: r.text(5)?,
                            name: r.text(6)?,
                            uid: r.text(7)?,
                            images: r.json(8, "decision images")?,
                            digests: r.json(9, "decision digests")?,
                            mode: r.text(10)?,
                            allowed: r.int(11)? != 0,
                            verdict: r.text(12)?,
                            reasons: r.json(13, "decision reasons")?,
                        },
                    })
                })
                .collect()
        })
    }

    fn enqueue(&self, q: &EnqueueRequest) -> Result<Enqueued> {
        self.queue_enqueue(q)
    }

    fn claim(&self, worker: &str, lease: Duration, limits: &RateLimits) -> Result<Option<Claim>> {
        self.queue_claim(worker, lease, limits)
    }

    fn heartbeat(&self, claim: &Claim, lease: Duration) -> Result<bool> {
        self.queue_heartbeat(claim, lease)
    }

    fn finish_analysis(
        &self,
        claim: &Claim,
        image_id: Option<&str>,
        sbom: &serde_json::Value,
        findings: Option<(&str, &serde_json::Value)>,
    ) -> Result<bool> {
        self.queue_finish_analysis(claim, image_id, sbom, findings)
    }

    fn fail_analysis(
        &self,
        claim: &Claim,
        error: &str,
        permanent: bool,
        retry: &RetryPolicy,
    ) -> Result<FailOutcome> {
        self.queue_fail_analysis(claim, error, permanent, retry)
    }

    fn recover_stale(&self) -> Result<usize> {
        self.queue_recover_stale()
    }

    fn queue_stats(&self) -> Result<QueueStats> {
        self.queue_counts()
    }

    fn record_access(&self, digest: &str, access: &str) -> Result<()> {
        self.db.tx(&mut |c| {
            c.exec(
                "INSERT INTO image_access (digest, access, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (digest, access) DO UPDATE SET seen_at = excluded.seen_at",
                &[t(digest), t(access), i(now_ms())],
            )?;
            Ok(())
        })
    }

    fn forget_access(&self, digest: &str, access: &str) -> Result<()> {
        self.db.tx(&mut |c| {
            c.exec(
                "DELETE FROM image_access WHERE digest = $1 AND access = $2",
                &[t(digest), t(access)],
            )?;
            Ok(())
        })
    }

    fn list_access(&self, since: Option<i64>) -> Result<Vec<AccessRecord>> {
        self.db.tx(&mut |c| {
            c.query(
                "SELECT digest, access, seen_at FROM image_access WHERE seen_at >= $2 \
                 ORDER BY seen_at DESC LIMIT $1",
                &[i(MAX_ACCESS_RECORDS), i(since.unwrap_or(i64::MIN))],
            )?
            .iter()
            .map(|r| {
                Ok(AccessRecord {
                    digest: r.text(0)?,
                    access: r.text(1)?,
                    seen_at: r.int(2)?,
                })
            })
            .collect()
        })
    }

    fn put_signatures(
        &self,
        digest: &str,
        requirement: &str,
        facts: &serde_json::Value,
    ) -> Result<()> {
        let text = facts.to_string();
        self.db.tx(&mut |c| {
            c.exec(
                "INSERT INTO image_signatures (digest, requirement, facts, verified_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (digest, requirement) DO UPDATE SET facts = excluded.facts, verified_at = excluded.verified_at",
                &[t(digest), t(requirement), t(&text), i(now_ms())],
            )?;
            Ok(())
        })
    }

    fn list_signatures(&self, since: Option<i64>) -> Result<Vec<crate::SignatureRecord>> {
        self.db.tx(&mut |c| {
            c.query(
                "SELECT digest, requirement, facts, verified_at FROM image_signatures \
                 WHERE verified_at >= $1 ORDER BY verified_at DESC LIMIT $2",
                &[i(since.unwrap_or(0)), i(crate::MAX_SIGNATURE_RECORDS)],
            )?
            .iter()
            .map(|r| {
                Ok(crate::SignatureRecord {
                    digest: r.text(0)?,
                    requirement: r.text(1)?,
                    facts: r.json(2, "signature facts")?,
                    verified_at: r.int(3)?,
                })
            })
            .collect()
        })
    }

    fn put_feed(&self, f: &FeedRecord) -> Result<()> {
        self.db.tx(&mut |c| {
            c.exec(
                "INSERT INTO feeds (name, db_version, record_count, status, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (name) DO UPDATE SET db_version = excluded.db_version, record_count = excluded.record_count, \
                 status = excluded.status, updated_at = excluded.updated_at",
                &[t(&f.name), t(&f.db_version), i(f.record_count), t(&f.status), i(f.updated_at)],
            )?;
            Ok(())
        })
    }

    fn list_feeds(&self) -> Result<Vec<FeedRecord>> {
        self.db.tx(&mut |c| {
            c.query(
                "SELECT name, db_version, record_count, status, updated_at FROM feeds ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| {
                Ok(FeedRecord {
                    name: r.text(0)?,
                    db_version: r.text(1)?,
                    record_count: r.int(2)?,
                    status: r.text(3)?,
                    updated_at: r.int(4)?,
                })
            })
            .collect()
        })
    }

    fn try_feed_lock(&self) -> Result<Option<Box<dyn FeedLock>>> {
        self.db.try_feed_lock()
    }

    fn put_triage_document(&self, d: &TriageDocument) -> Result<TriageDocument> {
        self.db.tx(&mut |c| {
            c.exec(
                "INSERT INTO triage_documents (id, kind, name, content, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO NOTHING",
                &[t(&d.id), t(d.kind.as_str()), t(&d.name), t(&d.content), i(d.created_at)],
            )?;
            let rows = c.query(
                "SELECT id, kind, name, content, created_at FROM triage_documents WHERE id = $1",
                &[t(&d.id)],
            )?;
            rows.first()
                .map(triage_row)
                .transpose()?
                .ok_or_else(|| Error::Corrupt(format!("triage document {} vanished", d.id)))
        })
    }

    fn list_triage_documents(&self, kind: Option<TriageKind>) -> Result<Vec<TriageDocument>> {
        self.db.tx(&mut |c| {
            let rows = match kind {
                Some(k) => c.query(
                    "SELECT id, kind, name, content, created_at FROM triage_documents WHERE kind = $1 \
                     ORDER BY created_at, id",
                    &[t(k.as_str())],
                )?,
                None => c.query(
                    "SELECT id, kind, name, content, created_at FROM triage_documents ORDER BY created_at, id",
                    &[],
                )?,
            };
            rows.iter().map(triage_row).collect()
        })
    }

    fn delete_triage_document(&self, kind: TriageKind, id: &str) -> Result<bool> {
        self.db.tx(&mut |c| {
            Ok(c.exec(
                "DELETE FROM triage_documents WHERE kind = $1 AND id = $2",
                &[t(kind.as_str()), t(id)],
            )? > 0)
        })
    }

    fn publish_vuln_generation(
        &self,
        bundle: &std::path::Path,
        sha256: &str,
        db_version: &str,
        created_by: &str,
    ) -> Result<VulnGeneration> {
        use base64::Engine as _;
        use std::io::Read as _;
        let io = |what: &'static str| {
            move |source: std::io::Error| Error::Io {
                path: bundle.display().to_string(),
                what,
                source,
            }
        };
        let size = i64::try_from(
            std::fs::metadata(bundle)
                .map_err(io("reading the vulnerability data bundle"))?
                .len(),
        )
        .unwrap_or(i64::MAX);
        let clock = self.db.clock_ms();
        self.db.tx(&mut |c| {
            let rows = c.query("SELECT COALESCE(MAX(generation), 0) + 1 FROM vuln_generations", &[])?;
            let generation = rows.first().map(|r| r.int(0)).transpose()?.unwrap_or(1);
            let mut file =
                std::fs::File::open(bundle).map_err(io("reading the vulnerability data bundle"))?;
            let mut seq = 0i64;
            loop {
                let mut buf = Vec::with_capacity(VULN_CHUNK_BYTES);
                (&mut file)
                    .take(VULN_CHUNK_BYTES as u64)
                    .read_to_end(&mut buf)
                    .map_err(io("reading the vulnerability data bundle"))?;
                if buf.is_empty() {
                    break;
                }
                c.exec(
                    "INSERT INTO vuln_generation_chunks (generation, seq, data) VALUES ($1, $2, $3)",
                    &[i(generation), i(seq), t(&base64::engine::general_purpose::STANDARD.encode(&buf))],
                )?;
                seq += 1;
            }
            let rows = c.query(
                &format!(
                    "INSERT INTO vuln_generations (generation, sha256, size, chunks, db_version, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, {clock}) RETURNING created_at"
                ),
                &[i(generation), t(sha256), i(size), i(seq), t(db_version), t(created_by)],
            )?;
            let created_at = rows.first().map(|r| r.int(0)).transpose()?.unwrap_or_else(now_ms);
            let oldest_kept = generation - VULN_GENERATIONS_KEPT + 1;
            c.exec("DELETE FROM vuln_generation_chunks WHERE generation < $1", &[i(oldest_kept)])?;
            c.exec("DELETE FROM vuln_generations WHERE generation < $1", &[i(oldest_kept)])?;
            Ok(VulnGeneration {
                generation,
                sha256: sha256.to_string(),
                size,
                db_version: db_version.to_string(),
                created_by: created_by.to_string(),
                created_at,
            })
        })
    }

    fn latest_vuln_generation(&self) -> Result<Option<VulnGeneration>> {
        self.db.tx(&mut |c| {
            c.query(
                "SELECT generation, sha256, size, db_version, created_by, created_at FROM vuln_generations \
                 ORDER BY generation DESC LIMIT 1",
                &[],
            )?
            .first()
            .map(|r| {
                Ok(VulnGeneration {
                    generation: r.int(0)?,
                    sha256: r.text(1)?,
                    size: r.int(2)?,
                    db_version: r.text(3)?,
                    created_by: r.text(4)?,
                    created_at: r.int(5)?,
                })
            })
            .transpose()
        })
    }

    fn read_vuln_generation(&self, generation: i64, dest: &std::path::Path) -> Result<()> {
        use base64::Engine as _;
        use std::io::Write as _;
        let io = |source: std::io::Error| Error::Io {
            path: dest.display().to_string(),
            what: "writing the vulnerability data bundle",
            source,
        };
        let chunks = self.db.tx(&mut |c| {
            c.query(
                "SELECT chunks FROM vuln_generations WHERE generation = $1",
                &[i(generation)],
            )?
            .first()
            .map(|r| r.int(0))
            .transpose()
        })?;
        let chunks = chunks.ok_or_else(|| {
            Error::NotFound(format!("vulnerability data generation {generation}"))
        })?;
        let mut out = std::fs::File::create(dest).map_err(io)?;
        for seq in 0..chunks {
            let data = self.db.tx(&mut |c| {
                c.query(
                    "SELECT data FROM vuln_generation_chunks WHERE generation = $1 AND seq = $2",
                    &[i(generation), i(seq)],
                )?
                .first()
                .map(|r| r.text(0))
                .transpose()
            })?;
            let data = data.ok_or_else(|| {
                Error::NotFound(format!(
                    "vulnerability data generation {generation} (chunk {seq})"
                ))
            })?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| {
                    Error::Corrupt(format!(
                        "vulnerability data generation {generation} chunk {seq}: {e}"
                    ))
                })?;
            out.write_all(&bytes).map_err(io)?;
        }
        out.sync_all().map_err(io)
    }
}

fn triage_row(r: &Row) -> Result<TriageDocument> {
    let kind = r.text(1)?;
    Ok(TriageDocument {
        id: r.text(0)?,
        kind: TriageKind::parse(&kind)
            .ok_or_else(|| Error::Corrupt(format!("triage document kind {kind:?}")))?,
        name: r.text(2)?,
        content: r.text(3)?,
        created_at: r.int(4)?,
    })
}
