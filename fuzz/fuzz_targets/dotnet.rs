//! Fuzzes .NET `*.deps.json` parsing.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = portcullis_sbom::lang::dotnet::parse_deps(text);
    }
});
