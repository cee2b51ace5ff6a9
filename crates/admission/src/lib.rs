//! AdmissionReview parsing, image extraction per kind, selectors and modes, decisions and JSONPatch.
//!
//! The admission path answers from memory: [`Review::parse`] → [`extract()`] → [`Config::select`] per image →
//! [`ImageVerdicts::lookup`] → [`decide()`] → [`Decision::to_review_json`]. Nothing here pulls or analyses an
//! image; unknown images are handed to [`ImageVerdicts::enqueue`] (never for dry runs) and decided by the mode's
//! unknown-image rule:
//!
//! | mode | analysed, passes | analysed, fails policy | unknown / analysing / failed / invalid reference |
//! |---|---|---|---|
//! | `policy` | admit | deny (403, message names image, digest, policy, rules) | deny |
//! | `analysis` | admit | admit with a warning | deny |
//! | `audit` | admit | admit with a "would be denied" warning | admit with a warning |
//! | `passive` | admit | admit (recorded in audit annotations) | admit (recorded) |
//! | `breakglass` | admit, nothing checked or queued | | |
//!
//! **ContainerAdmissionPolicies** (Calico's CRD, [`portcullis_policy::CapSet`]) apply in the same pipeline, after
//! the mode's rule, to every image that is checked (not break-glass, not an unchanged image on UPDATE, not an
//! invalid reference). The rules see the object's labels, the namespace's labels (at least
//! `kubernetes.io/metadata.name`), the normalised image reference, the scan status under the selected policy
//! (`Pass`/`Warn`/`Fail`, or `Unknown` when not analysed or not evaluated) and the analysis time. The first
//! matching rule decides: **Reject** denies in `policy` and `analysis` modes, warns in `audit`, is recorded in
//! `passive`; **Allow** admits the image even where the mode would deny it (it is the operator's explicit
//! exception, as in Calico). When no rule matches, the mode decides alone. Unknown images are still queued.

pub mod config;
pub mod decide;
mod explain;
pub mod extract;
pub mod input;
pub mod owner;
pub mod plan;
pub mod policies;
pub mod review;
pub mod signatures;
pub mod verdicts;

pub use config::{
    Assignment, Config, ConfigError, ConfigFile, Mode, NamespaceLookup, NamespaceMeta,
};
pub use decide::{
    Context, Decision, Endpoint, ImageDecision, Outcome, PatchOp, PolicyRuleDecision, Skip, decide,
    warm_up,
};
pub use extract::{ContainerKind, ImageUse, WorkloadShape, extract};
pub use input::{Input, InputError, read_input};
pub use owner::{OwnerClaim, OwnerLookup, VerifiedOwner, owner_claim, verify_owner};
pub use plan::{Planned, plan};
pub use policies::{AdmissionPolicies, PoliciesFileError, load_policies};
pub use review::{ApiVersion, Request, Response, Review, ReviewError, parse_go_duration};
pub use verdicts::{
    ImageState, ImageVerdicts, InvalidReference, MemoryVerdicts, VerdictEntry, VerdictsError,
    VerdictsFile, display_ref, parse_image,
};
