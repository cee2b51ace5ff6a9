//! Fuzzes `WWW-Authenticate` challenge parsing as the registry client does it (`http_auth::parse_challenges`,
//! then the Bearer realm and service; the client's own wrapper is private) and image reference parsing.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenges) = http_auth::parse_challenges(text) {
        for c in challenges
            .iter()
            .filter(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            for (k, v) in &c.params {
                if k.eq_ignore_ascii_case("realm") || k.eq_ignore_ascii_case("service") {
                    let _ = v.to_unescaped();
                }
            }
        }
    }
    if let Ok(r) = portcullis_image::ImageRef::parse(text) {
        let _ = (r.api_registry(), r.tag_or_digest(), r.tag_key());
    }
});
