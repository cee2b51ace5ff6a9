//! Berkeley DB hash-file reader, just enough for rpm's legacy `Packages` database.
//!
//! Hand-written: there is no maintained pure-Rust Berkeley DB reader, and linking libdb is not an option (it is
//! gone from modern distros). rpm stores every header as an off-page ("overflow") value, so reading the hash
//! pages' value entries and following their overflow chains yields every package blob. Every page number,
//! offset and length is bounds-checked; an overflow page may belong to one chain only (a loop, or values sharing a
//! chain, is refused), so the values together never exceed the file's own size.

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER: usize = 26;
const P_HASH_UNSORTED: u8 = 2;
const P_OVERFLOW: u8 = 7;
const P_HASH: u8 = 13;
const H_OFFPAGE: u8 = 3;

struct Order(bool);

impl Order {
    fn u16(&self, b: &[u8], at: usize) -> Option<u16> {
        let s = b.get(at..at + 2)?;
        Some(if self.0 {
            u16::from_be_bytes([s[0], s[1]])
        } else {
            u16::from_le_bytes([s[0], s[1]])
        })
    }
    fn u32(&self, b: &[u8], at: usize) -> Option<u32> {
        let s = b.get(at..at + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if self.0 {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
}

/// True when the bytes start like a Berkeley DB hash database.
pub fn is_bdb_hash(b: &[u8]) -> bool {
    b.len() >= 16
        && (b[12..16] == HASH_MAGIC.to_le_bytes() || b[12..16] == HASH_MAGIC.to_be_bytes())
}

/// Every off-page value of the hash database (for rpm: one header blob per package).
pub fn values(db: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if db.len() < 512 {
        return Err(format!(
            "{} bytes is too short for a Berkeley DB file",
            db.len()
        ));
    }
    let order = if db[12..16] == HASH_MAGIC.to_le_bytes() {
        Order(false)
    } else if db[12..16] == HASH_MAGIC.to_be_bytes() {
        Order(true)
    } else {
        return Err("not a Berkeley DB hash database (bad magic at offset 12)".into());
    };
    let page_size = order.u32(db, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("invalid page size {page_size}"));
    }
    let last_pgno = order.u32(db, 32).unwrap_or(0) as usize;
    let npages = db.len() / page_size;
    if last_pgno >= npages {
        return Err(format!(
            "metadata names last page {last_pgno} but the file holds only {npages} pages (truncated?)"
        ));
    }
    let page = |n: usize| -> &[u8] { &db[n * page_size..(n + 1) * page_size] };
    let mut out = Vec::new();
    // Which overflow pages a chain already went through: each belongs to one value, once.
    let mut used = vec![false; last_pgno + 1];
    for pg in 0..=last_pgno {
        let p = page(pg);
        let ptype = p[25];
        if ptype != P_HASH && ptype != P_HASH_UNSORTED {
            continue;
        }
        let entries = order.u16(p, 20).unwrap_or(0) as usize;
        // Entries alternate key, value: keep the values (odd positions).
        for i in (1..entries).step_by(2) {
            let Some(off) = order.u16(p, PAGE_HEADER + i * 2) else {
                return Err(format!("page {pg}: index entry {i} beyond the page"));
            };
            let off = off as usize;
            if p.get(off) != Some(&H_OFFPAGE) {
                continue;
            }
            let mut next = order
                .u32(p, off + 4)
                .ok_or_else(|| format!("page {pg}: off-page entry at {off} truncated"))?
                as usize;
            let mut value = Vec::new();
            while next != 0 {
                if next > last_pgno {
                    return Err(format!(
                        "page {pg}: overflow chain reaches page {next} (beyond the last page {last_pgno})"
                    ));
                }
                if std::mem::replace(&mut used[next], true) {
                    return Err(format!(
                        "page {pg}: overflow page {next} is already part of another value or of this one \
                         (shared or looping overflow chains: a corrupt or hostile database)"
                    ));
                }
                let op = page(next);
                if op[25] != P_OVERFLOW {
                    return Err(format!(
                        "page {next}: expected an overflow page, found type {}",
                        op[25]
                    ));
                }
                let nn = order.u32(op, 16).unwrap_or(0) as usize;
                let chunk = if nn == 0 {
                    let len = order.u16(op, 22).unwrap_or(0) as usize;
                    op.get(PAGE_HEADER..PAGE_HEADER + len)
                        .ok_or_else(|| format!("page {next}: data length {len} beyond the page"))?
                } else {
                    &op[PAGE_HEADER..]
                };
                value.extend_from_slice(chunk);
                next = nn;
            }
            out.push(value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The hostile database the bomb bench uses (`portcullis_testkit::bombs`).
    use portcullis_testkit::bombs::bdb_shared_chain as shared_chain_db;

    #[test]
    fn values_sharing_one_overflow_chain_are_refused() {
        // 4.7 KB that expanded to values × chain pages before (100 × 7 × 486 bytes here, 2.4 GB in the issue).
        let db = shared_chain_db(100, 7);
        assert!(db.len() < 5000);
        let e = values(&db).unwrap_err();
        assert!(
            e.contains("overflow page 2 is already part of another value"),
            "{e}"
        );
        // One value on the same chain is a well-formed database.
        let one = values(&shared_chain_db(1, 7)).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].len(), 7 * (512 - PAGE_HEADER));
    }

    #[test]
    fn a_looping_chain_is_refused() {
        let mut db = shared_chain_db(1, 3);
        // The last page points back to the first page of the chain.
        db[4 * 512 + 16..4 * 512 + 20].copy_from_slice(&2u32.to_le_bytes());
        let e = values(&db).unwrap_err();
        assert!(
            e.contains("already part of another value or of this one"),
            "{e}"
        );
    }
}
