//! The test harness itself against the real control plane: the API server serves and stores objects,
//! and the controller-manager turns a Deployment into a ReplicaSet and Pods.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{Api, ListParams, PostParams};
use portcullis_testkit::{Cluster, ClusterOptions};
use serde_json::json;

async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn apiserver_and_controller_manager_run_a_deployment() {
    let cluster = Cluster::start(ClusterOptions::default())
        .await
        .expect("start the test control plane");
    let client = cluster.client().await.expect("client");

    let version = client.apiserver_version().await.expect("server version");
    assert_eq!(version.major, "1");
    assert!(version.minor.trim_end_matches('+').parse::<u32>().unwrap() >= 32);

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "harness"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");

    // The controller-manager's serviceaccount controller creates `default`; Pods need it.
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "harness");
    wait_for(
        "default ServiceAccount",
        Duration::from_secs(60),
        || async { sas.get_opt("default").await.ok().flatten() },
    )
    .await;

    let pods: Api<Pod> = Api::namespaced(client.clone(), "harness");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "single"},
        "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/app:1"}]}
    }))
    .unwrap();
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    assert_eq!(
        created.spec.unwrap().containers[0].image.as_deref(),
        Some("127.0.0.1:5000/app:1")
    );

    let deploys: Api<Deployment> = Api::namespaced(client.clone(), "harness");
    let deploy: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "127.0.0.1:5000/web:2"}]}
            }
        }
    }))
    .unwrap();
    deploys
        .create(&PostParams::default(), &deploy)
        .await
        .expect("create deployment");

    let rss: Api<ReplicaSet> = Api::namespaced(client.clone(), "harness");
    let rs = wait_for(
        "the Deployment's ReplicaSet",
        Duration::from_secs(60),
        || async {
            rss.list(&ListParams::default().labels("app=web"))
                .await
                .ok()
                .and_then(|l| l.items.into_iter().next())
        },
    )
    .await;
    let owner = &rs.metadata.owner_references.as_ref().expect("owner refs")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Deployment", "web")
    );

    let web_pods = wait_for(
        "2 Pods created by the ReplicaSet",
        Duration::from_secs(60),
        || async {
            pods.list(&ListParams::default().labels("app=web"))
                .await
                .ok()
                .filter(|l| l.items.len() == 2)
        },
    )
    .await;
    for p in &web_pods.items {
        let owner = &p.metadata.owner_references.as_ref().expect("pod owner")[0];
        assert_eq!(owner.kind, "ReplicaSet");
        assert_eq!(owner.name, rs.metadata.name.clone().unwrap());
    }
}
