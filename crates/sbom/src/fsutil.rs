//! Helpers over [`FsView`]: symlink resolution inside the view, reading with path-naming errors, layer lookup.

use portcullis_image::{EntryKind, FsView};

use crate::Error;

/// Maximum symlinks followed while resolving one path (as Linux's `MAXSYMLINKS`).
const MAX_HOPS: usize = 40;

/// Joins a symlink target onto the directory holding the link and normalises `.`/`..` without leaving `/`.
fn join_normalise(base_dir: &str, target: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let full = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("{base_dir}/{target}")
    };
    for c in full.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Normalises an absolute path (`/a/./b/../c` → `/a/c`), never leaving `/`.
pub(crate) fn normalise(path: &str) -> String {
    join_normalise("/", path)
}

/// Resolves `path` (absolute) inside the view, following symlinks in every component and, at the end, hard links
/// whose own content was not kept (a kept hard link holds its target's content as of its layer).
/// Returns `None` when the path does not exist, a link loops, or a link points nowhere.
pub(crate) fn resolve(fs: &FsView, path: &str) -> Option<String> {
    let mut hops = 0;
    let mut current = join_normalise("/", path);
    'restart: loop {
        let comps: Vec<String> = current
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let mut done = String::new();
        for (i, c) in comps.iter().enumerate() {
            let candidate = format!("{done}/{c}");
            let entry = fs.get(&candidate)?;
            match &entry.kind {
                EntryKind::Symlink(target) => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return None;
                    }
                    let base = if done.is_empty() { "/" } else { done.as_str() };
                    let mut next = join_normalise(base, target);
                    for rest in &comps[i + 1..] {
                        next.push('/');
                        next.push_str(rest);
                    }
                    current = join_normalise("/", &next);
                    continue 'restart;
                }
                EntryKind::Hardlink(target) if i + 1 == comps.len() && !entry.kept => {
                    hops += 1;
                    if hops > MAX_HOPS {
                        return None;
                    }
                    current = join_normalise("/", target);
                    continue 'restart;
                }
                _ => done = candidate,
            }
        }
        return Some(if done.is_empty() { "/".into() } else { done });
    }
}

/// Reads the (resolved) regular file at `path`, naming the path in the error.
pub(crate) fn read(fs: &FsView, path: &str) -> Result<Vec<u8>, Error> {
    let real = resolve(fs, path).ok_or_else(|| Error::Read {
        path: path.to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file in the image (or a dangling/looping symlink)",
        ),
    })?;
    fs.read(&real).map_err(|source| Error::Read {
        path: path.to_string(),
        source,
    })
}

/// Reads a text file; invalid UTF-8 is replaced rather than refused (package databases are mostly ASCII, but
/// maintainers' names and descriptions are not always valid UTF-8).
pub(crate) fn read_text(fs: &FsView, path: &str) -> Result<String, Error> {
    let bytes = read(fs, path)?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// True when `path` resolves to a regular file whose content was kept.
pub(crate) fn is_kept_file(fs: &FsView, path: &str) -> bool {
    resolve(fs, path)
        .and_then(|p| fs.get(&p).map(|e| is_content(fs, e)))
        .unwrap_or(false)
}

/// True for entries with kept content of their own: regular files, and hard links whose target's content was not
/// kept (listing a link whose target is listed too would catalogue the same file twice).
pub(crate) fn is_content(fs: &FsView, e: &portcullis_image::Entry) -> bool {
    e.kept
        && match &e.kind {
            EntryKind::File => true,
            EntryKind::Hardlink(t) => !fs
                .get(t)
                .is_some_and(|t| t.kind == EntryKind::File && t.kept),
            _ => false,
        }
}

/// Digest of the layer the path (resolved) last came from.
pub(crate) fn layer_of(fs: &FsView, path: &str) -> Option<String> {
    layer_at(fs, path).map(|(_, d)| d)
}

/// Index (base = 0) and digest of the layer the path (resolved; else as stored) last came from.
pub(crate) fn layer_at(fs: &FsView, path: &str) -> Option<(usize, String)> {
    let e = resolve(fs, path)
        .and_then(|real| fs.get(&real))
        .or_else(|| fs.get(path))?;
    Some((e.layer, fs.layer_digests.get(e.layer)?.clone()))
}

/// Regular, kept files of the view for which `pred` holds (paths as stored, not resolved).
pub(crate) fn kept_files<'a>(
    fs: &'a FsView,
    pred: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = &'a str> + 'a {
    fs.entries
        .iter()
        .filter(move |(p, e)| is_content(fs, e) && pred(p))
        .map(|(p, _)| p.as_str())
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Builds an [`FsView`] over a real directory tree (all regular files kept), for unit tests over fixtures.
    use std::path::Path;

    use portcullis_image::FsView;

    /// The view of `root`, every file kept in place (`content_dir` = `root`).
    pub(crate) fn view_of(root: &Path) -> FsView {
        let mut fs = FsView::from_dir(root, &|_: &str, _: u64, _: u32| true)
            .unwrap_or_else(|e| panic!("fixture dir {}: {e}", root.display()));
        fs.layer_digests = vec!["sha256:test-layer".into()];
        fs
    }

    /// Root of the shared data.
    pub(crate) use portcullis_testkit::shared;

    /// A syft fixture directory (`syft/syft/...`).
    pub(crate) fn syft(rel: &str) -> std::path::PathBuf {
        shared().join("vulndata/syft/syft").join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_image::Entry;

    fn entry(kind: EntryKind) -> Entry {
        Entry {
            kind,
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            layer: 0,
            kept: true,
        }
    }

    #[test]
    fn resolves_parent_and_final_symlinks_and_stops_loops() {
        let mut fs = FsView::default();
        fs.entries.insert("/usr".into(), entry(EntryKind::Dir));
        fs.entries.insert("/usr/lib".into(), entry(EntryKind::Dir));
        fs.entries
            .insert("/usr/lib/os-release".into(), entry(EntryKind::File));
        fs.entries
            .insert("/lib".into(), entry(EntryKind::Symlink("usr/lib".into())));
        fs.entries.insert("/etc".into(), entry(EntryKind::Dir));
        fs.entries.insert(
            "/etc/os-release".into(),
            entry(EntryKind::Symlink("../usr/lib/os-release".into())),
        );
        fs.entries
            .insert("/loop".into(), entry(EntryKind::Symlink("/loop".into())));
        fs.entries.insert(
            "/up".into(),
            entry(EntryKind::Symlink("../../../usr".into())),
        );
        assert_eq!(
            resolve(&fs, "/etc/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(
            resolve(&fs, "/lib/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(
            resolve(&fs, "/up/lib/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(resolve(&fs, "/loop/x"), None);
        assert_eq!(resolve(&fs, "/missing"), None);
        let err = read(&fs, "/loop").unwrap_err().to_string();
        assert!(err.contains("/loop"), "{err}");
    }
}
