//! Portcullis's webhook server (the `portcullis_server` library that `portcullis serve` runs) registered BY
//! URL in the real kube-apiserver, with webhook configurations from `portcullis_server::webhook::render`.
//! What the API server returns is asserted: admitted, denied with Portcullis's message naming the CVEs,
//! mutated to digests, warnings surfaced, controller-created children per `skipOwned`, excluded namespaces,
//! failurePolicy with Portcullis stopped, and a serving-certificate rotation without failed requests.
//!
//! Verdicts come from an in-memory verdict source (`MemoryVerdicts`) standing in for analysis results; the
//! images themselves are never pulled (no Pods run here — objects only need to pass admission).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use portcullis_admission::{ImageVerdicts, MemoryVerdicts, VerdictEntry, VerdictsFile};
use portcullis_policy::{Action, EvalRow, FinalReason, Verdict};
use portcullis_server::webhook::{WebhookOptions, render};
use portcullis_server::{Parts, Running, ServerConfig, certs, start};
use portcullis_testkit::{Cluster, ClusterOptions};

const GOOD: &str = "127.0.0.1:5000/shop/good:1";
const BAD: &str = "127.0.0.1:5000/shop/bad:1";
const WARNED: &str = "127.0.0.1:5000/shop/warned:1";
const UNKNOWN: &str = "127.0.0.1:5000/shop/new:1";

fn digest(seed: &str) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    seed.hash(&mut h);
    let x = h.finish();
    format!("sha256:{x:016x}{x:016x}{x:016x}{x:016x}")
}

fn row(cve: &str, pkg: &str, action: Action) -> EvalRow {
    EvalRow {
        image_id: "img".into(),
        repo_tag: "x".into(),
        trigger_id: format!("{cve}+{pkg}"),
        gate: "vulnerabilities".into(),
        trigger: "package".into(),
        check_output: format!(
            "{} Vulnerability found in os package type (dpkg) - {pkg} ({cve})",
            if action == Action::Stop {
                "HIGH"
            } else {
                "MEDIUM"
            }
        ),
        gate_action: action,
        whitelisted: None,
        policy_id: "prod-policy".into(),
        rule_id: "r1".into(),
        whitelist_name: None,
        whitelist_item_id: None,
        platform: None,
    }
}

fn entry(image: &str, rows: Vec<EvalRow>) -> VerdictEntry {
    let final_action = rows
        .iter()
        .map(|r| r.gate_action)
        .max()
        .unwrap_or(Action::Go);
    VerdictEntry {
        image: image.into(),
        digest: Some(digest(image)),
        state: "analyzed".into(),
        reason: None,
        analysed_at: None,
        verdicts: HashMap::from([(
            "prod".to_string(),
            Verdict {
                bundle_id: "prod".into(),
                bundle_name: Some("prod".into()),
                bundle_digest: digest("bundle"),
                final_action,
                final_reason: FinalReason::PolicyEvaluation,
                policy_ids: vec!["prod-policy".into()],
                rows,
                not_evaluated: vec![],
                image_id: "img".into(),
                tag: "x".into(),
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

fn verdicts() -> Arc<MemoryVerdicts> {
    let file = VerdictsFile {
        images: vec![
            entry(GOOD, vec![]),
            entry(
                BAD,
                vec![
                    row("CVE-2023-0286", "openssl", Action::Stop),
                    row("CVE-2023-0464", "openssl", Action::Stop),
                ],
            ),
            entry(WARNED, vec![row("CVE-2024-0001", "zlib", Action::Warn)]),
        ],
    };
    Arc::new(MemoryVerdicts::from_file(file, "webhook e2e").expect("verdicts"))
}

const CONFIG: &str = r#"
exemptNamespaces: [kube-system, portcullis]
default: { mode: policy, policy: prod, mutate: true }
skipOwned: SKIP
selectors:
  - { resource: namespace, field: name, value: "passive-.*", mode: passive, policy: prod }
  - { resource: namespace, field: name, value: "analysis-.*", mode: analysis, policy: prod }
  - { resource: object, field: label, key: "portcullis.dev/breakglass", value: "true", mode: breakglass, policy: prod, trustObjectFields: true }
"#;

fn write_config(path: &Path, skip_owned: bool) {
    std::fs::write(path, CONFIG.replace("SKIP", &skip_owned.to_string())).unwrap();
}

struct Tls {
    dir: tempfile::TempDir,
}

impl Tls {
    /// Writes a fresh CA + serving certificate for 127.0.0.1; returns the CA PEM.
    fn rotate(&self) -> String {
        let b = certs::generate(
            "portcullis",
            "portcullis",
            &["127.0.0.1".into(), "localhost".into()],
            30,
        )
        .expect("certs");
        // Write key then cert via rename so the server never reads a half-written pair.
        for (name, text) in [("tls.key", &b.key_pem), ("tls.crt", &b.cert_pem)] {
            let tmp = self.dir.path().join(format!("{name}.new"));
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, self.dir.path().join(name)).unwrap();
        }
        b.ca_cert_pem
    }
    fn cert(&self) -> PathBuf {
        self.dir.path().join("tls.crt")
    }
    fn key(&self) -> PathBuf {
        self.dir.path().join("tls.key")
    }
}

async fn serve(
    tls: &Tls,
    config: &Path,
    port: u16,
    v: Arc<MemoryVerdicts>,
    client: kube::Client,
) -> Running {
    let mut cfg = ServerConfig::new(
        format!("127.0.0.1:{port}").parse().unwrap(),
        tls.cert(),
        tls.key(),
    );
    cfg.admission_config = Some(config.to_path_buf());
    cfg.reload_interval = Duration::from_millis(100);
    // Tags are answered from the verdict source; no registry is consulted.
    cfg.resolve_tags = false;
    let mut parts = Parts::new(v);
    parts.owners = Some(portcullis_kube::owners::ApiOwners::shared(client));
    start(cfg, parts).await.expect("start portcullis server")
}

fn register(cluster: &Cluster, port: u16, ca_pem: &str, failure_policy: &str) {
    let yaml = render(&WebhookOptions {
        name: "portcullis".into(),
        namespace: "portcullis".into(),
        service: "portcullis".into(),
        port: 443,
        url: Some(format!("https://127.0.0.1:{port}")),
        ca_bundle_pem: ca_pem.into(),
        timeout_seconds: 5,
        failure_policy: failure_policy.into(),
        exclude_namespaces: vec!["kube-system".into(), "portcullis".into()],
        mutating: true,
    })
    .expect("render webhook configuration");
    let f = cluster.dir().join("webhooks.yaml");
    std::fs::write(&f, yaml).unwrap();
    cluster
        .kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            f.to_str().unwrap(),
        ])
        .expect("register webhooks");
}

/// `kubectl create` of a manifest; Ok((stdout, stderr)) or Err(stderr).
fn create(cluster: &Cluster, manifest: &str, extra: &[&str]) -> Result<(String, String), String> {
    let kubectl = portcullis_testkit::tool("kubectl").unwrap();
    let f = tempfile::NamedTempFile::new_in(cluster.dir()).unwrap();
    std::fs::write(f.path(), manifest).unwrap();
    let out = std::process::Command::new(kubectl)
        .arg(format!("--kubeconfig={}", cluster.kubeconfig.display()))
        .args(["create", "-f"])
        .arg(f.path())
        .args(extra)
        .output()
        .unwrap();
    let (so, se) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    if out.status.success() {
        Ok((so, se))
    } else {
        Err(se)
    }
}

fn pod(ns: &str, name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  automountServiceAccountToken: false\n  containers: [{{name: c, image: \"{image}\"}}]\n"
    )
}

fn deployment(ns: &str, name: &str, image: &str, labels: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec:\n  replicas: 2\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      automountServiceAccountToken: false\n      containers: [{{name: c, image: \"{image}\"}}]\n"
    )
}

async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Pod in `prod` (policy mode, skipOwned on) running `image`, claiming `owner` as its controller.
fn owned_pod(name: &str, image: &str, (api, kind, owner, uid): (&str, &str, &str, &str)) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: prod\n  ownerReferences: [{{apiVersion: {api}, kind: {kind}, name: {owner}, uid: \"{uid}\", controller: true}}]\nspec:\n  automountServiceAccountToken: false\n  containers: [{{name: c, image: \"{image}\"}}]\n"
    )
}

/// skipOwned trusts only a verified owner: one that exists with the claimed uid, is a kind Portcullis checks,
/// and whose pod template runs the same images. Needs the `legacy` Deployment (image BAD, break-glass) and its
/// ReplicaSet in `prod`.
async fn forged_owners_earn_no_skip(cluster: &Cluster, client: &kube::Client) {
    use k8s_openapi::api::apps::v1::ReplicaSet;
    use k8s_openapi::api::core::v1::ConfigMap;
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "prod");
    let rs = sets
        .list(&ListParams::default().labels("app=legacy"))
        .await
        .unwrap()
        .items
        .remove(0);
    let (rs_name, rs_uid) = (rs.metadata.name.unwrap(), rs.metadata.uid.unwrap());
    let ghost = "0b4c5a1e-0000-4000-8000-000000000000";
    let denied = create(
        cluster,
        &owned_pod("forged", BAD, ("v1", "ConfigMap", "ghost", ghost)),
        &[],
    )
    .unwrap_err();
    assert!(
        denied.contains("CVE-2023-0286"),
        "an owner that does not exist earns no skip: {denied}"
    );
    let denied = create(
        cluster,
        &owned_pod("wrong-uid", BAD, ("apps/v1", "ReplicaSet", &rs_name, ghost)),
        &[],
    )
    .unwrap_err();
    assert!(denied.contains("CVE-2023-0286"), "uid must match: {denied}");
    let denied = create(
        cluster,
        &owned_pod(
            "other-image",
            UNKNOWN,
            ("apps/v1", "ReplicaSet", &rs_name, &rs_uid),
        ),
        &[],
    )
    .unwrap_err();
    assert!(
        denied.contains(UNKNOWN),
        "a real owner running other images earns no skip: {denied}"
    );
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "prod");
    let cm: ConfigMap = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}
    }))
    .unwrap();
    let cm_uid = maps
        .create(&Default::default(), &cm)
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    let denied = create(
        cluster,
        &owned_pod("cm-owned", BAD, ("v1", "ConfigMap", "owner", &cm_uid)),
        &[],
    )
    .unwrap_err();
    assert!(
        denied.contains("CVE-2023-0286"),
        "a kind Portcullis does not check earns no skip: {denied}"
    );
    create(
        cluster,
        &owned_pod("adopted", BAD, ("apps/v1", "ReplicaSet", &rs_name, &rs_uid)),
        &[],
    )
    .expect("a Pod of a real, admitted ReplicaSet with the same images is skipped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portcullis_webhook_in_the_real_api_server() {
    let cluster = Cluster::start(ClusterOptions::default())
        .await
        .expect("control plane");
    let client = cluster.client().await.unwrap();
    for ns in ["portcullis", "prod", "passive-team", "analysis-team"] {
        cluster.kubectl(&["create", "namespace", ns]).unwrap();
    }
    let tls = Tls {
        dir: tempfile::tempdir().unwrap(),
    };
    let ca = tls.rotate();
    let cfgdir = tempfile::tempdir().unwrap();
    let config = cfgdir.path().join("admission.yaml");
    write_config(&config, true);
    let port = portcullis_testkit::free_port().unwrap();
    let v = verdicts();
    let server = serve(&tls, &config, port, v.clone(), client.clone()).await;
    register(&cluster, port, &ca, "Fail");

    // --- policy mode (default) ---
    let (_, warn) =
        create(&cluster, &pod("prod", "good", GOOD), &[]).expect("analysed passing image admitted");
    assert!(warn.is_empty(), "no warnings for a clean image: {warn}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "prod");
    let stored = pods.get("good").await.unwrap();
    let image = stored.spec.unwrap().containers[0].image.clone().unwrap();
    assert_eq!(
        image,
        format!("{GOOD}@{}", digest(GOOD)),
        "mutated to the evaluated digest"
    );
    let ann = stored.metadata.annotations.unwrap_or_default();
    assert!(
        ann.values().any(|v| v.contains(GOOD)),
        "original image kept in an annotation: {ann:?}"
    );

    let denied = create(&cluster, &pod("prod", "bad", BAD), &[]).unwrap_err();
    assert!(
        denied.contains("admission webhook \"validate.portcullis.dev\" denied the request:"),
        "{denied}"
    );
    assert!(
        denied.contains(BAD) && denied.contains("CVE-2023-0286"),
        "names image and CVEs: {denied}"
    );

    let denied = create(&cluster, &pod("prod", "new", UNKNOWN), &[]).unwrap_err();
    assert!(
        denied.contains("denied the request") && denied.contains(UNKNOWN),
        "unanalysed image denied: {denied}"
    );

    let (_, warn) = create(&cluster, &pod("prod", "warned", WARNED), &[]).expect("WARN admits");
    assert!(
        warn.contains("Warning:")
            && warn.contains(WARNED)
            && warn.contains("WARN vulnerabilities.package")
            && warn.contains("zlib"),
        "warning surfaced by the API server: {warn}"
    );

    let cron = format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: nightly, namespace: prod}}\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: c, image: \"{BAD}\"}}]\n"
    );
    let denied = create(&cluster, &cron, &[]).unwrap_err();
    assert!(
        denied.contains("CVE-2023-0286"),
        "CronJob checked too: {denied}"
    );
    create(&cluster, &cron.replace(BAD, GOOD), &[]).expect("CronJob with a passing image admitted");

    // Server-side dry run goes through the webhook too, without side effects.
    let denied = create(&cluster, &pod("prod", "dry", BAD), &["--dry-run=server"]).unwrap_err();
    assert!(denied.contains("denied the request"), "{denied}");

    // --- passive mode: admits and queues analysis ---
    create(&cluster, &pod("passive-team", "new", UNKNOWN), &[])
        .expect("passive admits unknown images");
    assert!(
        v.queued().iter().any(|q| q.contains("shop/new")),
        "unknown image queued for analysis: {:?}",
        v.queued()
    );
    create(&cluster, &pod("passive-team", "bad", BAD), &[]).expect("passive never blocks");

    // --- analysis mode: analysed images only (whatever their verdict) ---
    let denied = create(&cluster, &pod("analysis-team", "new", UNKNOWN), &[]).unwrap_err();
    assert!(denied.contains("denied the request"), "{denied}");
    create(&cluster, &pod("analysis-team", "bad", BAD), &[])
        .expect("analysis mode admits analysed images");

    // --- excluded namespaces are never sent to Portcullis ---
    for ns in ["kube-system", "portcullis"] {
        create(&cluster, &pod(ns, "bad", BAD), &[]).unwrap_or_else(|e| panic!("{ns} blocked: {e}"));
    }

    // --- controller-created children: skipOwned=true ---
    // A break-glass label on the Deployment (not on its template) admits the Deployment; with skipOwned its
    // controller-created ReplicaSet and Pods are skipped, so they exist although their image fails.
    create(
        &cluster,
        &deployment("prod", "legacy", BAD, "portcullis.dev/breakglass: \"true\""),
        &[],
    )
    .expect("break-glass Deployment admitted");
    eventually(
        "ReplicaSet Pods of the skipped children",
        Duration::from_secs(60),
        || async {
            pods.list(&ListParams::default().labels("app=legacy"))
                .await
                .ok()
                .filter(|l| l.items.len() == 2)
        },
    )
    .await;
    forged_owners_earn_no_skip(&cluster, &client).await;

    // skipOwned=false: the controller's ReplicaSet is checked and denied; the Deployment reports it.
    write_config(&config, false);
    tokio::time::sleep(Duration::from_millis(600)).await;
    create(
        &cluster,
        &deployment(
            "prod",
            "legacy2",
            BAD,
            "portcullis.dev/breakglass: \"true\"",
        ),
        &[],
    )
    .expect("break-glass Deployment admitted");
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "prod");
    // The Deployment controller reports the denied ReplicaSet in its Progressing condition (reason
    // ReplicaSetCreateError).
    let msg = eventually(
        "ReplicaSetCreateError condition",
        Duration::from_secs(60),
        || async {
            deploys.get("legacy2").await.ok().and_then(|d| {
                d.status?
                    .conditions?
                    .into_iter()
                    .find(|c| c.reason.as_deref() == Some("ReplicaSetCreateError"))
                    .and_then(|c| c.message)
            })
        },
    )
    .await;
    assert!(
        msg.contains("denied the request") && msg.contains("CVE-2023-0286"),
        "{msg}"
    );
    write_config(&config, true);

    // --- certificate rotation without failed requests ---
    // Trust old + new CA, swap the serving certificate (the server reloads it), then trust only the new CA.
    let failures = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let prober = {
        let (client, failures, attempts, stop) = (
            client.clone(),
            failures.clone(),
            attempts.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            let pods: Api<Pod> = Api::namespaced(client, "prod");
            let body: Pod = serde_yaml_ng::from_str(&pod("prod", "probe", GOOD)).unwrap();
            let pp = kube::api::PostParams {
                dry_run: true,
                ..Default::default()
            };
            while !stop.load(Ordering::SeqCst) {
                attempts.fetch_add(1, Ordering::SeqCst);
                if let Err(e) = pods.create(&pp, &body).await {
                    eprintln!("probe failed during rotation: {e}");
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let new_dir = tempfile::tempdir().unwrap();
    let staging = Tls { dir: new_dir };
    let new_ca = staging.rotate();
    register(&cluster, port, &format!("{ca}{new_ca}"), "Fail");
    tokio::time::sleep(Duration::from_millis(800)).await;
    for name in ["tls.key", "tls.crt"] {
        let tmp = tls.dir.path().join(format!("{name}.new"));
        std::fs::copy(staging.dir.path().join(name), &tmp).unwrap();
        std::fs::rename(&tmp, tls.dir.path().join(name)).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    register(&cluster, port, &new_ca, "Fail");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::SeqCst);
    prober.await.unwrap();
    assert!(
        attempts.load(Ordering::SeqCst) > 20,
        "the prober ran throughout"
    );
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "no failed request during the rotation"
    );
    // Only the new CA is trusted now, and requests still pass: the server serves the new certificate.
    create(&cluster, &pod("prod", "after-rotation", GOOD), &[])
        .expect("served with the rotated certificate");

    // --- Portcullis stopped: failurePolicy decides ---
    server.shutdown().await;
    let e = create(&cluster, &pod("prod", "down", GOOD), &[]).unwrap_err();
    assert!(e.contains("failed calling webhook"), "Fail closes: {e}");
    create(&cluster, &pod("kube-system", "down", GOOD), &[]).expect("kube-system unaffected");
    register(&cluster, port, &new_ca, "Ignore");
    create(&cluster, &pod("prod", "down", GOOD), &[]).expect("Ignore opens");
    assert!(v.ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_reports_running_pods_that_would_now_be_denied() {
    use portcullis_kube::audit::{NamespaceCache, audit_pods, by_workload};
    let cluster = Cluster::start(ClusterOptions::default())
        .await
        .expect("control plane");
    let client = cluster.client().await.unwrap();
    for ns in ["strict", "relaxed"] {
        cluster.kubectl(&["create", "namespace", ns]).unwrap();
    }
    cluster
        .kubectl(&["label", "namespace", "strict", "security=strict"])
        .unwrap();
    // No webhook is registered: these Pods "ran" before the data changed.
    for (ns, name, image) in [
        ("strict", "good", GOOD),
        ("strict", "bad", BAD),
        ("strict", "new", UNKNOWN),
        ("relaxed", "bad", BAD),
        ("kube-system", "bad", BAD),
    ] {
        cluster
            .kubectl(&["-n", ns, "create", "serviceaccount", "default"])
            .ok();
        create(&cluster, &pod(ns, name, image), &[]).unwrap();
    }
    create(
        &cluster,
        &deployment("strict", "web", BAD, "tier: web"),
        &[],
    )
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "strict");
    eventually("Deployment Pods", Duration::from_secs(60), || async {
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .ok()
            .filter(|l| l.items.len() == 2)
    })
    .await;

    let (cache, run) = NamespaceCache::start(client.clone());
    let watcher = tokio::spawn(run);
    cache.ready().await;
    assert_eq!(
        cache
            .get("strict")
            .unwrap()
            .labels
            .get("security")
            .map(String::as_str),
        Some("strict")
    );
    let config = portcullis_admission::Config::parse(
        "exemptNamespaces: [kube-system]\ndefault: { mode: passive, policy: prod }\nselectors:\n  - { resource: namespace, field: label, key: security, value: strict, mode: policy, policy: prod }\n",
        "audit test",
    )
    .unwrap();
    let v = verdicts();
    let result = audit_pods(&client, &config, v.as_ref(), Some(&cache), None)
        .await
        .unwrap();
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.pods_checked, 7);
    let mut denied: Vec<_> = result
        .would_deny
        .iter()
        .map(|w| format!("{}/{}", w.namespace, w.pod))
        .collect();
    denied.sort();
    assert_eq!(denied.len(), 4, "{denied:?}");
    assert!(
        denied.contains(&"strict/bad".to_string()) && denied.contains(&"strict/new".to_string())
    );
    assert!(
        denied
            .iter()
            .filter(|d| d.starts_with("strict/web-"))
            .count()
            == 2
    );
    let bad = result.would_deny.iter().find(|w| w.pod == "bad").unwrap();
    assert!(bad.message.contains("CVE-2023-0286"), "{}", bad.message);
    assert!(v.queued().is_empty(), "an audit queues nothing");
    let groups = by_workload(&result);
    let rs_group = groups
        .iter()
        .find(|((_, k), _)| k.starts_with("ReplicaSet/web-"))
        .expect("Deployment Pods grouped by their ReplicaSet");
    assert_eq!(rs_group.1.len(), 2);

    // What would now be denied is written as one ImageReport per workload.
    let crds = portcullis_testkit::repo_root().join("deploy/crds/portcullis.yaml");
    cluster
        .kubectl(&["apply", "--server-side", "-f", crds.to_str().unwrap()])
        .unwrap();
    cluster
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/imagereports.portcullis.dev",
        ])
        .unwrap();
    let written =
        portcullis_kube::audit::write_audit_reports(&client, &result, "2026-01-01T00:00:00Z")
            .await
            .unwrap();
    assert_eq!(written, 3, "bad, new, and the ReplicaSet");
    let reports: Api<portcullis_kube::crd::ImageReport> = Api::namespaced(client.clone(), "strict");
    let list = reports.list(&ListParams::default()).await.unwrap();
    let rs = list
        .items
        .iter()
        .find(|r| r.spec.scope.kind == "ReplicaSet")
        .expect("ReplicaSet report");
    assert_eq!(rs.spec.scope.api_version, "apps/v1");
    assert_eq!(rs.spec.summary.fail, 2);
    assert!(
        rs.spec.results[0]
            .message
            .as_deref()
            .unwrap()
            .contains("CVE-2023-0286")
    );
    watcher.abort();
}
