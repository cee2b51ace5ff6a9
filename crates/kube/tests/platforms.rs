//! The platforms `serve` analyses by default are the Linux platforms the real kube-apiserver's Nodes report
//! (`kubernetes.io/os` + `kubernetes.io/arch` labels).

use portcullis_kube::platforms::node_platforms;
use portcullis_testkit::{Cluster, ClusterOptions};

fn node(name: &str, os: &str, arch: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/os: {os}\n    kubernetes.io/arch: {arch}\n"
    )
}

#[tokio::test]
async fn node_platforms_are_the_linux_platforms_the_nodes_report() {
    let cluster = Cluster::start(ClusterOptions {
        controller_manager: false,
        ..Default::default()
    })
    .await
    .expect("the test control plane (kube-apiserver, etcd) must be installed: scripts/setup.d");
    let client = cluster.client().await.expect("client");
    assert!(
        node_platforms(&client).await.unwrap().is_empty(),
        "no Nodes, no platforms"
    );
    let manifest = [
        node("a1", "linux", "amd64"),
        node("a2", "linux", "amd64"),
        node("r1", "linux", "arm64"),
        node("w1", "windows", "amd64"),
    ]
    .join("---\n");
    let f = cluster.dir().join("nodes.yaml");
    std::fs::write(&f, manifest).unwrap();
    cluster
        .kubectl(&["create", "-f", f.to_str().unwrap()])
        .expect("create Nodes");
    let platforms: Vec<String> = node_platforms(&client)
        .await
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
}
