//! Embedded SQLite backend: one connection in WAL mode with a busy timeout, transactions `BEGIN IMMEDIATE`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use crate::sql::{
    Conn, Db, P, Row, SCHEMA_V2, SCHEMA_V5, V, schema_v1, schema_v3, schema_v4, schema_v6,
};
use crate::{Backend, Error, FeedLock, Result};

/// The SQLite backend.
pub(crate) struct SqliteDb {
    path: PathBuf,
    conn: Mutex<Connection>,
    feed_lock: Arc<AtomicBool>,
}

impl SqliteDb {
    /// Opens (creating) the database file.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let err = |source| Error::Sqlite {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && !parent.is_dir()
        {
            return Err(Error::BadUrl(format!(
                "{}: directory {} does not exist",
                path.display(),
                parent.display()
            )));
        }
        create_private(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            what: "cannot create the database file with mode 0600",
            source,
        })?;
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            feed_lock: Arc::new(AtomicBool::new(false)),
        })
    }
}

/// Creates the database file with mode 0600 when it does not exist, and takes group and other access away from an
/// existing one: it holds audit records and learned registry credentials. SQLite gives its `-wal` and `-shm` files
/// the database file's mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

struct SqliteConn<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    path: &'a Path,
}

/// Rewrites PostgreSQL-style `$N` parameters to SQLite's positional `?N`.
fn rewrite(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn to_value(p: &P) -> Value {
    match p {
        P::Int(Some(n)) => Value::Integer(*n),
        P::Text(Some(s)) => Value::Text(s.clone()),
        P::Int(None) | P::Text(None) => Value::Null,
    }
}

impl SqliteConn<'_> {
    fn err(&self, source: rusqlite::Error) -> Error {
        Error::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }
}

impl Conn for SqliteConn<'_> {
    fn exec(&mut self, sql: &str, params: &[P]) -> Result<u64> {
        let values: Vec<Value> = params.iter().map(to_value).collect();
        let n = self
            .tx
            .execute(&rewrite(sql), rusqlite::params_from_iter(values))
            .map_err(|e| self.err(e))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[P]) -> Result<Vec<Row>> {
        let values: Vec<Value> = params.iter().map(to_value).collect();
        let mut stmt = self.tx.prepare(&rewrite(sql)).map_err(|e| self.err(e))?;
        let ncols = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values))
            .map_err(|e| Error::Sqlite {
                path: self.path.display().to_string(),
                source: e,
            })?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| Error::Sqlite {
            path: self.path.display().to_string(),
            source: e,
        })? {
            let mut row = Vec::with_capacity(ncols);
            for i in 0..ncols {
                let v = r.get_ref(i).map_err(|e| Error::Sqlite {
                    path: self.path.display().to_string(),
                    source: e,
                })?;
                row.push(match v {
                    ValueRef::Null => V::Null,
                    ValueRef::Integer(n) => V::Int(n),
                    ValueRef::Text(t) => V::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Real(f) => {
                        return Err(Error::Corrupt(format!("unexpected REAL value {f}")));
                    }
                    ValueRef::Blob(_) => {
                        return Err(Error::Corrupt("unexpected BLOB value".into()));
                    }
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx.execute_batch(sql).map_err(|e| self.err(e))
    }
}

struct SqliteFeedLock(Arc<AtomicBool>);

impl FeedLock for SqliteFeedLock {}

impl Drop for SqliteFeedLock {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

const APPEND_ONLY: &str = "
CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the admission audit trail is append-only'); END;
CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the admission audit trail is append-only'); END;
";

impl Db for SqliteDb {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn tx<T>(&self, f: &mut dyn FnMut(&mut dyn Conn) -> Result<T>) -> Result<T> {
        // A panic elsewhere while holding the lock leaves the connection usable (transactions roll back on drop).
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let err = |source| Error::Sqlite {
            path: self.path.display().to_string(),
            source,
        };
        let tx = guard
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let result = {
            let mut conn = SqliteConn {
                tx: &tx,
                path: &self.path,
            };
            f(&mut conn)?
        };
        tx.commit().map_err(err)?;
        Ok(result)
    }

    fn skip_locked(&self) -> &'static str {
        // `BEGIN IMMEDIATE` already serialises writers.
        ""
    }

    fn migrations(&self) -> Vec<(i64, String)> {
        vec![
            (
                1,
                schema_v1("INTEGER PRIMARY KEY AUTOINCREMENT") + APPEND_ONLY,
            ),
            (2, SCHEMA_V2.to_string()),
            (3, schema_v3()),
            (4, schema_v4()),
            (5, SCHEMA_V5.to_string()),
            (6, schema_v6()),
        ]
    }

    fn clock_ms(&self) -> &'static str {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    }

    fn migration_lock(&self, _conn: &mut dyn Conn) -> Result<()> {
        Ok(())
    }

    fn try_feed_lock(&self) -> Result<Option<Box<dyn FeedLock>>> {
        if self
            .feed_lock
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            Ok(Some(Box::new(SqliteFeedLock(self.feed_lock.clone()))))
        } else {
            Ok(None)
        }
    }
}
