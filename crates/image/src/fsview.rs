//! The squashed filesystem view of an image (or of a plain directory).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Wanted};

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
    /// Lists a plain root-filesystem directory as a view: every path under `root` (not `root` itself) becomes
    /// an entry of layer 0; regular files `wanted` selects are marked `kept` and read in place (`content_dir` is
    /// `root` itself, nothing is copied). Symbolic links are recorded with their target and never followed, so
    /// the walk never leaves `root`.
    pub fn from_dir(root: &Path, wanted: &Wanted<'_>) -> Result<FsView, Error> {
        let meta = std::fs::metadata(root)
            .map_err(|e| Error::io("cannot open root filesystem directory", root, e))?;
        if !meta.is_dir() {
            return Err(Error::io(
                "not a directory (give a root filesystem directory)",
                root,
                std::io::Error::from(std::io::ErrorKind::NotADirectory),
            ));
        }
        let mut entries = BTreeMap::new();
        // Explicit stack instead of recursion: deep trees cannot overflow the thread stack.
        let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            let rd =
                std::fs::read_dir(&dir).map_err(|e| Error::io("cannot list directory", &dir, e))?;
            for item in rd {
                let item = item.map_err(|e| Error::io("cannot list directory", &dir, e))?;
                let name = item.file_name();
                let Some(name) = name.to_str() else {
                    // Non-UTF-8 names cannot be represented in the view's string paths; record them lossily
                    // so they still count, but never keep or descend into them.
                    let path = format!("{prefix}/{}", name.to_string_lossy());
                    tracing::warn!(
                        path,
                        "non-UTF-8 file name in root filesystem, listed lossily"
                    );
                    entries.insert(path, other_entry());
                    continue;
                };
                let path = format!("{prefix}/{name}");
                let full = item.path();
                let md = std::fs::symlink_metadata(&full)
                    .map_err(|e| Error::io("cannot stat", &full, e))?;
                let ft = md.file_type();
                let kind = if ft.is_dir() {
                    stack.push((full.clone(), path.clone()));
                    EntryKind::Dir
                } else if ft.is_symlink() {
                    let target = std::fs::read_link(&full)
                        .map_err(|e| Error::io("cannot read symlink", &full, e))?;
                    EntryKind::Symlink(target.to_string_lossy().into_owned())
                } else if ft.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                };
                let size = if ft.is_file() { md.len() } else { 0 };
                let mode = md.mode() & 0o7777;
                let kept = ft.is_file() && wanted(&path, size, mode);
                entries.insert(
                    path,
                    Entry {
                        kind,
                        size,
                        mode,
                        uid: u64::from(md.uid()),
                        gid: u64::from(md.gid()),
                        layer: 0,
                        kept,
                    },
                );
            }
        }
        Ok(FsView {
            entries,
            content_dir: root.to_path_buf(),
            layer_digests: Vec::new(),
        })
    }

    /// The entry at `path` (absolute, normalised), without following symlinks.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Resolves `path` through symbolic links (in every component, the last one included) the way the kernel
    /// would inside the container: absolute targets start at the image root and `..` stops at the root, so the
    /// result never leaves the image. Returns the final path when it exists, `None` when a link dangles or
    /// loops (more than 40 links).
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut hops = 0;
        let mut parts: Vec<String> = Vec::new();
        let mut todo: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    parts.pop();
                    continue;
                }
                _ => {}
            }
            parts.push(c);
            let cur = format!("/{}", parts.join("/"));
            if let EntryKind::Symlink(target) = &self.entries.get(&cur)?.kind {
                hops += 1;
                if hops > 40 {
                    return None;
                }
                parts.pop();
                if target.starts_with('/') {
                    parts.clear();
                }
                for t in target.split('/').filter(|c| !c.is_empty()).rev() {
                    todo.push(t.to_string());
                }
            }
        }
        Some(format!("/{}", parts.join("/")))
    }

    /// Reads the kept content of `path` after resolving symbolic links (see [`FsView::resolve`]).
    pub fn read_resolved(&self, path: &str) -> std::io::Result<Vec<u8>> {
        match self.resolve(path) {
            Some(p) => self.read(&p),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{path}: no such file in the image (or a dangling/looping symbolic link)"),
            )),
        }
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

fn other_entry() -> Entry {
    Entry {
        kind: EntryKind::Other,
        size: 0,
        mode: 0,
        uid: 0,
        gid: 0,
        layer: 0,
        kept: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_dir_lists_everything_keeps_wanted_and_never_follows_symlinks() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::write(r.join("etc/os-release"), "ID=debian\n").unwrap();
        std::fs::write(r.join("usr/lib/big"), vec![0u8; 1000]).unwrap();
        std::os::unix::fs::symlink("usr/lib", r.join("lib")).unwrap();
        std::os::unix::fs::symlink(outside.path(), r.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), r.join("etc/evil")).unwrap();

        let wanted = |p: &str, _size: u64, _mode: u32| p == "/etc/os-release" || p == "/etc/evil";
        let v = FsView::from_dir(r, &wanted).unwrap();
        let paths: Vec<&str> = v.entries.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            [
                "/escape",
                "/etc",
                "/etc/evil",
                "/etc/os-release",
                "/lib",
                "/usr",
                "/usr/lib",
                "/usr/lib/big"
            ]
        );
        assert_eq!(v.read("/etc/os-release").unwrap(), b"ID=debian\n");
        assert!(v.get("/etc/os-release").unwrap().kept);
        let big = v.get("/usr/lib/big").unwrap();
        assert_eq!(
            (big.kind.clone(), big.size, big.kept),
            (EntryKind::File, 1000, false)
        );
        assert!(
            v.read("/usr/lib/big").is_err(),
            "content not wanted is not readable"
        );
        assert_eq!(
            v.get("/lib").unwrap().kind,
            EntryKind::Symlink("usr/lib".into())
        );
        let evil = v.get("/etc/evil").unwrap();
        assert!(matches!(evil.kind, EntryKind::Symlink(_)));
        assert!(
            !evil.kept,
            "a symlink is never kept, even when its path is wanted"
        );
        assert!(
            v.read("/etc/evil").is_err(),
            "reading through an escaping symlink is refused"
        );
        assert!(
            !v.exists("/escape/secret"),
            "symlinked directories are not descended into"
        );
        assert_eq!(v.children("/usr").count(), 2);
    }

    #[test]
    fn resolve_follows_links_inside_the_image_only() {
        let e = |kind| Entry {
            kind,
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            layer: 0,
            kept: false,
        };
        let mut v = FsView::default();
        for d in ["/etc", "/usr", "/usr/lib"] {
            v.entries.insert(d.into(), e(EntryKind::Dir));
        }
        v.entries
            .insert("/usr/lib/os-release".into(), e(EntryKind::File));
        v.entries.insert(
            "/etc/os-release".into(),
            e(EntryKind::Symlink("../usr/lib/os-release".into())),
        );
        v.entries
            .insert("/lib".into(), e(EntryKind::Symlink("usr/lib".into())));
        v.entries
            .insert("/abs".into(), e(EntryKind::Symlink("/usr/lib".into())));
        v.entries.insert(
            "/up".into(),
            e(EntryKind::Symlink("../../../../usr".into())),
        );
        v.entries
            .insert("/loop".into(), e(EntryKind::Symlink("/loop".into())));
        v.entries
            .insert("/dangling".into(), e(EntryKind::Symlink("/nope".into())));
        assert_eq!(
            v.resolve("/etc/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(
            v.resolve("/lib/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(
            v.resolve("/abs/os-release").as_deref(),
            Some("/usr/lib/os-release")
        );
        assert_eq!(
            v.resolve("/up/lib").as_deref(),
            Some("/usr/lib"),
            "`..` stops at the root"
        );
        assert_eq!(v.resolve("/usr/./lib/../lib").as_deref(), Some("/usr/lib"));
        assert_eq!(v.resolve("/loop"), None);
        assert_eq!(v.resolve("/dangling"), None);
        assert_eq!(v.resolve("/nothing"), None);
        assert!(v.read_resolved("/loop").is_err());
    }

    #[test]
    fn from_dir_rejects_missing_root_and_files() {
        let e = FsView::from_dir(Path::new("/nonexistent/rootfs"), &|_, _, _| true).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/rootfs"), "{e}");
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = FsView::from_dir(f.path(), &|_, _, _| true).unwrap_err();
        assert!(e.to_string().contains("not a directory"), "{e}");
    }
}
