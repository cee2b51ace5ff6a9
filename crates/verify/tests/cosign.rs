//! Signatures made by the real cosign CLI on a real docker-registry, verified (or refused) by the library.

mod common;

use std::time::{Duration, Instant};

use common::{Reg, key_pair, sign};
use portcullis_verify::{Limits, Outcome, PublicKey, Report, verify};

const REPO: &str = "team/app";

/// A registry with image `team/app:v1` signed by a fresh cosign key pair.
struct Signed {
    reg: Reg,
    dir: tempfile::TempDir,
    digest: String,
    key: PublicKey,
}

async fn signed() -> Signed {
    let reg = Reg::start();
    let digest = reg.image(REPO, "v1", "image one").await;
    let dir = tempfile::tempdir().unwrap();
    let pubkey = key_pair(&dir.path().join("signer"));
    sign(
        &dir.path().join("signer"),
        &format!("{}/{REPO}@{digest}", reg.addr()),
    );
    let key = PublicKey::from_pem_file(&pubkey).unwrap();
    Signed {
        reg,
        dir,
        digest,
        key,
    }
}

impl Signed {
    async fn verify_with(&self, keys: &[PublicKey]) -> Report {
        verify(
            &self.reg.client(),
            &self.reg.reference(REPO, &self.digest),
            keys,
            &Limits::default(),
        )
        .await
        .unwrap()
    }

    fn sig_tag(&self) -> String {
        format!("{}.sig", self.digest.replacen(':', "-", 1))
    }

    /// The signature manifest cosign pushed, as JSON.
    async fn sig_manifest(&self) -> serde_json::Value {
        let bytes = self
            .reg
            .get(&format!("{REPO}/manifests/{}", self.sig_tag()))
            .await;
        serde_json::from_slice(&bytes).unwrap()
    }

    /// Re-pushes the signature manifest after `edit` changed it.
    async fn repush(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let mut m = self.sig_manifest().await;
        edit(&mut m);
        self.reg
            .manifest(REPO, &self.sig_tag(), m.to_string().as_bytes())
            .await;
    }
}

fn refusals(r: &Report) -> Vec<String> {
    r.signatures
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Refused { reason } => Some(reason.clone()),
            Outcome::Verified { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn cosign_signature_verifies_with_the_right_key() {
    let s = signed().await;
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    assert!(r.verified(), "{r:#?}");
    assert_eq!(r.digest, s.digest);
    assert_eq!(r.signatures.len(), 1);
    match &r.signatures[0].outcome {
        Outcome::Verified { key } => assert!(key.ends_with("signer/cosign.pub"), "{key}"),
        o => panic!("{o:?}"),
    }
    assert!(r.signatures[0].source.starts_with("tag sha256-"));
    // Found through the tag; this registry (distribution 2.8) has no referrers API, which is noted.
    assert!(
        r.notes.iter().any(|n| n.contains("referrers API")),
        "{:?}",
        r.notes
    );
    // Among several keys, the right one is named.
    let other = key_pair(&s.dir.path().join("other"));
    let other = PublicKey::from_pem_file(&other).unwrap();
    let r = s.verify_with(&[other, s.key.clone()]).await;
    assert!(r.verified());
}

#[tokio::test]
async fn a_wrong_key_is_refused() {
    let s = signed().await;
    let other = PublicKey::from_pem_file(&key_pair(&s.dir.path().join("other"))).unwrap();
    let r = s.verify_with(&[other]).await;
    assert!(!r.verified());
    let why = refusals(&r);
    assert_eq!(why.len(), 1);
    assert!(
        why[0].contains("does not verify with any of the 1 key"),
        "{why:?}"
    );
}

#[tokio::test]
async fn an_unsigned_image_is_not_verified() {
    let s = signed().await;
    let unsigned = s.reg.image(REPO, "v2", "image two").await;
    let r = verify(
        &s.reg.client(),
        &s.reg.reference(REPO, &unsigned),
        std::slice::from_ref(&s.key),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert!(!r.verified());
    assert!(r.signatures.is_empty());
    assert!(
        r.notes.iter().any(|n| n.contains("no signature tag")),
        "{:?}",
        r.notes
    );
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let s = signed().await;
    let m = s.sig_manifest().await;
    let layer = m["layers"][0]["digest"].as_str().unwrap().to_string();
    let payload = s.reg.get(&format!("{REPO}/blobs/{layer}")).await;
    let text = String::from_utf8(payload).unwrap();
    assert!(text.contains("cosign container image signature"), "{text}");
    let tampered = text.replace(REPO, "team/evil");
    assert_ne!(tampered, text);
    let d = s.reg.blob(REPO, tampered.as_bytes()).await;
    s.repush(|m| {
        m["layers"][0]["digest"] = d.clone().into();
        m["layers"][0]["size"] = tampered.len().into();
    })
    .await;
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    assert!(!r.verified());
    assert!(refusals(&r)[0].contains("does not verify"), "{r:#?}");
}

#[tokio::test]
async fn a_signature_of_another_digest_is_refused() {
    let s = signed().await;
    // Image two is signed by the same key; its signature manifest is copied to image one's tag.
    let two = s.reg.image(REPO, "v2", "image two").await;
    sign(
        &s.dir.path().join("signer"),
        &format!("{}/{REPO}@{two}", s.reg.addr()),
    );
    let two_sig = s
        .reg
        .get(&format!(
            "{REPO}/manifests/{}.sig",
            two.replacen(':', "-", 1)
        ))
        .await;
    s.reg.manifest(REPO, &s.sig_tag(), &two_sig).await;
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    assert!(!r.verified());
    let why = refusals(&r);
    assert!(
        why[0].contains(&format!("its payload signs {two}, not {}", s.digest)),
        "{why:?}"
    );
}

#[tokio::test]
async fn a_malformed_signature_annotation_is_refused() {
    let s = signed().await;
    s.repush(|m| {
        m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] =
            "not base64 !!".into();
    })
    .await;
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    assert!(!r.verified());
    assert!(refusals(&r)[0].contains("is not base64"), "{r:#?}");
    s.repush(|m| {
        m["layers"][0]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("dev.cosignproject.cosign/signature");
    })
    .await;
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    assert!(refusals(&r)[0].contains("has no `dev.cosignproject.cosign/signature` annotation"));
}

#[tokio::test]
async fn huge_or_missing_payload_blobs_are_refused_quickly() {
    let s = signed().await;
    // A descriptor claiming 10 GiB: refused without fetching.
    let t = Instant::now();
    s.repush(|m| m["layers"][0]["size"] = (10u64 << 30).into())
        .await;
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    assert!(!r.verified());
    let why = refusals(&r);
    assert!(
        why[0].contains("declares 10737418240 bytes, more than the 65536 allowed; not fetched"),
        "{why:?}"
    );
    // A descriptor lying about the size of a 1 MiB blob: the read stops at the cap.
    let big = vec![b'x'; 1 << 20];
    let big_digest = s.reg.blob(REPO, &big).await;
    s.repush(|m| {
        m["layers"][0]["digest"] = big_digest.clone().into();
        m["layers"][0]["size"] = 300.into();
    })
    .await;
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    let why = refusals(&r);
    assert!(
        why[0].contains(&format!("blob {big_digest} is"))
            && why[0].contains("more than the 65536 allowed"),
        "{why:?}"
    );
    // A blob the registry lost (pushed, then its data removed from the registry's storage: the registry
    // refuses manifests naming blobs it never had).
    let missing = s.reg.blob(REPO, b"lost payload").await;
    s.repush(|m| {
        m["layers"][0]["digest"] = missing.clone().into();
        m["layers"][0]["size"] = 300.into();
    })
    .await;
    std::fs::remove_file(s.reg.reg.blob_data_path(&missing)).unwrap();
    let r = s.verify_with(std::slice::from_ref(&s.key)).await;
    let why = refusals(&r);
    assert!(
        why[0].contains("payload layer cannot be fetched") && why[0].contains("not found"),
        "{why:?}"
    );
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn an_oci_1_1_referrer_signature_verifies() {
    // cosign's OCI 1.1 mode on a registry without the referrers API pushes the signature as a referrer and
    // lists it in the fallback index under the tag `sha256-<hex>`.
    let reg = Reg::start();
    let digest = reg.image(REPO, "v1", "image one").await;
    let dir = tempfile::tempdir().unwrap();
    let pubkey = key_pair(dir.path());
    common::run_cosign_env(
        dir.path(),
        &[("COSIGN_EXPERIMENTAL", "1")],
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            "--registry-referrers-mode=oci-1-1",
            &format!("{}/{REPO}@{digest}", reg.addr()),
        ],
    );
    let key = PublicKey::from_pem_file(&pubkey).unwrap();
    let r = verify(
        &reg.client(),
        &reg.reference(REPO, &digest),
        std::slice::from_ref(&key),
        &Limits::default(),
    )
    .await
    .unwrap();
    assert!(r.verified(), "{r:#?}");
    assert!(
        r.signatures
            .iter()
            .any(|c| c.source.starts_with("referrer sha256:")
                && matches!(c.outcome, Outcome::Verified { .. })),
        "{r:#?}"
    );
}
