//! The request-level rules that decide whether a review's images are looked at at all, and [`plan()`]: the images
//! a review needs resolved to a digest before [`crate::decide()`] runs. Both [`crate::decide()`] and [`plan()`]
//! go through [`scope()`] and [`checks_image`], so the server cannot resolve images that the decision skips.

use std::borrow::Cow;
use std::collections::BTreeMap;

use portcullis_image::ImageRef;

use crate::config::{Assignment, Config, Mode, NamespaceMeta};
use crate::decide::Skip;
use crate::extract::{ImageUse, extract};
use crate::owner::{VerifiedOwner, owner_claim};
use crate::review::{ObjectMeta, Operation, Review};
use crate::verdicts::parse_image;

/// What the request-level rules leave of a review.
#[allow(clippy::large_enum_variant)] // built once per review on the stack, never stored
pub(crate) enum Scope<'r> {
    /// Admitted without looking at images (why, audit note).
    Skipped(Skip, String),
    /// These images are looked at, one by one.
    Images {
        /// The images, in container order.
        uses: Vec<ImageUse>,
        /// The object's metadata (empty when the request carries no object).
        object: Cow<'r, ObjectMeta>,
        /// The namespace (from the lookup, else its name and the `kubernetes.io/metadata.name` label).
        namespace: Cow<'r, NamespaceMeta>,
    },
}

/// Applies the request-level rules in order: operation, exempt namespace, kind, `skipOwned`.
pub(crate) fn scope<'r>(
    review: &'r Review,
    cfg: &Config,
    namespace: Option<&'r NamespaceMeta>,
    verified_owner: Option<&VerifiedOwner>,
) -> Scope<'r> {
    let req = &review.request;
    let ns_name = review.namespace();
    if matches!(req.operation, Operation::Delete | Operation::Connect) {
        return Scope::Skipped(Skip::Operation, "operation not checked".into());
    }
    if cfg.is_exempt(ns_name) {
        return Scope::Skipped(
            Skip::ExemptNamespace,
            format!("namespace {ns_name} is exempt"),
        );
    }
    let Some(uses) = extract(review) else {
        return Scope::Skipped(Skip::NoPodSpec, "kind carries no container images".into());
    };
    let object = match req.object.as_ref() {
        Some(o) => Cow::Borrowed(&o.metadata),
        None => Cow::Owned(ObjectMeta::default()),
    };
    if cfg.skip_owned && owner_is_verified(review, verified_owner) {
        return Scope::Skipped(
            Skip::OwnedByController,
            "created by a verified, admitted controller".into(),
        );
    }
    let namespace = match namespace {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(fallback_namespace(ns_name)),
    };
    Scope::Images {
        uses,
        object,
        namespace,
    }
}

/// `skipOwned`: whether `verified` is the controller owner `review`'s object claims (same kind, name and uid).
/// The claim alone (an `ownerReferences` entry the workload's author wrote) never earns a skip.
fn owner_is_verified(review: &Review, verified: Option<&VerifiedOwner>) -> bool {
    let (Some(v), Some(claim)) = (verified, owner_claim(review)) else {
        return false;
    };
    v.kind == claim.kind && v.name == claim.name && v.uid == claim.uid
}

/// The namespace when no lookup knows it: the API server labels every namespace with its name, and selectors may
/// rely on that label.
fn fallback_namespace(name: &str) -> NamespaceMeta {
    NamespaceMeta {
        name: name.to_string(),
        labels: BTreeMap::from([("kubernetes.io/metadata.name".to_string(), name.to_string())]),
        ..Default::default()
    }
}

/// Whether an image with this assignment gets a verdict: not break-glass, and changed (or `recheckUnchanged`).
pub(crate) fn checks_image(u: &ImageUse, assign: &Assignment, cfg: &Config) -> bool {
    assign.mode != Mode::Breakglass && (u.changed || cfg.recheck_unchanged)
}

/// An image a review needs resolved to a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// The image as written (the key of [`crate::Context::resolved`]).
    pub image: String,
    /// The parsed reference (without a digest).
    pub reference: ImageRef,
}

/// The images [`crate::decide()`] will look up for `review`, by tag (no digest written): what a caller should
/// resolve to digests first and pass in [`crate::Context::resolved`]. Skipped requests (operation, exempt
/// namespace, kind without images, `skipOwned`), break-glass images, unchanged images on UPDATE and invalid
/// references need nothing. Each image text appears once. `namespace` is the lookup's metadata, as in
/// [`crate::Context::namespace`], `verified_owner` as in [`crate::Context::verified_owner`].
pub fn plan(
    review: &Review,
    cfg: &Config,
    namespace: Option<&NamespaceMeta>,
    verified_owner: Option<&VerifiedOwner>,
) -> Vec<Planned> {
    let Scope::Images {
        uses,
        object,
        namespace,
    } = scope(review, cfg, namespace, verified_owner)
    else {
        return Vec::new();
    };
    let mut out: Vec<Planned> = Vec::new();
    for u in uses {
        let Ok(reference) = parse_image(&u.image) else {
            continue;
        };
        if reference.digest.is_some() || out.iter().any(|p| p.image == u.image) {
            continue;
        }
        let normalised = crate::verdicts::display_ref(&reference);
        let assign = cfg.select(&namespace, &object, &u.image, Some(&normalised));
        if checks_image(&u, assign, cfg) {
            out.push(Planned {
                image: u.image,
                reference,
            });
        }
    }
    out
}
