//! Attestations made by the real `cosign attest --type … --predicate …` on a real docker-registry: DSSE envelopes
//! verified with the same key and certificate rules as signatures, subjects checked against the digest, and the
//! predicates decoded (SLSA provenance v0.2 and v1, CycloneDX, SPDX, OpenVEX).

mod common;

use std::path::Path;

use base64::Engine;
use common::{Reg, key_pair, run_cosign};
use portcullis_verify::attest::{AttestationReport, verify_attestations};
use portcullis_verify::predicates::{self, Predicate};
use portcullis_verify::{Limits, Outcome, PublicKey, Trust};

const REPO: &str = "team/app";

const SLSA02: &str = r#"{
  "builder": {"id": "https://github.com/acme/builder@v1"},
  "buildType": "https://acme.example/build/v1",
  "invocation": {"configSource": {"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "entryPoint": "release.yml"}}
}"#;

const SLSA1: &str = r#"{
  "buildDefinition": {
    "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
    "externalParameters": {"workflow": {"ref": "refs/heads/main", "repository": "https://github.com/acme/app", "path": ".github/workflows/release.yml"}},
    "resolvedDependencies": [{"uri": "git+https://github.com/acme/app@refs/heads/main"}]
  },
  "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}
}"#;

const CYCLONEDX: &str = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "components": [
    {"type": "library", "name": "openssl", "version": "3.0.11-1~deb12u2", "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"},
    {"type": "library", "name": "requests", "version": "2.31.0", "purl": "pkg:pypi/requests@2.31.0"}
  ]
}"#;

const SPDX: &str = r#"{
  "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "app",
  "documentNamespace": "https://acme.example/spdx/app-1",
  "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: test"]},
  "packages": [
    {"SPDXID": "SPDXRef-Package-zlib", "name": "zlib1g", "versionInfo": "1:1.2.13.dfsg-1", "downloadLocation": "NOASSERTION",
     "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12"}]}
  ]
}"#;

const OPENVEX: &str = r#"{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://acme.example/vex/app-1",
  "author": "Acme security",
  "timestamp": "2026-01-01T00:00:00Z",
  "version": 1,
  "statements": [
    {"vulnerability": {"name": "CVE-2023-5678"}, "products": [{"@id": "pkg:deb/debian/openssl@3.0.11-1~deb12u2"}],
     "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}
  ]
}"#;

fn attest(dir: &Path, image: &str, ty: &str, predicate: &str) {
    let file = dir.join(format!("{ty}.json"));
    std::fs::write(&file, predicate).unwrap();
    run_cosign(
        dir,
        &[
            "attest",
            "--key",
            "cosign.key",
            "--type",
            ty,
            "--predicate",
            file.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-insecure-registry",
            image,
        ],
    );
}

async fn check(reg: &Reg, digest: &str, key: &PublicKey, types: &[&str]) -> AttestationReport {
    verify_attestations(
        &reg.client(),
        &reg.reference(REPO, digest),
        &Trust::keys(std::slice::from_ref(key)),
        &types.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        &Limits::default(),
    )
    .await
    .unwrap()
}

fn refusals(r: &AttestationReport) -> Vec<String> {
    r.attestations
        .iter()
        .filter_map(|a| match &a.outcome {
            Outcome::Refused { reason } => Some(reason.clone()),
            Outcome::Verified { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn cosign_attestations_of_every_supported_type_verify_and_decode() {
    let reg = Reg::start();
    let digest = reg.image(REPO, "v1", "image one").await;
    let dir = tempfile::tempdir().unwrap();
    let key = PublicKey::from_pem_file(&key_pair(dir.path())).unwrap();
    let image = format!("{}/{REPO}@{digest}", reg.addr());
    for (ty, p) in [
        ("slsaprovenance", SLSA02),
        ("slsaprovenance1", SLSA1),
        ("cyclonedx", CYCLONEDX),
        ("spdxjson", SPDX),
        ("openvex", OPENVEX),
    ] {
        attest(dir.path(), &image, ty, p);
    }
    let r = check(
        &reg,
        &digest,
        &key,
        &[
            "slsaprovenance",
            "slsaprovenance1",
            "cyclonedx",
            "spdxjson",
            "openvex",
        ],
    )
    .await;
    assert!(r.verified(), "{r:#?}");
    assert_eq!(r.attestations.len(), 5, "{r:#?}");
    assert!(r.attestations.iter().all(|a| a.source.ends_with(".att")));

    let one = |uri: &str| -> Predicate {
        r.predicates(uri)
            .next()
            .unwrap_or_else(|| panic!("no verified {uri}: {r:#?}"))
            .clone()
    };
    match one(predicates::SLSA_V02) {
        Predicate::Provenance(p) => {
            assert_eq!(p.version, "v0.2");
            assert_eq!(p.builder_id, "https://github.com/acme/builder@v1");
            assert_eq!(p.build_type, "https://acme.example/build/v1");
            assert_eq!(
                p.source_repository.as_deref(),
                Some("git+https://github.com/acme/app@refs/heads/main")
            );
        }
        p => panic!("{p:?}"),
    }
    match one(predicates::SLSA_V1) {
        Predicate::Provenance(p) => {
            assert_eq!(p.version, "v1");
            assert_eq!(
                p.builder_id,
                "https://github.com/actions/runner/github-hosted"
            );
            assert_eq!(
                p.source_repository.as_deref(),
                Some("https://github.com/acme/app")
            );
        }
        p => panic!("{p:?}"),
    }
    match one(predicates::CYCLONEDX) {
        Predicate::Sbom(s) => {
            let names: Vec<_> = s.packages.iter().map(|p| p.name.as_str()).collect();
            assert!(
                names.contains(&"openssl") && names.contains(&"requests"),
                "{names:?}"
            );
        }
        p => panic!("{p:?}"),
    }
    match one(predicates::SPDX) {
        Predicate::Sbom(s) => {
            assert_eq!(s.packages.len(), 1, "{s:?}");
            assert_eq!(s.packages[0].name, "zlib1g");
            assert_eq!(s.packages[0].version, "1:1.2.13.dfsg-1");
        }
        p => panic!("{p:?}"),
    }
    match one(predicates::OPENVEX) {
        Predicate::Vex(v) => {
            assert_eq!(v.statements.len(), 1);
            assert_eq!(v.statements[0].vulnerability, "CVE-2023-5678");
            assert_eq!(
                v.statements[0].status,
                portcullis_vuln::triage::VexStatus::NotAffected
            );
        }
        p => panic!("{p:?}"),
    }

    // A type nobody attested is named as missing.
    let r = check(
        &reg,
        &digest,
        &key,
        &["cyclonedx", "https://acme.example/custom/v1"],
    )
    .await;
    assert!(!r.verified());
    assert_eq!(
        r.missing(),
        vec!["https://acme.example/custom/v1".to_string()]
    );

    // Another key: every attestation refused, precisely.
    let other = PublicKey::from_pem_file(&key_pair(&dir.path().join("other"))).unwrap();
    let r = check(&reg, &digest, &other, &["cyclonedx"]).await;
    assert!(!r.verified());
    let why = refusals(&r);
    assert_eq!(why.len(), 5);
    assert!(
        why.iter()
            .all(|w| w.contains("does not verify with any of the 1 key(s)")),
        "{why:?}"
    );
}

#[tokio::test]
async fn tampered_misdirected_malformed_and_huge_envelopes_are_refused() {
    let reg = Reg::start();
    let digest = reg.image(REPO, "v1", "image one").await;
    let two = reg.image(REPO, "v2", "image two").await;
    let dir = tempfile::tempdir().unwrap();
    let key = PublicKey::from_pem_file(&key_pair(dir.path())).unwrap();
    attest(
        dir.path(),
        &format!("{}/{REPO}@{digest}", reg.addr()),
        "cyclonedx",
        CYCLONEDX,
    );
    attest(
        dir.path(),
        &format!("{}/{REPO}@{two}", reg.addr()),
        "cyclonedx",
        CYCLONEDX,
    );
    let att_tag = |d: &str| format!("{}.att", d.replacen(':', "-", 1));
    let manifest: serde_json::Value = serde_json::from_slice(
        &reg.get(&format!("{REPO}/manifests/{}", att_tag(&digest)))
            .await,
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let envelope: serde_json::Value =
        serde_json::from_slice(&reg.get(&format!("{REPO}/blobs/{layer}")).await).unwrap();
    let with_envelope = |bytes: Vec<u8>| {
        let reg = &reg;
        let manifest = manifest.clone();
        let tag = att_tag(&digest);
        async move {
            let d = reg.blob(REPO, &bytes).await;
            let mut m = manifest;
            m["layers"][0]["digest"] = d.into();
            m["layers"][0]["size"] = bytes.len().into();
            reg.manifest(REPO, &tag, m.to_string().as_bytes()).await;
        }
    };
    assert!(check(&reg, &digest, &key, &["cyclonedx"]).await.verified());

    // Tampered statement: the payload changed, the signature kept.
    let b64 = base64::engine::general_purpose::STANDARD;
    let statement = b64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let tampered = String::from_utf8(statement)
        .unwrap()
        .replace("requests", "evil");
    let mut e = envelope.clone();
    e["payload"] = b64.encode(&tampered).into();
    with_envelope(e.to_string().into_bytes()).await;
    let why = refusals(&check(&reg, &digest, &key, &["cyclonedx"]).await);
    assert!(
        why[0].contains("does not verify with any of the 1 key(s)"),
        "{why:?}"
    );

    // The attestation of image two, put under image one's tag: valid signature, wrong subject.
    let two_manifest: serde_json::Value = serde_json::from_slice(
        &reg.get(&format!("{REPO}/manifests/{}", att_tag(&two)))
            .await,
    )
    .unwrap();
    reg.manifest(REPO, &att_tag(&digest), two_manifest.to_string().as_bytes())
        .await;
    let why = refusals(&check(&reg, &digest, &key, &["cyclonedx"]).await);
    assert!(
        why[0].contains(&format!("the statement's subject is {two}, not {digest}")),
        "{why:?}"
    );

    // Malformed envelopes.
    with_envelope(b"{\"payloadType\": 3}".to_vec()).await;
    let why = refusals(&check(&reg, &digest, &key, &["cyclonedx"]).await);
    assert!(why[0].contains("DSSE envelope is malformed"), "{why:?}");
    let mut e = envelope.clone();
    e["signatures"] = serde_json::json!([]);
    with_envelope(e.to_string().into_bytes()).await;
    let why = refusals(&check(&reg, &digest, &key, &["cyclonedx"]).await);
    assert!(why[0].contains("DSSE envelope has no signature"), "{why:?}");
    let mut e = envelope.clone();
    e["payloadType"] = "text/plain".into();
    with_envelope(e.to_string().into_bytes()).await;
    let why = refusals(&check(&reg, &digest, &key, &["cyclonedx"]).await);
    assert!(
        why[0]
            .contains("DSSE payload type is `text/plain`, expected `application/vnd.in-toto+json`"),
        "{why:?}"
    );

    // A layer declaring 20 GiB: refused without fetching; a blob bigger than the cap: the read stops.
    let mut m = manifest.clone();
    m["layers"][0]["size"] = (20u64 << 30).into();
    reg.manifest(REPO, &att_tag(&digest), m.to_string().as_bytes())
        .await;
    let t = std::time::Instant::now();
    let why = refusals(&check(&reg, &digest, &key, &["cyclonedx"]).await);
    assert!(
        why[0].contains(
            "envelope layer declares 21474836480 bytes, more than the 16777216 allowed; not fetched"
        ),
        "{why:?}"
    );
    let limits = Limits {
        max_envelope: 1 << 20,
        ..Limits::default()
    };
    let big = vec![b' '; 2 << 20];
    let d = reg.blob(REPO, &big).await;
    let mut m = manifest.clone();
    m["layers"][0]["digest"] = d.clone().into();
    m["layers"][0]["size"] = 100.into();
    reg.manifest(REPO, &att_tag(&digest), m.to_string().as_bytes())
        .await;
    let r = verify_attestations(
        &reg.client(),
        &reg.reference(REPO, &digest),
        &Trust::keys(std::slice::from_ref(&key)),
        &["cyclonedx".to_string()],
        &limits,
    )
    .await
    .unwrap();
    let why = refusals(&r);
    assert!(
        why[0].contains("envelope layer cannot be fetched")
            && why[0].contains("more than the 1048576 allowed"),
        "{why:?}"
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t.elapsed()
    );
}
