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

pub mod config;
pub mod decide;
pub mod extract;
pub mod input;
pub mod review;
pub mod verdicts;

pub use config::{Assignment, Config, ConfigError, ConfigFile, Mode, NamespaceMeta};
pub use decide::{
    Context, Decision, Endpoint, ImageDecision, Outcome, PatchOp, Skip, decide, warm_up,
};
pub use extract::{ContainerKind, ImageUse, WorkloadShape, extract};
pub use input::{Input, InputError, read_input};
pub use review::{ApiVersion, Request, Response, Review, ReviewError};
pub use verdicts::{
    ImageState, ImageVerdicts, InvalidReference, MemoryVerdicts, VerdictEntry, VerdictsError,
    VerdictsFile, display_ref, parse_image,
};
