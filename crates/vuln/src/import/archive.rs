//! Walking a source: a URL (downloaded), a directory (walked in name order), a file, and the archives inside
//! them (`.tar`, `.tar.gz`/`.tgz`, `.zip`, `.gz`). Every plain file found is handed to [`Collector::file`];
//! a damaged archive is a bad record and the entries read before the damage are kept.

use std::io::Read;
use std::path::Path;

use super::Collector;
use crate::Error;

/// Feeds every file of `source` (path, `file://` or `http(s)://` URL) to `c`.
pub(super) fn walk(c: &mut Collector, source: &str) -> Result<(), Error> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let bytes = fetch(source)?;
        let name = source
            .split(['?', '#'])
            .next()
            .unwrap_or(source)
            .rsplit('/')
            .next()
            .unwrap_or("download")
            .to_string();
        blob(c, &name, bytes);
        return Ok(());
    }
    let path = source.strip_prefix("file://").unwrap_or(source);
    let p = Path::new(path);
    let meta = std::fs::metadata(p).map_err(|e| Error::Io {
        path: path.to_string(),
        source: e,
    })?;
    if meta.is_dir() {
        let mut n = 0usize;
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::Import(format!("walking {path}: {e}")))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(p)
                .unwrap_or(entry.path())
                .to_string_lossy()
                .to_string();
            match std::fs::read(entry.path()) {
                Ok(bytes) => blob(c, &rel, bytes),
                Err(e) => c.bad(&rel, None, format!("cannot read: {e}")),
            }
            n += 1;
        }
        if n == 0 {
            return Err(Error::Import(format!("{path}: directory has no files")));
        }
    } else {
        let bytes = std::fs::read(p).map_err(|e| Error::Io {
            path: path.to_string(),
            source: e,
        })?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| path.to_string());
        blob(c, &name, bytes);
    }
    Ok(())
}

fn fetch(url: &str) -> Result<Vec<u8>, Error> {
    let fail = |reason: String| Error::Fetch {
        url: url.to_string(),
        reason,
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let resp = client.get(url).send().map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP status {}", resp.status())));
    }
    resp.bytes()
        .map(|b| b.to_vec())
        .map_err(|e| fail(format!("reading body: {e}")))
}

/// A file or archive, by name.
fn blob(c: &mut Collector, name: &str, bytes: Vec<u8>) {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        tar(c, name, flate2::read::GzDecoder::new(&bytes[..]));
    } else if lower.ends_with(".tar") {
        tar(c, name, &bytes[..]);
    } else if lower.ends_with(".zip") {
        zip(c, name, &bytes);
    } else if let Some(inner) = name.strip_suffix(".gz") {
        let mut out = Vec::new();
        match flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out) {
            Ok(_) => c.file(inner, &out),
            Err(e) => c.bad(
                name,
                None,
                format!("gzip data is corrupt or truncated: {e}"),
            ),
        }
    } else {
        c.file(name, &bytes);
    }
}

fn tar(c: &mut Collector, name: &str, r: impl Read) {
    let mut archive = tar::Archive::new(r);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return c.bad(name, None, format!("not a readable tar archive: {e}")),
    };
    let mut n = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                return c.bad(
                    name,
                    None,
                    format!("archive truncated or corrupt after {n} entries: {e}"),
                );
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut buf = Vec::new();
        if let Err(e) = entry.read_to_end(&mut buf) {
            return c.bad(
                &format!("{name}!{path}"),
                None,
                format!("archive truncated or corrupt in this entry: {e}"),
            );
        }
        n += 1;
        c.file(&format!("{name}!{path}"), &buf);
    }
}

fn zip(c: &mut Collector, name: &str, bytes: &[u8]) {
    let mut z = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => return c.bad(name, None, format!("not a readable zip archive: {e}")),
    };
    for i in 0..z.len() {
        let mut f = match z.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                c.bad(name, None, format!("zip entry {i} unreadable: {e}"));
                continue;
            }
        };
        if !f.is_file() {
            continue;
        }
        let path = f.name().to_string();
        let mut buf = Vec::new();
        if let Err(e) = f.read_to_end(&mut buf) {
            c.bad(
                &format!("{name}!{path}"),
                None,
                format!("zip entry corrupt: {e}"),
            );
            continue;
        }
        c.file(&format!("{name}!{path}"), &buf);
    }
}
