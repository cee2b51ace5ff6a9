//! Fuzzes the Berkeley DB hash reader of rpm `Packages` and the header parser on every value it yields.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sbom::rpm::{bdb, header};

fuzz_target!(|data: &[u8]| {
    if bdb::is_bdb_hash(data) {
        if let Ok(values) = bdb::values(data) {
            for v in values {
                let _ = header::parse(&v);
            }
        }
    }
});
