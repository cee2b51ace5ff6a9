//! The store's queries, written once for both backends.
//!
//! Each backend implements the tiny [`Db`]/[`Conn`] interface (run a statement with `$1`-style parameters that
//! are 64-bit integers or text, return rows of the same). The SQL below sticks to what SQLite ≥ 3.35 and
//! PostgreSQL ≥ 12 both accept (`ON CONFLICT … DO UPDATE`, `RETURNING`); the one real difference — row locking
//! when claiming queue entries — comes from [`Db::skip_locked`]. Hand-written because no crate offers a
//! common synchronous interface over rusqlite and postgres (sqlx is async-only and would replace both drivers).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{
    AnalysisStatus, Backend, Claim, DecisionFilter, DecisionRecord, EnqueueRequest, Enqueued,
    Error, EvaluationRecord, FailOutcome, FeedLock, FeedRecord, ImageRecord, NewDecision,
    NewEvaluation, PolicyRecord, QueueStats, RateLimits, Result, RetryPolicy, SCHEMA_VERSION,
    Store, StoredFindings, now_ms,
};

/// A statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum P {
    /// BIGINT (or NULL).
    Int(Option<i64>),
    /// TEXT (or NULL).
    Text(Option<String>),
}

/// A value read from a row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V {
    Null,
    Int(i64),
    Text(String),
}

/// One result row.
pub(crate) struct Row(pub(crate) Vec<V>);

impl Row {
    fn text(&self, i: usize) -> Result<String> {
        match self.0.get(i) {
            Some(V::Text(s)) => Ok(s.clone()),
            other => Err(Error::Corrupt(format!(
                "column {i}: expected text, found {other:?}"
            ))),
        }
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        match self.0.get(i) {
            Some(V::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    fn int(&self, i: usize) -> Result<i64> {
        match self.0.get(i) {
            Some(V::Int(n)) => Ok(*n),
            other => Err(Error::Corrupt(format!(
                "column {i}: expected integer, found {other:?}"
            ))),
        }
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.0.get(i) {
            Some(V::Null) => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    fn json<T: serde::de::DeserializeOwned>(&self, i: usize, what: &'static str) -> Result<T> {
        serde_json::from_str(&self.text(i)?).map_err(|source| Error::Json { what, source })
    }
}

/// A connection inside a transaction.
pub(crate) trait Conn {
    /// Runs a statement; returns the number of rows changed.
    fn exec(&mut self, sql: &str, params: &[P]) -> Result<u64>;
    /// Runs a query.
    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>>;
    /// Runs several statements without parameters.
    fn batch(&mut self, sql: &str) -> Result<()>;
}

/// A backend.
pub(crate) trait Db: Send + Sync + 'static {
    /// Which backend.
    fn backend(&self) -> Backend;
    /// Runs `f` in one transaction (committed when it returns Ok, rolled back otherwise).
    fn tx<T>(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<T>) -> Result<T>;
    /// The row-locking clause for the queue claim (`FOR UPDATE SKIP LOCKED` or nothing).
    fn skip_locked(&self) -> &'static str;
    /// Migrations: (version, SQL) in order.
    fn migrations(&self) -> Vec<(i64, String)>;
    /// Serialises concurrent migrations (PostgreSQL: a transaction-level advisory lock).
    fn migration_lock(&self, conn: &mut dyn Conn) -> Result<()>;
    /// See [`Store::try_feed_lock`].
    fn try_feed_lock(&self) -> Result<Option<Box<dyn FeedLock>>>;
}

fn t(s: &str) -> P {
    P::Text(Some(s.to_string()))
}
fn ot(s: Option<&str>) -> P {
    P::Text(s.map(str::to_string))
}
fn i(n: i64) -> P {
    P::Int(Some(n))
}
fn js<T: serde::Serialize>(v: &T, what: &'static str) -> Result<P> {
    serde_json::to_string(v)
        .map(|s| P::Text(Some(s)))
        .map_err(|source| Error::Json { what, source })
}
fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The [`Store`] implementation over a backend.
pub(crate) struct SqlStore<D> {
    db: D,
}

const IMAGE_COLS: &str =
    "digest, status, error, annotations, image_id, created_at, updated_at, analyzed_at";

impl<D: Db> SqlStore<D> {
    /// Wraps a backend, applying pending migrations.
    pub(crate) fn new(db: D) -> Result<Self> {
        let store = Self { db };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<()> {
        let migrations = self.db.migrations();
        self.db.tx(&mut |c| {
            self.db.migration_lock(c)?;
            c.batch(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )?;
            let rows = c.query("SELECT MAX(version) FROM schema_version", &[])?;
            let current = rows.first().map(|r| r.opt_int(0)).transpose()?.flatten().unwrap_or(0);
            if current > SCHEMA_VERSION {
                return Err(Error::SchemaTooNew { found: current, supported: SCHEMA_VERSION });
            }
            for (version, sql) in &migrations {
                if *version > current {
                    tracing::info!(version, "applying store migration");
                    c.batch(sql)?;
                    c.exec(
                        "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                        &[i(*version), i(now_ms())],
                    )?;
                }
            }
            Ok(())
        })
    }

    fn image_in(c: &mut dyn Conn, digest: &str) -> Result<Option<ImageRecord>> {
        let rows = c.query(
            &format!("SELECT {IMAGE_COLS} FROM images WHERE digest = $1"),
            &[t(digest)],
        )?;
        match rows.first() {
            Some(r) => Ok(Some(Self::image_row(c, r)?)),
            None => Ok(None),
        }
    }

    fn image_row(c: &mut dyn Conn, r: &Row) -> Result<ImageRecord> {
        let digest = r.text(0)?;
        let status_s = r.text(1)?;
        let status = AnalysisStatus::parse(&status_s)
            .ok_or_else(|| Error::Corrupt(format!("image {digest}: status {status_s:?}")))?;
        let tags = c
            .query(
                "SELECT tag FROM image_tags WHERE digest = $1 ORDER BY tag",
                &[t(&digest)],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<Vec<_>>>()?;
        Ok(ImageRecord {
            status,
            error: r.opt_text(2)?,
            annotations: r.json(3, "image annotations")?,
            image_id: r.opt_text(4)?,
            created_at: r.int(5)?,
            updated_at: r.int(6)?,
            analyzed_at: r.opt_int(7)?,
            tags,
            digest,
        })
    }

    fn policy_in(c: &mut dyn Conn, account: &str, id: &str) -> Result<Option<PolicyRecord>> {
        c.query(
            &format!("SELECT {POLICY_COLS} FROM policies WHERE account = $1 AND id = $2"),
            &[t(account), t(id)],
        )?
        .first()
        .map(Self::policy_row)
        .transpose()
    }

    fn policy_row(r: &Row) -> Result<PolicyRecord> {
        Ok(PolicyRecord {
            account: r.text(0)?,
            id: r.text(1)?,
            name: r.opt_text(2)?,
            digest: r.text(3)?,
            active: r.int(4)? != 0,
            bundle: r.json(5, "policy bundle")?,
            created_at: r.int(6)?,
            updated_at: r.int(7)?,
        })
    }

    fn set_status(
        c: &mut dyn Conn,
        digest: &str,
        status: AnalysisStatus,
        error: Option<&str>,
    ) -> Result<()> {
        c.exec(
            "UPDATE images SET status = $2, error = $3, updated_at = $4 WHERE digest = $1",
            &[t(digest), t(status.as_str()), ot(error), i(now_ms())],
        )?;
        Ok(())
    }
}

/// Stores (replaces) an image's findings: `$1` digest, `$2` DB version, `$3` report, `$4` time.
const FINDINGS_UPSERT: &str = "INSERT INTO findings (digest, db_version, report, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (digest) DO UPDATE SET db_version = excluded.db_version, \
     report = excluded.report, created_at = excluded.created_at";
const POLICY_COLS: &str = "account, id, name, digest, active, bundle, created_at, updated_at";
const DECISION_COLS: &str = "id, at, who, operation, kind, namespace, name, uid, images, digests, mode, allowed, verdict, reasons";

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
            Self::image_in(c, digest)?
                .ok_or_else(|| Error::Corrupt(format!("image {digest} vanished after upsert")))
        })
    }

    fn get_image(&self, digest: &str) -> Result<Option<ImageRecord>> {
        self.db.tx(&mut |c| Self::image_in(c, digest))
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
        self.db.tx(&mut |c| {
            let now = now_ms();
            let existing = c.query("SELECT state FROM queue WHERE digest = $1", &[t(&q.digest)])?;
            let outcome = match existing.first().map(|r| r.text(0)).transpose()?.as_deref() {
                None => {
                    c.exec(
                        "INSERT INTO queue (digest, pull, registry, state, attempts, max_attempts, not_before, enqueued_at, updated_at) \
                         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $5, $5)",
                        &[t(&q.digest), t(&q.pull), t(&q.registry), i(q.max_attempts.max(1) as i64), i(now)],
                    )?;
                    Enqueued::Queued
                }
                Some("queued") | Some("claimed") if !q.force => Enqueued::AlreadyQueued,
                Some("claimed") => Enqueued::AlreadyQueued,
                Some(_) if !q.force => Enqueued::AlreadyDone,
                Some(_) => {
                    c.exec(
                        "UPDATE queue SET pull = $2, registry = $3, state = 'queued', attempts = 0, max_attempts = $4, \
                         not_before = $5, claimed_by = NULL, lease_until = NULL, last_error = NULL, enqueued_at = $5, updated_at = $5 \
                         WHERE digest = $1",
                        &[t(&q.digest), t(&q.pull), t(&q.registry), i(q.max_attempts.max(1) as i64), i(now)],
                    )?;
                    Enqueued::Queued
                }
            };
            if outcome == Enqueued::Queued {
                Self::set_status(c, &q.digest, AnalysisStatus::NotAnalyzed, None)?;
            }
            Ok(outcome)
        })
    }

    fn claim(&self, worker: &str, lease: Duration, limits: &RateLimits) -> Result<Option<Claim>> {
        let sql = format!(
            "UPDATE queue SET state = 'claimed', claimed_by = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE digest = (SELECT digest FROM queue WHERE \
               ((state = 'queued' AND not_before <= $3) OR (state = 'claimed' AND lease_until < $3 AND attempts < max_attempts)) \
               AND registry NOT IN (SELECT registry FROM registry_limits WHERE next_allowed > $3) \
               ORDER BY not_before, enqueued_at, digest LIMIT 1 {}) \
             RETURNING digest, pull, registry, attempts",
            self.db.skip_locked()
        );
        self.db.tx(&mut |c| {
            let now = now_ms();
            let rows = c.query(&sql, &[t(worker), i(now.saturating_add(ms(lease))), i(now)])?;
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
            let interval = limits.interval(&claim.registry);
            if !interval.is_zero() {
                c.exec(
                    "INSERT INTO registry_limits (registry, next_allowed) VALUES ($1, $2) \
                     ON CONFLICT (registry) DO UPDATE SET next_allowed = excluded.next_allowed",
                    &[t(&claim.registry), i(now.saturating_add(ms(interval)))],
                )?;
            }
            Self::set_status(c, &claim.digest, AnalysisStatus::Analyzing, None)?;
            Ok(Some(claim))
        })
    }

    fn heartbeat(&self, claim: &Claim, lease: Duration) -> Result<bool> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            Ok(c.exec(
                "UPDATE queue SET lease_until = $3, updated_at = $4 WHERE digest = $1 AND claimed_by = $2 AND state = 'claimed'",
                &[t(&claim.digest), t(&claim.worker), i(now.saturating_add(ms(lease))), i(now)],
            )? == 1)
        })
    }

    fn finish_analysis(
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
            Ok(true)
        })
    }

    fn fail_analysis(
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
                Self::set_status(c, &claim.digest, AnalysisStatus::AnalysisFailed, Some(error))?;
                Ok(FailOutcome::Failed)
            } else {
                let delay = retry.delay(u32::try_from(attempts).unwrap_or(u32::MAX));
                c.exec(
                    "UPDATE queue SET state = 'queued', claimed_by = NULL, lease_until = NULL, last_error = $2, \
                     not_before = $3, updated_at = $4 WHERE digest = $1",
                    &[t(&claim.digest), t(error), i(now.saturating_add(ms(delay))), i(now)],
                )?;
                Self::set_status(c, &claim.digest, AnalysisStatus::NotAnalyzed, Some(error))?;
                Ok(FailOutcome::Retrying(delay))
            }
        })
    }

    fn recover_stale(&self) -> Result<usize> {
        self.db.tx(&mut |c| {
            let now = now_ms();
            let failed = c.query(
                "UPDATE queue SET state = 'failed', claimed_by = NULL, lease_until = NULL, updated_at = $1, \
                 last_error = 'analysis interrupted ' || CAST(attempts AS TEXT) || ' times (worker lost); giving up' \
                 WHERE state = 'claimed' AND lease_until < $1 AND attempts >= max_attempts RETURNING digest, last_error",
                &[i(now)],
            )?;
            for r in &failed {
                Self::set_status(c, &r.text(0)?, AnalysisStatus::AnalysisFailed, r.opt_text(1)?.as_deref())?;
            }
            let requeued = c.query(
                "UPDATE queue SET state = 'queued', claimed_by = NULL, lease_until = NULL, updated_at = $1, \
                 last_error = 'worker lost during analysis; requeued' \
                 WHERE state = 'claimed' AND lease_until < $1 RETURNING digest",
                &[i(now)],
            )?;
            for r in &requeued {
                Self::set_status(c, &r.text(0)?, AnalysisStatus::NotAnalyzed, None)?;
            }
            Ok(failed.len() + requeued.len())
        })
    }

    fn queue_stats(&self) -> Result<QueueStats> {
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
}

/// Schema version 1, shared by both backends except for the id column type and the append-only triggers.
pub(crate) fn schema_v1(id_col: &str) -> String {
    format!(
        "CREATE TABLE images (
            digest TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            error TEXT,
            annotations TEXT NOT NULL,
            image_id TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            analyzed_at BIGINT
        );
        CREATE TABLE image_tags (
            digest TEXT NOT NULL REFERENCES images(digest),
            tag TEXT NOT NULL,
            first_seen BIGINT NOT NULL,
            last_seen BIGINT NOT NULL,
            PRIMARY KEY (digest, tag)
        );
        CREATE INDEX image_tags_tag ON image_tags(tag);
        CREATE TABLE sboms (
            digest TEXT PRIMARY KEY REFERENCES images(digest),
            sbom TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE findings (
            digest TEXT PRIMARY KEY REFERENCES images(digest),
            db_version TEXT NOT NULL,
            report TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE TABLE policies (
            account TEXT NOT NULL,
            id TEXT NOT NULL,
            name TEXT,
            digest TEXT NOT NULL,
            active BIGINT NOT NULL,
            bundle TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (account, id)
        );
        CREATE UNIQUE INDEX policies_one_active ON policies(account) WHERE active = 1;
        CREATE TABLE evaluations (
            id {id_col},
            digest TEXT NOT NULL,
            tag TEXT NOT NULL,
            bundle_id TEXT NOT NULL,
            bundle_digest TEXT NOT NULL,
            db_version TEXT NOT NULL,
            final_action TEXT NOT NULL,
            verdict TEXT NOT NULL,
            created_at BIGINT NOT NULL
        );
        CREATE INDEX evaluations_lookup ON evaluations(digest, tag, bundle_id);
        CREATE TABLE decisions (
            id {id_col},
            at BIGINT NOT NULL,
            who TEXT NOT NULL,
            operation TEXT NOT NULL,
            kind TEXT NOT NULL,
            namespace TEXT NOT NULL,
            name TEXT NOT NULL,
            uid TEXT NOT NULL,
            images TEXT NOT NULL,
            digests TEXT NOT NULL,
            mode TEXT NOT NULL,
            allowed BIGINT NOT NULL,
            verdict TEXT NOT NULL,
            reasons TEXT NOT NULL
        );
        CREATE INDEX decisions_at ON decisions(at);
        CREATE TABLE queue (
            digest TEXT PRIMARY KEY,
            pull TEXT NOT NULL,
            registry TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            max_attempts BIGINT NOT NULL,
            not_before BIGINT NOT NULL,
            claimed_by TEXT,
            lease_until BIGINT,
            last_error TEXT,
            enqueued_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX queue_due ON queue(state, not_before);
        CREATE TABLE registry_limits (
            registry TEXT PRIMARY KEY,
            next_allowed BIGINT NOT NULL
        );
        CREATE TABLE feeds (
            name TEXT PRIMARY KEY,
            db_version TEXT NOT NULL,
            record_count BIGINT NOT NULL,
            status TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        );"
    )
}
