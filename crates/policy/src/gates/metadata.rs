//! Gate `metadata`: image metadata (size, OS, distro, architecture, layers).

use regex::Regex;

use super::common::{Cmp, re_match};
use super::{Ctx, Gate, Outcome, Params};
use crate::ImageInput;
use crate::catalog::{GateSpec, Lifecycle, ParamType, TriggerSpec, gate_def, p, t, whole_number};

/// Checks of `metadata.attribute`.
pub const ATTRIBUTE_CHECKS: &[&str] = &[
    "=",
    "!=",
    ">",
    "<",
    ">=",
    "<=",
    "exists",
    "not_exists",
    "like",
    "not_like",
    "in",
    "not_in",
];
/// Attributes of `metadata.attribute`.
pub const ATTRIBUTES: &[&str] = &[
    "size",
    "architecture",
    "os_type",
    "distro",
    "distro_version",
    "like_distro",
    "layer_count",
];

/// The `metadata` gate.
pub(crate) struct Metadata;

/// A compiled `metadata` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `metadata.attribute`.
    Attribute {
        attribute: String,
        check: String,
        value: Option<String>,
        like: Option<Regex>,
    },
}

impl Gate for Metadata {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
        "metadata",
        "Checks against image metadata, such as size, OS, distro, architecture, etc.",
        Lifecycle::Active,
        &[t(
            "attribute",
            "Triggers if a named image metadata value matches the given condition.",
            &[
                p(
                    "attribute",
                    ParamType::Enum(ATTRIBUTES),
                    true,
                    "Attribute name to be checked.",
                    "size",
                ),
                p(
                    "check",
                    ParamType::Enum(ATTRIBUTE_CHECKS),
                    true,
                    "The operation to perform the evaluation.",
                    ">",
                ),
                p(
                    "value",
                    ParamType::Str,
                    false,
                    "Value used in comparison.",
                    "1073741824",
                ),
            ],
        )],
    );

    /// Anchore checks `value` by `attribute`: a size is a whole number of bytes with an optional unit, a
    /// layer count a whole number; and every check but `exists`/`not_exists` needs a value (Anchore
    /// silently skips such a rule, which would never fire).
    fn validate(_trigger: &'static TriggerSpec, params: &Params) -> Result<(), String> {
        let attribute = params.get("attribute").map(|a| a.to_ascii_lowercase());
        let check = params.get("check").map(|c| c.to_ascii_lowercase());
        let Some(value) = params.get("value") else {
            return match check.as_deref() {
                Some("exists" | "not_exists") | None => Ok(()),
                Some(c) => Err(format!(
                    "check `{c}` needs a `value` to compare the attribute with; add one, or use \
                     `exists`/`not_exists`"
                )),
            };
        };
        match attribute.as_deref() {
            Some("size") => size_bytes(value).map(|_| ()).ok_or_else(|| {
                format!(
                    "parameter `value`: `{value}` is not a size: give a whole number of bytes, \
                     optionally with a unit kb, mb, gb or tb (1024-based), e.g. `1073741824` or `1gb`"
                )
            }),
            Some("layer_count") => whole_number(value).map(|_| ()).ok_or_else(|| {
                format!("parameter `value`: `{value}` is not a whole number of layers (e.g. `30`)")
            }),
            _ => Ok(()),
        }
    }

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        if trigger.name != "attribute" {
            return Err(format!(
                "metadata.{} has no implementation in this build",
                trigger.name
            ));
        }
        let check = params
            .get("check")
            .cloned()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let attribute = params
            .get("attribute")
            .cloned()
            .unwrap_or_default()
            .to_ascii_lowercase();
        // Sizes compare in bytes, as Anchore converts them (`1gb` → `1073741824`).
        let value = match (attribute.as_str(), params.get("value")) {
            ("size", Some(v)) => size_bytes(v).map(|b| b.to_string()),
            ("layer_count", Some(v)) => Some(v.trim().to_string()),
            (_, v) => v.cloned(),
        };
        let like = match (&check[..], &value) {
            ("like" | "not_like", Some(v)) => Some(re_match(v, "value")?),
            _ => None,
        };
        Ok(Check::Attribute {
            attribute,
            check,
            value,
            like,
        })
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let input = &ctx.input;
        let Check::Attribute {
            attribute,
            check,
            value,
            like,
        } = check;
        let actual = metadata_value(input, attribute);
        let want = value.clone().unwrap_or_default();
        let num = |a: &str| -> Option<(f64, f64)> {
            Some((a.trim().parse().ok()?, want.trim().parse().ok()?))
        };
        let hit = match (check.as_str(), actual.as_deref()) {
            ("exists", a) => a.is_some(),
            ("not_exists", a) => a.is_none(),
            (_, None) => false,
            ("=", Some(a)) => a == want,
            ("!=", Some(a)) => a != want,
            ("like", Some(a)) => like.as_ref().is_some_and(|r| r.is_match(a)),
            ("not_like", Some(a)) => !like.as_ref().is_some_and(|r| r.is_match(a)),
            ("in", Some(a)) => want.split(',').any(|x| x.trim() == a),
            ("not_in", Some(a)) => !want.split(',').any(|x| x.trim() == a),
            (c, Some(a)) => match (num(a), Cmp::parse(c)) {
                (Some((x, y)), Some(cmp)) => cmp.test(x, y),
                _ => {
                    out.not_evaluated = Some(format!(
                        "attribute `{attribute}` value `{a}` or the policy value `{want}` is not a number, so `{c}` cannot compare them"
                    ));
                    false
                }
            },
        };
        if hit {
            out.fire(
                attribute.clone(), || format!(
                    "Attribute check for attribute: '{attribute}' check: '{check}' check_value: '{want}' matched image value: '{}'",
                    actual.unwrap_or_default()
                ),
            );
        }
    }
}

fn metadata_value(input: &ImageInput<'_>, attribute: &str) -> Option<String> {
    let md = &input.sbom.metadata;
    let distro = input.sbom.distro.as_ref();
    match attribute {
        "size" => Some(md.size.to_string()),
        "architecture" => md.architecture.clone(),
        "os_type" => md.os.clone(),
        "distro" => distro.map(|d| d.id.clone()),
        "distro_version" => distro.and_then(|d| d.version_id.clone()),
        "like_distro" => distro
            .filter(|d| !d.id_like.is_empty())
            .map(|d| d.id_like.join(",")),
        "layer_count" => Some(md.layer_count.to_string()),
        _ => None,
    }
}

/// A size as Anchore reads it (`^[0-9]+([kmgt]b)?$`, any case here): bytes, or kilo-, mega-, giga-,
/// terabytes of 1024; `None` for anything else, or a size past `u64`.
fn size_bytes(v: &str) -> Option<u64> {
    let v = v.to_ascii_lowercase();
    let (digits, shift) = [("kb", 10), ("mb", 20), ("gb", 30), ("tb", 40)]
        .into_iter()
        .find_map(|(unit, shift)| v.strip_suffix(unit).map(|d| (d, shift)))
        .unwrap_or((v.as_str(), 0));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_anchore_does() {
        assert_eq!(size_bytes("1073741824"), Some(1 << 30));
        assert_eq!(size_bytes("1gb"), Some(1 << 30));
        assert_eq!(size_bytes("1GB"), Some(1 << 30));
        assert_eq!(size_bytes("3kb"), Some(3072));
        assert_eq!(size_bytes("2tb"), Some(2 << 40));
        for bad in [
            "test",
            "",
            "gb",
            "1 gb",
            "1g",
            "-1",
            "1.5gb",
            "1€",
            "99999999999999999999",
            "16777216tb",
        ] {
            assert_eq!(size_bytes(bad), None, "{bad}");
        }
    }
}
