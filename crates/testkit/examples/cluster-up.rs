//! `scripts/cluster-up`: start the test control plane and keep it running until Ctrl-C.

use portcullis_testkit::{Cluster, ClusterOptions, tool};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cluster = Cluster::start(ClusterOptions::default()).await?;
    println!("API server:  {}", cluster.server_url);
    println!("kubeconfig:  {}", cluster.kubeconfig.display());
    if let Ok(kubectl) = tool("kubectl") {
        println!(
            "try:         {} --kubeconfig {} get namespaces",
            kubectl.display(),
            cluster.kubeconfig.display()
        );
    }
    println!(
        "Ctrl-C stops etcd, kube-apiserver and kube-controller-manager and removes the directory."
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
