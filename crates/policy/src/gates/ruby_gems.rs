//! Gate `ruby_gems`: Ruby gems (deprecated in anchore-engine). Only its deny-list trigger is evaluated: the package-feed triggers need
//! data the analyser does not keep.

use portcullis_sbom::PackageType;

use super::packages::Deny;
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, NO_FEED, ParamType, TriggerSpec, p, t, t_missing};

/// The `ruby_gems` gate.
pub(crate) struct RubyGems;

impl Gate for RubyGems {
    /// `ruby_gems.blacklist`.
    type Check = Deny;

    const SPEC: GateSpec = GateSpec {
        name: "ruby_gems",
        description: "Ruby Gem checks (deprecated in anchore-engine).",
        lifecycle: Lifecycle::Deprecated,
        superseded_by: None,
        triggers: &[
            t_missing(
                "newer_version_found_in_feed",
                "Triggers if an installed Gem is not the latest version according to the Gem data feed.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "not_found_in_feed",
                "Triggers if an installed Gem is not in the official Gem database.",
                &[],
                NO_FEED,
            ),
            t_missing(
                "version_not_found_in_feed",
                "Triggers if an installed Gem version is not listed in the official Gem feed as a valid version.",
                &[],
                NO_FEED,
            ),
            t(
                "blacklist",
                "Triggers if the evaluated image has a Gem package installed that matches the specified name and version.",
                &[
                    p(
                        "name",
                        ParamType::Str,
                        true,
                        "Gem name to blacklist.",
                        "time_diff",
                    ),
                    p(
                        "version",
                        ParamType::Str,
                        false,
                        "Optional version to blacklist specifically.",
                        "0.2.9",
                    ),
                ],
            ),
            t_missing(
                "feed_data_unavailable",
                "Triggers if the engine does not have access to the Gem data feed.",
                &[],
                NO_FEED,
            ),
        ],
    };

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Deny, String> {
        match trigger.name {
            "blacklist" => Ok(Deny::compile(Some(PackageType::Gem), params)),
            other => Err(format!(
                "ruby_gems.{other} has no implementation in this build"
            )),
        }
    }

    fn run<'c>(check: &Deny, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        check.run(ctx, out);
    }
}
