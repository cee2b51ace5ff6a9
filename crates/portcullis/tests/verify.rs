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

#[tokio::test]
async fn verify_explains_keyless_signatures_and_attestations() {
    use common::pki::{self, LeafSpec};
    let reg = Reg::start();
    let digest = reg.image("app", "v1", "one").await;
    let dir = tempfile::tempdir().unwrap();
    let root = pki::root("Test Fulcio Root");
    let inter = pki::intermediate("Test Fulcio Intermediate", &root);
    let leaf = pki::leaf(
        &dir.path().join("leaf"),
        &LeafSpec {
            identity: "ci@acme.example",
            issuer: "https://token.actions.githubusercontent.com",
            valid: ((2020, 1, 1), (2099, 1, 1)),
        },
        &inter,
        &[&inter, &root],
    );
    let pinned = format!("{}/app@{digest}", reg.addr());
    pki::sign_with_certificate(&leaf, &pinned);
    let roots = dir.path().join("roots.pem");
    pki::bundle(&roots, &[&root]);
    let roots_s = roots.to_str().unwrap();
    // A keyed SBOM attestation by another signer.
    let keyed = key_pair(&dir.path().join("keyed"));
    std::fs::write(
        dir.path().join("keyed/bom.json"),
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"requests","version":"2.31.0","purl":"pkg:pypi/requests@2.31.0"}]}"#,
    )
    .unwrap();
    common::run_cosign(
        &dir.path().join("keyed"),
        &[
            "attest",
            "--key",
            "cosign.key",
            "--type",
            "cyclonedx",
            "--predicate",
            "bom.json",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            &pinned,
        ],
    );
    let image = format!("{}/app:v1", reg.addr());
    let keyed_s = keyed.to_str().unwrap();
    let keyless_args = [
        "--trust-root",
        roots_s,
        "--certificate-identity",
        "ci@acme.example",
        "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com",
    ];

    let mut args = vec!["verify", image.as_str()];
    args.extend(keyless_args);
    let ok = portcullis(&args);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(
        out.contains("verified, signed by certificate ci@acme.example (issuer https://token.actions.githubusercontent.com), chained to"),
        "{out}"
    );

    // Signature by certificate and SBOM attestation by key: both verified, the attestation summarised.
    let mut args = vec!["verify", image.as_str(), "--key", keyed_s];
    args.extend(keyless_args);
    args.extend(["--attestation-type", "cyclonedx"]);
    let ok = portcullis(&args);
    let out = text(&ok);
    assert_eq!(ok.status.code(), Some(0), "{out}");
    assert!(
        out.contains(&format!(
            "https://cyclonedx.org/bom): verified, signed by {keyed_s}; SBOM with 1 packages"
        )),
        "{out}"
    );

    // A required attestation type nobody made: named, exit 1.
    let mut args = vec!["verify", image.as_str(), "--key", keyed_s];
    args.extend(keyless_args);
    args.extend(["--attestation-type", "slsaprovenance"]);
    let no = portcullis(&args);
    let out = text(&no);
    assert_eq!(no.status.code(), Some(1), "{out}");
    assert!(
        out.contains("missing: no verified attestation of type https://slsa.dev/provenance/v0.2"),
        "{out}"
    );

    // Wrong identity: refused with the reason, exit 1.
    let no = portcullis(&[
        "verify",
        &image,
        "--trust-root",
        roots_s,
        "--certificate-identity-regexp",
        ".*@evil\\.example",
        "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com",
    ]);
    let out = text(&no);
    assert_eq!(no.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "refused: certificate identity ci@acme.example does not match regex `.*@evil\\.example`"
        ),
        "{out}"
    );

    // Incomplete keyless flags, or --require-tlog without a Rekor key: exit 2 naming what is missing.
    let bad = portcullis(&["verify", &image, "--trust-root", roots_s]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{out}");
    assert!(
        out.contains("missing: --certificate-identity or --certificate-identity-regexp, --certificate-oidc-issuer or --certificate-oidc-issuer-regexp"),
        "{out}"
    );
    let mut args = vec!["verify", image.as_str(), "--require-tlog"];
    args.extend(keyless_args);
    let bad = portcullis(&args);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{out}");
    assert!(out.contains("pass --rekor-public-key FILE"), "{out}");
    let bad = portcullis(&["verify", &image]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(2), "{out}");
    assert!(out.contains("no public key given"), "{out}");
}
