//! Gate `npms`: NPM packages (deprecated in anchore-engine). Only its deny-list trigger is evaluated: the package-feed triggers need
//! data the analyser does not keep.

use portcullis_sbom::PackageType;

use super::packages::Deny;
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, NO_FEED, ParamType, TriggerSpec, p, t, t_missing};

/// The `npms` gate.
pub(crate) struct Npms;

impl Gate for Npms {
    /// `npms.blacklisted_name_version`.
    type Check = Deny;

    const SPEC: GateSpec = GateSpec {
        name: "npms",
        description: "NPM checks (deprecated in anchore-engine).",
        lifecycle: Lifecycle::Deprecated,
        superseded_by: None,
        triggers: &[
            t_missing(
                "newer_version_in_feed",
                "Triggers if an installed NPM is not the latest version according to NPM data feed.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "unknown_in_feeds",
                "Triggers if an installed NPM is not in the NPM data feed.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "version_not_in_feeds",
                "Triggers if an installed NPM version is not listed in the official NPM feed as a valid version.",
                &[],
                NO_FEED,
            ),
            t(
                "blacklisted_name_version",
                "Triggers if the evaluated image has an NPM package installed that matches the name and optionally a version specified in the parameters.",
                &[
                    p(
                        "name",
                        ParamType::Str,
                        true,
                        "Npm package name to blacklist.",
                        "time_diff",
                    ),
                    p(
                        "version",
                        ParamType::Str,
                        false,
                        "Npm package version to blacklist specifically.",
                        "0.2.9",
                    ),
                ],
            ),
            t_missing(
                "feed_data_unavailable",
                "Triggers if the engine does not have access to the NPM data feed.",
                &[],
                NO_FEED,
            ),
        ],
    };

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Deny, String> {
        match trigger.name {
            "blacklisted_name_version" => Ok(Deny::compile(Some(PackageType::Npm), params)),
            other => Err(format!("npms.{other} has no implementation in this build")),
        }
    }

    fn run<'c>(check: &Deny, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        check.run(ctx, out);
    }
}
