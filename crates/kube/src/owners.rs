//! Fetching the controller owner an object claims, so that `skipOwned` trusts only owners that exist.
//!
//! The owner is read with a plain GET through the API server at review time (bounded by the review's deadline
//! in the server), so a ReplicaSet created a moment ago is found, and a deleted or forged one is not. Only the
//! kinds in [`portcullis_admission::owner::CHECKED_OWNERS`] are ever fetched; the ClusterRole needs `get` on
//! them.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use portcullis_admission::OwnerClaim;
use portcullis_admission::owner::CHECKED_OWNERS;

/// An [`portcullis_admission::OwnerLookup`] over the API server.
pub struct ApiOwners {
    client: kube::Client,
}

impl ApiOwners {
    /// A lookup using `client`.
    pub fn shared(client: kube::Client) -> Arc<dyn portcullis_admission::OwnerLookup> {
        Arc::new(ApiOwners { client })
    }
}

impl portcullis_admission::OwnerLookup for ApiOwners {
    fn owner(&self, claim: &OwnerClaim) -> BoxFuture<'static, Option<serde_json::Value>> {
        let checked = CHECKED_OWNERS
            .iter()
            .any(|(_, api, kind)| *api == claim.api_version && *kind == claim.kind);
        if !checked {
            return futures::future::ready(None).boxed();
        }
        let (group, version) = match claim.api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), claim.api_version.clone()),
        };
        let gvk = GroupVersionKind::gvk(&group, &version, &claim.kind);
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            &claim.namespace,
            &ApiResource::from_gvk(&gvk),
        );
        let name = claim.name.clone();
        async move {
            match api.get_opt(&name).await {
                Ok(Some(o)) => serde_json::to_value(o).ok(),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, owner = %name, "reading a controller owner failed");
                    None
                }
            }
        }
        .boxed()
    }
}
