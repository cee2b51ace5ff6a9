//! In-memory layer tars: files, directories, symlinks, hard links, whiteouts, and deliberately bad members.

use std::io::Write;

/// Builds one layer tar in memory.
pub struct LayerBuilder {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

impl LayerBuilder {
    /// An empty layer.
    pub fn new() -> Self {
        Self {
            tar: tar::Builder::new(Vec::new()),
        }
    }

    /// Adds a directory (mode 0755).
    pub fn dir(&mut self, path: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Directory, 0o755, 0);
        self.tar
            .append_data(&mut h, path, std::io::empty())
            .expect("in-memory tar");
        self
    }

    /// Adds a regular file (mode 0644).
    pub fn file(&mut self, path: &str, content: impl AsRef<[u8]>) -> &mut Self {
        self.file_mode(path, content, 0o644)
    }

    /// Adds a regular file with the given mode.
    pub fn file_mode(&mut self, path: &str, content: impl AsRef<[u8]>, mode: u32) -> &mut Self {
        let c = content.as_ref();
        let mut h = header(tar::EntryType::Regular, mode, c.len() as u64);
        self.tar
            .append_data(&mut h, path, c)
            .expect("in-memory tar");
        self
    }

    /// Adds a symbolic link `path` → `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        self.tar
            .append_link(&mut h, path, target)
            .expect("in-memory tar");
        self
    }

    /// Adds a hard link `path` to the earlier member `target` (archive path, e.g. `usr/bin/a`).
    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut h = header(tar::EntryType::Link, 0o755, 0);
        self.tar
            .append_link(&mut h, path, target)
            .expect("in-memory tar");
        self
    }

    /// Deletes `path` (from lower layers) with a `.wh.` whiteout.
    pub fn whiteout(&mut self, path: &str) -> &mut Self {
        let (dir, name) = match path.trim_end_matches('/').rsplit_once('/') {
            Some((d, n)) => (format!("{d}/"), n),
            None => (String::new(), path),
        };
        self.file(&format!("{dir}.wh.{name}"), b"")
    }

    /// Makes `dir` opaque (hides everything lower layers put in it).
    pub fn opaque(&mut self, dir: &str) -> &mut Self {
        self.file(&format!("{}/.wh..wh..opq", dir.trim_end_matches('/')), b"")
    }

    /// Adds a member with a name written verbatim (`../x`, `/etc/x`) that the tar crate's checked setters refuse.
    pub fn raw(
        &mut self,
        name: &str,
        kind: tar::EntryType,
        content: &[u8],
        link: Option<&str>,
    ) -> &mut Self {
        let mut h = header(kind, 0o644, content.len() as u64);
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            old.linkname = [0; 100];
            old.linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_cksum();
        self.tar.append(&h, content).expect("in-memory tar");
        self
    }

    /// Adds a regular file of `size` bytes whose content is streamed (never held in memory) from zeros.
    pub fn large_file(&mut self, path: &str, size: u64) -> &mut Self {
        let mut h = header(tar::EntryType::Regular, 0o644, size);
        self.tar
            .append_data(&mut h, path, std::io::Read::take(std::io::repeat(0), size))
            .expect("in-memory tar");
        self
    }

    /// The finished tar.
    pub fn tar(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.tar, tar::Builder::new(Vec::new()));
        b.into_inner().expect("in-memory tar")
    }
}

/// gzip-compresses `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in-memory gzip");
    e.finish().expect("in-memory gzip")
}

/// zstd-compresses `data`.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).expect("in-memory zstd")
}
