//! Fuzzes the whole cataloguer (`portcullis_sbom::catalog`) on a one-file view: the first byte picks which
//! catalogued path the rest of the bytes are, so every package database and language file is reached through
//! the public entry point.

#![no_main]

use libfuzzer_sys::fuzz_target;

const PATHS: [&str; 16] = [
    "/etc/os-release",
    "/var/lib/dpkg/status",
    "/var/lib/dpkg/status.d/fuzz",
    "/usr/share/doc/fuzz/copyright",
    "/lib/apk/db/installed",
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/python3/dist-packages/fuzz-1.0.dist-info/METADATA",
    "/usr/lib/python3/dist-packages/fuzz-1.0.dist-info/RECORD",
    "/app/package-lock.json",
    "/app/vendor/composer/installed.json",
    "/app/app.deps.json",
    "/usr/local/bundle/specifications/fuzz-1.0.gemspec",
    "/app/app.jar",
    "/usr/local/bin/app",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let path = PATHS[sel as usize % PATHS.len()];
    let fs = portcullis_fuzz::one_file_view(path, bytes, 0o755);
    let _ = portcullis_sbom::catalog(&fs, "fuzz/image", Default::default());
});
