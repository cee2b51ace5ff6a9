//! The local vulnerability database: embedded SQLite, indexed by (namespace, package), with provenance.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::import::BadRecord;
use crate::model::{Affected, Epss, Range, VulnInfo};
use crate::{Error, FixState, Severity};

/// Version of the database layout.
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS provenance (
    source TEXT PRIMARY KEY, imported_at TEXT NOT NULL, files INTEGER NOT NULL, skipped_files INTEGER NOT NULL,
    records TEXT NOT NULL, affected INTEGER NOT NULL, bad INTEGER NOT NULL, content_sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS affected (
    source TEXT NOT NULL, vuln_id TEXT NOT NULL, namespace TEXT NOT NULL, package TEXT NOT NULL,
    ranges TEXT NOT NULL, fix_state TEXT NOT NULL, fixed_in TEXT, severity TEXT, priority INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS affected_ns_pkg ON affected(namespace, package);
CREATE INDEX IF NOT EXISTS affected_source ON affected(source);
CREATE TABLE IF NOT EXISTS vulns (
    source TEXT NOT NULL, id TEXT NOT NULL, origin TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS vulns_id ON vulns(id);
CREATE INDEX IF NOT EXISTS vulns_source ON vulns(source);
CREATE TABLE IF NOT EXISTS kev (source TEXT NOT NULL, cve TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS kev_source ON kev(source);
CREATE TABLE IF NOT EXISTS epss (source TEXT NOT NULL, cve TEXT NOT NULL, score REAL NOT NULL, percentile REAL NOT NULL);
CREATE INDEX IF NOT EXISTS epss_source ON epss(source);
";

/// Where the database lives: `--db` if given, else `PORTCULLIS_DB`, else `<user data dir>/portcullis/vuln.db`.
pub fn resolve_db_path(cli: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = cli {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("PORTCULLIS_DB").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::data_dir()
        .map(|d| d.join("portcullis").join("vuln.db"))
        .ok_or_else(|| {
            Error::Import("no user data directory; pass --db <path> or set PORTCULLIS_DB".into())
        })
}

/// True when `path` is a SQLite file (a bundle written by [`VulnDb::export`]).
pub fn is_bundle(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| &head == b"SQLite format 3\0")
}

fn temp_beside(dest: &Path) -> Result<PathBuf, Error> {
    let name = dest
        .file_name()
        .ok_or_else(|| Error::Import(format!("{} is not a file path", dest.display())))?;
    Ok(dest.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}

/// Replaces the database at `path` with the bundle `bundle` atomically: the bundle is copied to a temporary
/// file beside `path` and checked there (it opens, its layout version is this build's, it holds data), and
/// only then renamed over `path`; on any failure the old database stays as it was. Run it while no other
/// process has `path` open. Returns the new database's status.
pub fn install_bundle(bundle: &Path, path: &Path) -> Result<Status, Error> {
    if !is_bundle(bundle) {
        return Err(Error::Import(format!(
            "{} is not a vulnerability database bundle (a SQLite file written by `portcullis db export`)",
            bundle.display()
        )));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
    }
    let tmp = temp_beside(path)?;
    let cleanup = |tmp: &Path| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", tmp.display()));
        }
    };
    let checked = (|| {
        std::fs::copy(bundle, &tmp).map_err(|e| Error::Io {
            path: bundle.display().to_string(),
            source: e,
        })?;
        let db = VulnDb::open(&tmp)?;
        let status = db.status()?;
        if status.db_version.is_empty() {
            return Err(Error::Import(format!(
                "{}: the bundle holds no imported data; nothing was changed",
                bundle.display()
            )));
        }
        drop(db);
        Ok(status)
    })();
    let mut status = match checked {
        Ok(s) => s,
        Err(e) => {
            cleanup(&tmp);
            return Err(e);
        }
    };
    swap_in(&tmp, path).inspect_err(|_| cleanup(&tmp))?;
    status.path = path.display().to_string();
    Ok(status)
}

/// Renames the checked, closed database file `tmp` over `path`, first folding the old database's write-ahead
/// log into it so no stale WAL is left beside the new file.
pub(crate) fn swap_in(tmp: &Path, path: &Path) -> Result<(), Error> {
    if path.exists()
        && let Ok(old) = Connection::open(path)
    {
        let _ = old.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    }
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    std::fs::rename(tmp, path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: e,
    })
}

/// One imported source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Path or URL as imported.
    pub source: String,
    /// When (RFC 3339, UTC).
    pub imported_at: String,
    /// Files read.
    pub files: usize,
    /// Files skipped as not advisory data.
    pub skipped_files: usize,
    /// Records read, by format.
    pub records: BTreeMap<String, usize>,
    /// Package statements stored.
    pub affected: usize,
    /// Bad records reported.
    pub bad: usize,
    /// SHA-256 of the imported content.
    pub content_sha256: String,
}

/// The result of one import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// What was imported.
    pub provenance: Provenance,
    /// The database version after the import.
    pub db_version: String,
    /// Every bad record (source, file, id, reason).
    pub bad_records: Vec<BadRecord>,
}

/// What `db status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Database file.
    pub path: String,
    /// Database version (empty when nothing was imported yet).
    pub db_version: String,
    /// Layout version.
    pub schema_version: u32,
    /// Imported sources.
    pub sources: Vec<Provenance>,
    /// Package statements per namespace.
    pub namespaces: BTreeMap<String, usize>,
    /// Vulnerability records.
    pub vulns: usize,
    /// KEV entries.
    pub kev: usize,
    /// EPSS scores.
    pub epss: usize,
}

/// The in-memory index matching runs against (loaded once per [`VulnDb`] and after each import).
#[derive(Debug, Default)]
pub struct Index {
    /// namespace → package → statements (nested so lookups need no allocation).
    pub(crate) by_package: HashMap<String, HashMap<String, Vec<Affected>>>,
    pub(crate) vulns: HashMap<String, Vec<VulnInfo>>,
    pub(crate) kev: HashSet<String>,
    pub(crate) epss: HashMap<String, Epss>,
    pub(crate) db_version: String,
    /// namespace → the oldest import time (RFC 3339) among the sources that stored data for it.
    pub(crate) ns_synced: HashMap<String, String>,
    /// The oldest import time of all sources; `None` when nothing was imported.
    pub(crate) synced_at: Option<String>,
}

/// The vulnerability database.
pub struct VulnDb {
    conn: Connection,
    path: PathBuf,
    index: OnceLock<Index>,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Db {
        path: path.display().to_string(),
        source: e,
    }
}

/// Creates the database file with mode 0600 when it does not exist (SQLite gives its `-wal` and `-shm` files the
/// database file's mode), and takes group and other access away from an existing one.
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

impl VulnDb {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                path: dir.display().to_string(),
                source: e,
            })?;
        }
        create_private(&path).map_err(|e| Error::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        let conn = Connection::open(&path).map_err(db_err(&path))?;
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
            .map_err(db_err(&path))?;
        conn.execute_batch(SCHEMA).map_err(db_err(&path))?;
        let found: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key='schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err(&path))?;
        match found {
            None => {
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES ('schema_version', ?1)",
                    [SCHEMA_VERSION.to_string()],
                )
                .map_err(db_err(&path))?;
            }
            Some(v) if v != SCHEMA_VERSION.to_string() => {
                return Err(Error::Import(format!(
                    "{}: database layout version {v}, this build reads {SCHEMA_VERSION}; \
                     delete the file and re-import",
                    path.display()
                )));
            }
            Some(_) => {}
        }
        Ok(VulnDb {
            conn,
            path,
            index: OnceLock::new(),
        })
    }

    /// Writes a consistent copy of the whole database to `dest` as one SQLite file (a bundle that
    /// [`install_bundle`] reads): written to a temporary file beside `dest`, then renamed over it.
    pub fn export(&self, dest: &Path) -> Result<(), Error> {
        let tmp = temp_beside(dest)?;
        let _ = std::fs::remove_file(&tmp);
        let r = self
            .conn
            .execute("VACUUM INTO ?1", [tmp.display().to_string()])
            .map_err(db_err(&self.path))
            .and_then(|_| {
                std::fs::rename(&tmp, dest).map_err(|e| Error::Io {
                    path: dest.display().to_string(),
                    source: e,
                })
            });
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        r
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database version every match result carries (empty before the first import).
    pub fn db_version(&self) -> Result<String, Error> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key='db_version'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db_err(&self.path))?
            .unwrap_or_default())
    }

    /// Imports one source (file, directory, archive, `file://` or `http(s)://` URL) in one transaction,
    /// replacing what an earlier import of the same source stored. A failed import changes nothing. The NVD CVE
    /// API (`…/rest/json/cves/2.0`) is pulled incrementally: after a first full pull, only the CVEs modified since
    /// the last one are fetched and replace their earlier records.
    pub fn import(&mut self, source: &str) -> Result<ImportReport, Error> {
        let key = if source.contains("://") {
            source.to_string()
        } else {
            std::fs::canonicalize(source)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| source.to_string())
        };
        self.import_as(source, &key)
    }

    /// Imports what `read_from` holds (as [`VulnDb::import`]) as the source named `key` — a download kept in a
    /// local file is stored under its URL.
    pub fn import_as(&mut self, read_from: &str, key: &str) -> Result<ImportReport, Error> {
        let source = key;
        // the NVD API is pulled incrementally: what changed since the last pull (an hour of overlap) replaces
        // those records only, the rest stays
        let since = if crate::import::is_incremental(read_from) {
            self.imported_at()?
                .get(key)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&chrono::Utc) - chrono::Duration::hours(1))
        } else {
            None
        };
        let incremental = since.is_some();
        let batch = crate::import::collect_since(read_from, since)?;
        let total: usize = batch.records.values().sum();
        if total == 0 && !(incremental && batch.bad.is_empty()) {
            let detail = batch
                .bad
                .first()
                .map(|b| format!("; first problem: {b}"))
                .unwrap_or_default();
            return Err(Error::Import(format!(
                "{source}: no advisory records found ({} files read, {} not advisory data){detail}; \
                 nothing was changed",
                batch.files, batch.skipped_files
            )));
        }
        let imported_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let path = self.path.clone();
        let e = db_err(&path);
        let tx = self.conn.transaction().map_err(&e)?;
        if incremental {
            let mut st = tx
                .prepare("DELETE FROM vulns WHERE source = ?1 AND id = ?2")
                .map_err(&e)?;
            for v in &batch.vulns {
                st.execute(params![key, v.id]).map_err(&e)?;
            }
            tx.execute("DELETE FROM provenance WHERE source = ?1", [&key])
                .map_err(&e)?;
        } else {
            for t in ["affected", "vulns", "kev", "epss", "provenance"] {
                tx.execute(&format!("DELETE FROM {t} WHERE source = ?1"), [&key])
                    .map_err(&e)?;
            }
        }
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO affected(source, vuln_id, namespace, package, ranges, fix_state, fixed_in, \
                     severity, priority) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .map_err(&e)?;
            for a in &batch.affected {
                let ranges = serde_json::to_string(&a.ranges).unwrap_or_default();
                st.execute(params![
                    key,
                    a.vuln_id,
                    a.namespace,
                    a.package,
                    ranges,
                    a.fix_state.as_str(),
                    a.fixed_in,
                    a.severity.map(Severity::as_str),
                    a.priority
                ])
                .map_err(&e)?;
            }
            let mut st = tx
                .prepare("INSERT INTO vulns(source, id, origin, data) VALUES (?1, ?2, ?3, ?4)")
                .map_err(&e)?;
            for v in &batch.vulns {
                let data = serde_json::to_string(v).unwrap_or_default();
                st.execute(params![key, v.id, v.origin, data]).map_err(&e)?;
            }
            let mut st = tx
                .prepare("INSERT INTO kev(source, cve) VALUES (?1, ?2)")
                .map_err(&e)?;
            for k in &batch.kev {
                st.execute(params![key, k]).map_err(&e)?;
            }
            let mut st = tx
                .prepare("INSERT INTO epss(source, cve, score, percentile) VALUES (?1, ?2, ?3, ?4)")
                .map_err(&e)?;
            for x in &batch.epss {
                st.execute(params![key, x.cve, x.score, x.percentile])
                    .map_err(&e)?;
            }
        }
        let provenance = Provenance {
            source: key.to_string(),
            imported_at: imported_at.clone(),
            files: batch.files,
            skipped_files: batch.skipped_files,
            records: batch.records.clone(),
            affected: batch.affected.len(),
            bad: batch.bad.len(),
            content_sha256: batch.content_sha256.clone(),
        };
        tx.execute(
            "INSERT INTO provenance(source, imported_at, files, skipped_files, records, affected, bad, \
             content_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                key,
                imported_at,
                provenance.files,
                provenance.skipped_files,
                serde_json::to_string(&provenance.records).unwrap_or_default(),
                provenance.affected,
                provenance.bad,
                provenance.content_sha256
            ],
        )
        .map_err(&e)?;
        // the version names the content: every source's digest, plus the time of this import
        let mut h = Sha256::new();
        {
            let mut st = tx
                .prepare("SELECT source, content_sha256 FROM provenance ORDER BY source")
                .map_err(&e)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(&e)?;
            for row in rows {
                let (s, c) = row.map_err(&e)?;
                h.update(s.as_bytes());
                h.update([0]);
                h.update(c.as_bytes());
                h.update([0]);
            }
        }
        let digest = hex::encode(h.finalize());
        let db_version = format!(
            "{SCHEMA_VERSION}.{}.{}",
            imported_at.replace(['-', ':'], ""),
            &digest[..12]
        );
        tx.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('db_version', ?1)",
            [&db_version],
        )
        .map_err(&e)?;
        tx.commit().map_err(&e)?;
        self.index = OnceLock::new();
        Ok(ImportReport {
            provenance,
            db_version,
            bad_records: batch.bad,
        })
    }

    /// Provenance, counts and version.
    pub fn status(&self) -> Result<Status, Error> {
        let e = db_err(&self.path);
        let mut sources = Vec::new();
        let mut st = self
            .conn
            .prepare(
                "SELECT source, imported_at, files, skipped_files, records, affected, bad, content_sha256 \
                 FROM provenance ORDER BY source",
            )
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok(Provenance {
                    source: r.get(0)?,
                    imported_at: r.get(1)?,
                    files: r.get(2)?,
                    skipped_files: r.get(3)?,
                    records: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
                    affected: r.get(5)?,
                    bad: r.get(6)?,
                    content_sha256: r.get(7)?,
                })
            })
            .map_err(&e)?;
        for r in rows {
            sources.push(r.map_err(&e)?);
        }
        let mut namespaces = BTreeMap::new();
        let mut st = self
            .conn
            .prepare("SELECT namespace, COUNT(*) FROM affected GROUP BY namespace")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, usize>(1)?)))
            .map_err(&e)?;
        for r in rows {
            let (k, v) = r.map_err(&e)?;
            namespaces.insert(k, v);
        }
        let count = |t: &str| -> Result<usize, Error> {
            self.conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .map_err(db_err(&self.path))
        };
        Ok(Status {
            path: self.path.display().to_string(),
            db_version: self.db_version()?,
            schema_version: SCHEMA_VERSION,
            sources,
            namespaces,
            vulns: count("vulns")?,
            kev: count("kev")?,
            epss: count("epss")?,
        })
    }

    /// source → its import time (RFC 3339).
    fn imported_at(&self) -> Result<HashMap<String, String>, Error> {
        let e = db_err(&self.path);
        let mut st = self
            .conn
            .prepare("SELECT source, imported_at FROM provenance")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(&e)?;
        let mut out = HashMap::new();
        for r in rows {
            let (s, at) = r.map_err(&e)?;
            out.insert(s, at);
        }
        Ok(out)
    }

    /// The in-memory index (loaded on first use).
    pub fn index(&self) -> Result<&Index, Error> {
        if let Some(i) = self.index.get() {
            return Ok(i);
        }
        let idx = self.load_index()?;
        Ok(self.index.get_or_init(|| idx))
    }

    /// Loads a fresh, owned copy of the in-memory index (`Send + Sync`: share it across threads with `Arc` and
    /// call [`Index::match_sbom`]; reload after an import).
    pub fn load_index(&self) -> Result<Index, Error> {
        let e = db_err(&self.path);
        let mut idx = Index {
            db_version: self.db_version()?,
            ..Default::default()
        };
        let mut st = self
            .conn
            .prepare(
                "SELECT vuln_id, namespace, package, ranges, fix_state, fixed_in, severity, priority, source \
                 FROM affected",
            )
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, u8>(7)?,
                    r.get::<_, String>(8)?,
                ))
            })
            .map_err(&e)?;
        let imported = self.imported_at()?;
        idx.synced_at = imported.values().min().cloned();
        for row in rows {
            let (vuln_id, namespace, package, ranges, state, fixed_in, sev, priority, source) =
                row.map_err(&e)?;
            if let Some(at) = imported.get(&source) {
                match idx.ns_synced.get_mut(&namespace) {
                    Some(cur) if *cur <= *at => {}
                    Some(cur) => *cur = at.clone(),
                    None => {
                        idx.ns_synced.insert(namespace.clone(), at.clone());
                    }
                }
            }
            let ranges: Vec<Range> = serde_json::from_str(&ranges).map_err(|x| {
                Error::Import(format!(
                    "{}: corrupt ranges for {vuln_id} {namespace}/{package}: {x}",
                    self.path.display()
                ))
            })?;
            let fix_state = serde_json::from_value(serde_json::Value::String(state))
                .unwrap_or(FixState::Unknown);
            let severity =
                sev.and_then(|s| serde_json::from_value(serde_json::Value::String(s)).ok());
            idx.by_package
                .entry(namespace.clone())
                .or_default()
                .entry(package.clone())
                .or_default()
                .push(Affected {
                    vuln_id,
                    namespace,
                    package,
                    ranges,
                    fix_state,
                    fixed_in,
                    severity,
                    priority,
                });
        }
        // group each package's statements by vulnerability, highest precedence first (the matcher relies on it)
        for rows in idx.by_package.values_mut().flat_map(|m| m.values_mut()) {
            rows.sort_by(|a, b| {
                a.vuln_id
                    .cmp(&b.vuln_id)
                    .then_with(|| b.priority.cmp(&a.priority))
            });
        }
        let mut st = self.conn.prepare("SELECT data FROM vulns").map_err(&e)?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(&e)?;
        for row in rows {
            if let Ok(v) = serde_json::from_str::<VulnInfo>(&row.map_err(&e)?) {
                idx.vulns.entry(v.id.clone()).or_default().push(v);
            }
        }
        let mut st = self.conn.prepare("SELECT cve FROM kev").map_err(&e)?;
        let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(&e)?;
        for row in rows {
            idx.kev.insert(row.map_err(&e)?);
        }
        let mut st = self
            .conn
            .prepare("SELECT cve, score, percentile FROM epss")
            .map_err(&e)?;
        let rows = st
            .query_map([], |r| {
                Ok(Epss {
                    cve: r.get(0)?,
                    score: r.get(1)?,
                    percentile: r.get(2)?,
                })
            })
            .map_err(&e)?;
        for row in rows {
            let x = row.map_err(&e)?;
            idx.epss.insert(x.cve.clone(), x);
        }
        Ok(idx)
    }
}
