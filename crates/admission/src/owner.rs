//! Verifying a controller owner before `skipOwned` lets an object through unchecked.
//!
//! An `ownerReferences` entry is written by whoever creates the object, so it proves nothing by itself. An owner
//! earns the skip only when it is verified: the object it names exists (fetched through the API server by the
//! caller), has the uid the reference gives, is of a kind Portcullis checks (so its pod template went through
//! admission), and its pod template runs exactly the same images in the same containers. Without a way to fetch
//! the owner (offline `portcullis admit`) nothing is verified and nothing is skipped.

use crate::extract::{ContainerKind, WorkloadShape, images_of};
use crate::review::{Object, Review};

/// Controller kinds whose pod templates Portcullis checks, by (owned kind, owner `apiVersion`, owner kind).
/// Nothing else (Argo Rollouts, Knative, operators' custom resources) earns a skip.
pub const CHECKED_OWNERS: &[(&str, &str, &str)] = &[
    ("Pod", "apps/v1", "ReplicaSet"),
    ("Pod", "apps/v1", "StatefulSet"),
    ("Pod", "apps/v1", "DaemonSet"),
    ("Pod", "batch/v1", "Job"),
    ("Pod", "v1", "ReplicationController"),
    ("ReplicaSet", "apps/v1", "Deployment"),
];

/// The controller owner an object claims, to be fetched and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerClaim {
    /// Namespace of the object (owners are in the same namespace).
    pub namespace: String,
    /// Owner `apiVersion`, e.g. `apps/v1`.
    pub api_version: String,
    /// Owner kind, e.g. `ReplicaSet`.
    pub kind: String,
    /// Owner name.
    pub name: String,
    /// Owner uid as the reference gives it.
    pub uid: String,
}

/// An owner that was fetched and found to match its claim; see [`verify_owner`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedOwner {
    /// Owner kind.
    pub kind: String,
    /// Owner name.
    pub name: String,
    /// Owner uid.
    pub uid: String,
}

/// The controller owner `review`'s object claims, when the object is a Pod or ReplicaSet (not a subresource)
/// whose controller reference names a [checked kind](CHECKED_OWNERS) with a uid. `None` otherwise: such an
/// object is checked as if it had no owner.
pub fn owner_claim(review: &Review) -> Option<OwnerClaim> {
    let req = &review.request;
    if req.sub_resource.is_some() {
        return None;
    }
    let obj = req.object.as_ref()?;
    let owner = obj
        .metadata
        .owner_references
        .iter()
        .find(|o| o.controller)?;
    let checked = CHECKED_OWNERS.iter().any(|(owned, api, kind)| {
        *owned == req.kind.kind && *api == owner.api_version && *kind == owner.kind
    });
    if !checked || owner.uid.is_empty() || owner.name.is_empty() {
        return None;
    }
    Some(OwnerClaim {
        namespace: review.namespace().to_string(),
        api_version: owner.api_version.clone(),
        kind: owner.kind.clone(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
    })
}

/// Checks the fetched `owner` (its JSON as the API server returned it) against `claim` and `review`'s object:
/// same kind, name and uid, and its pod template runs the same images in the same containers. The error says
/// which check failed (for logs; the object is then checked as if it had no owner).
pub fn verify_owner(
    review: &Review,
    claim: &OwnerClaim,
    owner: &serde_json::Value,
) -> Result<VerifiedOwner, String> {
    let owner: Object = serde_json::from_value(owner.clone())
        .map_err(|e| format!("the owner is not a readable object: {e}"))?;
    if owner.kind != claim.kind || owner.metadata.name != claim.name {
        return Err(format!(
            "fetched {} {:?}, not the claimed {} {:?}",
            owner.kind, owner.metadata.name, claim.kind, claim.name
        ));
    }
    if owner.metadata.uid != claim.uid {
        return Err(format!(
            "{} {} has uid {:?}, the reference claims {:?}",
            claim.kind, claim.name, owner.metadata.uid, claim.uid
        ));
    }
    let obj = review
        .request
        .object
        .as_ref()
        .ok_or("the review carries no object")?;
    let Some(owned_shape) = WorkloadShape::of_kind(&review.request.kind.kind) else {
        return Err(format!("{} carries no pod spec", review.request.kind.kind));
    };
    let images = |shape: WorkloadShape, o: &Object| -> Vec<(ContainerKind, String, String)> {
        images_of(shape, o)
            .into_iter()
            .filter(|u| u.container_kind != ContainerKind::EphemeralContainer)
            .map(|u| (u.container_kind, u.container, u.image))
            .collect()
    };
    let mine = images(owned_shape, obj);
    let theirs = images(WorkloadShape::Template, &owner);
    if mine.is_empty() || mine != theirs {
        return Err(format!(
            "the pod template of {} {} runs other images than the object",
            claim.kind, claim.name
        ));
    }
    Ok(VerifiedOwner {
        kind: claim.kind.clone(),
        name: claim.name.clone(),
        uid: claim.uid.clone(),
    })
}

/// Fetches the controller owner an object claims, through the API server (the kube integration implements
/// it). `None` when it does not exist or cannot be fetched; the object is then checked as if it had no owner.
pub trait OwnerLookup: Send + Sync {
    /// The owner's JSON as the API server returns it.
    fn owner(
        &self,
        claim: &OwnerClaim,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Option<serde_json::Value>> + Send + 'static>,
    >;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_review(owner: serde_json::Value, image: &str) -> Review {
        let v = serde_json::json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "u", "operation": "CREATE", "namespace": "shop",
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "object": {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "ownerReferences": [owner]},
                    "spec": {"containers": [{"name": "app", "image": image}]}}
            }
        });
        Review::parse(&serde_json::to_vec(&v).unwrap()).unwrap()
    }

    fn rs(uid: &str, image: &str) -> serde_json::Value {
        serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web-1", "namespace": "shop", "uid": uid},
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    #[test]
    fn only_checked_controller_kinds_are_claimed() {
        let owner = |api: &str, kind: &str, controller: bool| serde_json::json!({"apiVersion": api, "kind": kind, "name": "web-1", "uid": "1", "controller": controller});
        let claim = owner_claim(&pod_review(owner("apps/v1", "ReplicaSet", true), "x")).unwrap();
        assert_eq!(
            (
                claim.namespace.as_str(),
                claim.kind.as_str(),
                claim.uid.as_str()
            ),
            ("shop", "ReplicaSet", "1")
        );
        for (api, kind, controller) in [
            ("v1", "ConfigMap", true),
            ("argoproj.io/v1alpha1", "Rollout", true),
            ("evil.example/v1", "ReplicaSet", true),
            ("apps/v1", "Deployment", true),
            ("apps/v1", "ReplicaSet", false),
        ] {
            assert_eq!(
                owner_claim(&pod_review(owner(api, kind, controller), "x")),
                None,
                "{api} {kind} controller={controller}"
            );
        }
    }

    #[test]
    fn verification_needs_uid_and_the_same_images() {
        let owner = serde_json::json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "1", "controller": true});
        let review = pod_review(owner, "nginx:1.27");
        let claim = owner_claim(&review).unwrap();
        let ok = verify_owner(&review, &claim, &rs("1", "nginx:1.27")).unwrap();
        assert_eq!(ok.uid, "1");
        let e = verify_owner(&review, &claim, &rs("2", "nginx:1.27")).unwrap_err();
        assert!(e.contains("uid"), "{e}");
        let e = verify_owner(&review, &claim, &rs("1", "nginx:1.26")).unwrap_err();
        assert!(e.contains("other images"), "{e}");
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-1", "uid": "1"}});
        assert!(verify_owner(&review, &claim, &cm).is_err());
    }
}
