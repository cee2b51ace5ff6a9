//! Gate `secret_scans`: secrets found by the content search. The analyser runs no secret search, so every
//! trigger is reported as not evaluated (see `TriggerSpec::missing_data`).

use std::convert::Infallible;

use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t_missing};

/// The `secret_scans` gate.
pub(crate) struct SecretScans;

impl Gate for SecretScans {
    /// No trigger of this gate can be compiled: the data is missing.
    type Check = Infallible;

    const SPEC: GateSpec = gate_def(
        "secret_scans",
        "Checks for secrets and content found in the image using configured regexes found in the \"secret_search\" section of analyzer_config.yaml.",
        Lifecycle::Active,
        &[t_missing(
            "content_regex_checks",
            "Triggers if the secret content search analyser has found any matches with the configured and named regexes.",
            &[
                p(
                    "content_regex_name",
                    ParamType::Str,
                    false,
                    "Name of a configured regex to check for a match.",
                    "AWS_ACCESS_KEY",
                ),
                p(
                    "filename_regex",
                    ParamType::Regex,
                    false,
                    "Regex to restrict the files checked.",
                    "/etc/.*",
                ),
                p(
                    "match_type",
                    ParamType::Enum(&["notfound", "found"]),
                    false,
                    "Fire on found or notfound.",
                    "found",
                ),
            ],
            "the analyser runs no secret search",
        )],
    );

    fn compile(trigger: &'static TriggerSpec, _params: &Params) -> Result<Infallible, String> {
        Err(format!(
            "secret_scans.{} has no implementation in this build",
            trigger.name
        ))
    }

    fn run<'c>(check: &Infallible, _ctx: &'c Ctx<'_>, _out: &mut Outcome<'c>) {
        match *check {}
    }
}
