//! Public keys of every supported kind, made and used by the `openssl` CLI, checked by the library.

use std::path::Path;
use std::process::Command;

use portcullis_verify::{KeyKind, PublicKey};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs (Debian package openssl, scripts/setup.d/40-cosign.sh)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes a key with `genkey`, signs `payload` with `sign` and checks the signature and a tampered payload.
fn round_trip(genkey: &[&str], sign: &[&str], kind: KeyKind) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, genkey);
    openssl(d, &["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub"]);
    let payload = br#"{"critical":{"identity":{"docker-reference":"r/app"},"image":{"docker-manifest-digest":"sha256:00"},"type":"cosign container image signature"},"optional":null}"#;
    std::fs::write(d.join("payload"), payload).unwrap();
    openssl(d, sign);
    let sig = std::fs::read(d.join("sig")).unwrap();
    let key = PublicKey::from_pem_file(&d.join("k.pub")).unwrap();
    assert_eq!(key.kind, kind);
    assert!(key.verifies(payload, &sig), "{kind:?} signature refused");
    let mut tampered = payload.to_vec();
    tampered[20] ^= 1;
    assert!(
        !key.verifies(&tampered, &sig),
        "{kind:?} tampered payload accepted"
    );
    let mut bad = sig.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(
        !key.verifies(payload, &bad),
        "{kind:?} altered signature accepted"
    );
    // A private key given as --key is refused with what to give instead.
    let e = PublicKey::from_pem_file(&d.join("k.pem"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected `PUBLIC KEY`"), "{e}");
}

#[test]
fn ecdsa_p256_sha256() {
    round_trip(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
        &[
            "dgst", "-sha256", "-sign", "k.pem", "-out", "sig", "payload",
        ],
        KeyKind::EcdsaP256,
    );
}

#[test]
fn ecdsa_p384_sha384_and_sha256() {
    round_trip(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "k.pem",
        ],
        &[
            "dgst", "-sha384", "-sign", "k.pem", "-out", "sig", "payload",
        ],
        KeyKind::EcdsaP384,
    );
    round_trip(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "k.pem",
        ],
        &[
            "dgst", "-sha256", "-sign", "k.pem", "-out", "sig", "payload",
        ],
        KeyKind::EcdsaP384,
    );
}

#[test]
fn ed25519() {
    round_trip(
        &["genpkey", "-algorithm", "ed25519", "-out", "k.pem"],
        &[
            "pkeyutl", "-sign", "-inkey", "k.pem", "-rawin", "-in", "payload", "-out", "sig",
        ],
        KeyKind::Ed25519,
    );
}

#[test]
fn rsa_pkcs1_sha256() {
    round_trip(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k.pem",
        ],
        &[
            "dgst", "-sha256", "-sign", "k.pem", "-out", "sig", "payload",
        ],
        KeyKind::Rsa,
    );
}

#[test]
fn unusable_key_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = PublicKey::from_pem_file(&d.join("nope.pub"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("nope.pub") && missing.contains("cannot read it"),
        "{missing}"
    );
    std::fs::write(d.join("junk.pub"), "hello").unwrap();
    let junk = PublicKey::from_pem_file(&d.join("junk.pub"))
        .unwrap_err()
        .to_string();
    assert!(junk.contains("not a PEM file"), "{junk}");
    std::fs::write(d.join("big.pub"), vec![b'a'; 1 << 20]).unwrap();
    let big = PublicKey::from_pem_file(&d.join("big.pub"))
        .unwrap_err()
        .to_string();
    assert!(big.contains("at most 65536"), "{big}");
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-521",
            "-out",
            "k.pem",
        ],
    );
    openssl(d, &["pkey", "-in", "k.pem", "-pubout", "-out", "k.pub"]);
    let p521 = PublicKey::from_pem_file(&d.join("k.pub"))
        .unwrap_err()
        .to_string();
    assert!(p521.contains("unsupported elliptic curve"), "{p521}");
}
