//! Ways around a check, tried over the real webhook (real TLS, real socket): each test is a bypass that once
//! worked and must stay closed.

#[path = "../../admission/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::fixture_verdicts;
use portcullis_admission::{AdmissionPolicies, MemoryVerdicts};
use portcullis_server::{Parts, Running, ServerConfig, certs, start};

/// A generated CA and a `localhost` serving certificate in a temporary directory.
struct Tls {
    dir: tempfile::TempDir,
    ca: String,
}

impl Tls {
    fn new() -> Tls {
        let dir = tempfile::tempdir().unwrap();
        let b = certs::generate(
            "portcullis",
            "portcullis",
            &["localhost".into(), "127.0.0.1".into()],
            30,
        )
        .unwrap();
        std::fs::write(dir.path().join("tls.crt"), &b.cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), &b.key_pem).unwrap();
        Tls {
            ca: b.ca_cert_pem,
            dir,
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.as_bytes()).unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }
}

/// A Pod CREATE review in namespace `shop` running `image`.
fn pod_review(name: &str, image: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("uid-{name}"),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": name,
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "dev"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
}

async fn post(
    srv: &Running,
    client: &reqwest::Client,
    review: &serde_json::Value,
) -> serde_json::Value {
    let resp = client
        .post(format!("https://localhost:{}/validate", srv.addr.port()))
        .json(review)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Every spelling of Docker Hub (its aliases, upper case, an explicit `:443`) is judged as `docker.io`: by the
/// verdict cache (the analysed `postgres:16.4` is found) and by a ContainerAdmissionPolicy rejecting
/// `^docker\.io/`, whose denial still shows the reference as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_aliases_do_not_slip_past_container_admission_policies() {
    let tls = Tls::new();
    let verdicts = Arc::new(MemoryVerdicts::from_file(fixture_verdicts("prod"), "t").unwrap());
    let cfg_path = tls.path("admission.yaml");
    std::fs::write(&cfg_path, "default: { mode: policy, policy: prod }\n").unwrap();
    let policies = AdmissionPolicies::default();
    let mut cfg = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        tls.path("tls.crt"),
        tls.path("tls.key"),
    );
    cfg.admission_config = Some(cfg_path);
    cfg.resolve_tags = false;
    let mut parts = Parts::new(verdicts);
    parts.policies = Some(policies.clone());
    let srv = start(cfg, parts).await.unwrap();
    let client = tls.client();
    let spellings = [
        "registry-1.docker.io/library/postgres:16.4",
        "registry.hub.docker.com/library/postgres:16.4",
        "index.docker.io/postgres:16.4",
        "Registry-1.Docker.IO/library/postgres:16.4",
        "docker.io:443/library/postgres:16.4",
    ];
    for image in spellings {
        let got = post(&srv, &client, &pod_review("web", image)).await;
        assert_eq!(
            got["response"]["allowed"], true,
            "{image} is the analysed, passing docker.io/library/postgres:16.4: {got}"
        );
    }
    policies.replace(
        portcullis_policy::CapSet::from_yaml(
            "metadata: {name: no-hub}\nspec:\n  rules:\n  - action: Reject\n    imagePath: {operator: IsOneOf, values: ['^docker\\.io/']}\n",
        )
        .unwrap(),
    );
    for image in spellings {
        let got = post(&srv, &client, &pod_review("web", image)).await;
        assert_eq!(got["response"]["allowed"], false, "{image}: {got}");
        let msg = got["response"]["status"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("image {image} "))
                && msg.contains("ContainerAdmissionPolicy \"no-hub\" rule 0"),
            "the denial names the rule and the reference as written: {msg}"
        );
    }
    let got = post(&srv, &client, &pod_review("web", "quay.io/org/app:1")).await;
    let msg = got["response"]["status"]["message"].as_str().unwrap_or("");
    assert!(
        !msg.contains("no-hub"),
        "other registries are not Docker Hub: {got}"
    );
    srv.shutdown().await;
}

/// A CA (PEM) and a client certificate + key (one PEM) it signed, for the webhook's client authentication.
fn client_ca_and_identity(cn: &str) -> (String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, format!("{cn} client CA"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, cn);
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = leaf.signed_by(&key, &ca, &ca_key).unwrap();
    (ca.pem(), format!("{}{}", cert.pem(), key.serialize_pem()))
}

/// With `client_ca`, `/validate` and `/mutate` answer only callers presenting a certificate that CA signed (the
/// API server); probes still answer anyone; every decision says whether its caller was authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_endpoints_require_a_client_certificate_when_configured() {
    let tls = Tls::new();
    let (ca_pem, identity_pem) = client_ca_and_identity("kube-apiserver");
    let (_, stranger_pem) = client_ca_and_identity("stranger");
    std::fs::write(tls.path("client-ca.crt"), &ca_pem).unwrap();
    let start_with = |client_ca: Option<PathBuf>| {
        let mut cfg = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            tls.path("tls.crt"),
            tls.path("tls.key"),
        );
        cfg.resolve_tags = false;
        cfg.client_ca = client_ca;
        start(cfg, Parts::new(Arc::new(MemoryVerdicts::new())))
    };
    let review = pod_review("web", "quay.io/org/app:1");
    let with_identity = |pem: &str| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(tls.ca.as_bytes()).unwrap())
            .identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    };

    let srv = start_with(Some(tls.path("client-ca.crt"))).await.unwrap();
    for path in ["/validate", "/mutate"] {
        let resp = tls
            .client()
            .post(format!("https://localhost:{}{path}", srv.addr.port()))
            .json(&review)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{path} without a client certificate");
        let text = resp.text().await.unwrap();
        assert!(text.contains("client certificate"), "{text}");
    }
    let health = tls
        .client()
        .get(format!("https://localhost:{}/healthz", srv.addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "probes need no certificate");
    let got = post(&srv, &with_identity(&identity_pem), &review).await;
    assert_eq!(got["response"]["uid"], "uid-web", "{got}");
    assert_eq!(
        got["response"]["auditAnnotations"]["caller"], "authenticated",
        "{got}"
    );
    let refused = with_identity(&stranger_pem)
        .post(format!("https://localhost:{}/validate", srv.addr.port()))
        .json(&review)
        .send()
        .await;
    assert!(
        refused.is_err() || refused.as_ref().is_ok_and(|r| r.status() != 200),
        "a certificate another CA signed is refused: {refused:?}"
    );
    srv.shutdown().await;

    // Without a client CA anyone may call, and the decision says the caller was not authenticated.
    let srv = start_with(None).await.unwrap();
    let got = post(&srv, &tls.client(), &review).await;
    assert_eq!(
        got["response"]["auditAnnotations"]["caller"], "unauthenticated",
        "{got}"
    );
    srv.shutdown().await;

    // A client CA file that is not one fails the start, naming the file.
    std::fs::write(tls.path("bad-ca.crt"), "not a certificate").unwrap();
    let e = start_with(Some(tls.path("bad-ca.crt")))
        .await
        .err()
        .expect("a bad client CA must fail the start")
        .to_string();
    assert!(e.contains("bad-ca.crt") && e.contains("client CA"), "{e}");
}

/// A tag known from memory is re-resolved off the request path once its lookup is older than the TTL: the
/// first review decides on the newest known digest and says so, the later ones on the digest the registry now
/// serves (here a digest nobody analysed, so policy mode denies).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_tag_is_re_resolved_and_the_new_digest_decides() {
    use futures::FutureExt;
    use portcullis_server::{DigestResolver, ResolveFn};
    let tls = Tls::new();
    let verdicts = Arc::new(MemoryVerdicts::from_file(fixture_verdicts("prod"), "t").unwrap());
    let cfg_path = tls.path("admission.yaml");
    std::fs::write(&cfg_path, "default: { mode: policy, policy: prod }\n").unwrap();
    // The registry now serves another image under the tag.
    let moved = format!("sha256:{}", "e".repeat(64));
    let answer = moved.clone();
    let f: ResolveFn = Arc::new(move |_r: portcullis_image::ImageRef| {
        let d = answer.clone();
        async move { Ok(d) }.boxed()
    });
    let mut cfg = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        tls.path("tls.crt"),
        tls.path("tls.key"),
    );
    cfg.admission_config = Some(cfg_path);
    let mut parts = Parts::new(verdicts);
    parts.resolver = Some(DigestResolver::new(
        f,
        Duration::from_secs(60),
        Duration::from_secs(1),
    ));
    let srv = start(cfg, parts).await.unwrap();
    let client = tls.client();
    let review = pod_review("db", "postgres:16.4");
    let got = post(&srv, &client, &review).await;
    assert_eq!(got["response"]["allowed"], true, "{got}");
    let warnings = got["response"]["warnings"].to_string();
    assert!(
        warnings.contains("decided on the newest known digest")
            && warnings.contains("re-resolution pending"),
        "the decision says it used the newest known digest: {got}"
    );
    let t = std::time::Instant::now();
    let denied = loop {
        let got = post(&srv, &client, &review).await;
        if got["response"]["allowed"] == false {
            break got;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the moved tag never took effect: {got}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        denied["response"]["auditAnnotations"]["images"], "postgres:16.4=not-analysed",
        "{denied}"
    );
    srv.shutdown().await;
}
