//! The squashed filesystem view of an image (or of a plain directory).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What a path is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link to the given target (as stored, may be relative).
    Symlink(String),
    /// A hard link to the given (absolute, normalised) path.
    Hardlink(String),
    /// Anything else (device, fifo).
    Other,
}

/// One path of the squashed filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What the path is.
    pub kind: EntryKind,
    /// Size in bytes (regular files).
    pub size: u64,
    /// Unix mode bits (permission and setuid/setgid/sticky bits).
    pub mode: u32,
    /// Owner uid.
    pub uid: u64,
    /// Owner gid.
    pub gid: u64,
    /// Index (base = 0) of the layer the path last came from.
    pub layer: usize,
    /// True when the content was kept and can be read with [`FsView::read`].
    pub kept: bool,
}

/// The squashed filesystem: every path that survives all layers, with the content of the wanted files.
///
/// Paths are absolute and normalised (`/etc/os-release`). Kept contents live on disk under `content_dir`.
#[derive(Debug, Default)]
pub struct FsView {
    /// Every surviving path.
    pub entries: BTreeMap<String, Entry>,
    /// Where kept file contents live: the file for `/a/b` is `content_dir/a/b`.
    pub content_dir: PathBuf,
    /// Digest of each layer, base first (for attributing packages to layers).
    pub layer_digests: Vec<String>,
}

impl FsView {
    /// The entry at `path` (absolute, normalised), without following symlinks.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// True when `path` exists in the view.
    pub fn exists(&self, path: &str) -> bool {
        self.entries.contains_key(path)
    }

    /// Where the kept content of `path` lives on disk (whether or not it was kept).
    pub fn content_path(&self, path: &str) -> PathBuf {
        self.content_dir.join(path.trim_start_matches('/'))
    }

    /// Reads the kept content of the regular file at `path`.
    pub fn read(&self, path: &str) -> std::io::Result<Vec<u8>> {
        match self.entries.get(path) {
            Some(e) if e.kept => std::fs::read(self.content_path(path)),
            Some(_) => Err(std::io::Error::other(format!(
                "{path}: content was not kept while squashing (not wanted by any cataloger)"
            ))),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{path}: no such file in the image"),
            )),
        }
    }

    /// Every path under `dir` (exclusive), in order.
    pub fn children<'a>(
        &'a self,
        dir: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let prefix = if dir.ends_with('/') {
            dir.to_string()
        } else {
            format!("{dir}/")
        };
        self.entries
            .range(prefix.clone()..)
            .take_while(move |(p, _)| p.starts_with(&prefix))
    }
}
