//! Walking a source: a URL (downloaded), a directory (walked in name order), a file, and the archives inside
//! them (`.tar`, `.tar.gz`/`.tgz`, `.tar.zst`, `.zip`, `.gz`); Red Hat's `archive_latest.txt` names the archive to
//! fetch from its directory. Every plain file found is handed to [`Collector::file`];
//! a damaged archive is a bad record and the entries read before the damage are kept.
//!
//! Every read is bounded ([`Limits`]): a download or file larger than `source` bytes is refused (nothing is
//! imported), a file or archive entry that decompresses to more than `file` bytes is a bad record and skipped,
//! and an archive stops (a bad record) once its entries have given `total` bytes.

use std::io::Read;
use std::path::Path;

use super::Collector;
use crate::Error;

/// Size bounds of one import.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Largest download or file read from disk (compressed size for archives).
    pub(super) source: u64,
    /// Largest single file after decompression (the Debian tracker JSON dump is about 90 MB).
    pub(super) file: u64,
    /// Most bytes all entries of one archive may decompress to (an OSV `all.zip` gives a few hundred MB).
    pub(super) total: u64,
}

const MIB: u64 = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            source: 1024 * MIB,
            file: 512 * MIB,
            total: 8 * 1024 * MIB,
        }
    }
}

fn mib(n: u64) -> String {
    if n >= MIB {
        format!("{} MiB", n / MIB)
    } else {
        format!("{n} bytes")
    }
}

/// Reads at most `limit` bytes of `r`; `Ok(None)` when there is more.
fn read_bounded(r: impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    r.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

/// Feeds every file of `source` (path, `file://` or `http(s)://` URL) to `c`.
pub(super) fn walk(c: &mut Collector, source: &str) -> Result<(), Error> {
    if (source.starts_with("http://") || source.starts_with("https://"))
        && source.ends_with("/mirror.list")
    {
        let (name, bytes) = yum_updateinfo(source, c.limits.source)?;
        blob(c, &name, bytes);
        return Ok(());
    }
    if (source.starts_with("http://") || source.starts_with("https://"))
        && source.ends_with("/archive_latest.txt")
    {
        let (name, bytes) = latest_archive(source, c.limits.source)?;
        blob(c, &name, bytes);
        return Ok(());
    }
    if source.starts_with("http://") || source.starts_with("https://") {
        let bytes = fetch(source, c.limits.source)?;
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
            let limit = c.limits.source;
            match std::fs::File::open(entry.path()).and_then(|f| read_bounded(f, limit)) {
                Ok(Some(bytes)) => blob(c, &rel, bytes),
                Ok(None) => c.bad(&rel, None, format!("larger than {}; skipped", mib(limit))),
                Err(e) => c.bad(&rel, None, format!("cannot read: {e}")),
            }
            n += 1;
        }
        if n == 0 {
            return Err(Error::Import(format!("{path}: directory has no files")));
        }
    } else {
        let io = |e| Error::Io {
            path: path.to_string(),
            source: e,
        };
        let bytes = read_bounded(std::fs::File::open(p).map_err(io)?, c.limits.source)
            .map_err(io)?
            .ok_or_else(|| {
                Error::Import(format!(
                    "{path}: larger than {}; split it (a directory or archive of files is read file by file)",
                    mib(c.limits.source)
                ))
            })?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| path.to_string());
        blob(c, &name, bytes);
    }
    Ok(())
}

/// A yum repository's `updateinfo` (Amazon Linux publishes no fixed URL for it): the first mirror of
/// `mirror.list`, its `repodata/repomd.xml`, then the file that names as `updateinfo`. Returns its file name and
/// bytes.
fn yum_updateinfo(mirror_list: &str, limit: u64) -> Result<(String, Vec<u8>), Error> {
    let fail = |reason: String| Error::Fetch {
        url: mirror_list.to_string(),
        reason,
    };
    let list = fetch(mirror_list, 64 * 1024)?;
    let base = String::from_utf8_lossy(&list)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_string())
        .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
        .ok_or_else(|| fail("mirror.list names no http(s) mirror".into()))?;
    let repomd_url = format!("{base}/repodata/repomd.xml");
    let repomd = fetch(&repomd_url, 16 * 1024 * 1024)?;
    let bad_repomd = |reason: String| Error::Fetch {
        url: repomd_url.clone(),
        reason,
    };
    let text = std::str::from_utf8(&repomd).map_err(|_| bad_repomd("not UTF-8".into()))?;
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, opts)
        .map_err(|e| bad_repomd(format!("invalid repomd.xml: {e}")))?;
    let href = doc
        .descendants()
        .find(|n| n.has_tag_name("data") && n.attribute("type") == Some("updateinfo"))
        .and_then(|d| d.children().find(|n| n.has_tag_name("location")))
        .and_then(|l| l.attribute("href"))
        .ok_or_else(|| bad_repomd("repomd.xml lists no updateinfo".into()))?;
    // the location is relative to the mirror: never another host or a path out of it
    if href.contains("://") || href.starts_with('/') || href.split('/').any(|p| p == "..") {
        return Err(bad_repomd(format!(
            "updateinfo location `{href}` is not inside the mirror"
        )));
    }
    let name = href.rsplit('/').next().unwrap_or(href).to_string();
    Ok((name, fetch(&format!("{base}/{href}"), limit)?))
}

/// Downloads `url` (at most the source limit, 1 GiB) into the file `dest`.
pub(crate) fn download(url: &str, dest: &Path) -> Result<(), Error> {
    let bytes = fetch(url, Limits::default().source)?;
    std::fs::write(dest, bytes).map_err(|e| Error::Io {
        path: dest.display().to_string(),
        source: e,
    })
}

/// Red Hat's CSAF directories (`…/csaf/v2/vex/`, `…/csaf/v2/advisories/`) name their current full archive in
/// `archive_latest.txt` (`csaf_vex_2024-08-04.tar.zst`): fetch that file from the same directory. Returns its
/// name and bytes.
fn latest_archive(index: &str, limit: u64) -> Result<(String, Vec<u8>), Error> {
    let fail = |reason: String| Error::Fetch {
        url: index.to_string(),
        reason,
    };
    let text = fetch(index, 4 * 1024)?;
    let name = String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
        .ok_or_else(|| fail("archive_latest.txt names no archive".into()))?;
    // a plain file name in the same directory: never another host or a path out of it
    if name.contains(['/', '\\', ':', '?', '#']) || name.starts_with('.') {
        return Err(fail(format!(
            "archive name `{name}` is not a file name in the same directory"
        )));
    }
    let dir = index.trim_end_matches("archive_latest.txt");
    Ok((name.clone(), fetch(&format!("{dir}{name}"), limit)?))
}

fn fetch(url: &str, limit: u64) -> Result<Vec<u8>, Error> {
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
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(fail(format!("the response is larger than {}", mib(limit))));
    }
    read_bounded(resp, limit)
        .map_err(|e| fail(format!("reading body: {e}")))?
        .ok_or_else(|| fail(format!("the response is larger than {}", mib(limit))))
}

/// A file or archive, by name.
fn blob(c: &mut Collector, name: &str, bytes: Vec<u8>) {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        tar(c, name, flate2::read::GzDecoder::new(&bytes[..]));
    } else if lower.ends_with(".tar") {
        tar(c, name, &bytes[..]);
    } else if lower.ends_with(".tar.zst") {
        match zstd::stream::read::Decoder::new(&bytes[..]) {
            Ok(d) => tar(c, name, d),
            Err(e) => c.bad(name, None, format!("not readable zstd data: {e}")),
        }
    } else if lower.ends_with(".zip") {
        zip(c, name, &bytes);
    } else if let Some(inner) = name.strip_suffix(".gz") {
        let limit = c.limits.file;
        match read_bounded(flate2::read::GzDecoder::new(&bytes[..]), limit) {
            Ok(Some(out)) => c.file(inner, &out),
            Ok(None) => c.bad(
                name,
                None,
                format!("decompresses to more than {}; skipped", mib(limit)),
            ),
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
    let mut total = 0u64;
    for entry in entries {
        let entry = match entry {
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
        let here = format!("{name}!{path}");
        let Some(left) = budget(c, name, total) else {
            return;
        };
        // skipping an entry decompresses it too: its declared size counts against the archive's budget
        let size = entry.size();
        if size > left {
            return c.bad(&here, None, too_large(c.limits, 0));
        }
        let buf = match read_bounded(entry, c.limits.file) {
            Ok(Some(buf)) => buf,
            Ok(None) => {
                c.bad(&here, None, too_large(c.limits, u64::MAX));
                total += size;
                continue;
            }
            Err(e) => {
                return c.bad(
                    &here,
                    None,
                    format!("archive truncated or corrupt in this entry: {e}"),
                );
            }
        };
        n += 1;
        total += buf.len() as u64;
        c.file(&here, &buf);
    }
}

fn zip(c: &mut Collector, name: &str, bytes: &[u8]) {
    let mut z = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => return c.bad(name, None, format!("not a readable zip archive: {e}")),
    };
    let mut total = 0u64;
    for i in 0..z.len() {
        let f = match z.by_index(i) {
            Ok(f) => f,
            Err(e) => {
                c.bad(name, None, format!("zip entry {i} unreadable: {e}"));
                continue;
            }
        };
        if !f.is_file() {
            continue;
        }
        let here = format!("{name}!{}", f.name());
        let Some(left) = budget(c, name, total) else {
            return;
        };
        let buf = match read_bounded(f, c.limits.file.min(left)) {
            Ok(Some(buf)) => buf,
            Ok(None) => {
                c.bad(&here, None, too_large(c.limits, left));
                if left <= c.limits.file {
                    return;
                }
                // the skipped entry's decompression counts against the archive's budget too
                total += c.limits.file;
                continue;
            }
            Err(e) => {
                c.bad(&here, None, format!("zip entry corrupt: {e}"));
                continue;
            }
        };
        total += buf.len() as u64;
        c.file(&here, &buf);
    }
}

/// What is left of the archive's `total` budget after `used` bytes; `None` (reported) when nothing is.
fn budget(c: &mut Collector, name: &str, used: u64) -> Option<u64> {
    let left = c.limits.total.saturating_sub(used);
    if left == 0 {
        c.bad(name, None, too_large(c.limits, 0));
    }
    (left > 0).then_some(left)
}

/// Why an entry was not read: larger than one file may be, or past what the whole archive may give.
fn too_large(limits: Limits, left: u64) -> String {
    if left <= limits.file {
        format!(
            "the archive's entries decompress to more than {}; the rest of the archive is not read",
            mib(limits.total)
        )
    } else {
        format!(
            "entry decompresses to more than {}; skipped",
            mib(limits.file)
        )
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{Limits, blob, walk};
    use crate::import::{Batch, Collector};

    /// An OSV record of about `size` bytes.
    fn osv(id: &str, size: usize) -> Vec<u8> {
        format!(
            r#"{{"schema_version":"1.6.0","id":"{id}","modified":"2024-01-01T00:00:00Z","details":"{}",
            "affected":[{{"package":{{"ecosystem":"PyPI","name":"p"}},"ranges":[{{"type":"ECOSYSTEM",
            "events":[{{"introduced":"0"}},{{"fixed":"1.0"}}]}}]}}]}}"#,
            "x".repeat(size)
        )
        .into_bytes()
    }

    fn small() -> Collector {
        let mut c = Collector::new("test");
        c.limits = Limits {
            source: 256 * 1024,
            file: 64 * 1024,
            total: 100 * 1024,
        };
        c
    }

    fn ids(b: &Batch) -> Vec<&str> {
        b.vulns.iter().map(|v| v.id.as_str()).collect()
    }

    #[test]
    fn gzip_bomb_is_a_bad_record_not_an_allocation() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; 4 << 20]).unwrap();
        let bytes = gz.finish().unwrap();
        let mut c = small();
        blob(&mut c, "feed.json.gz", bytes);
        let b = c.finish();
        assert_eq!(b.files, 0);
        assert!(
            b.bad[0].reason.contains("more than 65536 bytes"),
            "{:?}",
            b.bad
        );
    }

    #[test]
    fn oversized_tar_entry_is_skipped_and_the_others_read() {
        let mut tar = tar::Builder::new(Vec::new());
        for (name, body) in [
            ("a.json", osv("PYSEC-1", 10)),
            ("big.json", osv("PYSEC-2", 80 * 1024)),
            ("c.json", osv("PYSEC-3", 10)),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, &body[..]).unwrap();
        }
        let mut c = small();
        blob(&mut c, "osv.tar", tar.into_inner().unwrap());
        let b = c.finish();
        assert_eq!(ids(&b), ["PYSEC-1", "PYSEC-3"]);
        assert_eq!(b.bad.len(), 1, "{:?}", b.bad);
        assert_eq!(b.bad[0].file, "osv.tar!big.json");
        assert!(b.bad[0].reason.contains("skipped"), "{:?}", b.bad);
    }

    #[test]
    fn tar_gz_entry_past_the_total_ends_the_archive_unread() {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut tar = tar::Builder::new(gz);
        for (name, body) in [
            ("a.json", osv("PYSEC-1", 10)),
            ("zeros.json", vec![b' '; 4 << 20]),
            ("c.json", osv("PYSEC-3", 10)),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            tar.append_data(&mut h, name, &body[..]).unwrap();
        }
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        assert!(bytes.len() < 64 * 1024, "compressed {} bytes", bytes.len());
        let mut c = small();
        blob(&mut c, "osv.tar.gz", bytes);
        let b = c.finish();
        assert_eq!(ids(&b), ["PYSEC-1"]);
        assert_eq!(b.bad[0].file, "osv.tar.gz!zeros.json");
        assert!(
            b.bad[0]
                .reason
                .contains("the rest of the archive is not read"),
            "{:?}",
            b.bad
        );
    }

    #[test]
    fn zip_stops_once_its_entries_reach_the_total() {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 1..=4 {
            z.start_file(
                format!("PYSEC-{i}.json"),
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            z.write_all(&osv(&format!("PYSEC-{i}"), 40 * 1024)).unwrap();
        }
        let bytes = z.finish().unwrap().into_inner();
        let mut c = small();
        blob(&mut c, "all.zip", bytes);
        let b = c.finish();
        assert_eq!(ids(&b), ["PYSEC-1", "PYSEC-2"]);
        assert_eq!(b.bad.len(), 1, "{:?}", b.bad);
        assert!(
            b.bad[0]
                .reason
                .contains("the rest of the archive is not read"),
            "{:?}",
            b.bad
        );
    }

    #[test]
    fn oversized_source_file_is_refused_and_a_directory_skips_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("big.json"), osv("PYSEC-9", 300 * 1024)).unwrap();
        std::fs::write(dir.path().join("ok.json"), osv("PYSEC-8", 10)).unwrap();
        let big = dir.path().join("big.json");
        let err = walk(&mut small(), big.to_str().unwrap()).unwrap_err();
        assert!(
            err.to_string()
                .contains("larger than 262144 bytes; split it"),
            "{err}"
        );
        let mut c = small();
        walk(&mut c, dir.path().to_str().unwrap()).unwrap();
        let b = c.finish();
        assert_eq!(ids(&b), ["PYSEC-8"]);
        assert_eq!(b.bad[0].file, "big.json");
    }
}
