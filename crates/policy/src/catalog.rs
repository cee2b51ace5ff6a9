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
    /// A whole number, not negative (Anchore's `IntegerValidator`: digits only).
    Int,
    /// A decimal number: `-`, digits, `.` and digits (Anchore's `FloatValidator`; no exponent, `inf`,
    /// `NaN`).
    Float,
    /// `true` or `false`.
    Bool,
    /// One of the listed values (case-insensitive).
    Enum(&'static [&'static str]),
    /// A comma-separated list of strings, none empty (Anchore's `CommaDelimitedStringListValidator`).
    List,
    /// A comma-separated list of whole numbers (Anchore's `CommaDelimitedNumberListValidator`).
    IntList,
    /// A comma-separated list of the listed values.
    EnumList(&'static [&'static str]),
}

impl ParamType {
    /// Checks a value against the type; `Err` says what is wrong.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let v = value.trim();
        match self {
            ParamType::Str | ParamType::Regex => Ok(()),
            ParamType::Int => whole_number(v).map(|_| ()).ok_or_else(|| {
                format!("`{value}` is not an integer: give a whole number, digits only (e.g. `30`)")
            }),
            ParamType::Float => decimal(v)
                .map(|_| ())
                .ok_or_else(|| format!("`{value}` is not a decimal number (e.g. `7.5` or `-1`)")),
            ParamType::List => list_items(value).map(|_| ()),
            ParamType::IntList => {
                for item in list_items(value)? {
                    if whole_number(item).is_none() {
                        return Err(format!(
                            "list item `{item}` is not a whole number (e.g. `0,1000`)"
                        ));
                    }
                }
                Ok(())
            }
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
            ParamType::IntList => "comma-separated list of whole numbers".into(),
            ParamType::Enum(v) => format!("one of: {}", v.join(", ")),
            ParamType::EnumList(v) => format!("comma-separated list of: {}", v.join(", ")),
        }
    }
}

/// A whole number as Anchore's `IntegerValidator` accepts it (ASCII digits, surrounding space trimmed),
/// within `i64`.
pub(crate) fn whole_number(v: &str) -> Option<i64> {
    let v = v.trim();
    (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        .then(|| v.parse().ok())
        .flatten()
}

/// A decimal number as Anchore's `FloatValidator` accepts it: an optional `-`, digits, an optional `.`
/// and digits, at least one digit. Rust's own parser would also take `inf`, `NaN` and exponents — a `NaN`
/// threshold compares false with every score, so such a rule would never fire.
pub(crate) fn decimal(v: &str) -> Option<f64> {
    let v = v.trim();
    let digits = v.strip_prefix('-').unwrap_or(v);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let ok = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| v.parse().ok()).flatten()
}

/// The items of a comma-separated list, trimmed; `Err` for an empty list or an empty item.
fn list_items(value: &str) -> Result<Vec<&str>, String> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    match items.iter().position(|i| i.is_empty()) {
        None => Ok(items),
        Some(_) if items.len() == 1 => Err("the list is empty; give at least one item".into()),
        Some(n) => Err(format!(
            "item {} of the list `{value}` is empty; remove the extra comma",
            n + 1
        )),
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

    /// Issue #16: parameter values as strict as Anchore's validators.
    #[test]
    fn numbers_and_lists_are_as_strict_as_anchore() {
        for ok in ["0", "30", " 7 "] {
            assert!(ParamType::Int.check(ok).is_ok(), "{ok}");
        }
        for bad in ["-1", "1.5", "1e3", "", "+3", "30d", "99999999999999999999"] {
            assert!(ParamType::Int.check(bad).is_err(), "{bad}");
        }
        for ok in ["5", "5.0", "-1", ".5", "7.", " 9.8 "] {
            assert!(ParamType::Float.check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "NaN", "inf", "-inf", "1e3", "", "-", ".", "5,0", "high", "--1",
        ] {
            let e = ParamType::Float.check(bad).unwrap_err();
            assert!(e.contains("not a decimal number"), "{bad}: {e}");
        }
        assert!(ParamType::List.check("a, b").is_ok());
        assert!(ParamType::List.check(" ").unwrap_err().contains("empty"));
        assert!(
            ParamType::List
                .check("a,,b")
                .unwrap_err()
                .contains("item 2")
        );
        assert!(ParamType::List.check("a,").unwrap_err().contains("item 2"));
        assert!(ParamType::IntList.check("0, 1000").is_ok());
        let e = ParamType::IntList.check("0,root").unwrap_err();
        assert!(e.contains("`root` is not a whole number"), "{e}");
        assert!(ParamType::IntList.check("").is_err());
    }
}
