//! Ignore rules, in Grype's spirit: a YAML or JSON file of rules, each matching findings by vulnerability id
//! (or alias), package name / version / type / location and fix state, each with a reason and an optional
//! expiry date.
//!
//! ```yaml
//! rules:                       # also `ignore:` (Grype's key), or the list alone
//!   - vulnerability: CVE-2023-32681
//!     package: {name: requests, version: 2.30.0, type: python, location: "/app/*"}
//!     fix-state: fixed         # fixed, not-fixed, wont-fix, unknown
//!     reason: proxies are not used by this service
//!     expires: 2027-01-31      # optional; from that day the rule no longer applies
//! ```
//!
//! Every given field must match (a location is a glob where `*` matches any run of characters). A rule must
//! name a vulnerability, a package field or a fix state: a rule matching everything is refused.

use chrono::NaiveDate;
use serde_yaml_ng::Value;

use super::{SuppressedBy, Suppression, TriageError, clip, read_bounded};
use crate::{Finding, FixState, MatchReport};

/// Most rules read from one file.
pub const MAX_RULES: usize = 100_000;

/// The package part of a rule: every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageMatch {
    /// Exact package name.
    pub name: Option<String>,
    /// Exact installed version.
    pub version: Option<String>,
    /// Package type (`deb`, `rpm`, `python`, `npm`, …).
    pub package_type: Option<portcullis_sbom::PackageType>,
    /// Location glob (`*` matches any run of characters, `/` included).
    pub location: Option<String>,
}

/// One ignore rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRule {
    /// Its position in the file (0-based).
    pub index: usize,
    /// Vulnerability id, matched against a finding's id and aliases (any case).
    pub vulnerability: Option<String>,
    /// Package conditions.
    pub package: PackageMatch,
    /// Fix state condition.
    pub fix_state: Option<FixState>,
    /// Why the findings are ignored (required).
    pub reason: String,
    /// The first day on which the rule no longer applies.
    pub expires: Option<NaiveDate>,
}

/// The rules of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreRules {
    /// The file.
    pub source: String,
    /// Its rules, in file order.
    pub rules: Vec<IgnoreRule>,
}

/// Reads an ignore-rules file (YAML or JSON).
pub fn read_ignore_rules(path: &std::path::Path) -> Result<IgnoreRules, TriageError> {
    let bytes = read_bounded(path)?;
    parse(&path.display().to_string(), &bytes)
}

fn str_field(
    bad: &dyn Fn(&str, String) -> TriageError,
    v: &Value,
    field: &str,
) -> Result<Option<String>, TriageError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(bad(field, "must be a non-empty string".into())),
    }
}

/// Parses the rules of `source` from `bytes` (YAML or JSON).
pub fn parse(source: &str, bytes: &[u8]) -> Result<IgnoreRules, TriageError> {
    let invalid = |what: String| TriageError::Invalid {
        path: source.into(),
        what,
    };
    let doc: Value =
        serde_yaml_ng::from_slice(bytes).map_err(|e| invalid(format!("not YAML or JSON ({e})")))?;
    let list = match &doc {
        Value::Sequence(s) => s,
        Value::Mapping(m) => match m.get("rules").or_else(|| m.get("ignore")) {
            Some(Value::Sequence(s)) => s,
            _ => {
                return Err(invalid(
                    "expected a list of rules under `rules:` (or `ignore:`), or a list at the top"
                        .into(),
                ));
            }
        },
        _ => {
            return Err(invalid(
                "expected a list of rules under `rules:` (or `ignore:`), or a list at the top"
                    .into(),
            ));
        }
    };
    if list.len() > MAX_RULES {
        return Err(invalid(format!(
            "more than {MAX_RULES} rules; split the file"
        )));
    }
    let mut rules = Vec::with_capacity(list.len());
    for (index, r) in list.iter().enumerate() {
        let bad = |field: &str, what: String| invalid(format!("rule {index}: `{field}` {what}"));
        let Value::Mapping(m) = r else {
            return Err(invalid(format!(
                "rule {index}: expected a mapping with `vulnerability`, `package`, `fix-state`, `reason`, `expires`"
            )));
        };
        for k in m.keys() {
            let k = k.as_str().unwrap_or("");
            if !["vulnerability", "package", "fix-state", "reason", "expires"].contains(&k) {
                return Err(invalid(format!(
                    "rule {index}: unknown field `{}`; use vulnerability, package, fix-state, reason, expires",
                    clip(k, 40)
                )));
            }
        }
        let get = |k: &str| m.get(k).unwrap_or(&Value::Null);
        let vulnerability = str_field(&bad, get("vulnerability"), "vulnerability")?;
        let mut package = PackageMatch::default();
        match get("package") {
            Value::Null => {}
            Value::Mapping(p) => {
                for k in p.keys() {
                    let k = k.as_str().unwrap_or("");
                    if !["name", "version", "type", "location"].contains(&k) {
                        return Err(bad(
                            "package",
                            format!(
                                "has unknown field `{}`; use name, version, type, location",
                                clip(k, 40)
                            ),
                        ));
                    }
                }
                let pget = |k: &str| p.get(k).unwrap_or(&Value::Null);
                package.name = str_field(&bad, pget("name"), "package.name")?;
                package.version = str_field(&bad, pget("version"), "package.version")?;
                package.location = str_field(&bad, pget("location"), "package.location")?;
                package.package_type = str_field(&bad, pget("type"), "package.type")?
                    .map(|t| {
                        t.parse::<portcullis_sbom::PackageType>().map_err(|_| {
                            let names: Vec<&str> = portcullis_sbom::PackageType::ALL
                                .iter()
                                .map(|t| t.as_str())
                                .collect();
                            bad(
                                "package.type",
                                format!(
                                    "`{}` is not a package type; use one of {}",
                                    clip(&t, 40),
                                    names.join(", ")
                                ),
                            )
                        })
                    })
                    .transpose()?;
            }
            _ => {
                return Err(bad(
                    "package",
                    "must be a mapping of name, version, type, location".into(),
                ));
            }
        }
        let fix_state = str_field(&bad, get("fix-state"), "fix-state")?
            .map(|s| match s.as_str() {
                "fixed" => Ok(FixState::Fixed),
                "not-fixed" => Ok(FixState::NotFixed),
                "wont-fix" => Ok(FixState::WontFix),
                "unknown" => Ok(FixState::Unknown),
                other => Err(bad(
                    "fix-state",
                    format!(
                        "`{}` is not a fix state; use fixed, not-fixed, wont-fix or unknown",
                        clip(other, 40)
                    ),
                )),
            })
            .transpose()?;
        let reason = str_field(&bad, get("reason"), "reason")?.ok_or_else(|| {
            bad(
                "reason",
                "is required: say why these findings are ignored".into(),
            )
        })?;
        let expires = match get("expires") {
            Value::Null => None,
            Value::String(s) => Some(NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(
                |_| {
                    bad(
                        "expires",
                        format!("`{}` is not a date; write YYYY-MM-DD", clip(s, 40)),
                    )
                },
            )?),
            _ => {
                return Err(bad(
                    "expires",
                    "must be a date written YYYY-MM-DD (quoted in YAML if need be)".into(),
                ));
            }
        };
        if vulnerability.is_none() && package == PackageMatch::default() && fix_state.is_none() {
            return Err(invalid(format!(
                "rule {index}: names no vulnerability, package or fix-state and would ignore every finding; \
                 give at least one"
            )));
        }
        rules.push(IgnoreRule {
            index,
            vulnerability,
            package,
            fix_state,
            reason,
            expires,
        });
    }
    Ok(IgnoreRules {
        source: source.to_string(),
        rules,
    })
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

impl IgnoreRule {
    /// Whether the rule matches `f` (expiry aside).
    pub fn matches(&self, f: &Finding) -> bool {
        let p = &self.package;
        self.vulnerability.as_ref().is_none_or(|v| {
            std::iter::once(&f.id)
                .chain(&f.aliases)
                .any(|id| id.eq_ignore_ascii_case(v))
        }) && p.name.as_ref().is_none_or(|n| *n == f.package_name)
            && p.version.as_ref().is_none_or(|v| *v == f.package_version)
            && p.package_type.is_none_or(|t| t == f.package_type)
            && p.location
                .as_ref()
                .is_none_or(|l| glob(l, &f.package_location))
            && self.fix_state.is_none_or(|s| s == f.fix_state)
    }

    /// Whether the rule has expired on `today`.
    pub fn expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|e| today >= e)
    }
}

/// Applies ignore rules on `today`: matched findings move to [`MatchReport::suppressed`] with the rule's reason;
/// an expired rule applies to nothing and is reported in [`MatchReport::triage_warnings`].
pub fn apply_ignore_rules(report: &mut MatchReport, rules: &IgnoreRules, today: NaiveDate) {
    let mut live = Vec::new();
    for r in &rules.rules {
        if r.expired(today) {
            let what = r
                .vulnerability
                .as_deref()
                .or(r.package.name.as_deref())
                .unwrap_or("");
            report.triage_warnings.push(format!(
                "{} rule {} ({what}): expired on {}, no longer applied; renew or delete it",
                rules.source,
                r.index,
                r.expires.map(|d| d.to_string()).unwrap_or_default()
            ));
        } else {
            live.push(r);
        }
    }
    super::move_to_suppressed(report, |f| {
        let Some(r) = live.iter().find(|r| r.matches(f)) else {
            return true;
        };
        f.suppressed = Some(Suppression {
            by: SuppressedBy::IgnoreRule,
            reason: r.reason.clone(),
            source: format!("{} rule {}", rules.source, r.index),
        });
        false
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("/app/*", "/app/site-packages/x"));
        assert!(glob(
            "*/node_modules/*/package.json",
            "/a/node_modules/b/package.json"
        ));
        assert!(!glob("/app/*", "/usr/app/x"));
        assert!(glob("exact", "exact"));
        assert!(!glob("a*b*c", "acb"));
    }

    #[test]
    fn malformed_files_say_which_rule_and_field() {
        let err = |text: &str| {
            parse("rules.yaml", text.as_bytes())
                .unwrap_err()
                .to_string()
        };
        let e = err("rules:\n  - vulnerability: CVE-1\n    reason: ok\n  - vulnerability: CVE-2\n");
        assert!(
            e.contains("rules.yaml") && e.contains("rule 1") && e.contains("`reason` is required"),
            "{e}"
        );
        let e = err("rules:\n  - vulnerability: CVE-1\n    reason: r\n    expires: 31/01/2027\n");
        assert!(
            e.contains("rule 0") && e.contains("`expires`") && e.contains("YYYY-MM-DD"),
            "{e}"
        );
        let e = err("- {package: {name: a, kind: deb}, reason: r}");
        assert!(e.contains("`package`") && e.contains("`kind`"), "{e}");
        let e = err("- {package: {type: debian}, reason: r}");
        assert!(
            e.contains("`package.type`") && e.contains("`debian`"),
            "{e}"
        );
        let e = err("- {fix-state: maybe, reason: r}");
        assert!(e.contains("`fix-state`") && e.contains("not-fixed"), "{e}");
        let e = err("- {reason: everything}");
        assert!(e.contains("every finding"), "{e}");
        let e = err("- {vulnerability: CVE-1, reason: r, because: x}");
        assert!(e.contains("unknown field `because`"), "{e}");
        let e = err("{\"rules\": 3}");
        assert!(e.contains("list of rules"), "{e}");
        let ok = parse(
            "r.json",
            br#"{"rules": [{"vulnerability": "CVE-1", "reason": "r", "expires": "2027-01-31"}]}"#,
        )
        .unwrap();
        assert_eq!(ok.rules[0].expires, NaiveDate::from_ymd_opt(2027, 1, 31));
    }
}
