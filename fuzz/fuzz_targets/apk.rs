//! Fuzzes the apk `installed` database parser.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = portcullis_sbom::apk::parse_installed("/lib/apk/db/installed", &text);
});
