//! The real `portcullis serve` binary, started by the test with the Helm chart's own arguments (paths
//! rewritten to a temp dir) and registered BY URL in the real kube-apiserver: the seed flow — policy mode
//! denies an unanalysed and a failing image with `admission webhook "…" denied the request: …` naming the
//! CVEs and admits a passing one; passive mode admits and queues; then with the process stopped, the
//! webhook's failurePolicy decides.
//!
//! Verdicts come from a `--verdicts` file. The Kubernetes integration runs from the chart's own
//! `kubernetes.yaml`: denial Events, ImageReports, the Lease, a ContainerAdmissionPolicy created in the
//! cluster taking effect without a restart, and the periodic audit reporting a running Pod it now denies.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_admission::{VerdictEntry, VerdictsFile};
use portcullis_policy::{Action, EvalRow, FinalReason, Verdict};
use portcullis_testkit::{Cluster, ClusterOptions, free_port, repo_root, tool};

const GOOD: &str = "127.0.0.1:5000/shop/good:1";
const BAD: &str = "127.0.0.1:5000/shop/bad:1";
const UNKNOWN: &str = "127.0.0.1:5000/shop/new:1";

/// Builds (if needed) the `portcullis` binary of this workspace and copies it to `into` (so a later build
/// sharing the target directory cannot swap it underneath the test).
fn portcullis_bin(into: &std::path::Path) -> std::path::PathBuf {
    let status = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "portcullis"])
        .current_dir(repo_root())
        .status()
        .expect("run cargo build -p portcullis");
    assert!(status.success(), "cargo build -p portcullis failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let bin = target.join("debug/portcullis");
    assert!(bin.is_file(), "{} missing after cargo build", bin.display());
    let copy = into.join("portcullis");
    std::fs::copy(&bin, &copy).expect("copy the portcullis binary");
    copy
}

fn verdict_entry(image: &str, digest: &str, rows: Vec<EvalRow>) -> VerdictEntry {
    let final_action = rows
        .iter()
        .map(|r| r.gate_action)
        .max()
        .unwrap_or(Action::Go);
    VerdictEntry {
        image: image.into(),
        digest: Some(digest.into()),
        state: "analyzed".into(),
        reason: None,
        analysed_at: None,
        verdicts: HashMap::from([(
            "prod".to_string(),
            Verdict {
                bundle_id: "prod".into(),
                bundle_name: Some("prod".into()),
                bundle_digest: format!("sha256:{}", "b".repeat(64)),
                final_action,
                final_reason: FinalReason::PolicyEvaluation,
                policy_ids: vec!["p1".into()],
                rows,
                not_evaluated: vec![],
                image_id: "img".into(),
                tag: image.into(),
                mapping: None,
                policy_final_action: final_action,
                matched_whitelisted_image: None,
                matched_blacklisted_image: None,
                warnings: vec![],
            },
        )]),
        findings: vec![],
        signatures: None,
    }
}

fn stop_row(cve: &str) -> EvalRow {
    EvalRow {
        image_id: "img".into(),
        repo_tag: BAD.into(),
        trigger_id: format!("{cve}+openssl"),
        gate: "vulnerabilities".into(),
        trigger: "package".into(),
        check_output: format!(
            "HIGH Vulnerability found in os package type (dpkg) - openssl ({cve})"
        ),
        gate_action: Action::Stop,
        whitelisted: None,
        policy_id: "p1".into(),
        rule_id: "r1".into(),
        whitelist_name: None,
        whitelist_item_id: None,
        platform: None,
    }
}

struct Serve(Child);
impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `helm template` of the chart showing only `template`, with `--set` values.
fn helm_template(template: &str, sets: &[&str]) -> Vec<u8> {
    let helm = tool("helm").expect("helm");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(helm);
    cmd.env("HELM_CACHE_HOME", home.path().join("c"))
        .env("HELM_CONFIG_HOME", home.path().join("f"))
        .env("HELM_DATA_HOME", home.path().join("d"))
        .args(["template", "portcullis"])
        .arg(repo_root().join("deploy/helm/portcullis"))
        .args(["--namespace", "portcullis", "--show-only", template]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The arguments the chart's Deployment gives `portcullis`.
fn chart_args() -> Vec<String> {
    let dep: k8s_openapi::api::apps::v1::Deployment =
        serde_yaml_ng::from_slice(&helm_template("templates/deployment.yaml", &[])).unwrap();
    dep.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap()
}

/// `kubernetes.yaml` from the chart's ConfigMap, as rendered with `--set` values.
fn chart_kube_settings(sets: &[&str]) -> String {
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_yaml_ng::from_slice(&helm_template("templates/configmap.yaml", sets)).unwrap();
    cm.data.unwrap()["kubernetes.yaml"].clone()
}

/// Polls `kubectl` until `ok` holds for its output (30 s), returning the output.
fn kubectl_until(cluster: &Cluster, args: &[&str], ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let out = cluster.kubectl(args).unwrap_or_else(|e| e);
        if ok(&out) {
            return out;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "kubectl {args:?} never satisfied the check; last output:\n{out}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Registers the validating webhook by URL (`https://127.0.0.1:port`, trusting `ca_pem`), failurePolicy Fail,
/// with kube-system and portcullis excluded.
fn register_webhook(cluster: &Cluster, dir: &std::path::Path, port: u16, ca_pem: &str) {
    let yaml = portcullis_server::webhook::render(&portcullis_server::webhook::WebhookOptions {
        name: "portcullis".into(),
        namespace: "portcullis".into(),
        service: "portcullis".into(),
        port: 443,
        url: Some(format!("https://127.0.0.1:{port}")),
        ca_bundle_pem: ca_pem.to_string(),
        timeout_seconds: 10,
        failure_policy: "Fail".into(),
        exclude_namespaces: vec!["kube-system".into(), "portcullis".into()],
        mutating: false,
    })
    .unwrap();
    let wh = dir.join("webhooks.yaml");
    std::fs::write(&wh, yaml).unwrap();
    cluster
        .kubectl(&["apply", "-f", wh.to_str().unwrap()])
        .expect("register webhooks");
}

fn create_pod(cluster: &Cluster, ns: &str, name: &str, image: &str) -> Result<String, String> {
    let f = cluster.dir().join(format!("{ns}-{name}.yaml"));
    std::fs::write(
        &f,
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  automountServiceAccountToken: false\n  containers: [{{name: c, image: \"{image}\"}}]\n"),
    )
    .unwrap();
    cluster.kubectl(&["create", "-f", f.to_str().unwrap()])
}

#[tokio::test]
async fn portcullis_serve_binary_with_the_chart_arguments() {
    let bindir = tempfile::tempdir().unwrap();
    let bin = portcullis_bin(bindir.path());
    let cluster = Cluster::start(ClusterOptions {
        controller_manager: false,
        ..Default::default()
    })
    .await
    .expect("control plane");
    cluster
        .kubectl(&[
            "apply",
            "--server-side",
            "-f",
            repo_root()
                .join("deploy/crds/portcullis.yaml")
                .to_str()
                .unwrap(),
        ])
        .expect("apply CRDs");
    for ns in ["prod", "passive-team", "portcullis"] {
        cluster.kubectl(&["create", "namespace", ns]).unwrap();
        cluster
            .kubectl(&["-n", ns, "create", "serviceaccount", "default"])
            .unwrap();
    }

    // The chart's files, laid out in a temp dir.
    let dir = tempfile::tempdir().unwrap();
    let b =
        portcullis_server::certs::generate("portcullis", "portcullis", &["127.0.0.1".into()], 30)
            .unwrap();
    std::fs::create_dir_all(dir.path().join("tls")).unwrap();
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("tls/tls.crt"), &b.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls/tls.key"), &b.key_pem).unwrap();
    std::fs::write(
        dir.path().join("config/admission.yaml"),
        "exemptNamespaces: [kube-system, portcullis]\ndefault: { mode: policy, policy: prod }\nselectors:\n  - { resource: namespace, field: name, value: \"passive-.*\", mode: passive, policy: prod }\n",
    )
    .unwrap();
    let verdicts = VerdictsFile {
        images: vec![
            verdict_entry(GOOD, &format!("sha256:{}", "1".repeat(64)), vec![]),
            verdict_entry(
                BAD,
                &format!("sha256:{}", "2".repeat(64)),
                vec![stop_row("CVE-2023-0286"), stop_row("CVE-2023-0464")],
            ),
        ],
    };
    // The chart's Kubernetes settings, with a short audit interval for the test.
    std::fs::write(
        dir.path().join("config/kubernetes.yaml"),
        chart_kube_settings(&["audit.interval=2s"]),
    )
    .unwrap();
    let vfile = dir.path().join("verdicts.json");
    std::fs::write(&vfile, serde_json::to_vec(&verdicts).unwrap()).unwrap();

    let port = free_port().unwrap();
    let root = dir.path().to_str().unwrap();
    let args: Vec<String> = chart_args()
        .into_iter()
        .map(|a| {
            a.replace("/etc/portcullis", root)
                .replace("0.0.0.0:8443", &format!("127.0.0.1:{port}"))
        })
        .collect();
    assert_eq!(args[0], "serve", "{args:?}");
    let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
    let serve = Serve(
        Command::new(&bin)
            .args(&args)
            .args(["--verdicts", vfile.to_str().unwrap(), "--no-resolve"])
            // As the chart's Deployment sets them (the kubeconfig stands in for the in-cluster account).
            .env(
                "PORTCULLIS_KUBE_CONFIG",
                dir.path().join("config/kubernetes.yaml"),
            )
            .env("KUBECONFIG", &cluster.kubeconfig)
            .env("POD_NAME", "portcullis-0")
            .env("POD_NAMESPACE", "portcullis")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start portcullis serve"),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "portcullis serve did not listen: {}",
            std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    register_webhook(&cluster, dir.path(), port, &b.ca_cert_pem);

    // Policy mode.
    create_pod(&cluster, "prod", "good", GOOD).expect("passing image admitted");
    let e = create_pod(&cluster, "prod", "bad", BAD).unwrap_err();
    assert!(
        e.contains("admission webhook \"validate.portcullis.dev\" denied the request:")
            && e.contains(BAD)
            && e.contains("CVE-2023-0286"),
        "{e}"
    );
    let e = create_pod(&cluster, "prod", "new", UNKNOWN).unwrap_err();
    assert!(
        e.contains("denied the request") && e.contains(UNKNOWN),
        "unanalysed image denied: {e}"
    );
    // Passive mode.
    create_pod(&cluster, "passive-team", "new", UNKNOWN).expect("passive admits unknown images");
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default();
    assert!(log.contains("serving the admission webhook"), "{log}");

    assert!(log.contains("Kubernetes integration on"), "{log}");

    // Kubernetes-native side effects of the denial: a Warning Event and an ImageReport.
    let events = kubectl_until(
        &cluster,
        &["-n", "prod", "get", "events", "-o", "json"],
        |o| o.contains("AdmissionDenied") && o.contains("CVE-2023-0286"),
    );
    assert!(
        events.contains("\"bad\""),
        "the Event is about pod bad: {events}"
    );
    let report = kubectl_until(
        &cluster,
        &["-n", "prod", "get", "imagereports", "pod-bad", "-o", "json"],
        |o| o.contains("CVE-2023-0286"),
    );
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["spec"]["summary"]["fail"], 2, "{report}");
    assert_eq!(
        report["metadata"]["labels"]["portcullis.dev/allowed"],
        "false"
    );

    // Leader election: this replica holds the Lease named in the chart's settings.
    let lease = kubectl_until(
        &cluster,
        &[
            "-n",
            "portcullis",
            "get",
            "lease",
            "portcullis",
            "-o",
            "json",
        ],
        |o| o.contains("holderIdentity"),
    );
    assert!(lease.contains("portcullis-0"), "{lease}");

    // A ContainerAdmissionPolicy created in the cluster applies without a restart...
    let cap = dir.path().join("cap.yaml");
    std::fs::write(
        &cap,
        "apiVersion: portcullis.dev/v1beta1\nkind: ContainerAdmissionPolicy\nmetadata: {name: no-good-in-prod}\nspec:\n  namespaceSelector: \"kubernetes.io/metadata.name == 'prod'\"\n  rules:\n  - action: Reject\n    imagePath: {operator: IsOneOf, values: [\"/shop/good:\"]}\n",
    )
    .unwrap();
    cluster
        .kubectl(&["apply", "-f", cap.to_str().unwrap()])
        .expect("create the ContainerAdmissionPolicy");
    let start = Instant::now();
    let e = loop {
        match create_pod(&cluster, "prod", "good-again", GOOD) {
            Err(e) => break e,
            Ok(_) => {
                cluster
                    .kubectl(&["-n", "prod", "delete", "pod", "good-again", "--wait=false"])
                    .unwrap();
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "the ContainerAdmissionPolicy never took effect"
                );
                std::thread::sleep(Duration::from_millis(300));
            }
        }
    };
    assert!(
        e.contains("rejected by ContainerAdmissionPolicy \"no-good-in-prod\" rule 0"),
        "{e}"
    );
    // ...its status says it is in force...
    kubectl_until(
        &cluster,
        &[
            "get",
            "containeradmissionpolicy",
            "no-good-in-prod",
            "-o",
            "json",
        ],
        |o| o.contains("policy is in force"),
    );
    // ...and the periodic audit reports the running Pod it would now deny.
    let audit = kubectl_until(
        &cluster,
        &[
            "-n",
            "prod",
            "get",
            "imagereports",
            "-l",
            "portcullis.dev/source=audit",
            "-o",
            "json",
        ],
        |o| o.contains("no-good-in-prod"),
    );
    assert!(
        audit.contains("\"good\""),
        "the audit names pod good: {audit}"
    );

    // Portcullis stopped: failurePolicy Fail closes.
    drop(serve);
    let e = create_pod(&cluster, "prod", "down", GOOD).unwrap_err();
    assert!(
        e.contains("failed calling webhook \"validate.portcullis.dev\""),
        "{e}"
    );
}

/// A minimal Debian image (os-release and one dpkg package) written as an OCI layout.
fn write_image(dir: &std::path::Path) {
    use portcullis_testkit::{LayerBuilder, OciWriter, TestImage};
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let m = w
        .image(&TestImage::new(vec![
            LayerBuilder::new()
                .file("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n")
                .file(
                    "var/lib/dpkg/status",
                    "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u2\n\n",
                )
                .tar(),
        ]))
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
}

/// The engine pulls a private image with the credentials of the Pod's `imagePullSecrets` — but only in the
/// namespaces the chart's `pullSecrets` setting covers.
#[tokio::test]
async fn pull_secrets_of_the_workload_are_used_to_analyse_its_images() {
    use portcullis_testkit::{Mode, Registry};
    let reg = tokio::task::spawn_blocking(|| {
        Registry::start(Mode::TlsBasic {
            user: "puller".into(),
            password: "s3cret-pw".into(),
        })
    })
    .await
    .unwrap()
    .expect("docker-registry with TLS and basic auth (scripts/setup.d/20-image.sh)");
    let tmp = tempfile::tempdir().unwrap();
    write_image(&tmp.path().join("oci"));
    for repo in ["private/app:1", "private/other:1"] {
        reg.push(&tmp.path().join("oci"), "v1", repo, false)
            .expect("push the private image");
    }
    let bin = portcullis_bin(tmp.path());
    let cluster = Cluster::start(ClusterOptions {
        controller_manager: false,
        ..Default::default()
    })
    .await
    .expect("control plane");
    for ns in ["shop", "other"] {
        cluster.kubectl(&["create", "namespace", ns]).unwrap();
        cluster
            .kubectl(&["-n", ns, "create", "serviceaccount", "default"])
            .unwrap();
        cluster
            .kubectl(&[
                "-n",
                ns,
                "create",
                "secret",
                "docker-registry",
                "regcred",
                &format!("--docker-server={}", reg.addr),
                "--docker-username=puller",
                "--docker-password=s3cret-pw",
            ])
            .unwrap();
    }
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: passive, policy: default }\n").unwrap();
    let kube_settings = tmp.path().join("kubernetes.yaml");
    std::fs::write(
        &kube_settings,
        "reports: false\nevents: false\naudit: {enabled: false}\nleaderElection: {enabled: false}\npullSecrets: {namespaces: [shop]}\n",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let log_path = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve(
        Command::new(&bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            // The test registry listens on loopback, which `serve` refuses by default.
            .args(["--allow-loopback-registries", "-c"])
            .arg(&config)
            .arg("--vuln-db")
            .arg(tmp.path().join("vuln.db"))
            .arg("--registry-ca")
            .arg(reg.ca_pem.as_ref().expect("TLS registry CA"))
            .env("PORTCULLIS_DATA_DIR", &data)
            .env("PORTCULLIS_ADMIN_TOKEN", "e2e-token")
            // Offline: no sync from the public upstream sources.
            .env("PORTCULLIS_VULN_SYNC_INTERVAL", "0")
            .env("PORTCULLIS_KUBE_CONFIG", &kube_settings)
            .env("KUBECONFIG", &cluster.kubeconfig)
            .env("PORTCULLIS_LOG", "info")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("start portcullis serve"),
    );
    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let ca = data.join("tls/ca.crt");
    let start = Instant::now();
    while !(ca.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "serve did not start: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    register_webhook(&cluster, tmp.path(), port, &ca_pem);

    let pod = |ns: &str, name: &str, image: &str| {
        let f = tmp.path().join(format!("{ns}-{name}.yaml"));
        std::fs::write(
            &f,
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  automountServiceAccountToken: false\n  imagePullSecrets: [{{name: regcred}}]\n  containers: [{{name: c, image: \"{image}\"}}]\n"),
        )
        .unwrap();
        cluster.kubectl(&["create", "-f", f.to_str().unwrap()])
    };
    let app = format!("{}/private/app:1", reg.addr);
    let other = format!("{}/private/other:1", reg.addr);
    pod("shop", "app", &app).expect("passive mode admits");
    pod("other", "app", &other).expect("passive mode admits");

    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let images = || async {
        http.get(format!("https://127.0.0.1:{port}/v1/images"))
            .bearer_auth("e2e-token")
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    };
    // shop is covered: the Pod's pull secret lets the engine resolve, pull and analyse the private image.
    let start = Instant::now();
    loop {
        let list = images().await;
        let analysed = list
            .as_array()
            .into_iter()
            .flatten()
            .any(|i| i["status"] == "analyzed" && i.to_string().contains("private/app:1"));
        if analysed {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "private/app:1 never analysed: {list}\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // other is not covered: its secret is never read, so the registry refuses the anonymous lookup.
    let start = Instant::now();
    while !(log().contains("private/other:1") && log().contains("authentication required")) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no authentication failure logged for private/other:1:\n{}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let list = images().await;
    assert!(!list.to_string().contains("private/other"), "{list}");
}
