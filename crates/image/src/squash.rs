//! Streaming layer squashing per the OCI image-spec layer rules.
//!
//! Each layer is read once, as a stream, base first. Whiteouts (`.wh.NAME`) and opaque directories
//! (`.wh..wh..opq`) remove what lower layers put there; hard links and symbolic links are recorded, never
//! created on disk. Only the contents of the files the `wanted` predicate selects are written, as plain files
//! under a fresh content directory, so neither memory nor disk grows with the image beyond those files and the
//! path index. Tar parsing is the `tar` crate's; the layer semantics are hand-written because no crate applies
//! OCI whiteouts to an in-memory view without extracting everything to disk.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::fsview::{Entry, EntryKind, FsView};
use crate::{Error, Wanted};

mod links;
mod stream;

use links::{LayerSource, Pending};
pub(crate) use stream::HashReader;
use stream::{Budget, Counters, Exceeded};
pub use stream::{Compression, decompress};

/// Budgets that keep squashing bounded in memory and disk whatever the image holds. Each violation is an
/// [`Error::Layer`] naming the image, the layer, the path (where there is one) and the limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Most paths the squashed view may hold (each costs ~150 bytes of memory).
    pub max_entries: usize,
    /// Most bytes of path names the view may hold in total.
    pub max_path_bytes: u64,
    /// Longest path (bytes) a member may have, link targets included.
    pub max_path_len: usize,
    /// Most components a member's path may have.
    pub max_path_depth: usize,
    /// Most bytes of headers and PAX / GNU long-name records one member may have (read into memory).
    pub max_header_bytes: u64,
    /// Largest single file whose content may be kept.
    pub max_kept_file: u64,
    /// Most bytes of kept content in total.
    pub max_kept_total: u64,
    /// Largest uncompressed layer (tar stream).
    pub max_layer_bytes: u64,
    /// Most uncompressed bytes of all layers together.
    pub max_image_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 1_000_000,
            max_path_bytes: 64 << 20,
            max_path_len: 4096,
            max_path_depth: 256,
            max_header_bytes: 1 << 20,
            max_kept_file: 128 << 20,
            max_kept_total: 1 << 30,
            max_layer_bytes: 8 << 30,
            max_image_bytes: 32 << 30,
        }
    }
}

/// How many symbolic links a path resolution may follow (Linux's `MAXSYMLINKS`).
const MAX_SYMLINK_HOPS: usize = 40;

/// Applies layers one after the other to a growing [`FsView`].
pub struct Squasher<'w> {
    image: String,
    view: FsView,
    wanted: &'w Wanted<'w>,
    limits: Limits,
    kept_total: u64,
    /// The parent directory most recently made sure of (saves map look-ups for sibling entries).
    last_parent: String,
    /// Ordinal of the member being applied in the current layer (hard links name content as of this point).
    member: u64,
    /// Wanted hard links whose target's content was not kept: filled by a second read of the target's layer.
    pending: Vec<Pending>,
    /// Where each layer can be read again (see [`Squasher::keep_source`]).
    sources: Vec<Option<LayerSource>>,
    /// Bytes of path names in the view.
    path_bytes: u64,
    /// Uncompressed bytes of the layers applied so far.
    image_bytes: u64,
    /// Set by [`Squasher::finish`]: the content directory then belongs to the returned view.
    finished: bool,
}

impl Drop for Squasher<'_> {
    /// A squash that did not finish (an error, a panic, a dropped future) removes its content directory.
    fn drop(&mut self) {
        if !self.finished && !self.view.content_dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.view.content_dir);
        }
    }
}

/// Normalises a tar member name to an absolute path (`./usr/bin/` → `/usr/bin`). `..` components and absolute
/// names are refused: a well-formed layer never has them, and they are the classic way out of an extraction root.
fn normalise(raw: &str) -> Result<String, String> {
    if raw.starts_with('/') {
        return Err("absolute path in layer tar (layer members must be relative to the root); refusing the layer".into());
    }
    let mut out = String::with_capacity(raw.len() + 1);
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                return Err(
                    "`..` component in layer tar path (could escape the image root); refusing the layer".into(),
                );
            }
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// The largest char boundary of `s` at or below `max` (for cutting long names in messages).
fn floor_char(s: &str, max: usize) -> usize {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Resolves `target` of a symlink that lives in directory `dir` to an absolute path, with chroot semantics
/// (absolute targets are inside the image). Returns `None` when a relative target climbs above the root.
pub(crate) fn link_target(dir: &str, target: &str) -> Option<String> {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        dir.split('/').filter(|c| !c.is_empty()).collect()
    };
    let relative = !target.starts_with('/');
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && relative {
                    return None;
                }
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

impl<'w> Squasher<'w> {
    /// Starts an empty view whose kept contents go to a fresh directory under `work_dir`.
    pub fn new(
        image: &str,
        work_dir: &Path,
        wanted: &'w Wanted<'w>,
        limits: Limits,
    ) -> Result<Self, Error> {
        std::fs::create_dir_all(work_dir)
            .map_err(|e| Error::io("cannot create work directory", work_dir, e))?;
        let content_dir = tempfile::Builder::new()
            .prefix("rootfs-")
            .tempdir_in(work_dir)
            .map_err(|e| Error::io("cannot create content directory in", work_dir, e))?
            .keep();
        Ok(Self {
            image: image.to_string(),
            view: FsView {
                entries: BTreeMap::new(),
                content_dir,
                layer_digests: Vec::new(),
            },
            wanted,
            limits,
            kept_total: 0,
            last_parent: String::new(),
            member: 0,
            pending: Vec::new(),
            sources: Vec::new(),
            path_bytes: 0,
            image_bytes: 0,
            finished: false,
        })
    }

    /// The view so far. A hard link whose target was later removed or replaced still names the old content
    /// (the same inode), so it becomes a plain file (its content kept when it was wanted).
    pub fn finish(mut self) -> FsView {
        let orphans: Vec<String> = self
            .view
            .entries
            .iter()
            .filter_map(|(p, e)| match &e.kind {
                EntryKind::Hardlink(t) => match self.view.entries.get(t) {
                    Some(te) if te.kind == EntryKind::File && te.layer <= e.layer => None,
                    _ => Some(p.clone()),
                },
                _ => None,
            })
            .collect();
        for p in orphans {
            if let Some(e) = self.view.entries.get_mut(&p) {
                e.kind = EntryKind::File;
            }
        }
        self.finished = true;
        std::mem::take(&mut self.view)
    }

    fn err(&self, layer: &str, path: Option<&str>, reason: impl Into<String>) -> Error {
        Error::Layer {
            image: self.image.clone(),
            layer: layer.to_string(),
            path: path.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// Applies one layer, given as a possibly compressed tar stream. `digest` names the layer in errors and in
    /// [`FsView::layer_digests`]. When `expect_diff_id` is given, the uncompressed tar is hashed while it streams
    /// through the squasher (no second pass, no extra buffer) and must match: a mismatch is an
    /// [`Error::DigestMismatch`] naming the layer's index and digest, the expected and the actual diff_id.
    pub fn apply_layer(
        &mut self,
        digest: &str,
        blob: impl Read,
        expect_diff_id: Option<&str>,
    ) -> Result<(), Error> {
        let (_, tar_stream) = decompress(blob)
            .map_err(|e| self.err(digest, None, format!("cannot read layer: {e}")))?;
        let counters = Rc::new(Counters::default());
        let budget = Budget::new(
            tar_stream,
            counters.clone(),
            self.limits.max_layer_bytes,
            self.limits.max_image_bytes.saturating_sub(self.image_bytes),
            self.limits.max_header_bytes,
        );
        let mut hashed = HashReader::new(budget);
        let applied = self.apply_tar(digest, &mut hashed, &counters);
        let finished = applied.and_then(|()| {
            hashed.finish().map_err(|e| {
                self.budget_or(digest, None, &counters, || {
                    format!("corrupt or truncated layer after the tar end: {e}")
                })
            })
        });
        self.image_bytes += counters.layer.get();
        let (actual, _) = finished?;
        if let Some(expected) = expect_diff_id
            && expected != actual
        {
            let index = self.view.layer_digests.len().saturating_sub(1);
            return Err(Error::DigestMismatch {
                image: self.image.clone(),
                what: format!(
                    "layer #{index} ({digest}) uncompressed content (config rootfs.diff_ids[{index}])"
                ),
                expected: expected.to_string(),
                actual,
            });
        }
        Ok(())
    }

    /// The budget error when a [`Budget`] stopped the read, else `other`'s error.
    fn budget_or(
        &self,
        digest: &str,
        path: Option<&str>,
        counters: &Counters,
        other: impl FnOnce() -> String,
    ) -> Error {
        let l = &self.limits;
        let reason = match counters.exceeded.get() {
            Some(Exceeded::Layer) => format!(
                "the uncompressed layer is larger than {} bytes (limit max_layer_bytes); a decompression bomb or an oversized layer, refusing it",
                l.max_layer_bytes
            ),
            Some(Exceeded::Image) => format!(
                "the uncompressed image is larger than {} bytes (limit max_image_bytes); refusing it",
                l.max_image_bytes
            ),
            Some(Exceeded::Header) => format!(
                "a member's headers and PAX / GNU long-name records exceed {} bytes (limit max_header_bytes); refusing the layer",
                l.max_header_bytes
            ),
            None => other(),
        };
        self.err(digest, path, reason)
    }

    fn apply_tar(
        &mut self,
        digest: &str,
        tar_stream: &mut dyn Read,
        counters: &Counters,
    ) -> Result<(), Error> {
        let index = self.view.layer_digests.len();
        self.view.layer_digests.push(digest.to_string());
        self.last_parent.clear();
        self.member = 0;
        let mut ar = tar::Archive::new(tar_stream);
        let entries = ar
            .entries()
            .map_err(|e| self.err(digest, None, format!("not a tar stream: {e}")))?;
        let mut last: Option<String> = None;
        for ent in entries {
            let mut ent = ent.map_err(|e| {
                self.budget_or(digest, last.as_deref(), counters, || {
                    format!("corrupt or truncated layer tar (at or after this member): {e}")
                })
            })?;
            counters.member_start();
            self.member += 1;
            let applied = self.apply_member(digest, index, &mut ent, &mut last);
            if counters.exceeded.get().is_some() {
                return Err(self.budget_or(digest, last.as_deref(), counters, String::new));
            }
            applied?;
            io::copy(&mut ent, &mut io::sink()).map_err(|e| {
                self.budget_or(digest, last.as_deref(), counters, || {
                    format!("corrupt or truncated layer tar (in this member's data): {e}")
                })
            })?;
            counters.member_done();
        }
        Ok(())
    }

    /// Applies one member of layer `index`; `last` is set to its raw name (for errors about what follows).
    fn apply_member(
        &mut self,
        digest: &str,
        index: usize,
        ent: &mut tar::Entry<'_, &mut dyn Read>,
        last: &mut Option<String>,
    ) -> Result<(), Error> {
        if matches!(
            ent.header().entry_type(),
            tar::EntryType::XGlobalHeader
                | tar::EntryType::XHeader
                | tar::EntryType::GNULongName
                | tar::EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let raw = String::from_utf8_lossy(&ent.path_bytes()).into_owned();
        *last = Some(raw.clone());
        self.check_path(digest, &raw, &raw, "path")?;
        let path = normalise(&raw).map_err(|r| self.err(digest, Some(&raw), r))?;
        if path == "/" {
            return Ok(());
        }
        let dir = parent_of(&path).to_string();
        let name = &path[dir.len() + usize::from(dir != "/")..];
        if name == ".wh..wh..opq" {
            let dir = self.resolve_dir(digest, &raw, &dir)?;
            self.remove_lower(&dir, index, false);
            return Ok(());
        }
        // Other `.wh..wh.*` names are AUFS metadata (`.wh..wh.plnk`, `.wh..wh.aufs`), not content.
        if name.starts_with(".wh..wh.") || dir.contains("/.wh..wh.") {
            return Ok(());
        }
        if let Some(victim) = name.strip_prefix(".wh.") {
            let dir = self.resolve_dir(digest, &raw, &dir)?;
            self.remove_lower(&join(&dir, victim), index, true);
            return Ok(());
        }
        let dir = self.resolve_dir(digest, &raw, &dir)?;
        let path = join(&dir, name);
        let h = ent.header();
        // Empty numeric fields occur in real tars (GNU tar and Go read them as 0); so do we.
        let mode = h.mode().unwrap_or(0) & 0o7777;
        let uid = h.uid().unwrap_or(0);
        let gid = h.gid().unwrap_or(0);
        let mut entry = Entry {
            kind: EntryKind::Other,
            size: 0,
            mode,
            uid,
            gid,
            layer: index,
            kept: false,
        };
        self.ensure_parents(&dir, index);
        match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                entry.kind = EntryKind::File;
                entry.size = ent.size();
                self.replace(&path, false);
                if (self.wanted)(&path, entry.size, mode) {
                    self.check_keep(digest, &raw, entry.size)?;
                    let dest = self.view.content_path(&path);
                    let r = write_content(&dest, ent);
                    r.map_err(|e| {
                        self.err(
                            digest,
                            Some(&raw),
                            format!(
                                "cannot keep file content (truncated layer or disk full?): {e}"
                            ),
                        )
                    })?;
                    self.kept_total += entry.size;
                    entry.kept = true;
                }
            }
            tar::EntryType::Directory => {
                entry.kind = EntryKind::Dir;
                self.replace(&path, true);
            }
            tar::EntryType::Symlink => {
                let target = ent
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                self.check_path(digest, &raw, &target, "symbolic link target")?;
                entry.kind = EntryKind::Symlink(target);
                self.replace(&path, false);
            }
            tar::EntryType::Link => {
                let raw_target = ent
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                self.check_path(digest, &raw, &raw_target, "hard link target")?;
                let target = normalise(&raw_target).map_err(|r| {
                    self.err(
                        digest,
                        Some(&raw),
                        format!("hard link target `{raw_target}`: {r}"),
                    )
                })?;
                self.replace(&path, false);
                self.hardlink(digest, &raw, &path, &target, &mut entry)?;
            }
            _ => {
                self.replace(&path, false);
            }
        }
        self.insert_entry(digest, &raw, path, entry)?;
        if self.view.entries.len() > self.limits.max_entries {
            return Err(self.err(
                digest,
                Some(&raw),
                format!(
                    "the image has more than {} paths (the configured limit); raise the limit to analyse it",
                    self.limits.max_entries
                ),
            ));
        }
        Ok(())
    }

    /// Refuses a member name or link target longer or deeper than the limits (before any bookkeeping, so a
    /// 40,000-deep path costs nothing).
    fn check_path(&self, digest: &str, raw: &str, p: &str, what: &str) -> Result<(), Error> {
        let l = &self.limits;
        if p.len() > l.max_path_len {
            return Err(self.err(
                digest,
                Some(&raw[..floor_char(raw, 200)]),
                format!(
                    "{what} of {} bytes is longer than {} bytes (limit max_path_len); refusing the layer",
                    p.len(),
                    l.max_path_len
                ),
            ));
        }
        let depth = p.split('/').filter(|c| !c.is_empty()).count();
        if depth > l.max_path_depth {
            return Err(self.err(
                digest,
                Some(&raw[..floor_char(raw, 200)]),
                format!(
                    "{what} has {depth} components, more than {} (limit max_path_depth); refusing the layer",
                    l.max_path_depth
                ),
            ));
        }
        Ok(())
    }

    /// Inserts `entry` at `path`, counting its name against `max_path_bytes`.
    fn insert_entry(
        &mut self,
        digest: &str,
        raw: &str,
        path: String,
        entry: Entry,
    ) -> Result<(), Error> {
        let len = path.len() as u64;
        if self.view.entries.insert(path, entry).is_none() {
            self.path_bytes += len;
        }
        if self.path_bytes > self.limits.max_path_bytes {
            return Err(self.err(
                digest,
                Some(raw),
                format!(
                    "the image's path names exceed {} bytes in total (limit max_path_bytes); raise the limit to analyse it",
                    self.limits.max_path_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Removes the entry at `path`, uncounting its name.
    fn remove_entry(&mut self, path: &str) -> Option<Entry> {
        let e = self.view.entries.remove(path);
        if e.is_some() {
            self.path_bytes = self.path_bytes.saturating_sub(path.len() as u64);
        }
        e
    }

    fn check_keep(&self, digest: &str, raw: &str, size: u64) -> Result<(), Error> {
        if size > self.limits.max_kept_file {
            return Err(self.err(
                digest,
                Some(raw),
                format!(
                    "file of {size} bytes is larger than the {} bytes a cataloged file may have; raise the limit to analyse it",
                    self.limits.max_kept_file
                ),
            ));
        }
        if self.kept_total + size > self.limits.max_kept_total {
            return Err(self.err(
                digest,
                Some(raw),
                format!(
                    "kept file contents would exceed {} bytes in total; raise the limit to analyse it",
                    self.limits.max_kept_total
                ),
            ));
        }
        Ok(())
    }

    /// Records a hard link; its content is copied from the target when the target's was kept.
    fn hardlink(
        &mut self,
        digest: &str,
        raw: &str,
        path: &str,
        target: &str,
        entry: &mut Entry,
    ) -> Result<(), Error> {
        // A link to a link points at the same inode: record the final target.
        let mut target = target.to_string();
        if let Some(Entry {
            kind: EntryKind::Hardlink(t),
            ..
        }) = self.view.entries.get(&target)
        {
            target = t.clone();
        }
        entry.kind = EntryKind::Hardlink(target.clone());
        let Some(t) = self.view.entries.get(&target) else {
            tracing::warn!(image = %self.image, layer = digest, path = raw, target, "hard link to a path that does not exist");
            return Ok(());
        };
        entry.size = t.size;
        let (target_kept, target_layer, target_is_file) =
            (t.kept, t.layer, t.kind == EntryKind::File);
        if !(self.wanted)(path, entry.size, entry.mode) {
            return Ok(());
        }
        if target_kept {
            self.check_keep(digest, raw, entry.size)?;
            let from = self.view.content_path(&target);
            let to = self.view.content_path(path);
            let r = std::fs::File::open(&from).and_then(|mut f| write_content(&to, &mut f));
            r.map_err(|e| {
                self.err(
                    digest,
                    Some(raw),
                    format!("cannot copy hard link target content: {e}"),
                )
            })?;
            self.kept_total += entry.size;
            entry.kept = true;
        } else if target_is_file {
            // The target was not wanted, so its content streamed past: read its layer again once this layer
            // is applied (a hard link must not hide a package database behind an unwanted name).
            let index = self.view.layer_digests.len().saturating_sub(1);
            self.pending.push(Pending {
                layer: target_layer,
                target,
                link: path.to_string(),
                link_layer: index,
                before: if target_layer == index {
                    self.member
                } else {
                    u64::MAX
                },
            });
        }
        Ok(())
    }

    /// Resolves a directory path through symlinked ancestors (as the container runtime would when extracting),
    /// refusing links that lead outside the image root.
    fn resolve_dir(&self, digest: &str, raw: &str, dir: &str) -> Result<String, Error> {
        let mut hops = 0;
        let mut cur = String::from("/");
        let mut todo: Vec<String> = dir
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        while let Some(c) = todo.pop() {
            let next = join(&cur, &c);
            match self.view.entries.get(&next).map(|e| &e.kind) {
                Some(EntryKind::Symlink(t)) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(self.err(
                            digest,
                            Some(raw),
                            format!("too many levels of symbolic links at `{next}`"),
                        ));
                    }
                    let Some(resolved) = link_target(&cur, t) else {
                        return Err(self.err(
                            digest,
                            Some(raw),
                            format!(
                                "the path goes through symbolic link `{next}` -> `{t}`, which escapes the image root; refusing the layer"
                            ),
                        ));
                    };
                    // Continue from the root with the resolved components first.
                    for rc in resolved.split('/').filter(|c| !c.is_empty()).rev() {
                        todo.push(rc.to_string());
                    }
                    cur = String::from("/");
                }
                _ => cur = next,
            }
        }
        Ok(cur)
    }

    /// Makes sure every ancestor of an entry in `dir` is a directory (implicit directories get mode 0755).
    fn ensure_parents(&mut self, dir: &str, index: usize) {
        if dir == "/" || dir == self.last_parent {
            return;
        }
        let mut end = 0;
        while end < dir.len() {
            end = dir[end + 1..]
                .find('/')
                .map(|i| i + end + 1)
                .unwrap_or(dir.len());
            let a = &dir[..end];
            match self.view.entries.get(a).map(|e| &e.kind) {
                Some(EntryKind::Dir) => {}
                other => {
                    if other.is_some() {
                        self.replace(a, true);
                    }
                    self.path_bytes += a.len() as u64;
                    self.view.entries.insert(
                        a.to_string(),
                        Entry {
                            kind: EntryKind::Dir,
                            size: 0,
                            mode: 0o755,
                            uid: 0,
                            gid: 0,
                            layer: index,
                            kept: false,
                        },
                    );
                }
            }
        }
        self.last_parent = dir.to_string();
    }

    /// Clears what is at `path` before a new entry goes there: a directory stays (its children too) when the new
    /// entry is a directory; anything else is removed with its subtree and kept content.
    fn replace(&mut self, path: &str, new_is_dir: bool) {
        let Some(old) = self.view.entries.get(path) else {
            return;
        };
        match old.kind {
            EntryKind::Dir if new_is_dir => {}
            EntryKind::Dir => {
                self.remove_subtree(path, usize::MAX);
                self.remove_entry(path);
                let _ = std::fs::remove_dir_all(self.view.content_path(path));
                self.last_parent.clear();
            }
            _ => {
                if old.kept {
                    let _ = std::fs::remove_file(self.view.content_path(path));
                }
                self.remove_entry(path);
            }
        }
    }

    /// Removes the descendants of `dir` that came from layers below `below` (and their kept content).
    fn remove_subtree(&mut self, dir: &str, below: usize) {
        let prefix = if dir == "/" {
            "/".to_string()
        } else {
            format!("{dir}/")
        };
        let doomed: Vec<String> = self
            .view
            .entries
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(_, e)| e.layer < below)
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            if let Some(e) = self.remove_entry(&p)
                && e.kept
            {
                let _ = std::fs::remove_file(self.view.content_path(&p));
            }
        }
    }

    /// A whiteout in layer `index`: removes `path` (when `itself`) and its descendants from lower layers.
    fn remove_lower(&mut self, path: &str, index: usize, itself: bool) {
        self.remove_subtree(path, index);
        if itself
            && let Some(e) = self.view.entries.get(path)
            && e.layer < index
        {
            let e = self.remove_entry(path);
            if e.is_some_and(|e| e.kept) {
                let _ = std::fs::remove_file(self.view.content_path(path));
            }
        }
        self.last_parent.clear();
    }
}

/// Streams `r` into a new file at `dest`, creating its parent directories.
fn write_content(dest: &PathBuf, r: &mut dyn Read) -> io::Result<()> {
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p)?;
    }
    let mut f = std::fs::File::create(dest)?;
    io::copy(r, &mut f)?;
    Ok(())
}
