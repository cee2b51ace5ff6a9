//! Hostile images, small on disk, each written as a one-image OCI layout (tag `latest`) under a directory:
//! the bombs the image crate's budget tests open, the isolation tests analyse and `bench/bombs` measures.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use portcullis_image::squash::Compression;

use crate::{LayerBuilder, LayerFile, OciWriter, TestImage, gzip, sha256, write_layer_file};

/// A builder: writes the bomb under the directory and returns its OCI layout.
pub type Build = fn(&Path) -> io::Result<PathBuf>;

/// Every bomb, by name.
pub const ALL: [(&str, Build); 8] = [
    ("hard-linked-dpkg", hard_linked_dpkg),
    ("rpm-bdb-shared-chain", rpm_bdb_shared_chain),
    ("deep-path", deep_path),
    ("many-components", many_components),
    ("pax-record", pax_record),
    ("gzip-4gib", gzip_bomb),
    ("zstd-4gib", zstd_bomb),
    ("200k-files", many_files),
];

/// A tar header for `name` of `kind` and `size`, checksummed (the name must fit the 100-byte field).
pub fn header(name: &str, kind: tar::EntryType, size: u64) -> io::Result<tar::Header> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_path(name)?;
    h.set_cksum();
    Ok(h)
}

/// Writes a one-image layout whose single layer is the `blob` of `media_type` (uncompressed digest `diff_id`).
pub fn layout_from_blob(
    dir: &Path,
    blob: &[u8],
    diff_id: &str,
    media_type: &str,
) -> io::Result<PathBuf> {
    let oci = dir.join("oci");
    let mut w = OciWriter::new(&oci)?;
    let tmp = dir.join("layer.blob");
    std::fs::write(&tmp, blob)?;
    let lf = LayerFile {
        path: tmp,
        diff_id: diff_id.to_string(),
        digest: sha256(blob),
        size: blob.len() as u64,
        media_type: media_type.into(),
    };
    let m = w.image_from_files(&[lf], &TestImage::new(vec![]))?;
    w.tag("latest", &m).finish()?;
    Ok(oci)
}

/// Writes a one-image layout of uncompressed `layers`.
pub fn layout(dir: &Path, layers: Vec<Vec<u8>>) -> io::Result<PathBuf> {
    let oci = dir.join("oci");
    let mut w = OciWriter::new(&oci)?;
    let m = w.image(&TestImage::new(layers))?;
    w.tag("latest", &m).finish()?;
    Ok(oci)
}

/// The diff id of a tar stream of `head`, `zeros` zero bytes, then `tail` (hashed without holding it).
fn diff_id_of(head: &[u8], zeros: u64, tail: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(head);
    let chunk = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        h.update(&chunk[..n]);
        left -= n as u64;
    }
    h.update(tail);
    format!("sha256:{}", hex::encode(h.finalize()))
}

/// A 40,000-deep path (80 KB, through a GNU long-name record).
pub fn deep_path(dir: &Path) -> io::Result<PathBuf> {
    let deep = format!("{}f", "a/".repeat(40_000));
    let layer = LayerBuilder::new().file(&deep, "x").tar();
    layout(dir, vec![layer])
}

/// 300 components in 600 bytes: within the length limit, beyond the depth limit.
pub fn many_components(dir: &Path) -> io::Result<PathBuf> {
    let layer = LayerBuilder::new()
        .file(&format!("{}f", "a/".repeat(300)), "x")
        .tar();
    layout(dir, vec![layer])
}

/// A PAX record of 300 MB (a `path=` of `a`s), gzip-compressed to a few hundred KB, streamed while built.
pub fn pax_record(dir: &Path) -> io::Result<PathBuf> {
    let value_len: usize = 300 << 20;
    let record_len = {
        // "<len> path=<value>\n" where <len> counts itself.
        let base = " path=".len() + value_len + 1;
        let mut n = base + 9;
        while n.to_string().len() + base != n {
            n = n.to_string().len() + base;
        }
        n
    };
    let mut gz = crate::HashWriter::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    gz.write_all(header("pax", tar::EntryType::XHeader, record_len as u64)?.as_bytes())?;
    gz.write_all(format!("{record_len} path=").as_bytes())?;
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..300 {
        gz.write_all(&chunk)?;
    }
    gz.write_all(b"\n")?;
    let pad = (512 - record_len % 512) % 512;
    gz.write_all(&vec![0u8; pad])?;
    gz.write_all(header("f", tar::EntryType::Regular, 0)?.as_bytes())?;
    gz.write_all(&[0u8; 1024])?;
    let (diff_id, _, gz) = gz.finish();
    let blob = gz.finish()?;
    layout_from_blob(
        dir,
        &blob,
        &diff_id,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )
}

/// A gzip stream of a few MB inflating to 4 GiB of zeros: one file member, repeated gzip members of zeros.
pub fn gzip_bomb(dir: &Path) -> io::Result<PathBuf> {
    let size: u64 = 4 << 30;
    let head = header("zeros", tar::EntryType::Regular, size)?;
    let mut blob = gzip(head.as_bytes());
    let member = gzip(&vec![0u8; 64 << 20]);
    for _ in 0..(size / (64 << 20)) {
        blob.extend_from_slice(&member);
    }
    blob.extend_from_slice(&gzip(&[0u8; 1024]));
    layout_from_blob(
        dir,
        &blob,
        &diff_id_of(head.as_bytes(), size, &[0u8; 1024]),
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )
}

/// A zstd frame of ~130 KB inflating to 4 GiB of zeros (one file member).
pub fn zstd_bomb(dir: &Path) -> io::Result<PathBuf> {
    let size: u64 = 4 << 30;
    let head = header("zeros", tar::EntryType::Regular, size)?;
    let mut enc = zstd::stream::Encoder::new(Vec::new(), 19)?;
    enc.write_all(head.as_bytes())?;
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        enc.write_all(&chunk)?;
    }
    enc.write_all(&[0u8; 1024])?;
    let blob = enc.finish()?;
    layout_from_blob(
        dir,
        &blob,
        &diff_id_of(head.as_bytes(), size, &[0u8; 1024]),
        "application/vnd.oci.image.layer.v1.tar+zstd",
    )
}

/// Files in [`many_files`].
pub const MANY_FILES: usize = 200_000;

/// 200,000 empty files with long names (a few MB compressed): within every squash budget, but squashing it
/// needs well over 40 MiB of memory — the bomb a budget does not catch, which isolation exists for.
pub fn many_files(dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let layer = write_layer_file(&dir.join("layer.tmp"), Compression::Gzip, |b| {
        for i in 0..MANY_FILES {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(0);
            b.append_data(
                &mut h,
                format!(
                    "usr/share/many/dir{:04}/file-with-a-longish-name-{i:06}.txt",
                    i / 100
                ),
                io::empty(),
            )?;
        }
        Ok(())
    })?;
    let oci = dir.join("oci");
    let mut w = OciWriter::new(&oci)?;
    let m = w.image_from_files(&[layer], &TestImage::new(vec![]))?;
    w.tag("latest", &m).finish()?;
    Ok(oci)
}

/// Packages in [`hard_linked_dpkg`]'s database.
pub const HIDDEN_PACKAGES: usize = 2;

/// A layer whose `var/lib/dpkg/status` is a hard link to a path no cataloguer reads (tar extracts both names with
/// the same content): the hiding trick, not a size bomb — the analysis must still find both packages.
pub fn hard_linked_dpkg(dir: &Path) -> io::Result<PathBuf> {
    let status = "Package: hidden-one\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\n\n\
                  Package: hidden-two\nStatus: install ok installed\nVersion: 2.0-1\nArchitecture: amd64\n\n";
    let layer = LayerBuilder::new()
        .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
        .file("usr/share/hide/s", status)
        .hardlink("var/lib/dpkg/status", "usr/share/hide/s")
        .tar();
    layout(dir, vec![layer])
}

/// A Berkeley DB hash database (little-endian, 512-byte pages) whose page 1 holds `values` off-page values that
/// all name the same overflow chain of `chain` pages (pages 2..): `values × chain` pages of data from
/// `chain + 2` pages on disk, if a reader follows the chain once per value.
pub fn bdb_shared_chain(values: usize, chain: usize) -> Vec<u8> {
    const PS: usize = 512;
    const PAGE_HEADER: usize = 26;
    const P_OVERFLOW: u8 = 7;
    const P_HASH: u8 = 13;
    const H_OFFPAGE: u8 = 3;
    let last = 1 + chain;
    let mut db = vec![0u8; PS * (last + 1)];
    db[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes());
    db[20..24].copy_from_slice(&(PS as u32).to_le_bytes());
    db[32..36].copy_from_slice(&(last as u32).to_le_bytes());
    let p1 = &mut db[PS..2 * PS];
    p1[25] = P_HASH;
    p1[20..22].copy_from_slice(&((values * 2) as u16).to_le_bytes());
    let item = 500usize;
    p1[item] = H_OFFPAGE;
    p1[item + 4..item + 8].copy_from_slice(&2u32.to_le_bytes());
    for i in 0..values * 2 {
        p1[PAGE_HEADER + i * 2..PAGE_HEADER + i * 2 + 2]
            .copy_from_slice(&(item as u16).to_le_bytes());
    }
    for n in 2..=last {
        let p = &mut db[n * PS..(n + 1) * PS];
        p[25] = P_OVERFLOW;
        let next = if n == last { 0 } else { n + 1 };
        p[16..20].copy_from_slice(&(next as u32).to_le_bytes());
        // The last page says how much of it is data.
        p[22..24].copy_from_slice(&((PS - PAGE_HEADER) as u16).to_le_bytes());
    }
    db
}

/// An rpm image whose `var/lib/rpm/Packages` is a 4.6 KB Berkeley DB of 100 values sharing one 7-page overflow
/// chain (the 4.7 KB version expanded to 2.4 GB when each value followed the chain): refused as a
/// corrupt database, at once.
pub fn rpm_bdb_shared_chain(dir: &Path) -> io::Result<PathBuf> {
    let db = bdb_shared_chain(100, 7);
    let layer = LayerBuilder::new()
        .file("etc/os-release", "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n")
        .file("var/lib/rpm/Packages", &db)
        .tar();
    layout(dir, vec![layer])
}
