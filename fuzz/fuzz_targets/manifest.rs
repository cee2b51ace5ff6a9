//! Fuzzes manifest, index and image-config parsing, platform selection and the layer/diff-id pairing.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_image::{Platform, manifest};

const TYPES: [Option<&str>; 5] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    let ct = TYPES[sel as usize % TYPES.len()];
    match manifest::parse("fuzz/image", bytes, ct) {
        Ok(manifest::Parsed::Index(ds)) => {
            for p in ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"] {
                let want = Platform::parse(p).expect("static platform");
                let _ = manifest::select_platform("fuzz/image", &ds, &want);
            }
        }
        Ok(manifest::Parsed::Manifest { layers, .. }) => {
            let _ = manifest::layer_infos("fuzz/image", &layers, &[]);
        }
        Err(_) => {}
    }
    if let Ok((_, diff_ids)) = manifest::parse_config("fuzz/image", bytes) {
        let _ = manifest::layer_infos("fuzz/image", &[], &diff_ids);
    }
});
