//! The vocabulary of the gate catalogue: the spec types every gate describes itself with, and `describe`.
//!
//! The catalogue itself, [`GATES`], is the single source of truth for every gate, trigger and parameter:
//! each gate's entry lives in its own file next to its implementation (`src/gates/`). The validator checks
//! rules against it, the evaluator dispatches on it, and `portcullis policy describe` prints it. Names follow anchore-engine's policy gates (version `1_0`), plus
//! two triggers of our own (`vulnerabilities.kev` and `vulnerabilities.epss`).

use serde::Serialize;

/// The comparison operators Anchore accepts for severities and scores.
pub const COMPARISONS: &[&str] = &["=", "!=", "<", ">", "<=", ">="];
/// Severity names, least severe first (Anchore's `SEVERITY_ORDERING`).
pub const SEVERITIES: &[&str] = &["unknown", "negligible", "low", "medium", "high", "critical"];

pub use crate::gates::{ATTRIBUTE_CHECKS, ATTRIBUTES, GATES, INSTRUCTION_CHECKS, INSTRUCTIONS};

/// The type of a trigger parameter's value (all values are strings in a bundle).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type", content = "values")]
pub enum ParamType {
    /// Any string.
    Str,
    /// A regular expression (checked when the rule is compiled).
    Regex,
    /// An integer.
    Int,
    /// A decimal number.
    Float,
    /// `true` or `false`.
    Bool,
    /// One of the listed values (case-insensitive).
    Enum(&'static [&'static str]),
    /// A comma-separated list of strings.
    List,
    /// A comma-separated list of the listed values.
    EnumList(&'static [&'static str]),
}

impl ParamType {
    /// Checks a value against the type; `Err` says what is wrong.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let v = value.trim();
        match self {
            ParamType::Str | ParamType::List | ParamType::Regex => Ok(()),
            ParamType::Int => v
                .parse::<i64>()
                .map(|_| ())
                .map_err(|_| format!("`{value}` is not an integer")),
            ParamType::Float => v
                .parse::<f64>()
                .map(|_| ())
                .map_err(|_| format!("`{value}` is not a number")),
            ParamType::Bool => match v.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => Err(format!("`{value}` is not `true` or `false`")),
            },
            ParamType::Enum(allowed) => {
                if allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
                    Ok(())
                } else {
                    Err(format!("`{value}` is not one of {}", allowed.join(", ")))
                }
            }
            ParamType::EnumList(allowed) => {
                for item in v.split(',').map(str::trim) {
                    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(item)) {
                        return Err(format!(
                            "list item `{item}` is not one of {}",
                            allowed.join(", ")
                        ));
                    }
                }
                Ok(())
            }
        }
    }

    /// Short name for `policy describe`.
    pub fn describe(&self) -> String {
        match self {
            ParamType::Str => "string".into(),
            ParamType::Regex => "regex".into(),
            ParamType::Int => "integer".into(),
            ParamType::Float => "number".into(),
            ParamType::Bool => "boolean".into(),
            ParamType::List => "comma-separated list".into(),
            ParamType::Enum(v) => format!("one of: {}", v.join(", ")),
            ParamType::EnumList(v) => format!("comma-separated list of: {}", v.join(", ")),
        }
    }
}

/// One trigger parameter.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ParamSpec {
    /// Parameter name (lower case; bundles may use any case).
    pub name: &'static str,
    /// Value type.
    #[serde(rename = "value_type")]
    pub ty: ParamType,
    /// Whether a rule must give it.
    pub required: bool,
    /// What it does.
    pub description: &'static str,
    /// An example value.
    pub example: &'static str,
}

/// Lifecycle of a gate or trigger, as Anchore tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    /// Current.
    Active,
    /// Still evaluated, with a warning.
    Deprecated,
    /// No longer accepted: a bundle using it fails validation.
    Eol,
}

/// One trigger of a gate.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TriggerSpec {
    /// Trigger name.
    pub name: &'static str,
    /// What makes it fire.
    pub description: &'static str,
    /// Its parameters.
    pub params: &'static [ParamSpec],
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// When the analyser does not collect the data this trigger needs: why. Such a trigger is reported in
    /// `Verdict::not_evaluated` instead of silently passing.
    pub missing_data: Option<&'static str>,
}

/// One gate.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GateSpec {
    /// Gate name.
    pub name: &'static str,
    /// What it checks.
    pub description: &'static str,
    /// Lifecycle state.
    pub lifecycle: Lifecycle,
    /// For an end-of-life gate: the gate that replaces it.
    pub superseded_by: Option<&'static str>,
    /// Its triggers.
    pub triggers: &'static [TriggerSpec],
}

impl GateSpec {
    /// The trigger named `name` (case-insensitive).
    pub fn trigger(&self, name: &str) -> Option<&'static TriggerSpec> {
        self.triggers
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(name))
    }
}

/// The gate named `name` (case-insensitive), including end-of-life gates.
pub fn gate(name: &str) -> Option<&'static GateSpec> {
    GATES.iter().find(|g| g.name.eq_ignore_ascii_case(name))
}

/// `policy describe` as text: every gate (or one gate, or one trigger) with triggers and parameters.
/// End-of-life gates are listed last with their replacement. `Err` names an unknown gate or trigger.
pub fn describe(gate_name: Option<&str>, trigger_name: Option<&str>) -> Result<String, String> {
    let gates: Vec<&GateSpec> = match gate_name {
        None => GATES.iter().collect(),
        Some(n) => vec![gate(n).ok_or_else(|| {
            format!(
                "gate `{n}` does not exist; valid gates: {}",
                GATES
                    .iter()
                    .filter(|g| g.lifecycle != Lifecycle::Eol)
                    .map(|g| g.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?],
    };
    let mut out = String::new();
    for g in gates {
        if g.lifecycle == Lifecycle::Eol {
            let by = g
                .superseded_by
                .map(|s| format!(", use `{s}`"))
                .unwrap_or_default();
            out.push_str(&format!("Gate: {} (end-of-life{by})\n\n", g.name));
            continue;
        }
        let state = if g.lifecycle == Lifecycle::Deprecated {
            " (deprecated)"
        } else {
            ""
        };
        out.push_str(&format!("Gate: {}{state}\n  {}\n", g.name, g.description));
        let triggers: Vec<&TriggerSpec> = match trigger_name {
            None => g.triggers.iter().collect(),
            Some(t) => vec![g.trigger(t).ok_or_else(|| {
                format!(
                    "trigger `{t}` does not exist in gate `{}`; valid triggers: {}",
                    g.name,
                    g.triggers
                        .iter()
                        .map(|t| t.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?],
        };
        for t in triggers {
            out.push_str(&format!("  Trigger: {}\n    {}\n", t.name, t.description));
            if let Some(m) = t.missing_data {
                out.push_str(&format!("    Not evaluated in this build: {m}\n"));
            }
            for p in t.params {
                out.push_str(&format!(
                    "    - {}{} ({}): {} Example: {}\n",
                    p.name,
                    if p.required { " [required]" } else { "" },
                    p.ty.describe(),
                    p.description,
                    p.example
                ));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

/// A parameter spec.
pub(crate) const fn p(
    name: &'static str,
    ty: ParamType,
    required: bool,
    description: &'static str,
    example: &'static str,
) -> ParamSpec {
    ParamSpec {
        name,
        ty,
        required,
        description,
        example,
    }
}

/// An active trigger spec.
pub(crate) const fn t(
    name: &'static str,
    description: &'static str,
    params: &'static [ParamSpec],
) -> TriggerSpec {
    TriggerSpec {
        name,
        description,
        params,
        lifecycle: Lifecycle::Active,
        missing_data: None,
    }
}

/// An active trigger spec whose data the analyser does not collect (`missing`: why).
pub(crate) const fn t_missing(
    name: &'static str,
    description: &'static str,
    params: &'static [ParamSpec],
    missing: &'static str,
) -> TriggerSpec {
    TriggerSpec {
        name,
        description,
        params,
        lifecycle: Lifecycle::Active,
        missing_data: Some(missing),
    }
}

/// A gate spec.
pub(crate) const fn gate_def(
    name: &'static str,
    description: &'static str,
    lifecycle: Lifecycle,
    triggers: &'static [TriggerSpec],
) -> GateSpec {
    GateSpec {
        name,
        description,
        lifecycle,
        superseded_by: None,
        triggers,
    }
}

/// An end-of-life gate spec, pointing to its replacement.
pub(crate) const fn eol(name: &'static str, superseded_by: Option<&'static str>) -> GateSpec {
    GateSpec {
        name,
        description: "End-of-life gate of anchore-engine before 0.2; no longer evaluated.",
        lifecycle: Lifecycle::Eol,
        superseded_by,
        triggers: &[],
    }
}

/// A comparison parameter (`=`, `<`, …).
pub(crate) const CMP: ParamType = ParamType::Enum(COMPARISONS);
/// A severity parameter.
pub(crate) const SEV: ParamType = ParamType::Enum(SEVERITIES);
/// Why the package-feed triggers of deprecated gates are not evaluated.
pub(crate) const NO_FEED: &str =
    "the analyser keeps no per-ecosystem package feed to compare versions against";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = std::collections::BTreeSet::new();
        for g in GATES {
            assert!(seen.insert(g.name), "duplicate gate {}", g.name);
            assert_eq!(g.name, g.name.to_ascii_lowercase());
            let mut ts = std::collections::BTreeSet::new();
            for tr in g.triggers {
                assert!(
                    ts.insert(tr.name),
                    "duplicate trigger {}.{}",
                    g.name,
                    tr.name
                );
                for pa in tr.params {
                    assert_eq!(pa.name, pa.name.to_ascii_lowercase());
                    assert!(pa.ty.check(pa.example).is_ok() || pa.ty == ParamType::Regex);
                }
            }
        }
    }

    #[test]
    fn describe_lists_every_parameter_from_the_catalogue() {
        let all = describe(None, None).unwrap();
        for g in GATES {
            assert!(all.contains(&format!("Gate: {}", g.name)));
            for t in g.triggers {
                assert!(all.contains(&format!("Trigger: {}", t.name)));
                for p in t.params {
                    assert!(all.contains(&format!("- {}", p.name)));
                }
            }
        }
        let one = describe(Some("Vulnerabilities"), Some("package")).unwrap();
        assert!(one.contains("cvss_v3_base_score") && !one.contains("stale_feed_data"));
        assert!(
            describe(Some("nope"), None)
                .unwrap_err()
                .contains("valid gates")
        );
        assert!(
            describe(Some("files"), Some("nope"))
                .unwrap_err()
                .contains("name_match")
        );
        assert!(
            describe(Some("malware"), None)
                .unwrap()
                .contains("Not evaluated in this build")
        );
    }

    #[test]
    fn param_types_reject_bad_values() {
        assert!(ParamType::Int.check("x").is_err());
        assert!(ParamType::Bool.check("yes").is_err());
        assert!(ParamType::Enum(SEVERITIES).check("High").is_ok());
        assert!(ParamType::Enum(SEVERITIES).check("urgent").is_err());
        assert!(ParamType::EnumList(&["a", "b"]).check("a, c").is_err());
    }
}
