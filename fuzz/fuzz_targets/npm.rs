//! Fuzzes `package-lock.json` parsing, and lockfiles and `node_modules/*/package.json` through the npm
//! cataloguer on a one-file view (the first byte picks the file).

#![no_main]

use libfuzzer_sys::fuzz_target;

const PATHS: [&str; 2] = [
    "/app/package-lock.json",
    "/app/node_modules/fuzz/package.json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = portcullis_sbom::lang::npm::parse_lock(text);
    }
    let fs = portcullis_fuzz::one_file_view(PATHS[sel as usize % PATHS.len()], bytes, 0o644);
    let _ = portcullis_sbom::lang::npm::catalog(&fs, &mut Vec::new());
});
