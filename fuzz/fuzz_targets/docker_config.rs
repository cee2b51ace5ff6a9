//! Fuzzes docker `config.json` and Kubernetes pull-secret (`.dockerconfigjson` / `.dockercfg`) parsing, and the
//! credential lookup by registry.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_image::auth;

fuzz_target!(|data: &[u8]| {
    for creds in [
        auth::credentials_from_docker_config(data, "fuzz"),
        auth::credentials_from_dockerconfigjson(data, "fuzz"),
    ]
    .into_iter()
    .flatten()
    {
        for reg in ["docker.io", "index.docker.io", "127.0.0.1:5000", "ghcr.io"] {
            let _ = auth::credential_for(reg, &creds);
        }
    }
});
