//! Fuzzes the rpm header blob parser (the format every rpm database stores per package).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_sbom::rpm::header::parse(data);
});
