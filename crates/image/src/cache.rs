//! The blob cache's size bound: least recently used blobs go first. A blob's modification time records its last
//! use (set when the cache serves it), so the order survives restarts and needs no index file.

use std::path::Path;
use std::time::SystemTime;

/// Marks a cached blob as just used.
pub(crate) fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Removes the least recently used blobs under `dir/blobs/sha256` until they total at most `max` bytes, never
/// one of `keep`. Returns the bytes removed. Errors are logged, not returned: the cache is an optimisation.
pub(crate) fn evict(dir: &Path, max: u64, keep: &[&Path]) -> u64 {
    let blobs = dir.join("blobs/sha256");
    let Ok(rd) = std::fs::read_dir(&blobs) else {
        return 0;
    };
    let mut files: Vec<(SystemTime, u64, std::path::PathBuf)> = rd
        .filter_map(Result::ok)
        .filter_map(|e| {
            let md = e.metadata().ok()?;
            md.is_file().then(|| {
                (
                    md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    md.len(),
                    e.path(),
                )
            })
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    if total <= max {
        return 0;
    }
    files.sort();
    let mut removed = 0;
    for (_, len, path) in files {
        if total <= max {
            break;
        }
        if keep.iter().any(|k| *k == path) {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                total -= len;
                removed += len;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot evict cached blob")
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn least_recently_used_blobs_go_first_and_kept_ones_stay() {
        let d = tempfile::tempdir().unwrap();
        let b = d.path().join("blobs/sha256");
        std::fs::create_dir_all(&b).unwrap();
        let t0 = SystemTime::now() - Duration::from_secs(1000);
        for (i, name) in ["old", "mid", "new", "pinned"].iter().enumerate() {
            std::fs::write(b.join(name), vec![0u8; 100]).unwrap();
            let f = std::fs::File::options()
                .append(true)
                .open(b.join(name))
                .unwrap();
            // "pinned" is the oldest of all.
            let age = if *name == "pinned" {
                0
            } else {
                10 * (i as u64 + 1)
            };
            f.set_modified(t0 + Duration::from_secs(age)).unwrap();
        }
        touch(&b.join("old"));
        let pinned = b.join("pinned");
        assert_eq!(evict(d.path(), 250, &[pinned.as_path()]), 200);
        assert!(b.join("old").exists(), "used last, kept");
        assert!(pinned.exists(), "in use by the current pull, kept");
        assert!(!b.join("mid").exists() && !b.join("new").exists());
        assert_eq!(evict(d.path(), 1000, &[]), 0);
    }
}
