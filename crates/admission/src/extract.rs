//! Image extraction per kind: which containers an object runs and where each image field sits (as a JSON
//! pointer, for patches).

use std::collections::HashSet;

use serde::Serialize;

use crate::review::{Container, Object, Review, Spec};

/// Which list a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ContainerKind {
    /// `containers`.
    Container,
    /// `initContainers`.
    InitContainer,
    /// `ephemeralContainers`.
    EphemeralContainer,
}

impl ContainerKind {
    fn field(self) -> &'static str {
        match self {
            ContainerKind::Container => "containers",
            ContainerKind::InitContainer => "initContainers",
            ContainerKind::EphemeralContainer => "ephemeralContainers",
        }
    }
}

/// One image used by one container of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageUse {
    /// Container name.
    pub container: String,
    /// Which container list.
    pub container_kind: ContainerKind,
    /// The image exactly as written (may be empty when the manifest has no image).
    pub image: String,
    /// JSON pointer to the `image` field, e.g. `/spec/template/spec/containers/0/image`.
    pub pointer: String,
    /// False on UPDATE when the old object already ran this image in the same container.
    pub changed: bool,
}

/// The kinds whose images Portcullis checks, and where their pod spec sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadShape {
    /// `spec` is a pod spec (Pod, and the `pods/ephemeralcontainers` subresource).
    Pod,
    /// `spec.template.spec` (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ReplicationController).
    Template,
    /// `spec.jobTemplate.spec.template.spec` (CronJob, batch/v1 and v1beta1).
    CronJob,
}

impl WorkloadShape {
    /// The shape for a kind, or `None` for kinds that carry no pod spec.
    pub fn of_kind(kind: &str) -> Option<WorkloadShape> {
        match kind {
            "Pod" => Some(WorkloadShape::Pod),
            "Deployment"
            | "StatefulSet"
            | "DaemonSet"
            | "ReplicaSet"
            | "Job"
            | "ReplicationController" => Some(WorkloadShape::Template),
            "CronJob" => Some(WorkloadShape::CronJob),
            _ => None,
        }
    }

    fn pod_spec(self, obj: &Object) -> Option<&Spec> {
        let spec = obj.spec.as_ref()?;
        match self {
            WorkloadShape::Pod => Some(spec),
            WorkloadShape::Template => spec.template.as_ref()?.spec.as_ref(),
            WorkloadShape::CronJob => spec
                .job_template
                .as_ref()?
                .spec
                .as_ref()?
                .template
                .as_ref()?
                .spec
                .as_ref(),
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            WorkloadShape::Pod => "/spec",
            WorkloadShape::Template => "/spec/template/spec",
            WorkloadShape::CronJob => "/spec/jobTemplate/spec/template/spec",
        }
    }
}

fn push_list(out: &mut Vec<ImageUse>, prefix: &str, kind: ContainerKind, list: &[Container]) {
    for (i, c) in list.iter().enumerate() {
        out.push(ImageUse {
            container: c.name.clone(),
            container_kind: kind,
            image: c.image.clone().unwrap_or_default(),
            pointer: format!("{prefix}/{}/{i}/image", kind.field()),
            changed: true,
        });
    }
}

/// Every image of `obj` (init containers first, then containers, then ephemeral containers).
pub fn images_of(shape: WorkloadShape, obj: &Object) -> Vec<ImageUse> {
    let mut out = Vec::new();
    if let Some(spec) = shape.pod_spec(obj) {
        let p = shape.prefix();
        push_list(
            &mut out,
            p,
            ContainerKind::InitContainer,
            &spec.init_containers,
        );
        push_list(&mut out, p, ContainerKind::Container, &spec.containers);
        push_list(
            &mut out,
            p,
            ContainerKind::EphemeralContainer,
            &spec.ephemeral_containers,
        );
    }
    out
}

/// The images of the review's object, with `changed` set from `oldObject` on UPDATE. `None` when the kind carries
/// no pod spec (nothing to check).
pub fn extract(review: &Review) -> Option<Vec<ImageUse>> {
    let shape = WorkloadShape::of_kind(&review.request.kind.kind)?;
    let Some(obj) = review.request.object.as_ref() else {
        return Some(Vec::new());
    };
    let mut uses = images_of(shape, obj);
    if let Some(old) = review.request.old_object.as_ref() {
        let before: HashSet<(ContainerKind, String, String)> = images_of(shape, old)
            .into_iter()
            .map(|u| (u.container_kind, u.container, u.image))
            .collect();
        for u in &mut uses {
            // Same image in the same container: admitted before, no fresh verdict needed.
            u.changed = !before.contains(&(u.container_kind, u.container.clone(), u.image.clone()));
        }
    }
    Some(uses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cronjob_pointer() {
        let r = Review::parse(br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u","kind":{"kind":"CronJob"},"operation":"CREATE","object":{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x"}]}}}}}}}}"#).unwrap();
        let u = extract(&r).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(
            u[0].pointer,
            "/spec/jobTemplate/spec/template/spec/containers/0/image"
        );
    }

    #[test]
    fn unknown_kind_has_no_pod_spec() {
        let r = Review::parse(br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u","kind":{"kind":"ConfigMap"},"operation":"CREATE","object":{"data":{}}}}"#).unwrap();
        assert!(extract(&r).is_none());
    }
}
