//! The platforms the cluster runs, from its Nodes: the `kubernetes.io/os` and `kubernetes.io/arch` labels the
//! kubelet sets (else the Node's reported `nodeInfo`), so a multi-platform image is analysed for every platform
//! a Pod of it may run on.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use portcullis_image::Platform;

/// Most Nodes read per list page.
const PAGE: u32 = 500;
/// Most pages read (so at most 50 000 Nodes).
const MAX_PAGES: usize = 100;

/// Why the Nodes' platforms could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlatformsError {
    /// Listing Nodes failed (no permission, API server unreachable).
    #[error(
        "listing the cluster's Nodes failed: {0}; grant `list` on `nodes` to Portcullis's service account or \
         configure the platforms (`serve --platform`, chart value `analysis.platforms`)"
    )]
    List(#[from] kube::Error),
}

/// The distinct Linux platforms of the cluster's Nodes (`linux/amd64`, `linux/arm64`, …), sorted; empty when no
/// Node reports one. Other operating systems are left out: their images are not catalogued.
pub async fn node_platforms(client: &kube::Client) -> Result<Vec<Platform>, PlatformsError> {
    let api: Api<Node> = Api::all(client.clone());
    let mut found = std::collections::BTreeSet::new();
    let mut params = ListParams::default().limit(PAGE);
    for _ in 0..MAX_PAGES {
        let list = api.list(&params).await?;
        for node in &list.items {
            if let Some(p) = node_platform(node).filter(|p| p.os == "linux") {
                found.insert((p.os, p.architecture));
            }
        }
        match list.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => params = params.continue_token(&c),
            None => break,
        }
    }
    Ok(found
        .into_iter()
        .map(|(os, architecture)| Platform {
            os,
            architecture,
            variant: None,
        })
        .collect())
}

/// One Node's platform: its labels, else its reported node info.
fn node_platform(node: &Node) -> Option<Platform> {
    let labels = node.metadata.labels.as_ref();
    let info = node.status.as_ref().and_then(|s| s.node_info.as_ref());
    let os = labels
        .and_then(|l| l.get("kubernetes.io/os").cloned())
        .or_else(|| info.map(|i| i.operating_system.clone()))
        .filter(|s| !s.is_empty() && s.len() <= 64)?;
    let architecture = labels
        .and_then(|l| l.get("kubernetes.io/arch").cloned())
        .or_else(|| info.map(|i| i.architecture.clone()))
        .filter(|s| !s.is_empty() && s.len() <= 64)?;
    Some(Platform {
        os,
        architecture,
        variant: None,
    })
}
