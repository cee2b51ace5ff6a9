//! RPM header blob parsing (the "header without lead and magic" that rpmdb stores for each package).
//!
//! Hand-written: no maintained Rust crate parses the header blobs stored in an rpmdb (the `rpm` crate reads
//! whole `.rpm` files, with their lead and signature, not rpmdb blobs). Layout (all big-endian):
//! `il: u32`, `dl: u32`, then `il` index entries of `{tag: i32, type: u32, offset: i32, count: u32}`, then `dl`
//! bytes of data. Every offset and count is bounds-checked; nothing here can panic on hostile input.

use std::collections::HashMap;

/// Tag numbers used by the cataloger.
pub mod tag {
    /// Package name.
    pub const NAME: i32 = 1000;
    /// Version.
    pub const VERSION: i32 = 1001;
    /// Release.
    pub const RELEASE: i32 = 1002;
    /// Epoch (INT32).
    pub const EPOCH: i32 = 1003;
    /// Vendor.
    pub const VENDOR: i32 = 1011;
    /// Licence.
    pub const LICENSE: i32 = 1014;
    /// Architecture.
    pub const ARCH: i32 = 1022;
    /// Legacy full file names.
    pub const OLDFILENAMES: i32 = 1027;
    /// Source rpm file name.
    pub const SOURCERPM: i32 = 1044;
    /// Index into DIRNAMES for each BASENAME.
    pub const DIRINDEXES: i32 = 1116;
    /// File base names.
    pub const BASENAMES: i32 = 1117;
    /// Directory names.
    pub const DIRNAMES: i32 = 1118;
    /// Modularity label.
    pub const MODULARITYLABEL: i32 = 5096;
}

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// Largest header blob accepted (rpm itself caps headers at 256 MiB; real ones are far smaller).
const MAX_BLOB: usize = 256 << 20;

/// A decoded tag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// INT32 array.
    Int32(Vec<i32>),
    /// STRING / I18NSTRING / STRING_ARRAY.
    Strings(Vec<String>),
}

/// The tags of one header that this crate reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Header {
    tags: HashMap<i32, Value>,
}

impl Header {
    /// First string of a tag.
    pub fn string(&self, tag: i32) -> Option<&str> {
        match self.tags.get(&tag)? {
            Value::Strings(v) => v.first().map(String::as_str),
            Value::Int32(_) => None,
        }
    }
    /// All strings of a tag.
    pub fn strings(&self, tag: i32) -> &[String] {
        match self.tags.get(&tag) {
            Some(Value::Strings(v)) => v,
            _ => &[],
        }
    }
    /// INT32 values of a tag.
    pub fn ints(&self, tag: i32) -> &[i32] {
        match self.tags.get(&tag) {
            Some(Value::Int32(v)) => v,
            _ => &[],
        }
    }
    /// Full paths of the files the package owns (BASENAMES/DIRNAMES/DIRINDEXES, or OLDFILENAMES).
    pub fn files(&self) -> Vec<String> {
        let base = self.strings(tag::BASENAMES);
        let dirs = self.strings(tag::DIRNAMES);
        let idx = self.ints(tag::DIRINDEXES);
        if !base.is_empty() {
            return base
                .iter()
                .zip(idx.iter())
                .filter_map(|(b, i)| {
                    usize::try_from(*i)
                        .ok()
                        .and_then(|i| dirs.get(i))
                        .map(|d| format!("{d}{b}"))
                })
                .collect();
        }
        self.strings(tag::OLDFILENAMES).to_vec()
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Parses a header blob. Errors describe what is wrong and where (byte offsets).
pub fn parse(blob: &[u8]) -> Result<Header, String> {
    if blob.len() > MAX_BLOB {
        return Err(format!(
            "header blob of {} bytes exceeds the {MAX_BLOB}-byte limit",
            blob.len()
        ));
    }
    let il = be32(blob, 0).ok_or("header blob shorter than 8 bytes")? as usize;
    let dl = be32(blob, 4).ok_or("header blob shorter than 8 bytes")? as usize;
    let index_end = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .ok_or("index count overflows")?;
    let data_end = index_end.checked_add(dl).ok_or("data length overflows")?;
    if il == 0 || data_end > blob.len() {
        return Err(format!(
            "header claims {il} index entries and {dl} data bytes ({data_end} bytes) but the blob has {}",
            blob.len()
        ));
    }
    let data = &blob[index_end..data_end];
    let mut tags = HashMap::new();
    for i in 0..il {
        let at = 8 + i * 16;
        let t = be32(blob, at).ok_or("truncated index")? as i32;
        let ty = be32(blob, at + 4).ok_or("truncated index")?;
        let off = be32(blob, at + 8).ok_or("truncated index")? as usize;
        let count = be32(blob, at + 12).ok_or("truncated index")? as usize;
        let wanted = matches!(
            t,
            tag::NAME
                | tag::VERSION
                | tag::RELEASE
                | tag::EPOCH
                | tag::VENDOR
                | tag::LICENSE
                | tag::ARCH
                | tag::OLDFILENAMES
                | tag::SOURCERPM
                | tag::DIRINDEXES
                | tag::BASENAMES
                | tag::DIRNAMES
                | tag::MODULARITYLABEL
        );
        if !wanted {
            continue;
        }
        if off > data.len() {
            return Err(format!(
                "tag {t}: offset {off} beyond data of {} bytes",
                data.len()
            ));
        }
        let value = match ty {
            TYPE_INT32 => {
                let end = count
                    .checked_mul(4)
                    .and_then(|n| n.checked_add(off))
                    .filter(|e| *e <= data.len())
                    .ok_or_else(|| format!("tag {t}: {count} INT32 values overflow the data"))?;
                Value::Int32(
                    data[off..end]
                        .chunks_exact(4)
                        .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
            TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING => {
                let n = if ty == TYPE_STRING { 1 } else { count };
                let mut out = Vec::with_capacity(n.min(1 << 16));
                let mut pos = off;
                for _ in 0..n {
                    let rest = data.get(pos..).unwrap_or_default();
                    let len = rest.iter().position(|b| *b == 0).ok_or_else(|| {
                        format!("tag {t}: unterminated string at data offset {pos}")
                    })?;
                    out.push(String::from_utf8_lossy(&rest[..len]).into_owned());
                    pos += len + 1;
                }
                Value::Strings(out)
            }
            other => return Err(format!("tag {t}: unexpected type {other}")),
        };
        tags.insert(t, value);
    }
    Ok(Header { tags })
}
