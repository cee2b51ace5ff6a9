//! Times the in-process stages of a decision for one review file: parse, decide, serialise (bench helper).
//! Usage: decide_timing REVIEW.json [VERDICTS.json] [iterations]

use std::time::Instant;

use portcullis_admission::{
    Config, Context, Endpoint, MemoryVerdicts, Review, decide, parse_image,
};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let body = std::fs::read(&a[1]).expect("review file");
    let v = match a.get(2) {
        Some(p) if !p.is_empty() => {
            MemoryVerdicts::load(std::path::Path::new(p)).expect("verdicts")
        }
        _ => MemoryVerdicts::new(),
    };
    let n: u32 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let cfg = Config::parse("default: { mode: policy, policy: prod }\n", "bench").expect("config");
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(serde_json::from_slice::<serde_json::Value>(&body).expect("json"));
    }
    println!("serde_json::Value parse: {:?}/review", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(Review::parse(&body).expect("review"));
    }
    println!("Review::parse:           {:?}/review", t.elapsed() / n);
    let r = Review::parse(&body).expect("review");
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(parse_image("quay.io/prometheus/node-exporter:v1.8.2").expect("ref"));
    }
    println!("parse_image:             {:?}/image", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(decide(&r, &cfg, &v, &Context::new(Endpoint::Validate)));
    }
    println!("decide:                  {:?}/review", t.elapsed() / n);
    let d = decide(&r, &cfg, &v, &Context::new(Endpoint::Validate));
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(d.to_review_json());
    }
    println!("to_review_json:          {:?}/review", t.elapsed() / n);
}
