//! SUSE's NDB rpm database (`Packages.db`, rpm ≥ 4.15 `ndb` backend) reader.
//!
//! Hand-written: no Rust crate reads it. Layout (little-endian): a 32-byte header (`RpmP` magic, version 0,
//! generation, slot page count), slot pages of 16-byte slots (`Slot` magic, package index, block offset, block
//! count) — the header takes the first two slots — and blobs at `block offset × 16`, each a 16-byte blob header
//! (`BlbS` magic, package index, checksum, length) followed by the header blob.

const HEADER_MAGIC: u32 = u32::from_le_bytes(*b"RpmP");
const SLOT_MAGIC: u32 = u32::from_le_bytes(*b"Slot");
const BLOB_MAGIC: u32 = u32::from_le_bytes(*b"BlbS");
const PAGE: usize = 4096;
const BLOCK: usize = 16;

fn le32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// True when the bytes start like an NDB database.
pub fn is_ndb(b: &[u8]) -> bool {
    le32(b, 0) == Some(HEADER_MAGIC)
}

/// Every package header blob in the database.
pub fn values(db: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if le32(db, 0) != Some(HEADER_MAGIC) {
        return Err("not an NDB database (no RpmP magic)".into());
    }
    if le32(db, 4) != Some(0) {
        return Err(format!("unsupported NDB version {:?}", le32(db, 4)));
    }
    let npages = le32(db, 12).unwrap_or(0) as usize;
    if npages == 0 || npages > 2048 {
        return Err(format!("implausible slot page count {npages}"));
    }
    let nslots = npages * PAGE / BLOCK;
    if nslots * BLOCK > db.len() {
        return Err(format!(
            "{npages} slot pages need {} bytes but the file has {} (truncated?)",
            nslots * BLOCK,
            db.len()
        ));
    }
    let mut out = Vec::new();
    for s in 2..nslots {
        let at = s * BLOCK;
        let magic = le32(db, at).unwrap_or(0);
        if magic != SLOT_MAGIC {
            return Err(format!("slot {s} (offset {at}): bad slot magic {magic:#x}"));
        }
        let pkg = le32(db, at + 4).unwrap_or(0);
        if pkg == 0 {
            continue;
        }
        let off = le32(db, at + 8).unwrap_or(0) as usize * BLOCK;
        if le32(db, off) != Some(BLOB_MAGIC) {
            return Err(format!("package {pkg}: no blob header at offset {off}"));
        }
        if le32(db, off + 4) != Some(pkg) {
            return Err(format!(
                "package {pkg}: blob at offset {off} belongs to another package"
            ));
        }
        let len = le32(db, off + 12).unwrap_or(0) as usize;
        let blob = db.get(off + 16..off + 16 + len).ok_or_else(|| {
            format!("package {pkg}: blob of {len} bytes at offset {off} runs past the end")
        })?;
        out.push(blob.to_vec());
    }
    Ok(out)
}
