//! Fuzzes the dpkg status / control parser, `Source:` field splitting and machine-readable copyright licences.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sbom::dpkg;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(stanzas) = dpkg::parse_control("/var/lib/dpkg/status", &text) {
        std::hint::black_box(stanzas.len());
    }
    let _ = dpkg::parse_source(&text);
    let _ = dpkg::copyright_licenses(&text);
});
