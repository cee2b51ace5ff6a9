//! Signature requirements through the real binary (issue #17): a real docker-registry, keys made and images
//! signed by the real cosign CLI (`--tlog-upload=false`), and `portcullis serve` with an admission config whose
//! `verify` block requires one key. A signed image is admitted; an unsigned one and one signed with another key
//! are denied naming the requirement; answers come from memory (the second review is fast, and the registry
//! stopped, the signed image is still admitted). Prints the verification latency, cold and cached.

mod common;
#[path = "../../verify/tests/common/mod.rs"]
mod sig;

use std::time::{Duration, Instant};

use common::{
    Serve, https_client, pinned, pod_review, strip_ansi, validate, wait_ready, write_bookworm_image,
};
use portcullis_testkit::{Mode, Registry, free_port};

const TOKEN: &str = "signatures-admin-token";

/// Pushes a bookworm image (`lodash` makes it distinct) as `repo:1`; returns `addr/repo@digest`.
fn push(reg: &Registry, dir: &std::path::Path, repo: &str, lodash: Option<&str>) -> String {
    write_bookworm_image(dir, lodash);
    reg.push(dir, "v1", &format!("{repo}:1"), false).unwrap();
    pinned(reg, repo)
}

/// Reviews `image` until the answer satisfies `done`; returns it and how long it took.
fn until(
    http: &reqwest::blocking::Client,
    port: u16,
    image: &str,
    log: &std::path::Path,
    done: impl Fn(&serde_json::Value) -> bool,
) -> (serde_json::Value, Duration) {
    let t = Instant::now();
    loop {
        let r = validate(http, port, &pod_review(&[image], "shop", "app"));
        if done(&r) {
            return (r, t.elapsed());
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "no such answer for {image}: {r}\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn message(r: &serde_json::Value) -> &str {
    r["response"]["status"]["message"].as_str().unwrap_or("")
}

/// Whether `r` denies container "c0" with `clause` among its reasons (an image pinned by digest is evaluated
/// too, so in analysis mode the default bundle's result over the test's empty vulnerability data may precede
/// the signature clause).
fn denied_for(r: &serde_json::Value, clause: &str) -> bool {
    r["response"]["allowed"] == false
        && message(r).starts_with("container \"c0\": ")
        && message(r).contains(clause)
}

#[test]
fn serve_admits_only_images_signed_by_the_required_key() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let signed = push(&reg, &tmp.path().join("a"), "shop/signed", None);
    let unsigned = push(
        &reg,
        &tmp.path().join("b"),
        "shop/unsigned",
        Some("4.17.21"),
    );
    let other = push(&reg, &tmp.path().join("c"), "shop/other", Some("4.17.20"));
    // The three commands of the README: generate a key, sign in CI, require it in Portcullis.
    let ci = tmp.path().join("ci");
    let ci_pub = sig::key_pair(&ci);
    sig::sign(&ci, &signed);
    let rogue = tmp.path().join("rogue");
    let rogue_pub = sig::key_pair(&rogue);
    sig::sign(&rogue, &other);

    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        format!(
            "default: {{ mode: analysis, verify: {{ keys: [{}] }} }}\n",
            ci_pub.display()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            tmp.path().join("vuln.db").to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        &[
            ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
            ("PORTCULLIS_LOG", "warn,portcullis_engine::signatures=info"),
        ],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);

    // Unknown at first: denied and queued for analysis and verification.
    let first = validate(&http, port, &pod_review(&[&signed], "shop", "app"));
    assert_eq!(first["response"]["allowed"], false, "{first}");
    let (ok, cold) = until(&http, port, &signed, &log, |r| {
        r["response"]["allowed"] == true
    });
    let annotations = ok["response"]["auditAnnotations"].to_string();
    assert!(
        annotations.contains(&format!("{signed}={}", ci_pub.display())),
        "the audit annotations name the signer: {ok}"
    );

    // Once analysed, the only reason left is the signature requirement, precisely.
    let want =
        format!("image {unsigned}: not signed by any of the required keys (no signature found)");
    let (denied, _) = until(&http, port, &unsigned, &log, |r| denied_for(r, &want));
    assert_eq!(denied["response"]["allowed"], false);
    let want = format!(
        "image {other}: not signed by any of the required keys (checked 1 signature: \
         signature does not verify with any of the 1 key(s) given (signed by another key, or payload changed \
         after signing))"
    );
    let (denied, _) = until(&http, port, &other, &log, |r| denied_for(r, &want));
    assert_eq!(denied["response"]["allowed"], false);

    // The audit trail records the signer (written in the background: wait for it).
    let t = Instant::now();
    loop {
        let decisions: serde_json::Value = http
            .get(format!(
                "https://localhost:{port}/v1/decisions?namespace=shop&allowed=true"
            ))
            .bearer_auth(TOKEN)
            .send()
            .and_then(|r| r.json())
            .expect("decisions");
        let want = format!("signers: {signed}={}", ci_pub.display());
        if decisions.to_string().contains(&want) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no audit record names the signer ({want}): {decisions}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let verifications = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("verified image signatures"))
            .count()
    };
    assert_eq!(
        verifications(),
        3,
        "each image verified once, then answered from memory"
    );

    // The key file's contents are replaced (another key at the same path): the signed image is verified again
    // and refused; the original contents back, the stored facts answer again without a new verification.
    let original = std::fs::read(&ci_pub).unwrap();
    std::fs::copy(&rogue_pub, &ci_pub).unwrap();
    let (refused, _) = until(&http, port, &signed, &log, |r| {
        message(r).contains("not signed by any of the required keys (checked 1 signature: signature does not verify")
    });
    assert_eq!(refused["response"]["allowed"], false);
    std::fs::write(&ci_pub, &original).unwrap();
    until(&http, port, &signed, &log, |r| {
        r["response"]["allowed"] == true
    });
    assert_eq!(
        verifications(),
        4,
        "the restored key's recorded facts answer again"
    );

    // From memory: fast, and with the registry gone.
    let t = Instant::now();
    let again = validate(&http, port, &pod_review(&[&signed], "shop", "again"));
    let cached = t.elapsed();
    assert_eq!(again["response"]["allowed"], true, "{again}");
    drop(reg);
    let t = Instant::now();
    let offline = validate(&http, port, &pod_review(&[&signed], "shop", "offline"));
    let offline_t = t.elapsed();
    assert_eq!(offline["response"]["allowed"], true, "{offline}");
    assert!(
        cached < Duration::from_secs(1) && offline_t < Duration::from_secs(1),
        "answers from memory: {cached:?}, {offline_t:?}"
    );
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let verified: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("verified image signatures"))
        .collect();
    let ms: Vec<String> = verified
        .iter()
        .filter_map(|l| {
            strip_ansi(l)
                .split("elapsed_ms=")
                .nth(1)
                .map(str::to_string)
        })
        .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    eprintln!(
        "verification per image (cold, registry on loopback, debug build): {ms:?} ms; signed image admitted \
         {cold:?} after its first review (analysis and verification); from memory: {cached:?}, registry \
         stopped: {offline_t:?}"
    );
}

const ID: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const SLSA02: &str = r#"{
  "builder": {"id": "https://github.com/acme/builder@v1"},
  "buildType": "https://acme.example/build/v1",
  "invocation": {"configSource": {"uri": "git+https://github.com/acme/app@refs/heads/main", "digest": {"sha1": "0123456789abcdef0123456789abcdef01234567"}, "entryPoint": "release.yml"}}
}"#;

/// Keyless signers and required attestations through the real binary: an image signed by the real cosign with a
/// certificate from a test Fulcio-style CA (`--certificate`/`--certificate-chain`, no transparency log) is
/// admitted where the block names its identity and denied where it names another (the message names the
/// requirement); an image required to carry SLSA provenance is admitted only once `cosign attest --type
/// slsaprovenance` attested it, and the one without is denied naming the missing attestation.
#[test]
fn serve_verifies_keyless_signers_and_required_attestations() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let keyless = push(&reg, &tmp.path().join("a"), "shop/keyless", None);
    let wrong = push(&reg, &tmp.path().join("b"), "shop/wrongid", Some("4.17.21"));
    let attested = push(
        &reg,
        &tmp.path().join("c"),
        "shop/prov-yes",
        Some("4.17.20"),
    );
    let bare = push(&reg, &tmp.path().join("d"), "shop/prov-no", Some("4.17.19"));

    let root = sig::pki::root("Test Fulcio Root");
    let inter = sig::pki::intermediate("Test Fulcio Intermediate", &root);
    let leaf = sig::pki::leaf(
        &tmp.path().join("leaf"),
        &sig::pki::LeafSpec {
            identity: ID,
            issuer: ISSUER,
            valid: ((2020, 1, 1), (2098, 1, 1)),
        },
        &inter,
        &[&inter, &root],
    );
    sig::pki::sign_with_certificate(&leaf, &keyless);
    sig::pki::sign_with_certificate(&leaf, &wrong);
    let roots = tmp.path().join("roots.pem");
    sig::pki::bundle(&roots, &[&root]);

    let ci = tmp.path().join("ci");
    let ci_pub = sig::key_pair(&ci);
    sig::sign(&ci, &attested);
    sig::sign(&ci, &bare);
    let predicate = ci.join("slsa.json");
    std::fs::write(&predicate, SLSA02).unwrap();
    sig::run_cosign(
        &ci,
        &[
            "attest",
            "--key",
            "cosign.key",
            "--type",
            "slsaprovenance",
            "--predicate",
            predicate.to_str().unwrap(),
            "--tlog-upload=false",
            "--allow-insecure-registry",
            &attested,
        ],
    );

    let config = tmp.path().join("admission.yaml");
    let roots = roots.display();
    std::fs::write(
        &config,
        format!(
            "default: {{ mode: analysis }}\n\
             selectors:\n\
             - {{ resource: image, value: '.*/shop/keyless@.*', mode: analysis, verify: {{ keyless: [{{ trustRoot: {roots}, issuer: '{ISSUER}', subject: '{ID}' }}] }} }}\n\
             - {{ resource: image, value: '.*/shop/wrongid@.*', mode: analysis, verify: {{ keyless: [{{ trustRoot: {roots}, issuer: '{ISSUER}', subjectRegex: 'https://github.com/other/.*' }}] }} }}\n\
             - {{ resource: image, value: '.*/shop/prov-.*', mode: analysis, verify: {{ keys: [{}], attestations: [{{ type: slsaprovenance, builderId: 'https://github.com/acme/.*' }}] }} }}\n",
            ci_pub.display()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            tmp.path().join("vuln.db").to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        &[
            ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
            ("PORTCULLIS_LOG", "warn,portcullis_engine::signatures=info"),
        ],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);

    let (ok, _) = until(&http, port, &keyless, &log, |r| {
        r["response"]["allowed"] == true
    });
    let annotations = ok["response"]["auditAnnotations"].to_string();
    assert!(
        annotations.contains(&format!("{keyless}={ID}")),
        "the audit annotations name the certificate identity: {ok}"
    );
    let want = format!(
        "image {wrong}: keyless[0]: not signed by identity https://github.com/other/.* \
         from issuer {ISSUER} (checked 1 signature: "
    );
    let (denied, _) = until(&http, port, &wrong, &log, |r| denied_for(r, &want));
    assert_eq!(denied["response"]["allowed"], false);
    assert!(
        message(&denied).contains(ID),
        "the refusal names the identity the certificate carries: {denied}"
    );

    until(&http, port, &attested, &log, |r| {
        r["response"]["allowed"] == true
    });
    let want = format!("image {bare}: no slsaprovenance attestation found");
    let (denied, _) = until(&http, port, &bare, &log, |r| denied_for(r, &want));
    assert_eq!(denied["response"]["allowed"], false);
    let ms: Vec<String> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("verified image signatures"))
        .filter_map(|l| {
            let l = strip_ansi(l);
            let image = l
                .split("image=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .to_string();
            let ms = l
                .split("elapsed_ms=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .to_string();
            let repo = image.rsplit('/').next()?.split('@').next()?.to_string();
            Some(format!("{repo} {ms} ms"))
        })
        .collect();
    eprintln!(
        "verification per image (cold, keyless and keys with attestations, registry on loopback, debug build): {ms:?}"
    );
}

/// The policy gate `signature` in `serve`: the engine evaluates bundles with the image's stored verification
/// facts. With an active bundle whose rule is `signature unsigned → STOP`, an image signed by the required key
/// passes, one signed by another key is stopped by the rule (its message in the denial); once the key file
/// holds that other key, the image is verified again and its verdict is evaluated again (the facts changed),
/// so it is admitted.
#[test]
fn serve_evaluates_the_signature_gate_with_the_stored_facts() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let signed = push(&reg, &tmp.path().join("a"), "gate/signed", None);
    let other = push(&reg, &tmp.path().join("b"), "gate/other", Some("4.17.21"));
    let ci = tmp.path().join("ci");
    let ci_pub = sig::key_pair(&ci);
    sig::sign(&ci, &signed);
    let rogue = tmp.path().join("rogue");
    let rogue_pub = sig::key_pair(&rogue);
    sig::sign(&rogue, &other);

    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        format!(
            "default: {{ mode: policy, policy: default, verify: {{ keys: [{}] }} }}\n",
            ci_pub.display()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            tmp.path().join("vuln.db").to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        &[
            ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
            ("PORTCULLIS_LOG", "warn,portcullis_engine::signatures=info"),
        ],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let bundle = serde_json::json!({
        "id": "signed-only", "name": "signed only", "version": "1_0", "comment": "",
        "whitelisted_images": [], "blacklisted_images": [], "whitelists": [],
        "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
                      "image": {"type": "tag", "value": "*"}, "policy_id": "p1", "whitelist_ids": []}],
        "policies": [{"id": "p1", "name": "p1", "version": "1_0", "comment": "", "rules": [
            {"id": "r1", "gate": "signature", "trigger": "unsigned", "action": "STOP", "params": []}]}]
    });
    let base = format!("https://localhost:{port}");
    let added = http
        .post(format!("{base}/v1/policies"))
        .bearer_auth(TOKEN)
        .json(&bundle)
        .send()
        .unwrap();
    assert!(added.status().is_success(), "{:?}", added.text());
    let activated = http
        .put(format!("{base}/v1/policies/signed-only"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert!(activated.status().is_success(), "{:?}", activated.text());

    until(&http, port, &signed, &log, |r| {
        r["response"]["allowed"] == true
    });
    let (denied, _) = until(&http, port, &other, &log, |r| {
        message(r).contains("Image is not signed by a trusted key (checked 1 signature:")
    });
    assert_eq!(denied["response"]["allowed"], false, "{denied}");
    eprintln!("denial with the gate's STOP: {}", message(&denied));

    // The key file now holds the other key: the image is verified again, its facts change and its verdict is
    // evaluated again, so neither the requirement nor the rule stops it.
    std::fs::copy(&rogue_pub, &ci_pub).unwrap();
    let (ok, _) = until(&http, port, &other, &log, |r| {
        r["response"]["allowed"] == true
    });
    assert!(
        !message(&ok).contains("not signed"),
        "admitted without the stale verdict: {ok}"
    );
}

/// Keys from Kubernetes Secrets through the real binary and a real kube-apiserver: the `verify` block names
/// `{ secret: portcullis/ci-key/cosign.pub }`; `serve --kube-config` reads it, admits the image the key signed
/// (the audit annotation names the Secret as signer) and denies one another key signed. Rotating the Secret
/// to the other key turns both answers round within a refresh; a block naming a Secret that does not exist
/// denies, naming the Secret and what to do (fails closed).
#[test]
fn serve_reads_required_keys_from_kubernetes_secrets() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let signed = push(&reg, &tmp.path().join("a"), "shop/signed", None);
    let other = push(&reg, &tmp.path().join("b"), "shop/other", Some("4.17.20"));
    let ci = tmp.path().join("ci");
    let ci_pub = sig::key_pair(&ci);
    sig::sign(&ci, &signed);
    let rogue = tmp.path().join("rogue");
    let rogue_pub = sig::key_pair(&rogue);
    sig::sign(&rogue, &other);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let cluster = rt
        .block_on(portcullis_testkit::Cluster::start(
            portcullis_testkit::ClusterOptions {
                controller_manager: false,
                ..Default::default()
            },
        ))
        .expect("the test control plane (kube-apiserver, etcd) must be installed: scripts/setup.d");
    for ns in ["portcullis", "shop", "strict"] {
        cluster
            .kubectl(&["create", "namespace", ns])
            .expect("namespace");
    }
    let put_key = |public: &std::path::Path| {
        let yaml = cluster
            .kubectl(&[
                "create",
                "secret",
                "generic",
                "ci-key",
                "-n",
                "portcullis",
                &format!("--from-file=cosign.pub={}", public.display()),
                "--dry-run=client",
                "-o",
                "yaml",
            ])
            .expect("render the Secret");
        let f = tmp.path().join("secret.yaml");
        std::fs::write(&f, yaml).unwrap();
        cluster
            .kubectl(&["apply", "-f", f.to_str().unwrap()])
            .expect("apply the Secret");
    };
    put_key(&ci_pub);

    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        "default: { mode: analysis, verify: { keys: [{ secret: portcullis/ci-key/cosign.pub }] } }\n\
         selectors:\n\
         - { resource: namespace, value: strict, mode: analysis, verify: { keys: [{ secret: portcullis/absent/cosign.pub }] } }\n",
    )
    .unwrap();
    let settings = tmp.path().join("kubernetes.yaml");
    std::fs::write(
        &settings,
        "reports: false\nevents: false\naudit:\n  enabled: false\nleaderElection:\n  enabled: false\n",
    )
    .unwrap();
    let kubeconfig = cluster.kubeconfig.display().to_string();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            tmp.path().join("vuln.db").to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
            "--kube-config",
            settings.to_str().unwrap(),
        ],
        &[
            ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
            ("PORTCULLIS_LOG", "warn,portcullis_engine::signatures=info"),
            ("KUBECONFIG", kubeconfig.as_str()),
            ("POD_NAME", "portcullis-0"),
            ("POD_NAMESPACE", "portcullis"),
        ],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);

    let (ok, _) = until(&http, port, &signed, &log, |r| {
        r["response"]["allowed"] == true
    });
    assert!(
        ok["response"]["auditAnnotations"]
            .to_string()
            .contains(&format!("{signed}=secret portcullis/ci-key/cosign.pub")),
        "the audit annotations name the Secret as signer: {ok}"
    );
    let refused = format!(
        "image {other}: not signed by any of the required keys (checked 1 signature: \
         signature does not verify"
    );
    until(&http, port, &other, &log, |r| denied_for(r, &refused));

    // A block naming a Secret that does not exist fails closed, naming it.
    let t = Instant::now();
    loop {
        let r = validate(&http, port, &pod_review(&[&signed], "strict", "app"));
        assert_eq!(r["response"]["allowed"], false, "{r}");
        if message(&r).contains("Secret portcullis/absent not found: create it") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "the denial does not name the missing Secret: {r}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Rotation: the Secret now holds the other key; within a refresh the answers turn round.
    put_key(&rogue_pub);
    let (now_ok, _) = until(&http, port, &other, &log, |r| {
        r["response"]["allowed"] == true
    });
    assert_eq!(now_ok["response"]["allowed"], true);
    until(&http, port, &signed, &log, |r| {
        message(r).contains("not signed by any of the required keys")
    });
    drop(cluster);
}

/// Facts are re-checked (issue #17): an image first reviewed before CI signed it is denied as unsigned; once
/// cosign signs it, a review after the re-check interval (`--signature-recheck 2`) has it verified again off the
/// request path and it is admitted without a restart. With the registry gone, re-checks cannot finish and the
/// previous facts keep answering (admitted throughout, never "verification failed").
#[test]
fn serve_rechecks_signatures_pushed_after_the_first_review() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let late = push(&reg, &tmp.path().join("a"), "shop/late", None);
    let ci = tmp.path().join("ci");
    let ci_pub = sig::key_pair(&ci);
    let config = tmp.path().join("admission.yaml");
    std::fs::write(
        &config,
        format!(
            "default: {{ mode: analysis, verify: {{ keys: [{}] }} }}\n",
            ci_pub.display()
        ),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            tmp.path().join("vuln.db").to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
            "--signature-recheck",
            "2",
        ],
        &[
            ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
            ("PORTCULLIS_LOG", "warn,portcullis_engine::signatures=info"),
        ],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);

    let unsigned =
        format!("image {late}: not signed by any of the required keys (no signature found)");
    until(&http, port, &late, &log, |r| denied_for(r, &unsigned));
    sig::sign(&ci, &late);
    let (ok, took) = until(&http, port, &late, &log, |r| {
        r["response"]["allowed"] == true
    });
    assert!(
        ok["response"]["auditAnnotations"]
            .to_string()
            .contains(&format!("{late}={}", ci_pub.display())),
        "{ok}"
    );

    drop(reg);
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(8) {
        let r = validate(&http, port, &pod_review(&[&late], "shop", "app"));
        assert_eq!(
            r["response"]["allowed"], true,
            "the previous facts answer while re-checks cannot reach the registry: {r}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("re-checking signatures did not finish; the previous facts keep answering"),
        "a re-check was tried with the registry gone:\n{text}"
    );
    eprintln!(
        "signed after the first review: admitted {took:?} after signing (re-check interval 2 s)"
    );
}
