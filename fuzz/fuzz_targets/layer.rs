//! Fuzzes layer squashing (tar parsing, whiteouts, links, possibly compressed) and cataloguing of the result:
//! the bytes are one layer blob applied to an empty image, with small kept-content limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_image::Limits;
use portcullis_image::squash::Squasher;

fuzz_target!(|data: &[u8]| {
    let work = portcullis_fuzz::scratch().join("squash");
    let limits = Limits {
        max_entries: 100_000,
        max_kept_file: 8 << 20,
        max_kept_total: 32 << 20,
        ..Limits::default()
    };
    let wanted = portcullis_sbom::wanted;
    let mut sq = Squasher::new("fuzz/image", &work, &wanted, limits).expect("squasher");
    let applied = sq.apply_layer("sha256:fuzz", data, None);
    let view = sq.finish();
    if applied.is_ok() {
        let _ = portcullis_sbom::catalog(&view, "fuzz/image", Default::default());
    }
    let _ = std::fs::remove_dir_all(&view.content_dir);
});
