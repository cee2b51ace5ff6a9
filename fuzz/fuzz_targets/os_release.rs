//! Fuzzes `os-release` and one-line release files (`/etc/redhat-release`, …), directly and through distro
//! detection on a one-file view (the first byte picks the file).

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_sbom::distro;

const PATHS: [&str; 5] = [
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/redhat-release",
    "/etc/alpine-release",
    "/etc/debian_version",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(bytes);
    let _ = distro::parse_os_release(&text);
    let _ = distro::parse_release_line(&text);
    let fs = portcullis_fuzz::one_file_view(PATHS[sel as usize % PATHS.len()], bytes, 0o644);
    let _ = distro::detect_distro(&fs);
});
