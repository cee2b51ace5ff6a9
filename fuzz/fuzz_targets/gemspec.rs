//! Fuzzes installed `.gemspec` parsing, directly and through the Ruby cataloguer on a one-file view.

#![no_main]

use libfuzzer_sys::fuzz_target;

const PATH: &str = "/usr/local/bundle/specifications/fuzz-1.0.gemspec";

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_sbom::lang::ruby::parse_gemspec(&String::from_utf8_lossy(data));
    let fs = portcullis_fuzz::one_file_view(PATH, data, 0o644);
    let _ = portcullis_sbom::lang::ruby::catalog(&fs, &mut Vec::new());
});
