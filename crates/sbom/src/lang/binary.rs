//! Binary cataloger: Go build info (`.go.buildinfo`: Go version, main module, dependencies) and Rust
//! cargo-auditable dependency lists (`.dep-v0`: zlib-compressed JSON), read from ELF/Mach-O/PE with `object`.
//!
//! Sections are read through `object::ReadCache`, so a 200 MB binary is never loaded whole into memory.

use std::io::Read;

use object::{Object, ObjectSection, ReadCache};
use portcullis_image::FsView;

use super::problem;
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Largest decompressed cargo-auditable JSON accepted.
const MAX_AUDIT_JSON: u64 = 16 << 20;

/// Smallest executable worth keeping for this cataloger. Go's runtime alone makes every Go binary larger than
/// 1 MiB, and a Rust binary with std is a few hundred KiB; skipping the many small executables of a distro
/// (shell scripts, coreutils) saves creating hundreds of kept files per image, which dominated squash time.
pub const MIN_BINARY_SIZE: u64 = 64 << 10;

/// True for the files this cataloger reads: executable regular files of at least [`MIN_BINARY_SIZE`] bytes.
pub fn wanted(path: &str, size: u64, mode: u32) -> bool {
    let _ = path;
    mode & 0o111 != 0 && size >= MIN_BINARY_SIZE
}

/// What a Go binary's build info says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// `go1.22.1`.
    pub go_version: String,
    /// Main package path.
    pub path: Option<String>,
    /// Main module `(path, version)`.
    pub main: Option<(String, String)>,
    /// Dependencies `(path, version)`, replacements applied.
    pub deps: Vec<(String, String)>,
}

fn read_varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut v: usize = 0;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= ((byte & 0x7f) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Parses the module info text (`path`/`mod`/`dep`/`=>` lines).
pub fn parse_modinfo(text: &str, go_version: &str) -> GoBuildInfo {
    let mut info = GoBuildInfo {
        go_version: go_version.to_string(),
        ..GoBuildInfo::default()
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["path", p, ..] => info.path = Some(p.to_string()),
            ["mod", p, v, ..] => info.main = Some((p.to_string(), v.to_string())),
            ["dep", p, v, ..] => info.deps.push((p.to_string(), v.to_string())),
            ["=>", p, v, ..] => {
                if let Some(last) = info.deps.last_mut() {
                    *last = (p.to_string(), v.to_string());
                }
            }
            _ => {}
        }
    }
    info
}

/// Decodes a `.go.buildinfo` blob (Go ≥ 1.18 inline-string format; older pointer formats go through `read_at`).
pub fn parse_go_buildinfo(
    data: &[u8],
    read_at: &dyn Fn(u64, u64) -> Option<Vec<u8>>,
) -> Result<GoBuildInfo, String> {
    if data.len() < 32 || !data.starts_with(GO_MAGIC) {
        return Err("no Go build info magic".into());
    }
    let ptr_size = data[14] as usize;
    let flags = data[15];
    let (version, modinfo) = if flags & 2 != 0 {
        let mut rest = &data[32..];
        let mut strs = Vec::new();
        for _ in 0..2 {
            let (len, n) = read_varint(rest).ok_or("bad varint in build info")?;
            let end = n
                .checked_add(len)
                .filter(|&e| e <= rest.len())
                .ok_or("build info string runs past the section")?;
            strs.push(String::from_utf8_lossy(&rest[n..end]).into_owned());
            rest = &rest[end..];
        }
        (strs[0].clone(), strs[1].clone())
    } else {
        // Go < 1.18: two pointers to Go string headers {ptr, len}.
        let big = flags & 1 != 0;
        if ptr_size != 4 && ptr_size != 8 {
            return Err(format!("unexpected pointer size {ptr_size}"));
        }
        let rd = |b: &[u8]| -> u64 {
            let mut v = 0u64;
            for i in 0..ptr_size {
                let byte = b[if big { i } else { ptr_size - 1 - i }] as u64;
                v = (v << 8) | byte;
            }
            v
        };
        let mut strs = Vec::new();
        for k in 0..2 {
            let at = 16 + k * ptr_size;
            let p = rd(data.get(at..at + ptr_size).ok_or("truncated build info")?);
            let hdr = read_at(p, 2 * ptr_size as u64).ok_or("string header not mapped")?;
            let (sp, sl) = (rd(&hdr[..ptr_size]), rd(&hdr[ptr_size..]));
            if sl > 1 << 24 {
                return Err("implausible build info string length".into());
            }
            let s = if sl == 0 {
                Vec::new()
            } else {
                read_at(sp, sl).ok_or("string not mapped")?
            };
            strs.push(String::from_utf8_lossy(&s).into_owned());
        }
        (strs[0].clone(), strs[1].clone())
    };
    // The module info is framed by 16-byte sentinels.
    let mi = if modinfo.len() >= 33 && modinfo.as_bytes()[modinfo.len() - 17] == b'\n' {
        modinfo
            .get(16..modinfo.len() - 16)
            .unwrap_or(&modinfo)
            .to_string()
    } else {
        modinfo
    };
    Ok(parse_modinfo(&mi, &version))
}

/// `(name, version)` of every crate in a cargo-auditable `.dep-v0` section (zlib-compressed JSON).
pub fn parse_dep_v0(compressed: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_AUDIT_JSON)
        .read_to_end(&mut json)
        .map_err(|e| format!("zlib: {e}"))?;
    let v: serde_json::Value = serde_json::from_slice(&json).map_err(|e| format!("JSON: {e}"))?;
    let pkgs = v
        .get("packages")
        .and_then(|p| p.as_array())
        .ok_or("no `packages` array")?;
    Ok(pkgs
        .iter()
        .filter_map(|p| {
            Some((
                p.get("name")?.as_str()?.to_string(),
                p.get("version")?.as_str()?.to_string(),
            ))
        })
        .collect())
}

fn go_purl(path: &str, version: &str) -> String {
    match path.rsplit_once('/') {
        Some((ns, n)) => purl("golang", Some(ns), n, version, &[]),
        None => purl("golang", None, path, version, &[]),
    }
}

fn pkg(
    name: String,
    version: String,
    ty: PackageType,
    purl: String,
    path: &str,
    fs: &FsView,
) -> Package {
    Package {
        name,
        version,
        package_type: ty,
        purl,
        source_name: None,
        source_version: None,
        arch: None,
        licenses: Vec::new(),
        location: path.to_string(),
        files: Vec::new(),
        layer: fsutil::layer_of(fs, path),
    }
}

/// Packages found in one binary file on disk.
pub fn binary_packages(
    disk: &std::path::Path,
    path: &str,
    fs: &FsView,
) -> Result<Vec<Package>, String> {
    let mut f = std::fs::File::open(disk).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 4];
    if f.read_exact(&mut magic).is_err() {
        return Ok(Vec::new());
    }
    let is_obj = magic == *b"\x7fELF"
        || magic[..2] == *b"MZ"
        || matches!(
            u32::from_le_bytes(magic),
            0xfeedface | 0xfeedfacf | 0xcefaedfe | 0xcffaedfe
        );
    if !is_obj {
        return Ok(Vec::new());
    }
    let cache = ReadCache::new(f);
    let obj = object::File::parse(&cache).map_err(|e| format!("object file: {e}"))?;
    let mut out = Vec::new();
    if let Some(sec) = obj
        .section_by_name(".go.buildinfo")
        .or_else(|| obj.section_by_name("__go_buildinfo"))
    {
        let data = sec.data().map_err(|e| format!(".go.buildinfo: {e}"))?;
        let read_at = |addr: u64, len: u64| -> Option<Vec<u8>> {
            obj.sections().find_map(|s| {
                let (a, sz) = (s.address(), s.size());
                (addr >= a && addr + len <= a + sz)
                    .then(|| s.data_range(addr, len).ok().flatten().map(<[u8]>::to_vec))
                    .flatten()
            })
        };
        let info = parse_go_buildinfo(data, &read_at)?;
        if let Some((m, v)) = &info.main {
            let v = if v.is_empty() { "(devel)" } else { v };
            out.push(pkg(
                m.clone(),
                v.to_string(),
                PackageType::GoModule,
                go_purl(m, v),
                path,
                fs,
            ));
        }
        for (m, v) in &info.deps {
            out.push(pkg(
                m.clone(),
                v.clone(),
                PackageType::GoModule,
                go_purl(m, v),
                path,
                fs,
            ));
        }
        if let Some(v) = info.go_version.strip_prefix("go") {
            let v = v.split_whitespace().next().unwrap_or(v);
            out.push(pkg(
                "stdlib".into(),
                format!("go{v}"),
                PackageType::GoModule,
                purl("golang", None, "stdlib", &format!("go{v}"), &[]),
                path,
                fs,
            ));
        }
    }
    if let Some(sec) = obj.section_by_name(".dep-v0") {
        let data = sec.data().map_err(|e| format!(".dep-v0: {e}"))?;
        for (n, v) in parse_dep_v0(data)? {
            let p = purl("cargo", None, &n, &v, &[]);
            out.push(pkg(n, v, PackageType::RustCrate, p, path, fs));
        }
    }
    Ok(out)
}

/// Catalogues Go and Rust binaries.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let files: Vec<&str> = fs
        .entries
        .iter()
        .filter(|(_, e)| crate::fsutil::is_content(fs, e) && e.mode & 0o111 != 0)
        .map(|(p, _)| p.as_str())
        .collect();
    for path in files {
        match binary_packages(&fs.content_path(path), path, fs) {
            Ok(p) => out.extend(p),
            Err(e) => problem(problems, fs, "binary", path, None, e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `go_buildinfo` fuzz target: a string length varint near `usize::MAX` overflowed `n + len`.
    #[test]
    fn huge_varint_length_is_an_error_not_an_overflow() {
        let mut data = GO_MAGIC.to_vec();
        data.resize(14, 0);
        data.extend_from_slice(&[8, 2]);
        data.resize(32, 0);
        data.extend_from_slice(&[
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, b'x',
        ]);
        let e = parse_go_buildinfo(&data, &|_, _| None).unwrap_err();
        assert_eq!(e, "build info string runs past the section");
    }

    #[test]
    fn modinfo_with_replacement() {
        let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.3.0\th1:x\n=>\tgithub.com/fork/text\tv0.3.1\th1:y\nbuild\t-compiler=gc\n";
        let i = parse_modinfo(text, "go1.22.1");
        assert_eq!(i.main, Some(("example.com/app".into(), "(devel)".into())));
        assert_eq!(
            i.deps,
            vec![("github.com/fork/text".into(), "v0.3.1".into())]
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_go_buildinfo(b"short", &|_, _| None).is_err());
        assert!(parse_dep_v0(b"not zlib").is_err());
        assert_eq!(
            go_purl("github.com/foo/bar", "v1.2.3"),
            "pkg:golang/github.com/foo/bar@v1.2.3"
        );
    }
}
