//! Fuzzes the layer stream decompressors (gzip, multi-member gzip, zstd, detected by magic bytes): reading at
//! most 64 MiB of output must end in data or an error, never a panic.

#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use portcullis_image::squash::decompress;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, r)) = decompress(data) {
        let _ = std::io::copy(&mut r.take(64 << 20), &mut std::io::sink());
    }
});
