//! Fuzzes Composer `vendor/composer/installed.json` parsing (v1 array and v2 `packages` object).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = portcullis_sbom::lang::php::parse_installed(text);
    }
});
