//! Atomic synchronisation of a vulnerability database from its configured sources (`serve`'s start-up and
//! scheduled sync): a new database is built in a temporary file beside the live one, checked, and only then
//! renamed over it, so readers see the old data until the new data is complete, and a failed sync changes
//! nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::{Status, VulnDb, is_bundle, swap_in};
use crate::{Error, ImportReport};

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    /// The advisory sources imported, in order.
    pub imports: Vec<ImportReport>,
    /// The bundles (`portcullis db export` files or URLs) the new database started from.
    pub bundles: Vec<String>,
    /// The new database.
    pub status: Status,
}

/// Files of one sync beside the live database, removed whatever the outcome.
struct Scratch {
    db: PathBuf,
    downloads: PathBuf,
}

impl Scratch {
    fn beside(path: &Path) -> Result<Scratch, Error> {
        let name = path
            .file_name()
            .ok_or_else(|| Error::Import(format!("{} is not a file path", path.display())))?
            .to_string_lossy()
            .to_string();
        let pid = std::process::id();
        let scratch = Scratch {
            db: path.with_file_name(format!(".{name}.sync-{pid}")),
            downloads: path.with_file_name(format!(".{name}.sync-{pid}.d")),
        };
        scratch.remove();
        std::fs::create_dir_all(&scratch.downloads).map_err(|e| Error::Io {
            path: scratch.downloads.display().to_string(),
            source: e,
        })?;
        Ok(scratch)
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db.display()));
        }
        let _ = std::fs::remove_dir_all(&self.downloads);
    }

    /// Makes the scratch database a copy of `bundle` (whatever was built before is replaced).
    fn start_from_bundle(&self, bundle: &Path) -> Result<(), Error> {
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db.display()));
        }
        std::fs::copy(bundle, &self.db).map_err(|e| Error::Io {
            path: bundle.display().to_string(),
            source: e,
        })?;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Rebuilds the database at `path` from `sources`, in order, and swaps it in atomically.
///
/// A source is what `portcullis db import` takes (file, directory, archive, `file://` or `http(s)://` URL,
/// yum `mirror.list`), or a bundle written by `portcullis db export` (a local file or an `http(s)://` URL, told
/// apart by content): a bundle replaces everything built before it, so list it first and the advisory sources
/// after it add to it. The result holds exactly the configured sources' data. Any source failing, or a result
/// without data, leaves the database at `path` as it was; the error names the source.
pub fn sync(path: &Path, sources: &[String]) -> Result<SyncReport, Error> {
    if sources.is_empty() {
        return Err(Error::Import(
            "no vulnerability data sources are configured (give --vuln-source, PORTCULLIS_VULN_SOURCES or a \
             bundle); nothing was changed"
                .into(),
        ));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
    }
    let scratch = Scratch::beside(path)?;
    let kept = |source: &str, e: Error| {
        Error::Import(format!(
            "vulnerability data source {source}: {e}; the previous data is kept"
        ))
    };
    let mut imports = Vec::new();
    let mut bundles = Vec::new();
    for (n, source) in sources.iter().enumerate() {
        let is_url = source.starts_with("http://") || source.starts_with("https://");
        let local = source.strip_prefix("file://").unwrap_or(source);
        // mirror lists, Red Hat's `archive_latest.txt` (which names the archive to fetch) and the NVD API
        // (paged, rate-limited) are read by the importer itself, not downloaded as one file first
        let importer_fetches = source.ends_with("/mirror.list")
            || source.ends_with("/archive_latest.txt")
            || crate::import::is_incremental(source);
        if is_url && !importer_fetches {
            let file = scratch
                .downloads
                .join(format!("{n}-{}", url_file_name(source)));
            crate::import::archive::download(source, &file).map_err(|e| kept(source, e))?;
            if is_bundle(&file) {
                scratch
                    .start_from_bundle(&file)
                    .map_err(|e| kept(source, e))?;
                bundles.push(source.clone());
                imports.clear();
            } else {
                let mut db = VulnDb::open(&scratch.db).map_err(|e| kept(source, e))?;
                let file = file.display().to_string();
                imports.push(db.import_as(&file, source).map_err(|e| kept(source, e))?);
            }
            let _ = std::fs::remove_file(&file);
        } else if !is_url && is_bundle(Path::new(local)) {
            scratch
                .start_from_bundle(Path::new(local))
                .map_err(|e| kept(source, e))?;
            bundles.push(source.clone());
            imports.clear();
        } else {
            let mut db = VulnDb::open(&scratch.db).map_err(|e| kept(source, e))?;
            imports.push(db.import(source).map_err(|e| kept(source, e))?);
        }
    }
    let mut status = {
        let db = VulnDb::open(&scratch.db)?;
        let status = db.status()?;
        if status.db_version.is_empty() {
            return Err(Error::Import(
                "the configured sources gave no vulnerability data; the previous data is kept"
                    .into(),
            ));
        }
        db.load_index()?;
        status
    };
    swap_in(&scratch.db, path)?;
    status.path = path.display().to_string();
    Ok(SyncReport {
        imports,
        bundles,
        status,
    })
}

/// The last path segment of a URL (what the importers recognise archives by), reduced to safe characters.
fn url_file_name(url: &str) -> String {
    let seg = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let safe: String = seg
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(100)
        .collect();
    if safe.trim_matches('.').is_empty() {
        "download".into()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ghsa() -> String {
        portcullis_testkit::shared()
            .join("vulndata/osv/ghsa/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q")
            .display()
            .to_string()
    }

    #[test]
    fn a_sync_replaces_the_data_and_a_failed_one_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vuln.db");
        let r = sync(&path, &[ghsa()]).unwrap();
        assert_eq!(r.imports.len(), 1);
        assert!(r.status.namespaces.contains_key("pypi"), "{:?}", r.status);
        let before = VulnDb::open(&path).unwrap().db_version().unwrap();
        assert!(!before.is_empty());

        let missing = dir.path().join("missing").display().to_string();
        let e = sync(&path, &[ghsa(), missing.clone()]).unwrap_err();
        assert!(e.to_string().contains(&missing), "{e}");
        assert!(e.to_string().contains("previous data is kept"), "{e}");
        assert_eq!(VulnDb::open(&path).unwrap().db_version().unwrap(), before);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.contains(".sync-"))
            .collect();
        assert!(left.is_empty(), "scratch files left: {left:?}");

        let e = sync(&path, &[]).unwrap_err();
        assert!(
            e.to_string().contains("no vulnerability data sources"),
            "{e}"
        );
    }

    #[test]
    fn a_bundle_source_is_the_base_the_others_add_to() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first.db");
        sync(&first, &[ghsa()]).unwrap();
        let bundle = dir.path().join("bundle.db");
        VulnDb::open(&first).unwrap().export(&bundle).unwrap();
        let alpine = portcullis_testkit::shared().join("vulndata/alpine-secdb/v3.9/main.yaml");
        assert!(alpine.exists(), "{} missing", alpine.display());
        let sources = vec![
            format!("file://{}", bundle.display()),
            alpine.display().to_string(),
        ];
        let path = dir.path().join("vuln.db");
        let r = sync(&path, &sources).unwrap();
        assert_eq!(r.bundles, vec![sources[0].clone()]);
        assert_eq!(r.imports.len(), sources.len() - 1);
        assert!(r.status.namespaces.contains_key("pypi"), "{:?}", r.status);
        assert!(
            r.status.namespaces.contains_key("alpine:3.9"),
            "{:?}",
            r.status
        );
    }
}
