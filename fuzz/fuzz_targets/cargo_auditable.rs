//! Fuzzes the cargo-auditable `.dep-v0` section decoder (zlib-compressed JSON dependency tree).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_sbom::lang::binary::parse_dep_v0(data);
});
