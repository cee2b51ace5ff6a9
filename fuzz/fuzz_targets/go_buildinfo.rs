//! Fuzzes Go build-info decoding (`.go.buildinfo` blob, pointer formats through `read_at`, modinfo text) and
//! the whole binary cataloguer (ELF/Mach-O/PE sections) on a file of the fuzzed bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sbom::lang::binary;

fuzz_target!(|data: &[u8]| {
    let read_at = |off: u64, len: u64| {
        let (off, len) = (usize::try_from(off).ok()?, usize::try_from(len).ok()?);
        data.get(off..off.checked_add(len)?).map(<[u8]>::to_vec)
    };
    let _ = binary::parse_go_buildinfo(data, &read_at);
    let _ = binary::parse_modinfo(&String::from_utf8_lossy(data), "go1.22");
    let fs = portcullis_fuzz::one_file_view("/usr/local/bin/app", data, 0o755);
    let _ = binary::binary_packages(
        &fs.content_path("/usr/local/bin/app"),
        "/usr/local/bin/app",
        &fs,
    );
});
