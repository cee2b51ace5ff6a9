//! Fuzzes reading an rpm database of any format through `rpm::read_db` (SQLite `rpmdb.sqlite` is opened from a
//! scratch file, BDB and NDB from the bytes).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let disk = portcullis_fuzz::scratch_file("rpmdb.sqlite", data);
    let _ = portcullis_sbom::rpm::read_db("/var/lib/rpm/rpmdb.sqlite", &disk, data);
});
