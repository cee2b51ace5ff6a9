//! Gate `vulnerabilities`: findings of the vulnerability match, the feed's age and coverage, and our own
//! `kev` and `epss` triggers. `package` is the hot path of an evaluation (thousands of findings per rule):
//! it scans the per-finding [`Facts`] and fires findings by index; their check outputs are rendered on
//! demand ([`Gate::finding_msg`]).

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use portcullis_sbom::PackageType;
use portcullis_vuln::{Finding, FixState, Severity};
use regex::Regex;

use super::common::{Class, Cmp, Score, boolean, is_os, list, re_match, score};
use super::facts::{Facts, parse_date};
use super::{Ctx, Gate, Outcome, Params};
use crate::catalog::{
    CMP, GateSpec, Lifecycle, ParamType, SEV, SEVERITIES, TriggerSpec, gate_def, p, t,
};

/// The `vulnerabilities` gate.
pub(crate) struct Vulnerabilities;

/// Parameters of `vulnerabilities.package`.
#[derive(Debug)]
pub(crate) struct VulnPackage {
    class: Class,
    severity_cmp: Cmp,
    severity: usize,
    base: Option<Score>,
    exploitability: Option<Score>,
    impact: Option<Score>,
    vendor_base: Option<Score>,
    vendor_exploitability: Option<Score>,
    vendor_impact: Option<Score>,
    fix_available: Option<bool>,
    vendor_only: bool,
    max_days_since_creation: Option<i64>,
    max_days_since_fix: Option<i64>,
    path_exclude: Option<Regex>,
}

impl VulnPackage {
    /// The score conditions: (condition, index into [`Facts::scores`], parameter name).
    fn conds(&self) -> [(Option<Score>, usize, &'static str); 6] {
        [
            (self.base, 0, "cvss_v3_base_score"),
            (self.exploitability, 1, "cvss_v3_exploitability_score"),
            (self.impact, 2, "cvss_v3_impact_score"),
            (self.vendor_base, 3, "vendor_cvss_v3_base_score"),
            (
                self.vendor_exploitability,
                4,
                "vendor_cvss_v3_exploitability_score",
            ),
            (self.vendor_impact, 5, "vendor_cvss_v3_impact_score"),
        ]
    }
}

/// A compiled `vulnerabilities` rule.
#[derive(Debug)]
pub(crate) enum Check {
    /// `vulnerabilities.package`.
    Package(Box<VulnPackage>),
    /// `vulnerabilities.blacklist`.
    Deny { ids: Vec<String>, vendor_only: bool },
    /// `vulnerabilities.stale_feed_data`: the maximum age in days.
    StaleFeed(i64),
    /// `vulnerabilities.vulnerability_data_unavailable`.
    DataUnavailable,
    /// `vulnerabilities.kev`.
    Kev(Class),
    /// `vulnerabilities.epss`.
    Epss { score: Score, class: Class },
}

impl Gate for Vulnerabilities {
    type Check = Check;

    const SPEC: GateSpec = gate_def(
        "vulnerabilities",
        "CVE/Vulnerability checks.",
        Lifecycle::Active,
        &[
            t(
                "package",
                "Triggers if a found vulnerability in an image meets the comparison criteria.",
                &[
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        true,
                        "Only trigger for specific package type.",
                        "all",
                    ),
                    p(
                        "severity_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for severity evaluation (default `>`).",
                        ">",
                    ),
                    p(
                        "severity",
                        SEV,
                        false,
                        "Severity to compare against (default `unknown`).",
                        "high",
                    ),
                    p(
                        "cvss_v3_base_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for CVSS v3 base score evaluation (default `>=`).",
                        ">",
                    ),
                    p(
                        "cvss_v3_base_score",
                        ParamType::Float,
                        false,
                        "CVSS v3 base score to compare against.",
                        "5.0",
                    ),
                    p(
                        "cvss_v3_exploitability_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for CVSS v3 exploitability sub score evaluation.",
                        ">",
                    ),
                    p(
                        "cvss_v3_exploitability_score",
                        ParamType::Float,
                        false,
                        "CVSS v3 exploitability sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "cvss_v3_impact_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for CVSS v3 impact sub score evaluation.",
                        ">",
                    ),
                    p(
                        "cvss_v3_impact_score",
                        ParamType::Float,
                        false,
                        "CVSS v3 impact sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "fix_available",
                        ParamType::Bool,
                        false,
                        "If present, the fix availability for the vulnerability record must match the value of this parameter.",
                        "true",
                    ),
                    p(
                        "vendor_only",
                        ParamType::Bool,
                        false,
                        "If true (the default), a vulnerability the vendor marked as won't-fix does not trigger.",
                        "true",
                    ),
                    p(
                        "max_days_since_creation",
                        ParamType::Int,
                        false,
                        "If provided, this CVE must be older than the days provided to trigger.",
                        "7",
                    ),
                    p(
                        "max_days_since_fix",
                        ParamType::Int,
                        false,
                        "If provided (only evaluated when fix_available is also true), the fix must be older than the days provided, to trigger.",
                        "30",
                    ),
                    p(
                        "vendor_cvss_v3_base_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for vendor specified CVSS v3 base score evaluation.",
                        ">",
                    ),
                    p(
                        "vendor_cvss_v3_base_score",
                        ParamType::Float,
                        false,
                        "Vendor CVSS v3 base score to compare against.",
                        "5.0",
                    ),
                    p(
                        "vendor_cvss_v3_exploitability_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for vendor specified CVSS v3 exploitability sub score evaluation.",
                        ">",
                    ),
                    p(
                        "vendor_cvss_v3_exploitability_score",
                        ParamType::Float,
                        false,
                        "Vendor CVSS v3 exploitability sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "vendor_cvss_v3_impact_score_comparison",
                        CMP,
                        false,
                        "The type of comparison to perform for vendor specified CVSS v3 impact sub score evaluation.",
                        ">",
                    ),
                    p(
                        "vendor_cvss_v3_impact_score",
                        ParamType::Float,
                        false,
                        "Vendor CVSS v3 impact sub score to compare against.",
                        "5.0",
                    ),
                    p(
                        "package_path_exclude",
                        ParamType::Regex,
                        false,
                        "The regex to evaluate against the package path to exclude vulnerabilities.",
                        ".*test\\.jar*",
                    ),
                ],
            ),
            t(
                "blacklist",
                "Triggers if any of a list of specified vulnerabilities has been detected in the image.",
                &[
                    p(
                        "vulnerability_ids",
                        ParamType::List,
                        true,
                        "List of vulnerability IDs, will cause the trigger to fire if any are detected.",
                        "CVE-2019-1234",
                    ),
                    p(
                        "vendor_only",
                        ParamType::Bool,
                        false,
                        "If true (the default), a vulnerability the vendor marked as won't-fix does not trigger.",
                        "true",
                    ),
                ],
            ),
            t(
                "stale_feed_data",
                "Triggers if the CVE data is older than the window specified by the parameter (unit is number of days).",
                &[p(
                    "max_days_since_sync",
                    ParamType::Int,
                    true,
                    "Fire the trigger if the last sync was more than this number of days ago.",
                    "10",
                )],
            ),
            t(
                "vulnerability_data_unavailable",
                "Triggers if vulnerability data is unavailable for the image's distro packages.",
                &[],
            ),
            t(
                "kev",
                "Triggers for each vulnerability found in the image that is on CISA's Known Exploited Vulnerabilities list (Portcullis extension).",
                &[p(
                    "package_type",
                    ParamType::Enum(&["all", "os", "non-os"]),
                    false,
                    "Only trigger for specific package type (default all).",
                    "all",
                )],
            ),
            t(
                "epss",
                "Triggers for each vulnerability found in the image whose EPSS probability meets the comparison (Portcullis extension).",
                &[
                    p(
                        "epss_score",
                        ParamType::Float,
                        true,
                        "EPSS probability (0..1) to compare against.",
                        "0.1",
                    ),
                    p(
                        "epss_comparison",
                        CMP,
                        false,
                        "The comparison to perform (default `>=`).",
                        ">=",
                    ),
                    p(
                        "package_type",
                        ParamType::Enum(&["all", "os", "non-os"]),
                        false,
                        "Only trigger for specific package type (default all).",
                        "all",
                    ),
                ],
            ),
        ],
    );

    fn compile(trigger: &'static TriggerSpec, params: &Params) -> Result<Check, String> {
        let g = |k: &str| params.get(k);
        let s = |k: &str| params.get(k).cloned().unwrap_or_default();
        Ok(match trigger.name {
            "package" => {
                let sev = s("severity").to_ascii_lowercase();
                Check::Package(Box::new(VulnPackage {
                    class: Class::parse(g("package_type")),
                    severity_cmp: Cmp::with_default(g("severity_comparison"), Cmp::Gt),
                    severity: SEVERITIES.iter().position(|x| *x == sev).unwrap_or(0),
                    base: score(params, "cvss_v3_base_score"),
                    exploitability: score(params, "cvss_v3_exploitability_score"),
                    impact: score(params, "cvss_v3_impact_score"),
                    vendor_base: score(params, "vendor_cvss_v3_base_score"),
                    vendor_exploitability: score(params, "vendor_cvss_v3_exploitability_score"),
                    vendor_impact: score(params, "vendor_cvss_v3_impact_score"),
                    fix_available: boolean(g("fix_available")),
                    vendor_only: boolean(g("vendor_only")).unwrap_or(true),
                    max_days_since_creation: g("max_days_since_creation")
                        .and_then(|v| v.trim().parse().ok()),
                    max_days_since_fix: g("max_days_since_fix").and_then(|v| v.trim().parse().ok()),
                    path_exclude: match g("package_path_exclude") {
                        Some(p) => Some(re_match(p, "package_path_exclude")?),
                        None => None,
                    },
                }))
            }
            "blacklist" => Check::Deny {
                ids: list(g("vulnerability_ids")),
                vendor_only: boolean(g("vendor_only")).unwrap_or(true),
            },
            "stale_feed_data" => {
                Check::StaleFeed(s("max_days_since_sync").trim().parse().unwrap_or(0))
            }
            "vulnerability_data_unavailable" => Check::DataUnavailable,
            "kev" => Check::Kev(Class::parse(g("package_type"))),
            "epss" => Check::Epss {
                score: Score {
                    cmp: Cmp::with_default(g("epss_comparison"), Cmp::Ge),
                    value: s("epss_score").trim().parse().unwrap_or(0.0),
                },
                class: Class::parse(g("package_type")),
            },
            other => {
                return Err(format!(
                    "vulnerabilities.{other} has no implementation in this build"
                ));
            }
        })
    }

    fn run<'c>(check: &Check, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
        let input = &ctx.input;
        let sbom = input.sbom;
        match check {
            Check::Package(v) => run_vuln_package(v, ctx, out),
            Check::Deny { ids, vendor_only } => {
                for (fi, f) in input.report.findings.iter().enumerate() {
                    if *vendor_only && f.fix_state == FixState::WontFix {
                        continue;
                    }
                    if ids
                        .iter()
                        .any(|id| *id == f.id || f.aliases.iter().any(|a| a == id))
                    {
                        out.fire_finding(fi);
                    }
                }
            }
            Check::StaleFeed(days) => match input.feed_synced {
                None => out.missing("the vulnerability database's last sync time was not given"),
                Some(t) => {
                    // A limit past chrono's range: the feed is never that old.
                    if chrono::Duration::try_days(*days).is_some_and(|max| input.now - t > max) {
                        out.fire(
                            "stale_feed_data", || format!("The vulnerability feed for this image distro is older than MAXAGE ({days}) days"),
                        );
                    }
                }
            },
            Check::DataUnavailable => match input.vuln_data_available {
                None => out.missing("whether vulnerability data covers this distro was not given"),
                Some(true) => {}
                Some(false) => {
                    let d = sbom
                        .distro
                        .as_ref()
                        .map(|d| format!("{}:{}", d.id, d.version_id.as_deref().unwrap_or("")))
                        .unwrap_or_else(|| "unknown".into());
                    out.fire("vulnerability_data_unavailable", || {
                        format!("Feed data unavailable, cannot perform CVE scan for distro: {d}")
                    });
                }
            },
            Check::Kev(class) => {
                for (fi, _) in input
                    .report
                    .findings
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| f.kev && class.admits(f.package_type))
                {
                    out.fire_finding(fi);
                }
            }
            Check::Epss { score, class } => {
                let mut unscored = 0usize;
                for (fi, f) in input
                    .report
                    .findings
                    .iter()
                    .enumerate()
                    .filter(|(_, f)| class.admits(f.package_type))
                {
                    match f.epss {
                        None => unscored += 1,
                        Some(e) if score.cmp.test(e, score.value) => out.fire_finding(fi),
                        Some(_) => {}
                    }
                }
                if unscored > 0 {
                    out.not_evaluated = Some(format!("{unscored} finding(s) have no EPSS score"));
                }
            }
        }
    }

    fn finding_msg(check: &Check, ctx: &Ctx<'_>, fi: usize) -> String {
        let f = &ctx.input.report.findings[fi];
        match check {
            Check::Package(v) => vuln_msg(v, f, &ctx.facts[fi]),
            Check::Deny { ids, .. } => {
                let id = ids
                    .iter()
                    .find(|id| **id == f.id || f.aliases.iter().any(|a| a == *id))
                    .map(String::as_str)
                    .unwrap_or(&f.id);
                format!(
                    "Blacklisted vulnerabilities detected: [{id}] in package {} {}",
                    f.package_name, f.package_version
                )
            }
            Check::Kev(_) => format!(
                "{} in {} {} is on CISA's Known Exploited Vulnerabilities list",
                f.id, f.package_name, f.package_version
            ),
            Check::Epss { .. } => format!(
                "{} in {} {} has EPSS score {}",
                f.id,
                f.package_name,
                f.package_version,
                f.epss.unwrap_or_default()
            ),
            _ => String::new(),
        }
    }
}

fn pkg_class(t: PackageType) -> &'static str {
    if is_os(t) { "os" } else { "non-os" }
}

fn pkg_type_name(t: PackageType) -> &'static str {
    t.as_str()
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Unknown => "UNKNOWN",
        Severity::Negligible => "NEGLIGIBLE",
        Severity::Low => "LOW",
        Severity::Medium => "MEDIUM",
        Severity::High => "HIGH",
        Severity::Critical => "CRITICAL",
    }
}

/// `vulnerabilities.package`'s check output, written into one buffer (it is rendered for thousands of
/// rows per evaluation): `HIGH Vulnerability found in os package type (deb) - openssl (fixed in: 3.0.8-1)
/// (cvss_v3_base_score=7.4)(CVE-2023-0286 - https://…)`, the score part only for the rule's score
/// conditions.
fn vuln_msg(v: &VulnPackage, f: &Finding, facts: &Facts) -> String {
    let url = f.url.as_deref().unwrap_or("");
    let mut s = String::with_capacity(96 + f.package_name.len() + f.id.len() + url.len());
    for part in [
        severity_name(f.severity),
        " Vulnerability found in ",
        pkg_class(f.package_type),
        " package type (",
        pkg_type_name(f.package_type),
        ") - ",
        &f.package_name,
        " ",
    ] {
        s.push_str(part);
    }
    if let Some(v) = &f.fixed_in {
        s.push_str("(fixed in: ");
        s.push_str(v);
        s.push(')');
    }
    let mut first = true;
    for (_, k, name) in v.conds().iter().filter(|(c, _, _)| c.is_some()) {
        s.push_str(if first { "(" } else { " " });
        first = false;
        s.push_str(name);
        let _ = write!(s, "={}", facts.scores[*k]);
    }
    if !first {
        s.push(')');
    }
    for part in ["(", &f.id, " - ", url, ")"] {
        s.push_str(part);
    }
    s
}

/// `days` days before `now`; the earliest time chrono has when that is out of its range (parameters are
/// whole numbers up to `i64::MAX`, and `chrono::Duration::days` would panic).
fn days_before(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    chrono::Duration::try_days(days)
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn run_vuln_package<'c>(v: &VulnPackage, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
    let now = ctx.input.now;
    let created_before = v.max_days_since_creation.map(|d| days_before(now, d));
    let fixed_before = match (v.fix_available, v.max_days_since_fix) {
        (Some(true), Some(d)) => Some(days_before(now, d)),
        _ => None,
    };
    // Only the score conditions the rule sets, checked cheapest first; dates (parsed on first use) last.
    let scores: Vec<(Score, usize)> = v
        .conds()
        .iter()
        .filter_map(|(c, k, _)| c.map(|c| (c, *k)))
        .collect();
    let findings = &ctx.input.report.findings;
    for (fi, facts) in ctx.facts.iter().enumerate() {
        if !v.class.admits_os(facts.os)
            || !v.severity_cmp.test(facts.severity, v.severity)
            || (v.vendor_only && facts.wont_fix)
            || scores
                .iter()
                .any(|(c, k)| !c.cmp.test(facts.scores[*k], c.value))
        {
            continue;
        }
        if let Some(fa) = v.fix_available
            && fa != facts.fix_available
        {
            continue;
        }
        let f = &findings[fi];
        // An unknown publication or fix date does not exempt a finding (fail closed).
        if let Some(limit) = created_before
            && let Some(p) = facts
                .published
                .get_or_init(|| f.published.as_deref().and_then(parse_date))
            && *p > limit
        {
            continue;
        }
        if let Some(limit) = fixed_before
            && facts.fix_available
            && let Some(d) = facts
                .fix_date
                .get_or_init(|| f.fix_date.as_deref().and_then(parse_date))
            && *d > limit
        {
            continue;
        }
        if let Some(re) = &v.path_exclude
            && re.is_match(&f.package_location)
        {
            continue;
        }
        out.fire_finding(fi);
    }
}
