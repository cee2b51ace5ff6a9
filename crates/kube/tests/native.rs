//! Kubernetes-native parts against the real API server: pull-secret credentials, ContainerAdmissionPolicy
//! watch + status, ImageReports, denial Events and Lease leader election.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ObjectReference, PodSpec};
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use portcullis_kube::cap::{PolicySet, watch_policies};
use portcullis_kube::crd::{ContainerAdmissionPolicy, ImageReport, ReportScope};
use portcullis_kube::leader::LeaderElector;
use portcullis_kube::pullsecrets::pod_pull_credentials;
use portcullis_kube::report::{DenialEvents, ImageOutcome, apply_report, build_report};
use portcullis_testkit::{Cluster, ClusterOptions, repo_root, shared};
use serde_json::json;

async fn api_only() -> Cluster {
    Cluster::start(ClusterOptions {
        controller_manager: false,
        ..Default::default()
    })
    .await
    .expect("start control plane")
}

fn apply_crds(cluster: &Cluster) {
    let crds = repo_root().join("deploy/crds/portcullis.yaml");
    cluster
        .kubectl(&["apply", "--server-side", "-f", crds.to_str().unwrap()])
        .expect("apply CRDs");
    cluster
        .kubectl(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/containeradmissionpolicies.portcullis.dev",
            "crd/imagereports.portcullis.dev",
        ])
        .expect("CRDs established");
}

async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn dockerconfig(registry: &str, user: &str, pass: &str) -> String {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    json!({"auths": {registry: {"auth": auth}}}).to_string()
}

#[tokio::test]
async fn pull_credentials_come_from_pod_and_service_account_secrets() {
    // The Pod exactly as the captured AdmissionReview carries it: namespace shop, serviceAccountName
    // builder, imagePullSecrets [regcred].
    let review: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            shared().join("fixtures/admission-review/003-validate-create-pod-main-web.json"),
        )
        .expect("shared fixture (set PORTCULLIS_SHARED)"),
    )
    .unwrap();
    let spec: PodSpec =
        serde_json::from_value(review["request"]["object"]["spec"].clone()).unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("builder"));

    let cluster = api_only().await;
    cluster.kubectl(&["create", "namespace", "shop"]).unwrap();
    let kc = |args: &[&str]| cluster.kubectl(args).expect("kubectl");
    let tmp = cluster.dir().join("cfg.json");
    std::fs::write(&tmp, dockerconfig("127.0.0.1:5000", "puller", "pullpw")).unwrap();
    kc(&[
        "-n",
        "shop",
        "create",
        "secret",
        "generic",
        "regcred",
        "--type=kubernetes.io/dockerconfigjson",
        &format!("--from-file=.dockerconfigjson={}", tmp.display()),
    ]);
    std::fs::write(
        &tmp,
        dockerconfig("https://index.docker.io/v1/", "hub", "hubpw"),
    )
    .unwrap();
    kc(&[
        "-n",
        "shop",
        "create",
        "secret",
        "generic",
        "sa-hub",
        "--type=kubernetes.io/dockerconfigjson",
        &format!("--from-file=.dockerconfigjson={}", tmp.display()),
    ]);
    kc(&[
        "-n",
        "shop",
        "create",
        "secret",
        "generic",
        "not-a-pull-secret",
        "--from-literal=x=y",
    ]);
    kc(&["-n", "shop", "create", "serviceaccount", "builder"]);
    kc(&[
        "-n",
        "shop",
        "patch",
        "serviceaccount",
        "builder",
        "--type=merge",
        "-p",
        r#"{"imagePullSecrets":[{"name":"sa-hub"},{"name":"not-a-pull-secret"},{"name":"gone"},{"name":"regcred"}]}"#,
    ]);

    let client = cluster.client().await.unwrap();
    let got = pod_pull_credentials(&client, "shop", &spec).await.unwrap();
    let creds: Vec<_> = got
        .credentials
        .iter()
        .map(|c| {
            (
                c.registry.as_str(),
                c.username.as_str(),
                c.password.as_str(),
            )
        })
        .collect();
    assert_eq!(
        creds,
        [
            ("127.0.0.1:5000", "puller", "pullpw"),
            ("docker.io", "hub", "hubpw")
        ],
        "Pod's secret first, then the ServiceAccount's; duplicates once"
    );
    assert_eq!(got.warnings.len(), 2, "{:#?}", got.warnings);
    assert!(
        got.warnings[0].contains("shop/not-a-pull-secret")
            && got.warnings[0].contains("type \"Opaque\"")
    );
    assert!(got.warnings[1].contains("pull secret shop/gone not found"));

    // Without RBAC on Secrets (an identity granted only ServiceAccount reads), the lookup degrades to
    // warnings that say which Helm value grants access — nothing is read, nothing fails.
    kc(&[
        "-n",
        "shop",
        "create",
        "role",
        "sa-reader",
        "--verb=get",
        "--resource=serviceaccounts",
    ]);
    kc(&[
        "-n",
        "shop",
        "create",
        "rolebinding",
        "sa-reader",
        "--role=sa-reader",
        "--user=limited",
    ]);
    let mut cfg = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&cluster.kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    cfg.auth_info.impersonate = Some("limited".into());
    let limited = kube::Client::try_from(cfg).unwrap();
    let got = pod_pull_credentials(&limited, "shop", &spec).await.unwrap();
    assert!(got.credentials.is_empty());
    assert!(
        got.warnings.iter().any(
            |w| w.contains("not allowed to read pull secret shop/regcred")
                && w.contains("pullSecrets.namespaces")
        ),
        "{:#?}",
        got.warnings
    );
}

#[tokio::test]
async fn container_admission_policies_are_watched_applied_and_get_status() {
    let cluster = api_only().await;
    apply_crds(&cluster);
    let client = cluster.client().await.unwrap();
    let api: Api<ContainerAdmissionPolicy> = Api::all(client.clone());

    // The API server enforces the shipped schema.
    let raw = cluster.dir().join("bad.yaml");
    std::fs::write(
        &raw,
        "apiVersion: portcullis.dev/v1beta1\nkind: ContainerAdmissionPolicy\nmetadata: {name: schema-bad}\nspec: {rules: [{action: Deny}]}\n",
    )
    .unwrap();
    let e = cluster
        .kubectl(&["create", "-f", raw.to_str().unwrap()])
        .unwrap_err();
    assert!(e.contains("Unsupported value: \"Deny\""), "{e}");

    let set = PolicySet::default();
    let watcher = tokio::spawn(watch_policies(client.clone(), set.clone(), Vec::new()));

    let good: ContainerAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "portcullis.dev/v1beta1", "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": "reject-failed"},
        "spec": {"selector": "all()", "namespaceSelector": "all()", "order": 10,
                 "rules": [{"action": "Allow", "imageScanStatus": {"operator": "IsOneOf", "values": ["Pass", "Warn"]}},
                           {"action": "Reject"}]}
    }))
    .unwrap();
    let broken: ContainerAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "portcullis.dev/v1beta1", "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": "only-our-registry"},
        "spec": {"order": 1, "rules": [{"action": "Reject", "imagePath": {"operator": "IsNoneOf", "values": ["^registry.local/(.*"]}}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &good).await.unwrap();
    api.create(&PostParams::default(), &broken).await.unwrap();

    let status_of = |name: &'static str| {
        let api = api.clone();
        async move {
            api.get(name)
                .await
                .ok()
                .and_then(|p| p.status)
                .filter(|s| !s.conditions.is_empty())
        }
    };
    let s = eventually("status of the valid policy", || status_of("reject-failed")).await;
    assert_eq!(s.conditions[0].status, "True");
    assert!(s.errors.is_empty());
    let s = eventually("status of the broken policy", || {
        status_of("only-our-registry")
    })
    .await;
    assert_eq!(s.conditions[0].status, "False");
    assert_eq!(s.conditions[0].reason, "Invalid");
    assert_eq!(s.errors.len(), 1);
    assert!(
        s.errors[0].starts_with("rules[0].imagePath.values[0]: invalid regular expression"),
        "{:?}",
        s.errors
    );
    let names = |set: &PolicySet| {
        set.snapshot()
            .iter()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect::<Vec<_>>()
    };
    eventually("only the valid policy in force", || async {
        (names(&set) == ["reject-failed"]).then_some(())
    })
    .await;

    // Fixing the policy applies it without a restart, ordered by `order`.
    let mut fixed = api.get("only-our-registry").await.unwrap();
    fixed.spec.rules[0].image_path.as_mut().unwrap().values = vec!["^registry.local/.*".into()];
    api.replace("only-our-registry", &PostParams::default(), &fixed)
        .await
        .unwrap();
    eventually("fixed policy in force, lowest order first", || async {
        (names(&set) == ["only-our-registry", "reject-failed"]).then_some(())
    })
    .await;
    let s = eventually("fixed policy status", || async {
        status_of("only-our-registry")
            .await
            .filter(|s| s.conditions[0].status == "True")
    })
    .await;
    assert!(s.errors.is_empty());
    assert_eq!(s.observed_generation, Some(2));

    // A selector the evaluator cannot parse is reported by the evaluator's own parser and not applied.
    let bad_selector: ContainerAdmissionPolicy = serde_json::from_value(json!({
        "apiVersion": "portcullis.dev/v1beta1", "kind": "ContainerAdmissionPolicy",
        "metadata": {"name": "bad-selector"},
        "spec": {"selector": "env == ", "rules": [{"action": "Reject"}]}
    }))
    .unwrap();
    api.create(&PostParams::default(), &bad_selector)
        .await
        .unwrap();
    let s = eventually("status of the bad selector", || status_of("bad-selector")).await;
    assert_eq!(s.conditions[0].status, "False");
    assert!(s.errors[0].starts_with("evaluator: "), "{:?}", s.errors);
    assert_eq!(
        set.compile().unwrap().len(),
        2,
        "only valid policies are compiled"
    );

    api.delete("reject-failed", &DeleteParams::default())
        .await
        .unwrap();
    eventually("deleted policy out of force", || async {
        (names(&set) == ["only-our-registry"]).then_some(())
    })
    .await;
    watcher.abort();
}

#[tokio::test]
async fn reports_events_and_leader_election() {
    let cluster = api_only().await;
    apply_crds(&cluster);
    cluster.kubectl(&["create", "namespace", "team"]).unwrap();
    cluster
        .kubectl(&["create", "namespace", "portcullis"])
        .unwrap();
    let client = cluster.client().await.unwrap();

    // Reports: server-side applied, idempotent, updated in place.
    let scope = ReportScope {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some("team".into()),
        name: "web".into(),
        uid: None,
    };
    let now = "2026-01-01T00:00:00Z";
    let pending = build_report(
        scope.clone(),
        &[ImageOutcome {
            image: "127.0.0.1:5000/web:1",
            digest: None,
            verdict: None,
            signature: None,
        }],
        now,
    );
    let first = apply_report(&client, &pending).await.unwrap();
    let again = apply_report(&client, &pending).await.unwrap();
    assert_eq!(
        first.metadata.resource_version, again.metadata.resource_version,
        "idempotent"
    );
    let reports: Api<ImageReport> = Api::namespaced(client.clone(), "team");
    let stored = reports.get("deployment-web").await.unwrap();
    assert_eq!(stored.spec.summary.skip, 1);
    assert_eq!(
        stored.spec.results[0].properties["image"],
        "127.0.0.1:5000/web:1"
    );
    let printed = cluster
        .kubectl(&["-n", "team", "get", "imagereports"])
        .unwrap();
    assert!(
        printed.contains("deployment-web") && printed.contains("Deployment"),
        "{printed}"
    );

    // Events on denials, for an object that was never created.
    let events = DenialEvents::new(client.clone(), Some("portcullis-0".into()));
    let denied = ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: Some("team".into()),
        name: Some("web".into()),
        ..Default::default()
    };
    let msg = "image 127.0.0.1:5000/web:1 (sha256:aa) failed policy \"prod\": STOP vulnerabilities.package CVE-2023-0286 openssl";
    events.denied(&denied, msg).await.unwrap();
    let evs: Api<K8sEvent> = Api::namespaced(client.clone(), "team");
    let list = evs.list(&ListParams::default()).await.unwrap();
    let ev = list
        .items
        .iter()
        .find(|e| e.reason.as_deref() == Some("AdmissionDenied"))
        .expect("AdmissionDenied event");
    assert_eq!(ev.note.as_deref(), Some(msg));
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    assert_eq!(ev.regarding.as_ref().unwrap().name.as_deref(), Some("web"));
    assert_eq!(ev.reporting_controller.as_deref(), Some("portcullis"));

    // Leader election: one leader at a time; the other takes over after expiry or release.
    let lease = Duration::from_secs(2);
    let a = LeaderElector::new(
        client.clone(),
        "portcullis",
        "portcullis-leader",
        "a",
        lease,
    );
    let b = LeaderElector::new(
        client.clone(),
        "portcullis",
        "portcullis-leader",
        "b",
        lease,
    );
    assert!(a.try_acquire_or_renew().await.unwrap());
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "b must not lead while a holds"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");
    let (racers_a, racers_b) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
    assert!(racers_a.unwrap() && !racers_b.unwrap());
    tokio::time::sleep(lease + Duration::from_millis(1200)).await;
    assert!(
        b.try_acquire_or_renew().await.unwrap(),
        "b takes the expired lease"
    );
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a lost it");
    b.release().await.unwrap();
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a takes the released lease at once"
    );
    let held = cluster
        .kubectl(&[
            "-n",
            "portcullis",
            "get",
            "lease",
            "portcullis-leader",
            "-o",
            "jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}",
        ])
        .unwrap();
    assert_eq!(held, "a 2");
}
