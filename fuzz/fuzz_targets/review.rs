//! Fuzzes the AdmissionReview parser, image extraction, reference parsing and the whole decision (every mode),
//! plus the offline input reader. Nothing may panic, whatever the bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_admission::{
    Config, Context, Endpoint, MemoryVerdicts, Review, decide, extract, read_input,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(review) = Review::parse(data) {
        let _ = extract(&review);
        let verdicts = MemoryVerdicts::new();
        for mode in ["policy", "analysis", "audit", "passive", "breakglass"] {
            let cfg = Config::parse(
                &format!("default: {{ mode: {mode}, mutate: true }}"),
                "fuzz",
            )
            .expect("static config");
            for ep in [Endpoint::Validate, Endpoint::Mutate] {
                let d = decide(&review, &cfg, &verdicts, &Context::new(ep));
                let _ = d.to_review_json();
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = read_input(text, "fuzz", "default");
    }
});
