//! Fuzzes the NDB reader of rpm `Packages.db` and the header parser on every value it yields.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sbom::rpm::{header, ndb};

fuzz_target!(|data: &[u8]| {
    if ndb::is_ndb(data) {
        if let Ok(values) = ndb::values(data) {
            for v in values {
                let _ = header::parse(&v);
            }
        }
    }
});
