//! Fuzzes policy bundle loading (YAML/JSON documents, validation of every rule, parameter and allowlist).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis_policy::Bundle::from_slice(data, "fuzz.yaml");
});
