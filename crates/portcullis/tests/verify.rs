//! `portcullis verify` against a real docker-registry and signatures made by the real cosign CLI.

#[path = "../../verify/tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};
use std::time::Instant;

use common::{Reg, key_pair, sign};

fn portcullis(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .output()
        .expect("portcullis runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test]
async fn verify_exits_0_verified_1_refused_2_error() {
    let reg = Reg::start();
    let digest = reg.image("app", "v1", "one").await;
    let dir = tempfile::tempdir().unwrap();
    let good = key_pair(&dir.path().join("good"));
    let other = key_pair(&dir.path().join("other"));
    sign(
        &dir.path().join("good"),
        &format!("{}/app@{digest}", reg.addr()),
    );
    let image = format!("{}/app:v1", reg.addr());
    let good_s = good.to_str().unwrap();
    let other_s = other.to_str().unwrap();

    let t = Instant::now();
    let ok = portcullis(&["verify", &image, "--key", other_s, "--key", good_s]);
    let cold = t.elapsed();
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(out.contains(&format!("image {image} ({digest})")), "{out}");
    assert!(
        out.contains(&format!("verified, signed by {good_s}")),
        "{out}"
    );
    assert!(out.trim_end().ends_with("verified"), "{out}");
    eprintln!("cold verification of one image (debug binary, new process): {cold:?}");

    let refused = portcullis(&["verify", &image, "--key", other_s]);
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(out.contains("refused: signature does not verify"), "{out}");
    assert!(out.trim_end().ends_with("not verified"), "{out}");

    let unsigned = reg.image("app", "v2", "two").await;
    let none = portcullis(&[
        "verify",
        &format!("{}/app@{unsigned}", reg.addr()),
        "--key",
        good_s,
    ]);
    let out = text(&none);
    assert_eq!(none.status.code(), Some(1), "{out}");
    assert!(out.contains("no signature found"), "{out}");

    let bad_key = portcullis(&["verify", &image, "--key", "/nonexistent/cosign.pub"]);
    let out = text(&bad_key);
    assert_eq!(bad_key.status.code(), Some(2), "{out}");
    assert!(
        out.contains("public key /nonexistent/cosign.pub: cannot read it"),
        "{out}"
    );

    let missing = portcullis(&[
        "verify",
        &format!("{}/nope:v1", reg.addr()),
        "--key",
        good_s,
    ]);
    let out = text(&missing);
    assert_eq!(missing.status.code(), Some(2), "{out}");
    assert!(out.contains("not found"), "{out}");
}
