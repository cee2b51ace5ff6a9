//! Gate `licenses`: deny-lists of software licences.

use super::common::{Class, list};
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t};

/// The `licenses` gate.
pub(crate) struct Licenses;

/// A compiled `licenses` rule (both triggers: exact or substring match).
#[derive(Debug)]
pub(crate) struct Check {
    licenses: Vec<String>,
    exact: bool,
    class: Class,
}

impl Gate for Licenses {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
        "licenses",
        "License checks against found software licenses in the container image.",
        Lifecycle::Active,
        &[
            t(
                "blacklist_exact_match",
                "Triggers if the evaluated image has a package installed with software distributed under the specified (exact match) license(s).",
                &[
                    p(
                        "licenses",
                        ParamType::List,
                        true,
                        "List of license names to blacklist exactly.",
                        "GPLv2+,GPL-3+,BSD-2-clause",
                    ),
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        false,
                        "Only trigger for specific package type.",
                        "all",
                    ),
                ],
            ),
            t(
                "blacklist_partial_match",
                "Triggers if the evaluated image has a package installed with software distributed under the specified (substring match) license(s).",
                &[
                    p(
                        "licenses",
                        ParamType::List,
                        true,
                        "List of strings to do substring match for blacklist.",
                        "LGPL,BSD",
                    ),
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        false,
                        "Only trigger for specific package type.",
                        "all",
                    ),
                ],
            ),
        ],
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        Ok(Check {
            licenses: list(params.get("licenses")),
            exact: trigger.name == "blacklist_exact_match",
            class: Class::parse(params.get("package_type")),
        })
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let Check {
            licenses,
            exact,
            class,
        } = check;
        for p in ctx
            .input
            .sbom
            .packages
            .iter()
            .filter(|p| class.admits(p.package_type))
        {
            // Every matching licence of the package, each once, in the package's order (Anchore lists them
            // all: `git(BSD-2-clause), git(Boost)`).
            let hits: Vec<&String> = p
                .licenses
                .iter()
                .enumerate()
                .filter(|(i, l)| {
                    !p.licenses[..*i].contains(l)
                        && licenses.iter().any(|want| {
                            if *exact {
                                *l == want
                            } else {
                                l.contains(want.as_str())
                            }
                        })
                })
                .map(|(_, l)| l)
                .collect();
            // The trigger id names the first match, so allowlist items written for it keep applying.
            if let Some(first) = hits.first() {
                let kind = if *exact { "exact" } else { "partial" };
                out.fire(format!("{}+{first}", p.name), || {
                    let list: Vec<String> =
                        hits.iter().map(|l| format!("{}({l})", p.name)).collect();
                    format!(
                        "LICENSE BLACKLISTED ({kind} match): package {} {} is distributed under {}",
                        p.name,
                        p.version,
                        list.join(", ")
                    )
                });
            }
        }
    }
}
