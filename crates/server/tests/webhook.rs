//! The webhook over real TLS on a real socket: every captured review, bad input, reloads, deadlines, shutdown.

#[path = "../../admission/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures::FutureExt;
use portcullis_admission::{
    Config, Context, Endpoint, MemoryVerdicts, Review, VerdictsFile, decide,
};
use portcullis_image::ImageRef;
use portcullis_server::{DigestResolver, Parts, ResolveFn, Running, ServerConfig, certs, start};

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
    fn cert(&self) -> PathBuf {
        self.dir.path().join("tls.crt")
    }
    fn key(&self) -> PathBuf {
        self.dir.path().join("tls.key")
    }
    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca.as_bytes()).unwrap())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }
}

/// A resolver standing in for a registry that never answers in time (the fault this stands for — a hung
/// registry — cannot be produced by the image crate in this build, whose `resolve_digest` is not implemented).
fn slow_resolver(delay: Duration) -> DigestResolver {
    let f: ResolveFn = Arc::new(move |_r: ImageRef| {
        async move {
            tokio::time::sleep(delay).await;
            Ok("sha256:late".to_string())
        }
        .boxed()
    });
    DigestResolver::new(f, Duration::from_secs(60), Duration::from_secs(5))
}

async fn serve(
    tls: &Tls,
    config_file: Option<&Path>,
    verdicts: Arc<MemoryVerdicts>,
    tweak: impl FnOnce(&mut ServerConfig, &mut Parts),
) -> Running {
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), tls.cert(), tls.key());
    cfg.admission_config = config_file.map(Path::to_path_buf);
    cfg.reload_interval = Duration::from_millis(100);
    let mut parts = Parts::new(verdicts);
    tweak(&mut cfg, &mut parts);
    start(cfg, parts).await.unwrap()
}

/// Replaces a file atomically (write + rename), as Kubernetes updates mounted ConfigMaps and Secrets; a plain
/// rewrite could be polled half-written.
fn write_atomic(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("admission.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Waits (up to 20 s) until the server has counted at least `n` reloads of `what` with `result`.
async fn wait_reloads(srv: &Running, what: &str, result: &str, n: u32) {
    let prefix = format!("portcullis_reloads_total{{what=\"{what}\",result=\"{result}\"}} ");
    let t = Instant::now();
    loop {
        let m = srv.metrics_text();
        let count: u32 = m
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if count >= n {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "fewer than {n} {prefix:?} in {m}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn url(r: &Running, path: &str) -> String {
    format!("https://localhost:{}{path}", r.addr.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_captured_review_in_every_mode_over_tls() {
    let tls = Tls::new();
    let file = fixture_verdicts("prod");
    let verdicts = Arc::new(MemoryVerdicts::from_file(file.clone(), "t").unwrap());
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(cfgdir.path(), "default: { mode: policy, policy: prod }\n");
    let srv = serve(&tls, Some(&cfg_path), verdicts.clone(), |c, _| {
        c.resolve_tags = false
    })
    .await;
    let client = tls.client();
    for (i, mode) in ["policy", "analysis", "audit", "passive"]
        .into_iter()
        .enumerate()
    {
        let text = format!("default: {{ mode: {mode}, policy: prod, mutate: true }}\n");
        write_atomic(&cfg_path, &text);
        // The file is polled every 100 ms; wait until the new configuration is in use.
        wait_reloads(&srv, "config", "ok", i as u32 + 1).await;
        let local_cfg = Config::parse(&text, "t").unwrap();
        let local_v = MemoryVerdicts::from_file(file.clone(), "t").unwrap();
        for (name, bytes) in fixtures() {
            let ep = if name.contains("-mutate-") {
                Endpoint::Mutate
            } else {
                Endpoint::Validate
            };
            let path = if ep == Endpoint::Mutate {
                "/mutate"
            } else {
                "/validate"
            };
            let resp = client
                .post(url(&srv, &format!("{path}?timeout=10s")))
                .header("content-type", "application/json")
                .body(bytes.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{mode} {name}");
            let got: serde_json::Value = resp.json().await.unwrap();
            let mut want = decide(
                &Review::parse(&bytes).unwrap(),
                &local_cfg,
                &local_v,
                &Context::new(ep),
            );
            // The server adds whether its caller was authenticated (no client CA here: it was not).
            want.audit_annotations.insert(
                portcullis_server::CALLER_ANNOTATION.into(),
                "unauthenticated".into(),
            );
            let want: serde_json::Value = serde_json::from_slice(&want.to_review_json()).unwrap();
            assert_eq!(got, want, "{mode} {name}");
            let uid =
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["request"]["uid"]
                    .clone();
            assert_eq!(got["response"]["uid"], uid);
            let has_busybox =
                name.starts_with("004") || name.starts_with("005") || name.starts_with("012");
            let deny = mode == "policy" && ep == Endpoint::Validate && has_busybox;
            assert_eq!(got["response"]["allowed"], !deny, "{mode} {name}");
            if ep == Endpoint::Validate {
                assert!(
                    got["response"].get("patch").is_none(),
                    "no patch from /validate"
                );
            }
            if ep == Endpoint::Mutate && mode != "policy" && name.starts_with("002") {
                assert_eq!(got["response"]["patchType"], "JSONPatch", "{mode} {name}");
            }
        }
    }
    let metrics = client
        .get(url(&srv, "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"portcullis_admission_decisions_total{endpoint="validate",mode="policy",result="denied"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_admission_review_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"portcullis_reloads_total{what="config",result="ok"} 4"#),
        "{metrics}"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_precise_4xx_never_a_panic() {
    let tls = Tls::new();
    let srv = serve(&tls, None, Arc::new(MemoryVerdicts::new()), |c, _| {
        c.max_body_bytes = 64 * 1024;
    })
    .await;
    let client = tls.client();
    let post = |body: Vec<u8>| {
        client
            .post(url(&srv, "/validate"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{\"kind\":".to_vec(), 400, "EOF while parsing"),
        (b"not json".to_vec(), 400, "not a valid AdmissionReview: expected ident at line 1 column 2"),
        (br#"{"kind":"Pod","apiVersion":"v1"}"#.to_vec(), 400, "kind is \"Pod\""),
        (br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v9"}"#.to_vec(), 400, "apiVersion is \"admission.k8s.io/v9\""),
        (br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#.to_vec(), 400, "no \"request\""),
        (br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"operation":"CREATE"}}"#.to_vec(), 400, "no \"uid\""),
        // Over the limit, but small enough to sit in loopback socket buffers so the client reads the 413.
        (vec![b' '; 128 * 1024], 413, "length limit exceeded"),
    ];
    for (body, code, text) in cases {
        let resp = post(body).await.unwrap();
        assert_eq!(resp.status().as_u16(), code);
        let t = resp.text().await.unwrap();
        assert!(t.contains(text), "{t}");
    }
    // Unknown kind: a precise AdmissionReview answer (admitted, nothing to check).
    let (_, pod) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("014"))
        .unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&pod).unwrap();
    v["request"]["kind"]["kind"] = "Widget".into();
    let got: serde_json::Value = post(serde_json::to_vec(&v).unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["response"]["allowed"], true);
    assert_eq!(
        got["response"]["auditAnnotations"]["decision"],
        "allowed: kind carries no container images"
    );
    // Invalid image reference: denied (default passive mode admits, so use an unknown image in a policy selector).
    v["request"]["kind"]["kind"] = "Pod".into();
    v["request"]["object"]["spec"]["containers"][0]["image"] = "bad image".into();
    let got: serde_json::Value = post(serde_json::to_vec(&v).unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["response"]["allowed"], true, "passive by default");
    assert!(
        got["response"]["auditAnnotations"]["images"]
            .as_str()
            .unwrap()
            .contains("bad image=invalid-reference")
    );
    // Wrong method.
    let r = client.get(url(&srv, "/validate")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    // Health.
    assert_eq!(
        client
            .get(url(&srv, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client
            .get(url(&srv, "/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let m = client
        .get(url(&srv, "/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains(r#"result="bad_request"} 6"#), "{m}");
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_is_reloaded_without_restart() {
    let tls = Tls::new();
    let srv = serve(&tls, None, Arc::new(MemoryVerdicts::new()), |_, _| {}).await;
    assert_eq!(
        tls.client()
            .get(url(&srv, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // A new CA and certificate: a client trusting only the new CA fails before the swap and succeeds after it.
    let b = certs::generate("portcullis", "portcullis", &["localhost".into()], 30).unwrap();
    let new_client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(b.ca_cert_pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(new_client.get(url(&srv, "/healthz")).send().await.is_err());
    // A broken pair is rejected and the old one stays in use.
    std::fs::write(tls.cert(), "garbage").unwrap();
    wait_reloads(&srv, "certificate", "error", 1).await;
    assert_eq!(
        tls.client()
            .get(url(&srv, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    std::fs::write(tls.key(), &b.key_pem).unwrap();
    std::fs::write(tls.cert(), &b.cert_pem).unwrap();
    wait_reloads(&srv, "certificate", "ok", 1).await;
    assert_eq!(
        new_client
            .get(url(&srv, "/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let m = srv.metrics_text();
    assert!(
        m.contains(r#"portcullis_reloads_total{what="certificate",result="ok"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"portcullis_reloads_total{what="certificate",result="error"}"#),
        "{m}"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_below_apiserver_timeout_falls_back() {
    let tls = Tls::new();
    // ubuntu:22.04 has a cached verdict by tag; nginx is unknown. The registry hangs for 20 s.
    let file: VerdictsFile = serde_json::from_value(serde_json::json!({"images": [
        {"image": "ubuntu:22.04", "digest": digest_for("ubuntu:22.04"),
         "verdicts": {"prod": verdict("prod", vec![])}}
    ]}))
    .unwrap();
    let verdicts = Arc::new(MemoryVerdicts::from_file(file, "t").unwrap());
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(cfgdir.path(), "default: { mode: policy, policy: prod }\n");
    // With resolve_cached knowing ubuntu:22.04's digest, no lookup happens for it; make the cache forget by
    // asking for a tag-only entry through the review of the RC fixture (ubuntu:22.04) and a Pod (ubuntu).
    let srv = serve(&tls, Some(&cfg_path), verdicts, |_, p| {
        p.resolver = Some(slow_resolver(Duration::from_secs(20)));
    })
    .await;
    let client = tls.client();
    let (_, pod) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("014"))
        .unwrap();
    let t = Instant::now();
    let resp = client
        .post(url(&srv, "/validate?timeout=2s"))
        .body(pod.clone())
        .send()
        .await
        .unwrap();
    let took = t.elapsed();
    let got: serde_json::Value = resp.json().await.unwrap();
    // Deadline = max(2 s - 1.5 s, 2 s / 2) = 1 s: answered well before the API server's 2 s.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1800),
        "{took:?}"
    );
    assert_eq!(got["response"]["allowed"], false);
    assert!(
        got["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("image ubuntu is not analysed yet")
    );
    // The lookup is still pending (single flight): the next request waits only for its own deadline.
    let t = Instant::now();
    client
        .post(url(&srv, "/validate?timeout=1s"))
        .body(pod)
        .send()
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    let m = srv.metrics_text();
    assert!(
        m.contains("portcullis_admission_deadline_fallbacks_total 2"),
        "{m}"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_unknown_images_answered_within_5ms_in_every_mode() {
    let tls = Tls::new();
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(cfgdir.path(), "default: { mode: policy }\n");
    // Digest-pinned unknown images and tags with an unreachable registry: no wait either way once the failed
    // lookup is cached; lookups are off here to measure the decision path itself.
    let srv = serve(
        &tls,
        Some(&cfg_path),
        Arc::new(MemoryVerdicts::new()),
        |c, _| c.resolve_tags = false,
    )
    .await;
    let client = tls.client();
    let (_, pod) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("003"))
        .unwrap();
    for (i, mode) in ["policy", "analysis", "audit", "passive"]
        .into_iter()
        .enumerate()
    {
        write_atomic(
            &cfg_path,
            &format!("default: {{ mode: {mode}, policy: p{i} }}\n"),
        );
        wait_reloads(&srv, "config", "ok", i as u32 + 1).await;
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            let r = client
                .post(url(&srv, "/validate?timeout=10s"))
                .body(pod.clone())
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = r.json().await.unwrap();
            times.push(t.elapsed());
            assert_eq!(
                v["response"]["allowed"],
                !matches!(mode, "policy" | "analysis"),
                "{mode}: {v}\n{}",
                srv.metrics_text()
            );
        }
        times.sort();
        // Median over a kept-alive connection (a loaded shared machine makes single samples noisy).
        assert!(times[10] < Duration::from_millis(5), "{mode}: {times:?}");
    }
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_requests_and_extra_routes_are_served() {
    let tls = Tls::new();
    let extra = axum::Router::new().route("/api/v1/ping", axum::routing::get(|| async { "pong" }));
    let srv = serve(&tls, None, Arc::new(MemoryVerdicts::new()), |_, p| {
        p.extra = Some(extra);
        p.resolver = Some(slow_resolver(Duration::from_secs(30)));
    })
    .await;
    let client = tls.client();
    assert_eq!(
        client
            .get(url(&srv, "/api/v1/ping"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "pong"
    );
    let (_, pod) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("014"))
        .unwrap();
    // A request that takes ~1 s (waiting for the hung registry until its deadline).
    let u = url(&srv, "/validate?timeout=2s");
    let c2 = client.clone();
    let inflight = tokio::spawn(async move { c2.post(u).body(pod).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let port = srv.addr.port();
    srv.shutdown().await;
    let resp = inflight.await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    // Stopped: no longer accepting.
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn bad_certificate_fails_start_with_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c"), "nope").unwrap();
    let cfg = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().join("c"),
        dir.path().join("k"),
    );
    let e = start(cfg, Parts::new(Arc::new(MemoryVerdicts::new())))
        .await
        .err()
        .unwrap();
    let s = e.to_string();
    assert!(
        s.contains("cannot read private key") || s.contains("no CERTIFICATE"),
        "{s}"
    );
    assert!(s.contains("portcullis certs"), "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_down_or_dying_mid_request_keeps_decisions_flowing() {
    // A "registry" that accepts connections and drops them at once (killed mid-request), and a port with
    // nothing listening (down). The default resolver (portcullis_image::resolve_digest) is used.
    let dying = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dying_addr = dying.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = dying.accept().await {
            drop(s);
        }
    });
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cached = format!("{dying_addr}/shop/app:1");
    let file: VerdictsFile = serde_json::from_value(serde_json::json!({"images": [
        {"image": cached, "digest": digest_for(&cached), "verdicts": {"prod": verdict("prod", vec![])}}
    ]}))
    .unwrap();
    let tls = Tls::new();
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(cfgdir.path(), "default: { mode: policy, policy: prod }\n");
    let srv = serve(
        &tls,
        Some(&cfg_path),
        Arc::new(MemoryVerdicts::from_file(file, "t").unwrap()),
        |_, _| {},
    )
    .await;
    let client = tls.client();
    let (_, pod) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("014"))
        .unwrap();
    for (image, allowed) in [
        (cached.clone(), true),
        (format!("{dying_addr}/shop/other:2"), false),
        (format!("{down}/shop/app:1"), false),
    ] {
        let mut v: serde_json::Value = serde_json::from_slice(&pod).unwrap();
        v["request"]["object"]["spec"]["containers"][0]["image"] = image.clone().into();
        let t = Instant::now();
        let got: serde_json::Value = client
            .post(url(&srv, "/validate?timeout=3s"))
            .body(serde_json::to_vec(&v).unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "{image}: {:?}",
            t.elapsed()
        );
        assert_eq!(got["response"]["allowed"], allowed, "{image}: {got}");
        if !allowed {
            let m = got["response"]["status"]["message"].as_str().unwrap();
            assert!(m.contains("is not analysed yet"), "{m}");
        }
    }
    srv.shutdown().await;
}

struct Namespaces;

impl portcullis_admission::NamespaceLookup for Namespaces {
    fn namespace(&self, name: &str) -> Option<portcullis_admission::NamespaceMeta> {
        (name == "shop").then(|| portcullis_admission::NamespaceMeta {
            name: name.into(),
            labels: [("env".to_string(), "prod".to_string())].into(),
            annotations: Default::default(),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_label_selectors_use_the_lookup() {
    let tls = Tls::new();
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(
        cfgdir.path(),
        "selectors:\n  - { resource: namespace, field: label, key: env, value: prod, mode: policy }\n",
    );
    let srv = serve(
        &tls,
        Some(&cfg_path),
        Arc::new(MemoryVerdicts::new()),
        |c, p| {
            c.resolve_tags = false;
            p.namespaces = Some(Arc::new(Namespaces));
        },
    )
    .await;
    let client = tls.client();
    for (prefix, allowed) in [("003", false), ("014", true)] {
        let (_, body) = fixtures()
            .into_iter()
            .find(|(n, _)| n.starts_with(prefix))
            .unwrap();
        let got: serde_json::Value = client
            .post(url(&srv, "/validate"))
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // shop is labelled env=prod → policy mode denies unknown images; default (passive) admits.
        assert_eq!(got["response"]["allowed"], allowed, "{prefix}: {got}");
    }
    srv.shutdown().await;
}

async fn validate_fixture(
    srv: &Running,
    client: &reqwest::Client,
    prefix: &str,
) -> serde_json::Value {
    let (_, bytes) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with(prefix))
        .unwrap();
    let resp = client
        .post(url(srv, "/validate"))
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emptied_config_file_keeps_the_previous_configuration() {
    let tls = Tls::new();
    let verdicts = Arc::new(MemoryVerdicts::from_file(fixture_verdicts("prod"), "t").unwrap());
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(cfgdir.path(), "default: { mode: policy, policy: prod }\n");
    let srv = serve(&tls, Some(&cfg_path), verdicts, |c, _| {
        c.resolve_tags = false
    })
    .await;
    let client = tls.client();
    assert_eq!(
        validate_fixture(&srv, &client, "005").await["response"]["allowed"],
        false
    );
    // A non-atomic rewrite polled half-way: the file is empty for a moment.
    std::fs::write(&cfg_path, "").unwrap();
    wait_reloads(&srv, "config", "error", 1).await;
    assert_eq!(
        validate_fixture(&srv, &client, "005").await["response"]["allowed"],
        false,
        "an empty file must not mean passive defaults"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_admission_policies_are_applied_and_replaced_without_restart() {
    let tls = Tls::new();
    let verdicts = Arc::new(MemoryVerdicts::from_file(fixture_verdicts("prod"), "t").unwrap());
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(cfgdir.path(), "default: { mode: analysis, policy: prod }\n");
    let policies = portcullis_admission::AdmissionPolicies::default();
    let handle = policies.clone();
    let srv = serve(&tls, Some(&cfg_path), verdicts, move |c, p| {
        c.resolve_tags = false;
        p.policies = Some(handle);
    })
    .await;
    let client = tls.client();
    // Analysis mode admits analysed images, busybox included.
    assert_eq!(
        validate_fixture(&srv, &client, "005").await["response"]["allowed"],
        true
    );
    policies.replace(
        portcullis_policy::CapSet::from_yaml(
            "metadata: {name: pass-only}\nspec:\n  rules:\n  - action: Allow\n    imageScanStatus: {operator: IsOneOf, values: [Pass, Warn]}\n  - action: Reject\n",
        )
        .unwrap(),
    );
    let got = validate_fixture(&srv, &client, "005").await;
    assert_eq!(got["response"]["allowed"], false);
    let msg = got["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("busybox:1.36")
            && msg.contains("ContainerAdmissionPolicy \"pass-only\" rule 1"),
        "{msg}"
    );
    assert_eq!(got["response"]["status"]["code"], 403);
    policies.replace(portcullis_policy::CapSet::default());
    assert_eq!(
        validate_fixture(&srv, &client, "005").await["response"]["allowed"],
        true
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_admission_policy_file_is_reloaded_and_a_bad_one_keeps_the_previous() {
    let tls = Tls::new();
    let verdicts = Arc::new(MemoryVerdicts::from_file(fixture_verdicts("prod"), "t").unwrap());
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(dir.path(), "default: { mode: analysis, policy: prod }\n");
    let caps = dir.path().join("caps.yaml");
    std::fs::write(&caps, "[]").unwrap();
    let caps2 = caps.clone();
    let srv = serve(&tls, Some(&cfg_path), verdicts, move |c, _| {
        c.resolve_tags = false;
        c.admission_policies = Some(caps2);
    })
    .await;
    let client = tls.client();
    assert_eq!(
        validate_fixture(&srv, &client, "005").await["response"]["allowed"],
        true
    );
    write_atomic(
        &caps,
        "kind: List\nitems:\n- metadata: {name: no-busybox}\n  spec:\n    rules:\n    - action: Reject\n      imagePath: {operator: IsOneOf, values: [\"/library/busybox:\"]}\n",
    );
    wait_reloads(&srv, "admission-policies", "ok", 1).await;
    let got = validate_fixture(&srv, &client, "005").await;
    assert_eq!(got["response"]["allowed"], false, "{got}");
    // A broken file is reported and the previous policies stay in force.
    write_atomic(
        &caps,
        "metadata: {name: broken}\nspec: {rules: [{action: Maybe}]}\n",
    );
    wait_reloads(&srv, "admission-policies", "error", 1).await;
    assert_eq!(
        validate_fixture(&srv, &client, "005").await["response"]["allowed"],
        false
    );
    srv.shutdown().await;
    // At start, a broken file fails fast with the file named.
    let mut cfg = ServerConfig::new("127.0.0.1:0".parse().unwrap(), tls.cert(), tls.key());
    cfg.admission_policies = Some(caps.clone());
    let e = start(cfg, Parts::new(Arc::new(MemoryVerdicts::new())))
        .await
        .err()
        .expect("a broken policy file must fail the start")
        .to_string();
    assert!(e.contains("caps.yaml") && e.contains("broken"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_the_registry_does_not_have_is_denied_as_not_found_in_the_registry() {
    // A real registry holding shop/app:1 only. The default resolver (portcullis_image::resolve_digest) asks it.
    let reg = portcullis_testkit::Registry::start(portcullis_testkit::Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let dir = tempfile::tempdir().unwrap();
    let layout = dir.path().join("oci");
    let mut w = portcullis_testkit::OciWriter::new(&layout).unwrap();
    let m = w
        .image(&portcullis_testkit::TestImage::new(vec![
            portcullis_testkit::LayerBuilder::new()
                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n")
                .tar(),
        ]))
        .unwrap();
    w.tag("v1", &m).finish().unwrap();
    reg.push(&layout, "v1", "shop/app:1", false).unwrap();

    let tls = Tls::new();
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg_path = write_config(cfgdir.path(), "default: { mode: policy, policy: prod }\n");
    let verdicts = Arc::new(MemoryVerdicts::new());
    let srv = serve(&tls, Some(&cfg_path), verdicts.clone(), |_, _| {}).await;
    let client = tls.client();
    let (_, pod) = fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("014"))
        .unwrap();
    let exists = format!("{}/shop/app:1", reg.addr);
    let no_tag = format!("{}/shop/app:2", reg.addr);
    let no_repo = format!("{}/shop/nothing:1", reg.addr);
    for round in 0..2 {
        // The second round is answered from the resolver's negative cache.
        let mut v: serde_json::Value = serde_json::from_slice(&pod).unwrap();
        v["request"]["object"]["spec"]["containers"] = serde_json::json!([
            {"name": "app", "image": exists},
            {"name": "next", "image": no_tag},
            {"name": "next-again", "image": no_tag},
            {"name": "typo", "image": no_repo},
        ]);
        let got: serde_json::Value = client
            .post(url(&srv, "/validate?timeout=10s"))
            .body(serde_json::to_vec(&v).unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(got["response"]["allowed"], false, "{got}");
        let m = got["response"]["status"]["message"].as_str().unwrap();
        assert!(
            m.contains(&format!(
                "containers \"next\", \"next-again\": image {no_tag} not found in the registry ({} has no tag \
                 \"2\" in repository shop/app)",
                reg.addr
            )),
            "round {round}: {m}"
        );
        assert!(
            m.contains(&format!(
                "container \"typo\": image {no_repo} not found in the registry"
            )),
            "round {round}: {m}"
        );
        assert!(
            m.contains(&format!(
                "container \"app\": image {exists} is not analysed yet"
            )),
            "round {round}: {m}"
        );
        assert_eq!(m.matches("not found in the registry").count(), 2, "{m}");
        // Only the image that exists is queued for analysis.
        let queued = verdicts.queued();
        assert!(
            queued.iter().all(|q| q.contains("shop/app:1")) && !queued.is_empty(),
            "{queued:?}"
        );
    }
    srv.shutdown().await;
}
