//! The Helm chart's defaults end to end: the REAL `helm install` (then `helm upgrade`) of
//! `deploy/helm/portcullis` against the real kube-apiserver test control plane, with the chart's default
//! values plus only what the README's "Install in a cluster" section sets (the image, an external PostgreSQL
//! DSN — a real PostgreSQL here — and a pinned vulnerability data bundle made by `portcullis db export` from
//! `../shared/vulndata/{debian,nvd}`). There is no kubelet, so the test runs each of the two replicas the
//! Deployment asks for as the real `portcullis` binary with exactly the container's args and env, and its
//! volumes filled from the Secrets and ConfigMap the chart created in the cluster (read back from the API
//! server); the PVC holding the bundle is stood in for by a directory holding it.
//!
//! Reviews go to each replica over HTTPS as the API server sends them to the webhook Service: to the host
//! name `portcullis.portcullis.svc`, trusting exactly the `caBundle` of the webhook configuration. (The API
//! server cannot route to them itself here: with no kube-proxy it resolves Services through Endpoints, and
//! Endpoints cannot hold loopback addresses.) Asserted: a clean Debian image is admitted; a vulnerable one
//! is denied with a message naming container, image, CVE and fixed version; an image of a distro without
//! data is denied as "vulnerability data unavailable"; both replicas answer every review identically within
//! seconds of an analysis completing and of a bundle activation on the other replica; both accept the one
//! admin token from the chart's Secret; and `helm upgrade` keeps the webhooks' CA and the admin token.
//!
//! With no values at all (the first install line of the README), the chart deploys its own PostgreSQL
//! (StatefulSet, Service, generated password in the DSN Secret), and upgrade and uninstall keep the password.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{BIN, Serve, cli, fixture, shared};
use portcullis_testkit::{
    Cluster, ClusterOptions, LayerBuilder, Mode, OciWriter, PgServer, Registry, TestImage,
    free_port, repo_root, tool,
};
use serde_json::Value;

const NS: &str = "portcullis";
/// The webhook Service's host name, the one the chart's serving certificate is for.
const SERVICE_HOST: &str = "portcullis.portcullis.svc";

const BOOKWORM: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                        VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
const ACME: &str =
    "PRETTY_NAME=\"Acme Linux 7.1\"\nNAME=\"Acme Linux\"\nVERSION_ID=\"7.1\"\nID=acme\n";

fn dpkg_entry(name: &str, source: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Installed-Size: 100\nMaintainer: Someone <someone@example.org>\nArchitecture: amd64\n\
         Source: {source}\nVersion: {version}\nDescription: test package\n\n"
    )
}

/// Pushes a one-layer image with this os-release and dpkg status to the registry as `repo_tag`.
fn push_image(reg: &Registry, dir: &Path, os_release: &str, status: &str, repo_tag: &str) {
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let mut layer = LayerBuilder::new();
    layer
        .file("etc/os-release", os_release)
        .file("var/lib/dpkg/status", status);
    let m = w
        .image(&TestImage::new(vec![layer.tar()]))
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
    reg.push(dir, "v1", repo_tag, false)
        .expect("push the test image");
}

/// Runs the real helm with the cluster's kubeconfig; returns stdout, panics with stderr.
fn helm(cluster: &Cluster, home: &Path, args: &[&str]) -> String {
    let out = Command::new(tool("helm").expect("helm (built by scripts/cluster-build)"))
        .env("KUBECONFIG", &cluster.kubeconfig)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .current_dir(repo_root())
        .args(args)
        .output()
        .expect("run helm");
    assert!(
        out.status.success(),
        "helm {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl get` of one object as JSON.
fn get(cluster: &Cluster, kind: &str, name: &str) -> Value {
    let out = cluster
        .kubectl(&["-n", NS, "get", kind, name, "-o", "json"])
        .unwrap_or_else(|e| panic!("kubectl get {kind} {name}: {e}"));
    serde_json::from_str(&out).unwrap()
}

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
        .expect("base64")
}

/// A key of a Secret in the release namespace, decoded.
fn secret_key(cluster: &Cluster, name: &str, key: &str) -> Vec<u8> {
    let s = get(cluster, "secret", name);
    b64(&s["data"][key])
}

/// One replica of the Deployment, run as the real binary.
struct Replica {
    _serve: Serve,
    port: u16,
    log: PathBuf,
}

/// Where a container path lives for replica `root`: under the replica's directory when a volume is mounted
/// there (the longest mount path wins), else unchanged.
fn local_path(root: &Path, mounts: &[String], path: &str) -> String {
    let m = mounts
        .iter()
        .filter(|m| path == m.as_str() || path.starts_with(&format!("{m}/")))
        .max_by_key(|m| m.len());
    match m {
        Some(_) => root
            .join(path.trim_start_matches('/'))
            .display()
            .to_string(),
        None => path.to_string(),
    }
}

/// Starts replica `index` with the Deployment's container args and env, its volumes filled from the cluster.
fn start_replica(
    cluster: &Cluster,
    dep: &Value,
    index: usize,
    root: &Path,
    bundle: &Path,
    extra_args: &[String],
) -> Replica {
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let volumes = pod["volumes"].as_array().unwrap();
    let mut mounts = Vec::new();
    for m in c["volumeMounts"].as_array().unwrap() {
        let path = m["mountPath"].as_str().unwrap().to_string();
        let dir = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        let v = volumes
            .iter()
            .find(|v| v["name"] == m["name"])
            .unwrap_or_else(|| panic!("no volume for mount {m}"));
        let items = |data: &serde_json::Map<String, Value>, decode: bool, src: &Value| {
            let pairs: Vec<(String, String)> = match src["items"].as_array() {
                Some(items) => items
                    .iter()
                    .map(|i| {
                        (
                            i["key"].as_str().unwrap().to_string(),
                            i["path"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect(),
                None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
            };
            for (key, file) in pairs {
                let value = &data[&key];
                let bytes = if decode {
                    b64(value)
                } else {
                    value.as_str().unwrap().as_bytes().to_vec()
                };
                std::fs::write(dir.join(file), bytes).unwrap();
            }
        };
        if let Some(s) = v.get("secret") {
            let secret = get(cluster, "secret", s["secretName"].as_str().unwrap());
            items(secret["data"].as_object().unwrap(), true, s);
        } else if let Some(cm) = v.get("configMap") {
            let map = get(cluster, "configmap", cm["name"].as_str().unwrap());
            items(map["data"].as_object().unwrap(), false, cm);
        } else if v.get("persistentVolumeClaim").is_some() {
            // The stand-in for the volume holding the vulnerability data bundle.
            std::fs::copy(bundle, dir.join(bundle.file_name().unwrap())).unwrap();
        } else {
            assert!(v.get("emptyDir").is_some(), "unexpected volume {v}");
        }
        mounts.push(path);
    }

    let port = free_port().unwrap();
    let args: Vec<String> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            if a.starts_with("--listen=") {
                return format!("--listen=127.0.0.1:{port}");
            }
            match a.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => {
                    format!("{flag}={}", local_path(root, &mounts, value))
                }
                _ => local_path(root, &mounts, a),
            }
        })
        .collect();
    let log = root.join("serve.log");
    let mut cmd = Command::new(BIN);
    cmd.args(&args)
        .args(extra_args)
        // The in-cluster service account, stood in for by the test cluster's kubeconfig.
        .env("KUBECONFIG", &cluster.kubeconfig)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for e in c["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = if let Some(v) = e["value"].as_str() {
            local_path(root, &mounts, v)
        } else if let Some(r) = e["valueFrom"].get("secretKeyRef") {
            String::from_utf8(secret_key(
                cluster,
                r["name"].as_str().unwrap(),
                r["key"].as_str().unwrap(),
            ))
            .unwrap()
        } else {
            match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some("metadata.name") => format!("portcullis-{index}"),
                Some("metadata.namespace") => NS.to_string(),
                other => panic!("unexpected env source {other:?} in {e}"),
            }
        };
        cmd.env(name, value);
    }
    Replica {
        _serve: Serve(cmd.spawn().expect("start portcullis serve")),
        port,
        log,
    }
}

/// An HTTPS client that reaches `SERVICE_HOST` at 127.0.0.1 and trusts only `ca_pem`.
fn service_client(ca_pem: &[u8]) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).unwrap())
        .resolve(SERVICE_HOST, ([127, 0, 0, 1], 0).into())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn url(r: &Replica, path: &str) -> String {
    format!("https://{SERVICE_HOST}:{}{path}", r.port)
}

fn wait_ready(http: &reqwest::blocking::Client, r: &Replica) {
    let t = Instant::now();
    loop {
        if let Ok(resp) = http.get(url(r, "/readyz")).send()
            && resp.status() == 200
        {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "replica never became ready:\n{}",
            std::fs::read_to_string(&r.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The captured AdmissionReview of Pod `solo` (container `solo`), its image rewritten.
fn review(image: &str, uid: &str) -> Value {
    let mut review: Value = serde_json::from_slice(
        &std::fs::read(fixture("014-validate-create-pod-main-solo.json")).unwrap(),
    )
    .unwrap();
    for c in review["request"]["object"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
    {
        c["image"] = Value::String(image.to_string());
    }
    review["request"]["uid"] = Value::String(uid.to_string());
    review
}

/// What a replica answers to a review: (allowed, message, warnings).
fn answer(http: &reqwest::blocking::Client, r: &Replica, review: &Value) -> (bool, String, String) {
    let v: Value = http
        .post(url(r, "/validate?timeout=10s"))
        .json(review)
        .send()
        .and_then(|x| x.json())
        .unwrap_or_else(|e| {
            panic!(
                "/validate: {e}\n{}",
                std::fs::read_to_string(&r.log).unwrap_or_default()
            )
        });
    let resp = &v["response"];
    (
        resp["allowed"].as_bool().expect("allowed"),
        resp["status"]["message"].as_str().unwrap_or("").to_string(),
        resp["warnings"].to_string(),
    )
}

/// Posts `review` to `first` until its answer satisfies `done` (180 s: analysis runs meanwhile), then to
/// `other` until it answers the same; returns the answer and how long `other` took to agree.
fn until_agreed(
    http: &reqwest::blocking::Client,
    first: &Replica,
    other: &Replica,
    review: &Value,
    done: impl Fn(&(bool, String, String)) -> bool,
) -> ((bool, String, String), Duration) {
    let t = Instant::now();
    let a = loop {
        let a = answer(http, first, review);
        if done(&a) {
            break a;
        }
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "never got the expected answer; last: {a:?}\nreplica log:\n{}",
            std::fs::read_to_string(&first.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let t = Instant::now();
    loop {
        let b = answer(http, other, review);
        if b == a {
            return (a, t.elapsed());
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the replicas disagree after 10 s:\n{a:?}\n{b:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn helm_install_defaults_two_replicas_agree_and_upgrade_keeps_ca_and_token() {
    let tmp = tempfile::tempdir().unwrap();

    // Images in a real registry: Debian 12 with a fixable glibc CVE, a clean one, and a distro without data.
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let images = [
        (
            "vulnerable",
            BOOKWORM,
            dpkg_entry("libc6", "glibc", "2.36-9+deb12u2"),
        ),
        (
            "clean",
            BOOKWORM,
            dpkg_entry("base-files", "base-files", "12.4+deb12u5"),
        ),
        ("acme", ACME, dpkg_entry("libc6", "glibc", "2.36-9+deb12u2")),
    ];
    let mut refs = Vec::new();
    for (name, os, status) in &images {
        let repo_tag = format!("e2e/{name}:1");
        push_image(&reg, &tmp.path().join(name), os, status, &repo_tag);
        refs.push(format!("{}/{repo_tag}", reg.addr));
    }
    let (vulnerable, clean, acme) = (&refs[0], &refs[1], &refs[2]);

    // The pinned vulnerability data bundle (`db export`), from Debian's tracker records and NVD's scores.
    let seed = tmp.path().join("seed.db");
    for source in ["vulndata/debian", "vulndata/nvd/vuln-list-nvd"] {
        let dir = shared().join(source);
        let (code, _, err) = cli(
            &[],
            &[
                "db",
                "import",
                dir.to_str().unwrap(),
                "--db",
                seed.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "db import {source}: {err}");
    }
    let bundle = tmp.path().join("portcullis-vulndb.tar");
    let (code, _, err) = cli(
        &[],
        &[
            "db",
            "export",
            bundle.to_str().unwrap(),
            "--db",
            seed.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "db export: {err}");

    let pg = PgServer::start().expect("PostgreSQL (scripts/setup.d)");
    let dsn = pg.create_database("portcullis").expect("create database");
    let cluster = start_cluster();

    // The README's "Install in a cluster" values and command, with the test's DSN.
    let (readme_values, install) = readme_install();
    let values = tmp.path().join("values.yaml");
    std::fs::write(&values, readme_values.replace(README_DSN, &dsn)).unwrap();
    let helm_home = tmp.path().join("helm");
    let values_arg = values.to_str().unwrap();
    let install: Vec<&str> = install
        .split_whitespace()
        .skip(1)
        .map(|a| if a == "values.yaml" { values_arg } else { a })
        .collect();
    assert_eq!(install[..2], ["install", "portcullis"], "{install:?}");
    let out = helm(&cluster, &helm_home, &install);
    assert!(out.contains("STATUS: deployed"), "{out}");

    let dep = get(&cluster, "deployment", "portcullis");
    assert_eq!(dep["spec"]["replicas"], 2, "two replicas by default");
    let vwc: Value = serde_json::from_str(
        &cluster
            .kubectl(&[
                "get",
                "validatingwebhookconfiguration",
                "portcullis",
                "-o",
                "json",
            ])
            .unwrap(),
    )
    .unwrap();
    let ca_bundle = vwc["webhooks"][0]["clientConfig"]["caBundle"].clone();
    assert_eq!(
        vwc["webhooks"][0]["clientConfig"]["service"]["name"],
        "portcullis"
    );
    let token = secret_key(&cluster, "portcullis-admin-token", "token");
    assert!(token.len() >= 32, "a generated admin token");
    let tls_before = get(&cluster, "secret", "portcullis-tls")["data"].clone();

    // Loopback registries are reached only when named (the registry here is on 127.0.0.1).
    let extra = vec![format!("--insecure-registry={}", reg.addr)];
    let replicas: Vec<Replica> = (0..2)
        .map(|i| {
            start_replica(
                &cluster,
                &dep,
                i,
                &tmp.path().join(format!("replica-{i}")),
                &bundle,
                &extra,
            )
        })
        .collect();
    let http = service_client(&b64(&ca_bundle));
    for r in &replicas {
        wait_ready(&http, r);
    }
    let (r0, r1) = (&replicas[0], &replicas[1]);

    // One admin token, from the chart's Secret, for every replica.
    for r in &replicas {
        let ok = http
            .get(url(r, "/v1/system/status"))
            .bearer_auth(String::from_utf8_lossy(&token).trim())
            .send()
            .unwrap();
        assert_eq!(ok.status(), 200, "the Secret's admin token is accepted");
        let no = http
            .get(url(r, "/v1/system/status"))
            .bearer_auth("wrong")
            .send()
            .unwrap();
        assert_eq!(no.status(), 401);
    }

    // Vulnerable: denied, naming container, image, CVE and fixed version; both replicas agree.
    let (a, lag_vuln) = until_agreed(&http, r0, r1, &review(vulnerable, "u-vuln"), |a| {
        a.1.contains("CVE-2023-4911")
    });
    assert!(!a.0, "{a:?}");
    for want in [
        "container \"solo\"",
        vulnerable.as_str(),
        "CVE-2023-4911",
        "fixed in 2.36-9+deb12u3",
    ] {
        assert!(a.1.contains(want), "{want} not in {:?}", a.1);
    }
    // A distro without vulnerability data: denied as such, on both replicas (analysed by either one).
    let (a, lag_acme) = until_agreed(&http, r1, r0, &review(acme, "u-acme"), |a| {
        a.1.contains("vulnerability_data_unavailable")
    });
    assert!(!a.0, "{a:?}");
    assert!(
        a.1.contains("Feed data unavailable") && a.1.contains("acme"),
        "{:?}",
        a.1
    );
    // Clean: admitted by both.
    let (a, lag_clean) = until_agreed(&http, r0, r1, &review(clean, "u-clean"), |a| a.0);
    assert!(a.0, "{a:?}");
    eprintln!(
        "replica agreement after analysis: vulnerable {lag_vuln:?}, acme {lag_acme:?}, clean {lag_clean:?}"
    );

    // Operable: each replica's /metrics shows the queue, analysis durations, tag resolution latency, the
    // data's age and decisions by mode and outcome.
    let mut analyses = 0.0;
    for r in &replicas {
        // The gauges refresh every 2 s: wait for the drained queue to show.
        let t = Instant::now();
        let text = loop {
            let text = http.get(url(r, "/metrics")).send().unwrap().text().unwrap();
            if text.contains("portcullis_analysis_queue_depth{state=\"claimed\"} 0")
                || t.elapsed() > Duration::from_secs(10)
            {
                break text;
            }
            std::thread::sleep(Duration::from_millis(300));
        };
        for want in [
            "portcullis_analysis_queue_depth{state=\"queued\"} 0",
            "portcullis_analysis_queue_depth{state=\"claimed\"} 0",
            "portcullis_admission_decisions_total{endpoint=\"validate\",mode=\"policy\",result=\"denied\"}",
            "portcullis_admission_decisions_total{endpoint=\"validate\",mode=\"policy\",result=\"allowed\"}",
        ] {
            assert!(text.contains(want), "{want} not in /metrics:\n{text}");
        }
        assert!(
            metric(&text, "portcullis_tag_resolve_duration_seconds_count") >= 1.0,
            "{text}"
        );
        let age = metric(&text, "portcullis_vulnerability_data_age_seconds");
        assert!(
            (0.0..600.0).contains(&age),
            "the bundle was exported just now: {age}"
        );
        // A replica that analysed nothing has no sample (the other one claimed every job): zero.
        analyses += text
            .lines()
            .find_map(|l| {
                l.strip_prefix("portcullis_analysis_duration_seconds_count{result=\"ok\"} ")
            })
            .map_or(0.0, |v| v.trim().parse().unwrap_or(0.0));
    }
    assert!(
        analyses >= 3.0,
        "three images analysed between the replicas: {analyses}"
    );

    // A bundle activated through one replica's API changes the other's answers within seconds.
    let lenient = serde_json::json!({
        "id": "e2e-lenient", "name": "e2e lenient", "version": "1_0", "comment": "",
        "whitelisted_images": [], "blacklisted_images": [], "whitelists": [],
        "mappings": [{"id": "m1", "name": "all", "registry": "*", "repository": "*",
                      "image": {"type": "tag", "value": "*"}, "policy_id": "p1", "whitelist_ids": []}],
        "policies": [{"id": "p1", "name": "p1", "version": "1_0", "comment": "", "rules": [
            {"id": "r1", "gate": "vulnerabilities", "trigger": "package", "action": "WARN",
             "params": [{"name": "package_type", "value": "all"},
                        {"name": "severity_comparison", "value": ">="},
                        {"name": "severity", "value": "high"}]}]}]
    });
    let auth = String::from_utf8_lossy(&token).trim().to_string();
    let added = http
        .post(url(r0, "/v1/policies"))
        .bearer_auth(&auth)
        .json(&lenient)
        .send()
        .unwrap();
    assert!(added.status().is_success(), "{:?}", added.text());
    let activated = http
        .put(url(r0, "/v1/policies/e2e-lenient"))
        .bearer_auth(&auth)
        .send()
        .unwrap();
    assert!(activated.status().is_success(), "{:?}", activated.text());
    let activated_at = Instant::now();
    let (a, lag_bundle) = until_agreed(&http, r1, r0, &review(vulnerable, "u-vuln2"), |a| a.0);
    assert!(a.0 && a.2.contains("CVE-2023-4911"), "{a:?}");
    let seen = activated_at.elapsed();
    assert!(
        seen < Duration::from_secs(10),
        "the other replica took {seen:?} to apply the activation"
    );
    eprintln!(
        "bundle activated on replica 0 answered by replica 1 after {seen:?}, then both agree within {lag_bundle:?}"
    );

    // An upgrade (re-rendering the chart) keeps the webhooks' CA, the serving certificate and the admin token.
    let out = helm(
        &cluster,
        &helm_home,
        &[
            "upgrade",
            "portcullis",
            "deploy/helm/portcullis",
            "--namespace",
            NS,
            "-f",
            values_arg,
        ],
    );
    assert!(out.contains("REVISION: 2"), "{out}");
    for kind in [
        "validatingwebhookconfiguration",
        "mutatingwebhookconfiguration",
    ] {
        let v: Value = serde_json::from_str(
            &cluster
                .kubectl(&["get", kind, "portcullis", "-o", "json"])
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            v["webhooks"][0]["clientConfig"]["caBundle"], ca_bundle,
            "{kind}: helm upgrade must not rotate the CA"
        );
    }
    assert_eq!(
        get(&cluster, "secret", "portcullis-tls")["data"],
        tls_before,
        "serving certificate kept"
    );
    assert_eq!(
        secret_key(&cluster, "portcullis-admin-token", "token"),
        token,
        "admin token kept"
    );
    // Measured use, for the chart's resource requests: each replica's peak resident memory.
    for (i, r) in replicas.iter().enumerate() {
        let status = std::fs::read_to_string(format!("/proc/{}/status", r._serve.0.id()))
            .unwrap_or_default();
        let peak = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .unwrap_or("VmHWM: unknown");
        eprintln!("replica {i} peak memory {peak}");
    }
    drop(replicas);
}

/// The value of the first sample whose name (with labels) is `name`; panics when there is none.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in /metrics:\n{text}"))
}

/// The DSN placeholder of the README's values.
const README_DSN: &str = "postgres://portcullis:CHANGE-ME@db.example:5432/portcullis";

/// The values file and the `helm install … -f values.yaml` command of the README's "Install in a cluster"
/// section (the YAML block after the `helm-e2e` marker and the install line after it).
fn readme_install() -> (String, String) {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let section = readme
        .split("<!-- helm-e2e:")
        .nth(1)
        .expect("README: the helm-e2e marker of \"Install in a cluster\"");
    let values = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("README: the values.yaml block");
    assert!(
        values.contains(README_DSN),
        "README DSN placeholder changed"
    );
    let install = section
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("helm install") && l.ends_with("-f values.yaml"))
        .expect("README: the helm install line with -f values.yaml");
    (values.to_string(), install.to_string())
}

/// Starts the control plane from this synchronous test.
fn start_cluster() -> Cluster {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(Cluster::start(ClusterOptions {
            controller_manager: false,
            ..Default::default()
        }))
        .expect("start the control plane (scripts/cluster-build)")
}

#[test]
fn helm_install_with_plain_defaults_deploys_postgresql_and_upgrade_keeps_its_password() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = start_cluster();
    let home = tmp.path().join("helm");
    let install = [
        "install",
        "portcullis",
        "deploy/helm/portcullis",
        "--namespace",
        NS,
        "--create-namespace",
    ];
    assert!(helm(&cluster, &home, &install).contains("STATUS: deployed"));

    // The chart's PostgreSQL: a StatefulSet of the official image with a volume claim, behind a Service the
    // DSN names, with a generated password.
    let sts = get(&cluster, "statefulset", "portcullis-postgresql");
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"][0]["image"],
        "docker.io/library/postgres:17"
    );
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"],
        "data"
    );
    get(&cluster, "service", "portcullis-postgresql");
    let password = secret_key(&cluster, "portcullis-postgresql", "password");
    let dsn = String::from_utf8(secret_key(&cluster, "portcullis-postgresql", "dsn")).unwrap();
    assert!(password.len() >= 32, "a generated password");
    assert_eq!(
        dsn,
        format!(
            "postgres://portcullis:{}@portcullis-postgresql.portcullis.svc:5432/portcullis",
            String::from_utf8_lossy(&password)
        )
    );
    let dep = get(&cluster, "deployment", "portcullis");
    let env = dep["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains(r#""name":"PORTCULLIS_STORE_DSN","valueFrom":{"secretKeyRef":{"key":"dsn","name":"portcullis-postgresql"}}"#),
        "{env}"
    );
    let token = secret_key(&cluster, "portcullis-admin-token", "token");
    let tls = get(&cluster, "secret", "portcullis-tls")["data"].clone();

    let upgrade = [
        "upgrade",
        "portcullis",
        "deploy/helm/portcullis",
        "--namespace",
        NS,
    ];
    assert!(helm(&cluster, &home, &upgrade).contains("REVISION: 2"));
    assert_eq!(
        secret_key(&cluster, "portcullis-postgresql", "password"),
        password,
        "the database password is kept (the volume was initialised with it)"
    );
    assert_eq!(
        secret_key(&cluster, "portcullis-admin-token", "token"),
        token
    );
    assert_eq!(get(&cluster, "secret", "portcullis-tls")["data"], tls);

    // Uninstalling keeps the password Secret, since the database's volume outlives the release.
    let out = helm(
        &cluster,
        &home,
        &["uninstall", "portcullis", "--namespace", NS],
    );
    assert!(out.contains("portcullis-postgresql"), "{out}");
    assert_eq!(
        secret_key(&cluster, "portcullis-postgresql", "password"),
        password
    );
}
