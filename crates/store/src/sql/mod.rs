//! The store's queries, written once for both backends.
//!
//! Each backend implements the tiny [`Db`]/[`Conn`] interface (run a statement with `$1`-style parameters that
//! are 64-bit integers or text, return rows of the same). The SQL below sticks to what SQLite ≥ 3.35 and
//! PostgreSQL ≥ 12 both accept (`ON CONFLICT … DO UPDATE`, `RETURNING`); the one real difference — row locking
//! when claiming queue entries — comes from [`Db::skip_locked`]. Hand-written because no crate offers a
//! common synchronous interface over rusqlite and postgres (sqlx is async-only and would replace both drivers).

mod queue;
mod schema;
mod store;

pub(crate) use schema::{SCHEMA_V2, SCHEMA_V5, schema_v1, schema_v3, schema_v4, schema_v6};

use std::collections::BTreeMap;
use std::time::Duration;

use crate::{
    AccessRecord, AnalysisStatus, Backend, Claim, DecisionFilter, DecisionRecord, EnqueueRequest,
    Enqueued, Error, EvaluationRecord, FailOutcome, FeedLock, FeedRecord, ImageChanges,
    ImageRecord, MAX_ACCESS_RECORDS, MAX_QUEUED, MAX_QUEUED_PER_NAMESPACE, NewDecision,
    NewEvaluation, PolicyRecord, QueueStats, RateLimits, Result, RetryPolicy, SCHEMA_VERSION,
    Store, StoredFindings, TagTime, TriageDocument, TriageKind, VULN_CHUNK_BYTES,
    VULN_GENERATIONS_KEPT, VulnGeneration, now_ms,
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
    /// An SQL expression for the database's clock in Unix milliseconds (one clock for every replica).
    fn clock_ms(&self) -> &'static str;
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
        let tags = c
            .query(
                "SELECT tag FROM image_tags WHERE digest = $1 ORDER BY tag",
                &[t(&digest)],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<Vec<_>>>()?;
        Self::image_of(r, digest, tags)
    }

    fn image_of(r: &Row, digest: String, tags: Vec<String>) -> Result<ImageRecord> {
        let status_s = r.text(1)?;
        let status = AnalysisStatus::parse(&status_s)
            .ok_or_else(|| Error::Corrupt(format!("image {digest}: status {status_s:?}")))?;
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
        &self,
        c: &mut dyn Conn,
        digest: &str,
        status: AnalysisStatus,
        error: Option<&str>,
    ) -> Result<()> {
        c.exec(
            &format!(
                "UPDATE images SET status = $2, error = $3, updated_at = $4, changed_at = {} WHERE digest = $1",
                self.db.clock_ms()
            ),
            &[t(digest), t(status.as_str()), ot(error), i(now_ms())],
        )?;
        Ok(())
    }

    /// Marks an image changed now (by the database's clock), for [`Store::image_changes`].
    fn touch(&self, c: &mut dyn Conn, digest: &str) -> Result<()> {
        c.exec(
            &format!(
                "UPDATE images SET changed_at = {} WHERE digest = $1",
                self.db.clock_ms()
            ),
            &[t(digest)],
        )?;
        Ok(())
    }

    /// Images changed after `since` (minus [`CHANGE_OVERLAP_MS`]), with their tags, in two queries.
    fn changes_in(&self, c: &mut dyn Conn, since: Option<i64>) -> Result<ImageChanges> {
        let as_of = c
            .query(&format!("SELECT {}", self.db.clock_ms()), &[])?
            .first()
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or_else(now_ms);
        let from = since.map_or(i64::MIN, |s| s.saturating_sub(CHANGE_OVERLAP_MS));
        let rows = c.query(
            &format!("SELECT {IMAGE_COLS} FROM images WHERE changed_at >= $1 ORDER BY digest"),
            &[i(from)],
        )?;
        let tag_rows = c.query(
            "SELECT t.digest, t.tag, COALESCE(t.resolved_at, t.first_seen) FROM image_tags t \
             JOIN images m ON m.digest = t.digest WHERE m.changed_at >= $1 ORDER BY t.digest, t.tag",
            &[i(from)],
        )?;
        let mut tags: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut tag_times = Vec::with_capacity(tag_rows.len());
        for r in &tag_rows {
            let (digest, tag) = (r.text(0)?, r.text(1)?);
            tags.entry(digest.clone()).or_default().push(tag.clone());
            tag_times.push(TagTime {
                digest,
                tag,
                at: r.int(2)?,
            });
        }
        let images = rows
            .iter()
            .map(|r| {
                let digest = r.text(0)?;
                let tags = tags.remove(&digest).unwrap_or_default();
                Self::image_of(r, digest, tags)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ImageChanges {
            as_of,
            images,
            tag_times,
        })
    }
}

/// How far before the last `as_of` [`Store::image_changes`] looks again: a change committed this much later
/// than the database's clock stamped it is still seen.
const CHANGE_OVERLAP_MS: i64 = 5_000;

/// Stores (replaces) an image's findings: `$1` digest, `$2` DB version, `$3` report, `$4` time.
const FINDINGS_UPSERT: &str = "INSERT INTO findings (digest, db_version, report, created_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (digest) DO UPDATE SET db_version = excluded.db_version, \
     report = excluded.report, created_at = excluded.created_at";
const POLICY_COLS: &str = "account, id, name, digest, active, bundle, created_at, updated_at";
const DECISION_COLS: &str = "id, at, who, operation, kind, namespace, name, uid, images, digests, mode, allowed, verdict, reasons";
