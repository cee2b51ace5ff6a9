//! Gate `always`: fires unconditionally (testing, blocking an image outright).

use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, TriggerSpec, gate_def, t};

/// The `always` gate.
pub(crate) struct Always;

/// A compiled `always` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `always.always`.
    Always,
}

impl Gate for Always {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
        "always",
        "Triggers that fire unconditionally if present in policy, useful for things like testing and blacklisting.",
        Lifecycle::Active,
        &[t(
            "always",
            "Fires if present in a policy being evaluated.",
            &[],
        )],
    );

    fn compile(trigger: &'static TriggerSpec, _params: &Params) -> Result<Check, String> {
        match trigger.name {
            "always" => Ok(Check::Always),
            other => Err(format!(
                "always.{other} has no implementation in this build"
            )),
        }
    }

    fn run<'c>(check: &Check, _ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        match check {
            Check::Always => out.fire("always", || "always".into()),
        }
    }
}
