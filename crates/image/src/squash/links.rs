//! Hard links whose target's content streamed past unkept: a second, bounded read of the target's layer fills
//! them, so a wanted path (`var/lib/dpkg/status`) that is a hard link to an unwanted one still has its content.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::rc::Rc;

use super::stream::{Budget, Counters};
use super::{Squasher, decompress, normalise, write_content};
use crate::Error;
use crate::fsview::EntryKind;

/// A wanted hard link waiting for its target's content.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// Layer (index) the target's content came from.
    pub(crate) layer: usize,
    /// The target path (normalised).
    pub(crate) target: String,
    /// The link path.
    pub(crate) link: String,
    /// Layer (index) of the link member.
    pub(crate) link_layer: usize,
    /// Member ordinal of the link in the target's layer (`u64::MAX` when the target is in a lower layer): the
    /// link names the last content the target had before it.
    pub(crate) before: u64,
}

/// An open layer blob (or a range of an archive) that can be read again.
#[derive(Debug)]
pub(crate) struct LayerSource {
    file: File,
    offset: u64,
    len: Option<u64>,
}

impl LayerSource {
    fn open(&self) -> std::io::Result<Box<dyn Read + '_>> {
        let mut f = self.file.try_clone()?;
        f.seek(SeekFrom::Start(self.offset))?;
        Ok(match self.len {
            Some(n) => Box::new(f.take(n)),
            None => Box::new(f),
        })
    }
}

impl Squasher<'_> {
    /// Records where the layer just applied can be read again (an open blob file, or `len` bytes at `offset` of
    /// an archive) and fills the wanted hard links whose target's content was not kept. Keeping the file open
    /// means a blob evicted from the cache meanwhile is still readable.
    pub fn keep_source(&mut self, file: File, offset: u64, len: Option<u64>) -> Result<(), Error> {
        let index = self.view.layer_digests.len().saturating_sub(1);
        if self.sources.len() <= index {
            self.sources.resize_with(index + 1, || None);
        }
        self.sources[index] = Some(LayerSource { file, offset, len });
        self.fill_links()
    }

    fn fill_links(&mut self) -> Result<(), Error> {
        let mut by_layer: BTreeMap<usize, Vec<Pending>> = BTreeMap::new();
        for p in std::mem::take(&mut self.pending) {
            by_layer.entry(p.layer).or_default().push(p);
        }
        for (layer, list) in by_layer {
            let digest = self
                .view
                .layer_digests
                .get(layer)
                .cloned()
                .unwrap_or_default();
            if self.sources.get(layer).is_none_or(Option::is_none) {
                for p in &list {
                    tracing::warn!(image = %self.image, layer = digest, path = p.link, target = p.target,
                        "hard link to content that was not kept and whose layer cannot be read again");
                }
                continue;
            }
            self.fill_from_layer(layer, &digest, &list)?;
        }
        Ok(())
    }

    /// True while `p`'s link is still the unfilled hard link it was (later members may have replaced it).
    fn still_pending(&self, p: &Pending) -> bool {
        self.view.entries.get(&p.link).is_some_and(|e| {
            !e.kept && e.layer == p.link_layer && e.kind == EntryKind::Hardlink(p.target.clone())
        })
    }

    fn fill_from_layer(
        &mut self,
        layer: usize,
        digest: &str,
        list: &[Pending],
    ) -> Result<(), Error> {
        let read_err = |e: &dyn std::fmt::Display| {
            format!("cannot read the layer again for hard-link targets: {e}")
        };
        let list: Vec<&Pending> = list.iter().filter(|p| self.still_pending(p)).collect();
        if list.is_empty() {
            return Ok(());
        }
        let src = self.sources[layer].as_ref().map(LayerSource::open);
        let blob = match src {
            Some(Ok(b)) => b,
            Some(Err(e)) => return Err(self.err(digest, None, read_err(&e))),
            None => return Ok(()),
        };
        let (_, stream) = decompress(blob).map_err(|e| self.err(digest, None, read_err(&e)))?;
        // The same budgets as the first read: the blob is the one already applied, but trust nothing twice.
        let counters = Rc::new(Counters::default());
        let stream = Budget::new(
            stream,
            counters.clone(),
            self.limits.max_layer_bytes,
            u64::MAX,
            self.limits.max_header_bytes,
        );
        let mut ar = tar::Archive::new(stream);
        let entries = ar
            .entries()
            .map_err(|e| self.err(digest, None, read_err(&e)))?;
        let mut filled: Vec<&Pending> = Vec::new();
        for (i, ent) in entries.enumerate() {
            let mut ent =
                ent.map_err(|e| self.budget_or(digest, None, &counters, || read_err(&e)))?;
            counters.member_start();
            // Member ordinals count from 1, as the first read counted them.
            let ordinal = i as u64 + 1;
            'member: {
                if !matches!(
                    ent.header().entry_type(),
                    tar::EntryType::Regular
                        | tar::EntryType::Continuous
                        | tar::EntryType::GNUSparse
                ) {
                    break 'member;
                }
                let raw = String::from_utf8_lossy(&ent.path_bytes()).into_owned();
                let Ok(path) = normalise(&raw) else {
                    break 'member;
                };
                let dests: Vec<&Pending> = list
                    .iter()
                    .copied()
                    .filter(|p| p.target == path && p.before > ordinal)
                    .collect();
                let Some(first) = dests.first() else {
                    break 'member;
                };
                let size = ent.size();
                self.check_keep(digest, &raw, size)?;
                let to = self.view.content_path(&first.link);
                write_content(&to, &mut ent).map_err(|e| {
                    self.budget_or(digest, Some(&raw), &counters, || {
                        format!("cannot keep hard-link target content: {e}")
                    })
                })?;
                for p in &dests[1..] {
                    let r = File::open(&to)
                        .and_then(|mut f| write_content(&self.view.content_path(&p.link), &mut f));
                    r.map_err(|e| {
                        self.err(
                            digest,
                            Some(&raw),
                            format!("cannot copy hard-link target content: {e}"),
                        )
                    })?;
                }
                for p in dests {
                    if let Some(e) = self.view.entries.get_mut(&p.link) {
                        e.size = size;
                    }
                    filled.retain(|f| f.link != p.link);
                    filled.push(p);
                }
            }
            std::io::copy(&mut ent, &mut std::io::sink())
                .map_err(|e| self.budget_or(digest, None, &counters, || read_err(&e)))?;
            counters.member_done();
        }
        for p in filled {
            if let Some(e) = self.view.entries.get_mut(&p.link) {
                self.kept_total += e.size;
                e.kept = true;
            }
        }
        Ok(())
    }
}
