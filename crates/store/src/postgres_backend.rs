//! PostgreSQL backend: a small pool of synchronous `postgres` connections; queue claims use
//! `FOR UPDATE SKIP LOCKED`, migrations and feed updates use advisory locks.
//!
//! The `postgres` crate (sync) is used because the whole [`crate::Store`] interface is blocking; async callers
//! go through `spawn_blocking`. Connections are plain TCP/Unix (`NoTls`): TLS to the database is not supported yet.

use std::sync::Mutex;

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};

use crate::sql::{
    Conn, Db, P, Row, SCHEMA_V2, SCHEMA_V5, V, schema_v1, schema_v3, schema_v4, schema_v6,
};
use crate::{Backend, Error, FeedLock, Result, redact_url};

/// Advisory-lock key serialising migrations ("portcull" in ASCII).
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c;
/// Advisory-lock key of the feed-update singleton.
const FEED_LOCK: i64 = 0x706f_7274_6665_6564;
/// Idle connections kept.
const POOL_IDLE: usize = 8;

/// The PostgreSQL backend.
pub(crate) struct PgDb {
    url: String,
    idle: Mutex<Vec<Client>>,
}

impl PgDb {
    /// Connects (one connection, to fail early on a bad URL or an unreachable server).
    pub(crate) fn connect(url: &str) -> Result<Self> {
        let db = Self {
            url: url.to_string(),
            idle: Mutex::new(Vec::new()),
        };
        let client = db.new_client()?;
        db.put_back(client);
        Ok(db)
    }

    fn err(&self, source: postgres::Error) -> Error {
        Error::Postgres {
            url: redact_url(&self.url),
            source,
        }
    }

    fn new_client(&self) -> Result<Client> {
        Client::connect(&self.url, NoTls).map_err(|e| self.err(e))
    }

    fn take(&self) -> Result<Client> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match pooled {
            Some(c) if !c.is_closed() => Ok(c),
            _ => self.new_client(),
        }
    }

    fn put_back(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < POOL_IDLE {
            idle.push(client);
        }
    }
}

struct PgConn<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    url: &'a str,
}

fn to_sql(p: &P) -> Box<dyn ToSql + Sync> {
    match p {
        P::Int(v) => Box::new(*v),
        P::Text(v) => Box::new(v.clone()),
    }
}

impl PgConn<'_, '_> {
    fn err(&self, source: postgres::Error) -> Error {
        Error::Postgres {
            url: redact_url(self.url),
            source,
        }
    }
}

impl Conn for PgConn<'_, '_> {
    fn exec(&mut self, sql: &str, params: &[P]) -> Result<u64> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(to_sql).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.tx.execute(sql, &refs).map_err(|e| self.err(e))
    }

    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>> {
        let boxed: Vec<Box<dyn ToSql + Sync>> = params.iter().map(to_sql).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.tx.query(sql, &refs).map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Vec::with_capacity(r.len());
            for (i, col) in r.columns().iter().enumerate() {
                let ty = col.type_();
                let v = if *ty == Type::INT8 {
                    r.try_get::<_, Option<i64>>(i).map(|v| v.map(V::Int))
                } else if *ty == Type::INT4 {
                    r.try_get::<_, Option<i32>>(i)
                        .map(|v| v.map(|n| V::Int(n.into())))
                } else if *ty == Type::BOOL {
                    r.try_get::<_, Option<bool>>(i)
                        .map(|v| v.map(|b| V::Int(b.into())))
                } else if *ty == Type::TEXT || *ty == Type::VARCHAR || *ty == Type::NAME {
                    r.try_get::<_, Option<String>>(i).map(|v| v.map(V::Text))
                } else {
                    return Err(Error::Corrupt(format!(
                        "column {} has unexpected type {ty}",
                        col.name()
                    )));
                };
                row.push(v.map_err(|e| self.err(e))?.unwrap_or(V::Null));
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx.batch_execute(sql).map_err(|e| self.err(e))
    }
}

struct PgFeedLock {
    client: Option<Client>,
}

impl FeedLock for PgFeedLock {}

impl Drop for PgFeedLock {
    fn drop(&mut self) {
        if let Some(mut c) = self.client.take()
            && let Err(e) = c.execute("SELECT pg_advisory_unlock($1)", &[&FEED_LOCK])
        {
            // Closing the connection (below) releases the lock anyway.
            tracing::warn!(error = %e, "releasing the feed-update advisory lock failed");
        }
    }
}

const APPEND_ONLY: &str = "
CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the admission audit trail is append-only'; END $$;
CREATE TRIGGER decisions_no_change BEFORE UPDATE OR DELETE ON decisions
FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
";

impl Db for PgDb {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn tx<T>(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let mut client = self.take()?;
        let result = (|| {
            let mut tx = client.transaction().map_err(|e| self.err(e))?;
            let value = {
                let mut conn = PgConn {
                    tx: &mut tx,
                    url: &self.url,
                };
                f(&mut conn)?
            };
            tx.commit().map_err(|e| self.err(e))?;
            Ok(value)
        })();
        self.put_back(client);
        result
    }

    fn skip_locked(&self) -> &'static str {
        "FOR UPDATE SKIP LOCKED"
    }

    fn migrations(&self) -> Vec<(i64, String)> {
        vec![
            (1, schema_v1("BIGSERIAL PRIMARY KEY") + APPEND_ONLY),
            (2, SCHEMA_V2.to_string()),
            (3, schema_v3()),
            (4, schema_v4()),
            (5, SCHEMA_V5.to_string()),
            (6, schema_v6()),
        ]
    }

    fn clock_ms(&self) -> &'static str {
        "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
    }

    fn migration_lock(&self, conn: &mut dyn Conn) -> Result<()> {
        conn.exec(
            &format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"),
            &[],
        )?;
        Ok(())
    }

    fn try_feed_lock(&self) -> Result<Option<Box<dyn FeedLock>>> {
        let mut client = self.new_client()?;
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&FEED_LOCK])
            .map_err(|e| self.err(e))?;
        let got: bool = row.try_get(0).map_err(|e| self.err(e))?;
        Ok(got.then(|| {
            Box::new(PgFeedLock {
                client: Some(client),
            }) as Box<dyn FeedLock>
        }))
    }
}
