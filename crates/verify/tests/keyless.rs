//! Keyless signatures: certificates issued by a test CA hierarchy (rcgen) with Fulcio's extensions, attached by
//! the real `cosign sign --certificate … --certificate-chain …` on a real docker-registry; the chain, the
//! identity and the issuer are checked against a trust root file. Rekor bundles are checked offline.

mod common;

use base64::Engine;
use common::Reg;
use common::pki::{self, Ca, LeafSpec};
use portcullis_verify::{
    Keyless, Limits, Match, Outcome, PublicKey, Report, Signer, Trust, TrustRoot, verify_trust,
};
use sha2::Digest;

const REPO: &str = "team/app";
const ID: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Hierarchy {
    root: Ca,
    inter: Ca,
}

fn hierarchy() -> Hierarchy {
    let root = pki::root("Test Fulcio Root");
    let inter = pki::intermediate("Test Fulcio Intermediate", &root);
    Hierarchy { root, inter }
}

/// An image on `reg` signed with a certificate for `identity`/`issuer` valid in `valid`.
async fn signed_image(
    reg: &Reg,
    h: &Hierarchy,
    dir: &std::path::Path,
    tag: &str,
    spec: &LeafSpec<'_>,
) -> String {
    let digest = reg.image(REPO, tag, &format!("image {tag}")).await;
    let leaf_dir = pki::leaf(&dir.join(tag), spec, &h.inter, &[&h.inter, &h.root]);
    pki::sign_with_certificate(&leaf_dir, &format!("{}/{REPO}@{digest}", reg.addr()));
    digest
}

fn keyless(root: &std::path::Path, identity: Match, issuer: Match) -> Keyless {
    Keyless {
        root: TrustRoot::from_pem_file(root).unwrap(),
        identity,
        issuer,
    }
}

async fn check(reg: &Reg, digest: &str, trust: &Trust) -> Report {
    verify_trust(
        &reg.client(),
        &reg.reference(REPO, digest),
        trust,
        &Limits::default(),
    )
    .await
    .unwrap()
}

fn refusal(r: &Report) -> String {
    assert!(!r.verified(), "{r:#?}");
    assert_eq!(r.signatures.len(), 1, "{r:#?}");
    match &r.signatures[0].outcome {
        Outcome::Refused { reason } => reason.clone(),
        o => panic!("{o:?}"),
    }
}

const VALID: ((i32, u8, u8), (i32, u8, u8)) = ((2020, 1, 1), (2099, 1, 1));

#[tokio::test]
async fn a_certificate_chained_to_the_trust_root_with_the_right_identity_verifies() {
    let reg = Reg::start();
    let h = hierarchy();
    let dir = tempfile::tempdir().unwrap();
    let digest = signed_image(
        &reg,
        &h,
        dir.path(),
        "v1",
        &LeafSpec {
            identity: ID,
            issuer: ISSUER,
            valid: VALID,
        },
    )
    .await;
    let roots = dir.path().join("roots.pem");
    pki::bundle(&roots, &[&h.root]);

    // Exact identity and issuer.
    let trust = Trust {
        keyless: vec![keyless(&roots, Match::exact(ID), Match::exact(ISSUER))],
        ..Trust::default()
    };
    let r = check(&reg, &digest, &trust).await;
    assert!(r.verified(), "{r:#?}");
    match &r.signatures[0].signer {
        Some(Signer::Certificate { identity, root }) => {
            assert_eq!(identity.identities, vec![ID.to_string()]);
            assert_eq!(identity.issuer.as_deref(), Some(ISSUER));
            assert_eq!(root, &roots.display().to_string());
        }
        s => panic!("{s:?}"),
    }
    match &r.signatures[0].outcome {
        Outcome::Verified { key } => assert!(key.contains(ID) && key.contains(ISSUER), "{key}"),
        o => panic!("{o:?}"),
    }

    // Anchored regular expressions: a prefix of the identity does not match unless the pattern says so.
    let trust = Trust {
        keyless: vec![keyless(
            &roots,
            Match::regex(
                "--certificate-identity-regexp",
                r"https://github\.com/acme/.*",
            )
            .unwrap(),
            Match::regex(
                "--certificate-oidc-issuer-regexp",
                r"https://token\.actions\..*",
            )
            .unwrap(),
        )],
        ..Trust::default()
    };
    assert!(check(&reg, &digest, &trust).await.verified());
    let trust = Trust {
        keyless: vec![keyless(
            &roots,
            Match::regex("--certificate-identity-regexp", r"https://github\.com/acme").unwrap(),
            Match::exact(ISSUER),
        )],
        ..Trust::default()
    };
    let why = refusal(&check(&reg, &digest, &trust).await);
    assert!(
        why.contains(&format!(
            "certificate identity {ID} does not match regex `https://github\\.com/acme`"
        )),
        "{why}"
    );
    // A bad expression is a configuration error naming the option.
    let e = Match::regex("--certificate-identity-regexp", "(").unwrap_err();
    assert!(
        e.to_string()
            .contains("--certificate-identity-regexp `(` is not a valid regular expression"),
        "{e}"
    );
}

#[tokio::test]
async fn wrong_identity_issuer_root_or_expiry_are_refused_precisely() {
    let reg = Reg::start();
    let h = hierarchy();
    let dir = tempfile::tempdir().unwrap();
    let good = signed_image(
        &reg,
        &h,
        dir.path(),
        "v1",
        &LeafSpec {
            identity: "ci@acme.example",
            issuer: ISSUER,
            valid: VALID,
        },
    )
    .await;
    let expired = signed_image(
        &reg,
        &h,
        dir.path(),
        "v2",
        &LeafSpec {
            identity: "ci@acme.example",
            issuer: ISSUER,
            valid: ((2020, 1, 1), (2021, 1, 1)),
        },
    )
    .await;
    let roots = dir.path().join("roots.pem");
    pki::bundle(&roots, &[&h.root]);
    let trust = |id: &str, issuer: &str, roots: &std::path::Path| Trust {
        keyless: vec![keyless(roots, Match::exact(id), Match::exact(issuer))],
        ..Trust::default()
    };

    assert!(
        check(&reg, &good, &trust("ci@acme.example", ISSUER, &roots))
            .await
            .verified()
    );

    let why = refusal(&check(&reg, &good, &trust("other@acme.example", ISSUER, &roots)).await);
    assert!(
        why.contains("certificate identity ci@acme.example does not match `other@acme.example`"),
        "{why}"
    );

    let why = refusal(
        &check(
            &reg,
            &good,
            &trust("ci@acme.example", "https://accounts.google.com", &roots),
        )
        .await,
    );
    assert!(
        why.contains(&format!(
            "certificate OIDC issuer `{ISSUER}` does not match `https://accounts.google.com`"
        )),
        "{why}"
    );

    // Another CA's root: the chain does not lead to it.
    let other = pki::root("Someone Else's Root");
    let other_roots = dir.path().join("other.pem");
    pki::bundle(&other_roots, &[&other]);
    let why = refusal(&check(&reg, &good, &trust("ci@acme.example", ISSUER, &other_roots)).await);
    assert!(
        why.contains("certificate does not chain to the trust root")
            && why.contains(&other_roots.display().to_string()),
        "{why}"
    );

    // Expired, and no Rekor bundle to date the signature: checked now.
    let why = refusal(&check(&reg, &expired, &trust("ci@acme.example", ISSUER, &roots)).await);
    assert!(
        why.contains("certificate expired: not valid after 2021-01-01T00:00:00Z")
            && why.contains("now, as no verified Rekor bundle gives the signing time"),
        "{why}"
    );

    // A certificate signature checked with keys only says what is missing.
    let k = PublicKey::from_pem_file(&dir.path().join("v1/leaf.pub")).unwrap();
    let r = check(
        &reg,
        &good,
        &Trust {
            keys: vec![k],
            ..Trust::default()
        },
    )
    .await;
    // The leaf's own key verifies it as a key signature (cosign's --key behaviour).
    assert!(r.verified(), "{r:#?}");
    let other_key = common::key_pair(&dir.path().join("k"));
    let r = check(
        &reg,
        &good,
        &Trust::keys(&[PublicKey::from_pem_file(&other_key).unwrap()]),
    )
    .await;
    let why = refusal(&r);
    assert!(
        why.contains("it carries a certificate, but no keyless signer"),
        "{why}"
    );
}

/// A Rekor log made in the test: cosign cannot produce a bundle offline (`--tlog-upload=false` means no Rekor),
/// so the bundle is made here, signed by a test Rekor key, exactly as Rekor would: a `hashedrekord` entry body
/// recording the payload hash, the signature and the certificate, and a signed entry timestamp that is an
/// ECDSA P-256 SHA-256 signature of the canonical JSON `{"body","integratedTime","logID","logIndex"}` (keys
/// sorted, no spaces), with `logID` the hex SHA-256 of the log key's SubjectPublicKeyInfo. This is a fake for a
/// fault (and a success) that cannot be caused otherwise offline.
struct TestLog {
    key: ring::signature::EcdsaKeyPair,
    spki_pem: String,
    log_id: String,
}

impl TestLog {
    fn new() -> TestLog {
        let k = rcgen::KeyPair::generate().unwrap();
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &k.serialize_der(),
            &rng,
        )
        .unwrap();
        let spki_pem = k.public_key_pem();
        let (_, spki) = pem_rfc7468::decode_vec(spki_pem.as_bytes()).unwrap();
        TestLog {
            key,
            spki_pem,
            log_id: hex::encode(sha2::Sha256::digest(&spki)),
        }
    }

    /// The bundle annotation for `signature` over `payload` by `cert_pem`, integrated at `time`.
    fn bundle(&self, payload: &[u8], signature_b64: &str, cert_pem: &str, time: i64) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha2::Sha256::digest(payload))}},
                "signature": {"content": signature_b64, "publicKey": {"content": b64.encode(cert_pem)}},
            },
        });
        self.bundle_of(&body, time)
    }

    /// The bundle annotation for an entry `body`, integrated at `time`.
    fn bundle_of(&self, body: &serde_json::Value, time: i64) -> String {
        let b64 = base64::engine::general_purpose::STANDARD;
        let body = b64.encode(body.to_string());
        let canonical = format!(
            r#"{{"body":"{body}","integratedTime":{time},"logID":"{}","logIndex":42}}"#,
            self.log_id
        );
        let set = self
            .key
            .sign(&ring::rand::SystemRandom::new(), canonical.as_bytes())
            .unwrap();
        serde_json::json!({
            "SignedEntryTimestamp": b64.encode(set.as_ref()),
            "Payload": {"body": body, "integratedTime": time, "logIndex": 42, "logID": self.log_id},
        })
        .to_string()
    }
}

#[tokio::test]
async fn a_rekor_bundle_dates_the_signature_and_is_checked_offline() {
    let reg = Reg::start();
    let h = hierarchy();
    let dir = tempfile::tempdir().unwrap();
    // The certificate expired in 2021; the log says the signature was made in 2020, inside its validity.
    let digest = signed_image(
        &reg,
        &h,
        dir.path(),
        "v1",
        &LeafSpec {
            identity: "ci@acme.example",
            issuer: ISSUER,
            valid: ((2020, 1, 1), (2021, 1, 1)),
        },
    )
    .await;
    let roots = dir.path().join("roots.pem");
    pki::bundle(&roots, &[&h.root]);
    let log = TestLog::new();
    let rekor_pub = dir.path().join("rekor.pub");
    std::fs::write(&rekor_pub, &log.spki_pem).unwrap();
    let in_2020 = 1_590_000_000; // 2020-05-20

    let sig_tag = format!("{}.sig", digest.replacen(':', "-", 1));
    let manifest: serde_json::Value =
        serde_json::from_slice(&reg.get(&format!("{REPO}/manifests/{sig_tag}")).await).unwrap();
    let layer = manifest["layers"][0].clone();
    let payload = reg
        .get(&format!(
            "{REPO}/blobs/{}",
            layer["digest"].as_str().unwrap()
        ))
        .await;
    let sig_b64 = layer["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_string();
    let cert_pem = layer["annotations"]["dev.sigstore.cosign/certificate"]
        .as_str()
        .unwrap()
        .to_string();
    let put_bundle = |bundle: Option<String>| {
        let mut m = manifest.clone();
        let ann = m["layers"][0]["annotations"].as_object_mut().unwrap();
        match bundle {
            Some(b) => ann.insert("dev.sigstore.cosign/bundle".into(), b.into()),
            None => ann.remove("dev.sigstore.cosign/bundle"),
        };
        m.to_string()
    };
    let trust = |rekor: bool, require: bool| Trust {
        keyless: vec![keyless(
            &roots,
            Match::exact("ci@acme.example"),
            Match::exact(ISSUER),
        )],
        rekor_keys: if rekor {
            vec![PublicKey::from_pem_file(&rekor_pub).unwrap()]
        } else {
            Vec::new()
        },
        require_tlog: require,
        ..Trust::default()
    };

    // Without a bundle, --require-tlog refuses.
    let why = refusal(&check(&reg, &digest, &trust(true, true)).await);
    assert!(
        why.contains("no Rekor bundle (`dev.sigstore.cosign/bundle` annotation) and one is required (--require-tlog)"),
        "{why}"
    );
    // --require-tlog without a Rekor key is a configuration error.
    let e = verify_trust(
        &reg.client(),
        &reg.reference(REPO, &digest),
        &trust(false, true),
        &Limits::default(),
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("pass --rekor-public-key FILE"),
        "{e}"
    );

    // A valid bundle: verified, the certificate checked at the integrated time.
    let good = log.bundle(&payload, &sig_b64, &cert_pem, in_2020);
    reg.manifest(REPO, &sig_tag, put_bundle(Some(good.clone())).as_bytes())
        .await;
    let r = check(&reg, &digest, &trust(true, true)).await;
    assert!(r.verified(), "{r:#?}");
    let t = r.signatures[0].tlog.as_ref().unwrap();
    assert_eq!(
        (t.integrated_time, t.log_index, t.log_id.as_str()),
        (in_2020, 42, log.log_id.as_str())
    );
    // Without the Rekor key the bundle is not checked, so the expired certificate is checked now.
    let r = check(&reg, &digest, &trust(false, false)).await;
    let why = refusal(&r);
    assert!(
        why.contains("certificate expired")
            && why.contains("Rekor bundle present but not checked (no --rekor-public-key given)"),
        "{why}"
    );

    // Tampered: the integrated time moved to 2023 (when the certificate had expired) without a new SET.
    let mut tampered: serde_json::Value = serde_json::from_str(&good).unwrap();
    tampered["Payload"]["integratedTime"] = 1_690_000_000.into();
    reg.manifest(
        REPO,
        &sig_tag,
        put_bundle(Some(tampered.to_string())).as_bytes(),
    )
    .await;
    let why = refusal(&check(&reg, &digest, &trust(true, false)).await);
    assert!(
        why.contains("Rekor bundle signed entry timestamp does not verify with")
            && why.contains("rekor.pub"),
        "{why}"
    );

    // A genuine bundle of another signature, copied onto this one.
    let other = log.bundle(b"another payload", &sig_b64, &cert_pem, in_2020);
    reg.manifest(REPO, &sig_tag, put_bundle(Some(other)).as_bytes())
        .await;
    let why = refusal(&check(&reg, &digest, &trust(true, false)).await);
    assert!(
        why.contains("Rekor entry records payload sha256:") && why.contains("not this payload's"),
        "{why}"
    );

    // A bundle from a log whose key was not given.
    let stranger = TestLog::new().bundle(&payload, &sig_b64, &cert_pem, in_2020);
    reg.manifest(REPO, &sig_tag, put_bundle(Some(stranger)).as_bytes())
        .await;
    let why = refusal(&check(&reg, &digest, &trust(true, false)).await);
    assert!(
        why.contains("which is not the log of any of the 1 Rekor public key(s) given"),
        "{why}"
    );

    // Malformed.
    reg.manifest(
        REPO,
        &sig_tag,
        put_bundle(Some("{not json".into())).as_bytes(),
    )
    .await;
    let why = refusal(&check(&reg, &digest, &trust(true, false)).await);
    assert!(
        why.contains("Rekor bundle annotation is malformed"),
        "{why}"
    );
}

#[tokio::test]
async fn a_keyless_attestation_follows_the_same_identity_rules() {
    let reg = Reg::start();
    let h = hierarchy();
    let dir = tempfile::tempdir().unwrap();
    let digest = reg.image(REPO, "v1", "image one").await;
    let leaf = pki::leaf(
        &dir.path().join("leaf"),
        &LeafSpec {
            identity: ID,
            issuer: ISSUER,
            valid: VALID,
        },
        &h.inter,
        &[&h.inter, &h.root],
    );
    std::fs::write(
        leaf.join("prov.json"),
        r#"{"builder":{"id":"https://github.com/acme/builder@v1"},"buildType":"https://acme.example/build/v1"}"#,
    )
    .unwrap();
    common::run_cosign(
        &leaf,
        &[
            "attest",
            "--key",
            "leaf.key",
            "--certificate",
            "leaf.crt",
            "--certificate-chain",
            "chain.pem",
            "--type",
            "slsaprovenance",
            "--predicate",
            "prov.json",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            &format!("{}/{REPO}@{digest}", reg.addr()),
        ],
    );
    let roots = dir.path().join("roots.pem");
    pki::bundle(&roots, &[&h.root]);
    let run = |identity: &'static str| {
        let trust = Trust {
            keyless: vec![keyless(
                &roots,
                Match::exact(identity),
                Match::exact(ISSUER),
            )],
            ..Trust::default()
        };
        let reg = &reg;
        let digest = digest.clone();
        async move {
            portcullis_verify::attest::verify_attestations(
                &reg.client(),
                &reg.reference(REPO, &digest),
                &trust,
                &["slsaprovenance".to_string()],
                &Limits::default(),
            )
            .await
            .unwrap()
        }
    };
    let r = run(ID).await;
    assert!(r.verified(), "{r:#?}");
    assert!(
        matches!(&r.attestations[0].signer, Some(Signer::Certificate { identity, .. }) if identity.identities == [ID]),
        "{r:#?}"
    );
    let r = run("someone@else.example").await;
    assert!(!r.verified());
    match &r.attestations[0].outcome {
        Outcome::Refused { reason } => assert!(
            reason.contains(&format!(
                "certificate identity {ID} does not match `someone@else.example`"
            )),
            "{reason}"
        ),
        o => panic!("{o:?}"),
    }

    // An `intoto` Rekor entry recording the statement's hash, checked offline and required.
    let log = TestLog::new();
    let rekor_pub = dir.path().join("rekor.pub");
    std::fs::write(&rekor_pub, &log.spki_pem).unwrap();
    let tag = format!("{}.att", digest.replacen(':', "-", 1));
    let mut m: serde_json::Value =
        serde_json::from_slice(&reg.get(&format!("{REPO}/manifests/{tag}")).await).unwrap();
    let env: serde_json::Value = serde_json::from_slice(
        &reg.get(&format!(
            "{REPO}/blobs/{}",
            m["layers"][0]["digest"].as_str().unwrap()
        ))
        .await,
    )
    .unwrap();
    let statement = base64::engine::general_purpose::STANDARD
        .decode(env["payload"].as_str().unwrap())
        .unwrap();
    let entry = |hash: String| {
        serde_json::json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
            "hash": {"algorithm": "sha256", "value": "00"},
            "payloadHash": {"algorithm": "sha256", "value": hash}}}})
    };
    let tlog_trust = Trust {
        keyless: vec![keyless(&roots, Match::exact(ID), Match::exact(ISSUER))],
        rekor_keys: vec![PublicKey::from_pem_file(&rekor_pub).unwrap()],
        require_tlog: true,
        ..Trust::default()
    };
    let check_att = |trust: Trust| {
        let reg = &reg;
        let digest = digest.clone();
        async move {
            portcullis_verify::attest::verify_attestations(
                &reg.client(),
                &reg.reference(REPO, &digest),
                &trust,
                &["slsaprovenance".to_string()],
                &Limits::default(),
            )
            .await
            .unwrap()
        }
    };
    let r = check_att(tlog_trust.clone()).await;
    assert!(!r.verified());
    for (hash, ok) in [
        (hex::encode(sha2::Sha256::digest(&statement)), true),
        (
            hex::encode(sha2::Sha256::digest(b"another statement")),
            false,
        ),
    ] {
        m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"] =
            log.bundle_of(&entry(hash), 1_900_000_000).into();
        reg.manifest(REPO, &tag, m.to_string().as_bytes()).await;
        let r = check_att(tlog_trust.clone()).await;
        assert_eq!(r.verified(), ok, "{r:#?}");
        if ok {
            assert_eq!(
                r.attestations[0].tlog.as_ref().unwrap().integrated_time,
                1_900_000_000
            );
        } else {
            match &r.attestations[0].outcome {
                Outcome::Refused { reason } => {
                    assert!(
                        reason.contains("Rekor entry records payload sha256:"),
                        "{reason}"
                    )
                }
                o => panic!("{o:?}"),
            }
        }
    }
}
