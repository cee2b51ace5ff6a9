//! Fuzzes Python `METADATA` parsing, and `METADATA`/`RECORD`/`PKG-INFO` through the Python cataloguer on a
//! one-file view (the first byte picks the file).

#![no_main]

use libfuzzer_sys::fuzz_target;

const PATHS: [&str; 4] = [
    "/usr/lib/python3/dist-packages/fuzz-1.0.dist-info/METADATA",
    "/usr/lib/python3/dist-packages/fuzz-1.0.dist-info/RECORD",
    "/usr/lib/python3/dist-packages/fuzz-1.0.egg-info/PKG-INFO",
    "/usr/lib/python3/dist-packages/fuzz-1.0.egg-info",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let _ = portcullis_sbom::lang::python::parse_metadata(&String::from_utf8_lossy(bytes));
    let fs = portcullis_fuzz::one_file_view(PATHS[sel as usize % PATHS.len()], bytes, 0o644);
    let _ = portcullis_sbom::lang::python::catalog(&fs, &mut Vec::new());
});
