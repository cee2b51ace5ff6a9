//! Trigger implementations: each rule is compiled once into a [`Check`] (parameters parsed, regexes built)
//! and then run against an [`ImageInput`].

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};
use portcullis_sbom::{Package, PackageType};
use portcullis_vuln::{Finding, FixState, Severity};
use regex::Regex;

use crate::ImageInput;
use crate::catalog::{SEVERITIES, TriggerSpec};

/// Operating-system package ecosystems (Anchore's "os" package class).
fn is_os(t: PackageType) -> bool {
    t.is_os_package()
}

/// Anchore's package-class filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    All,
    Os,
    NonOs,
}

impl Class {
    fn parse(v: Option<&String>) -> Class {
        match v.map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("os") => Class::Os,
            Some("non-os") => Class::NonOs,
            _ => Class::All,
        }
    }

    fn admits(self, t: PackageType) -> bool {
        self.admits_os(is_os(t))
    }

    /// As [`Class::admits`], given whether the package is an OS package.
    fn admits_os(self, os: bool) -> bool {
        match self {
            Class::All => true,
            Class::Os => os,
            Class::NonOs => !os,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl Cmp {
    fn parse(s: &str) -> Option<Cmp> {
        Some(match s {
            "=" => Cmp::Eq,
            "!=" => Cmp::Ne,
            "<" => Cmp::Lt,
            ">" => Cmp::Gt,
            "<=" => Cmp::Le,
            ">=" => Cmp::Ge,
            _ => return None,
        })
    }

    fn with_default(v: Option<&String>, default: Cmp) -> Cmp {
        v.and_then(|s| Cmp::parse(s.trim())).unwrap_or(default)
    }

    fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Gt => a > b,
            Cmp::Le => a <= b,
            Cmp::Ge => a >= b,
        }
    }
}

/// A score condition: comparison and threshold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Score {
    cmp: Cmp,
    value: f64,
}

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

/// A compiled trigger.
#[derive(Debug)]
pub(crate) enum Check {
    Always,
    DfInstruction {
        instruction: String,
        check: String,
        value: Option<String>,
        like: Option<Regex>,
        actual_only: bool,
    },
    DfEffectiveUser {
        users: Vec<String>,
        allow: bool,
        actual_only: bool,
    },
    DfExposedPorts {
        ports: Vec<String>,
        allow: bool,
        actual_only: bool,
    },
    DfNoDockerfile,
    FilesNameMatch(Regex),
    FilesSuid,
    Licenses {
        licenses: Vec<String>,
        exact: bool,
        class: Class,
    },
    MetadataAttr {
        attribute: String,
        check: String,
        value: Option<String>,
        like: Option<Regex>,
    },
    /// `packages.blacklist`, `npms.blacklisted_name_version`, `ruby_gems.blacklist`.
    PkgDeny {
        only: Option<PackageType>,
        name: String,
        version: Option<String>,
    },
    RequiredPackage {
        name: String,
        version: Option<String>,
        minimum: bool,
    },
    PasswdNotAvailable,
    Passwd {
        field: PasswdField,
        values: Vec<String>,
    },
    RetrievedNotAvailable(String),
    RetrievedRegex {
        path: String,
        must_match: bool,
        re: Regex,
    },
    VulnPackage(Box<VulnPackage>),
    VulnDeny {
        ids: Vec<String>,
        vendor_only: bool,
    },
    StaleFeed(i64),
    VulnDataUnavailable,
    Kev(Class),
    Epss {
        score: Score,
        class: Class,
    },
    DistroDeny {
        distro: String,
        version: String,
        cmp: Cmp,
    },
    /// The analyser does not collect the data (reason from the catalogue).
    Missing(&'static str),
    /// The rule's parameters cannot be compiled (e.g. a bad regex).
    Invalid(String),
}

impl Check {
    /// True for a trigger that can only report it was not evaluated (missing data, bad parameters).
    pub(crate) fn is_unevaluable(&self) -> bool {
        matches!(self, Check::Missing(_) | Check::Invalid(_))
    }
}

/// Which `/etc/passwd` field a `passwd_file` blacklist checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswdField {
    Name,
    Uid,
    Gid,
    Shell,
    FullEntry,
}

fn list(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

fn boolean(v: Option<&String>) -> Option<bool> {
    v.map(|s| s.trim().eq_ignore_ascii_case("true"))
}

/// Python's `re.match`: anchored at the start only.
fn re_match(pattern: &str, what: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{pattern})")).map_err(|e| {
        let why = e.to_string();
        let why = why
            .lines()
            .last()
            .unwrap_or("")
            .trim_start_matches("error: ");
        format!("parameter `{what}` is not a valid regex (`{pattern}`): {why}")
    })
}

fn score(params: &BTreeMap<String, String>, name: &str) -> Option<Score> {
    let value = params.get(name)?.trim().parse::<f64>().ok()?;
    Some(Score {
        cmp: Cmp::with_default(params.get(&format!("{name}_comparison")), Cmp::Ge),
        value,
    })
}

/// Compiles a validated rule's parameters (names lower case, values type-checked by the catalogue).
pub(crate) fn compile(
    gate: &str,
    trigger: &'static TriggerSpec,
    params: &BTreeMap<String, String>,
) -> Result<Check, String> {
    if let Some(missing) = trigger.missing_data {
        return Ok(Check::Missing(missing));
    }
    let g = |k: &str| params.get(k);
    let s = |k: &str| params.get(k).cloned().unwrap_or_default();
    let actual_only = boolean(g("actual_dockerfile_only")).unwrap_or(false);
    Ok(match (gate, trigger.name) {
        ("always", "always") => Check::Always,
        ("dockerfile", "instruction") => {
            let check = s("check").to_ascii_lowercase();
            let value = g("value").cloned();
            let like = match (&check[..], &value) {
                ("like" | "not_like", Some(v)) => Some(re_match(v, "value")?),
                ("like" | "not_like", None) => {
                    return Err(format!("check `{check}` needs a `value` regex"));
                }
                _ => None,
            };
            Check::DfInstruction {
                instruction: s("instruction").to_ascii_uppercase(),
                check,
                value,
                like,
                actual_only,
            }
        }
        ("dockerfile", "effective_user") => Check::DfEffectiveUser {
            users: list(g("users")),
            allow: s("type").eq_ignore_ascii_case("whitelist"),
            actual_only,
        },
        ("dockerfile", "exposed_ports") => Check::DfExposedPorts {
            ports: list(g("ports")),
            allow: s("type").eq_ignore_ascii_case("whitelist"),
            actual_only,
        },
        ("dockerfile", "no_dockerfile_provided") => Check::DfNoDockerfile,
        ("files", "name_match") => Check::FilesNameMatch(re_match(&s("regex"), "regex")?),
        ("files", "suid_or_guid_set") => Check::FilesSuid,
        ("licenses", t) => Check::Licenses {
            licenses: list(g("licenses")),
            exact: t == "blacklist_exact_match",
            class: Class::parse(g("package_type")),
        },
        ("metadata", "attribute") => {
            let check = s("check").to_ascii_lowercase();
            let value = g("value").cloned();
            let like = match (&check[..], &value) {
                ("like" | "not_like", Some(v)) => Some(re_match(v, "value")?),
                _ => None,
            };
            Check::MetadataAttr {
                attribute: s("attribute").to_ascii_lowercase(),
                check,
                value,
                like,
            }
        }
        ("packages", "blacklist") => Check::PkgDeny {
            only: None,
            name: s("name"),
            version: g("version").cloned(),
        },
        ("npms", "blacklisted_name_version") => Check::PkgDeny {
            only: Some(PackageType::Npm),
            name: s("name"),
            version: g("version").cloned(),
        },
        ("ruby_gems", "blacklist") => Check::PkgDeny {
            only: Some(PackageType::Gem),
            name: s("name"),
            version: g("version").cloned(),
        },
        ("packages", "required_package") => Check::RequiredPackage {
            name: s("name"),
            version: g("version").cloned(),
            minimum: s("version_match_type").eq_ignore_ascii_case("minimum"),
        },
        ("passwd_file", "content_not_available") => Check::PasswdNotAvailable,
        ("passwd_file", t) => {
            let (field, key) = match t {
                "blacklist_usernames" => (PasswdField::Name, "user_names"),
                "blacklist_userids" => (PasswdField::Uid, "user_ids"),
                "blacklist_groupids" => (PasswdField::Gid, "group_ids"),
                "blacklist_shells" => (PasswdField::Shell, "shells"),
                _ => (PasswdField::FullEntry, "entry"),
            };
            let values = if field == PasswdField::FullEntry {
                vec![s(key)]
            } else {
                list(g(key))
            };
            Check::Passwd { field, values }
        }
        ("retrieved_files", "content_not_available") => Check::RetrievedNotAvailable(s("path")),
        ("retrieved_files", "content_regex") => Check::RetrievedRegex {
            path: s("path"),
            must_match: s("check").eq_ignore_ascii_case("match"),
            re: Regex::new(&s("regex"))
                .map_err(|e| format!("parameter `regex` is not a valid regex: {e}"))?,
        },
        ("vulnerabilities", "package") => {
            let sev = s("severity").to_ascii_lowercase();
            Check::VulnPackage(Box::new(VulnPackage {
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
        ("vulnerabilities", "blacklist") => Check::VulnDeny {
            ids: list(g("vulnerability_ids")),
            vendor_only: boolean(g("vendor_only")).unwrap_or(true),
        },
        ("vulnerabilities", "stale_feed_data") => {
            Check::StaleFeed(s("max_days_since_sync").trim().parse().unwrap_or(0))
        }
        ("vulnerabilities", "vulnerability_data_unavailable") => Check::VulnDataUnavailable,
        ("vulnerabilities", "kev") => Check::Kev(Class::parse(g("package_type"))),
        ("vulnerabilities", "epss") => Check::Epss {
            score: Score {
                cmp: Cmp::with_default(g("epss_comparison"), Cmp::Ge),
                value: s("epss_score").trim().parse().unwrap_or(0.0),
            },
            class: Class::parse(g("package_type")),
        },
        ("distro", "deny") => Check::DistroDeny {
            distro: s("distro"),
            version: s("version"),
            cmp: Cmp::with_default(g("check"), Cmp::Eq),
        },
        (g, t) => return Err(format!("{g}.{t} has no implementation in this build")),
    })
}

/// One fired trigger instance: a finding (thousands per evaluation, kept to an index), or another trigger
/// with its id and check output.
#[derive(Debug, Clone)]
pub(crate) enum Fired<'c> {
    /// A vulnerability trigger: the finding's index in the match report; its trigger id comes from the
    /// context and its check output from [`finding_msg`].
    Finding(usize),
    /// Any other trigger: its id and check output (empty when the caller asked for decisions only).
    Other(Box<(Cow<'c, str>, String)>),
}

/// What running a check produced: fired instances and, when the data was (partly) missing, why.
#[derive(Debug, Default)]
pub(crate) struct Outcome<'c> {
    pub fired: Vec<Fired<'c>>,
    pub not_evaluated: Option<String>,
    want_msgs: bool,
}

impl Fired<'_> {
    /// The finding that fired, if a finding did.
    pub(crate) fn finding(&self) -> Option<usize> {
        match self {
            Fired::Finding(fi) => Some(*fi),
            Fired::Other(_) => None,
        }
    }

    /// The trigger id and check output of a trigger not fired by a finding (empty for a finding).
    pub(crate) fn into_texts(self) -> (String, String) {
        match self {
            Fired::Finding(_) => (String::new(), String::new()),
            Fired::Other(b) => {
                let (id, msg) = *b;
                (id.into_owned(), msg)
            }
        }
    }

    /// The trigger id (a finding's `CVE-…+package` comes from the context).
    pub(crate) fn id<'s>(&'s self, ctx: &'s Ctx<'_>) -> &'s str {
        match self {
            Fired::Finding(fi) => ctx.vuln_id(*fi),
            Fired::Other(b) => &b.0,
        }
    }
}

impl<'c> Outcome<'c> {
    fn fire(&mut self, trigger_id: impl Into<Cow<'c, str>>, msg: impl FnOnce() -> String) {
        let msg = if self.want_msgs { msg() } else { String::new() };
        self.fired
            .push(Fired::Other(Box::new((trigger_id.into(), msg))));
    }

    /// Fires for finding `fi`, whose trigger id (`CVE-…+package`) the context holds; its check output is
    /// rendered on demand by [`finding_msg`].
    fn fire_finding(&mut self, fi: usize) {
        self.fired.push(Fired::Finding(fi));
    }

    fn missing(reason: impl Into<String>) -> Outcome<'c> {
        Outcome {
            fired: Vec::new(),
            not_evaluated: Some(reason.into()),
            want_msgs: false,
        }
    }
}

/// Per-evaluation data shared by every rule: the input, the Dockerfile view and each finding's trigger id
/// (`CVE-…+package`), computed once instead of once per rule.
pub(crate) struct Ctx<'a> {
    pub input: ImageInput<'a>,
    pub df: DockerfileView,
    /// Each finding's trigger id, made on first use (a decision may never need it).
    vuln_ids: Vec<OnceCell<String>>,
    facts: Vec<Facts>,
}

/// What rules compare about a finding, derived once per evaluation and kept together (rules scan every
/// finding; the findings themselves are large and only read for what fired).
pub(crate) struct Facts {
    severity: usize,
    /// An OS package (Anchore's `os` class).
    os: bool,
    /// Marked won't-fix (excluded by `vendor_only`).
    wont_fix: bool,
    /// NVD CVSS v3 base, exploitability, impact; then the vendors' (`-1` when unknown, as Anchore).
    scores: [f64; 6],
    fix_available: bool,
    /// Parsed on first use: only age rules need them.
    published: OnceCell<Option<DateTime<Utc>>>,
    fix_date: OnceCell<Option<DateTime<Utc>>>,
}

impl Facts {
    fn of(f: &Finding) -> Facts {
        let (b, e, i) = cvss_v3(f, true);
        let (vb, ve, vi) = cvss_v3(f, false);
        Facts {
            severity: f.severity as usize,
            os: is_os(f.package_type),
            wont_fix: f.fix_state == FixState::WontFix,
            scores: [b, e, i, vb, ve, vi],
            fix_available: fix_available(f),
            published: OnceCell::new(),
            fix_date: OnceCell::new(),
        }
    }
}

impl<'a> Ctx<'a> {
    /// Finding `fi`'s trigger id, `CVE-…+package`.
    pub(crate) fn vuln_id(&self, fi: usize) -> &str {
        self.vuln_ids[fi].get_or_init(|| {
            let f = &self.input.report.findings[fi];
            let mut id = String::with_capacity(f.id.len() + 1 + f.package_name.len());
            id.push_str(&f.id);
            id.push('+');
            id.push_str(&f.package_name);
            id
        })
    }

    pub(crate) fn new(input: &ImageInput<'a>) -> Ctx<'a> {
        Ctx {
            input: *input,
            df: DockerfileView::new(input),
            vuln_ids: (0..input.report.findings.len())
                .map(|_| OnceCell::new())
                .collect(),
            facts: input.report.findings.iter().map(Facts::of).collect(),
        }
    }
}

/// Dockerfile instructions (upper-case keyword, arguments), from the actual Dockerfile or the image history.
pub(crate) struct DockerfileView {
    pub actual: bool,
    pub lines: Vec<(String, String)>,
}

impl DockerfileView {
    pub(crate) fn new(input: &ImageInput<'_>) -> DockerfileView {
        if let Some(df) = input.dockerfile {
            return DockerfileView {
                actual: true,
                lines: parse_dockerfile(df),
            };
        }
        let md = &input.sbom.metadata;
        let lines = match &md.dockerfile {
            Some(df) => parse_dockerfile(df),
            None => md.history.iter().map(|h| history_line(h)).collect(),
        };
        DockerfileView {
            actual: false,
            lines,
        }
    }
}

/// Splits Dockerfile text into instructions (continuation lines joined, comments dropped).
fn parse_dockerfile(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(body) = t.strip_suffix('\\') {
            cur.push_str(body);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        out.push(split_instruction(&cur));
        cur.clear();
    }
    if !cur.trim().is_empty() {
        out.push(split_instruction(&cur));
    }
    out
}

fn split_instruction(s: &str) -> (String, String) {
    let s = s.trim();
    match s.split_once(char::is_whitespace) {
        Some((k, rest)) => (k.to_ascii_uppercase(), rest.trim().to_string()),
        None => (s.to_ascii_uppercase(), String::new()),
    }
}

/// Turns one history `created_by` entry into an instruction, as Anchore guesses a Dockerfile:
/// `/bin/sh -c #(nop) CMD ["sh"]` → `CMD ["sh"]`, `/bin/sh -c apt-get …` → `RUN apt-get …`,
/// BuildKit's `RUN /bin/sh -c …` and `EXPOSE map[80/tcp:{}]` kept as they are.
fn history_line(created_by: &str) -> (String, String) {
    let s = created_by.trim();
    let s = s
        .strip_prefix("/bin/sh -c #(nop)")
        .map(str::trim)
        .map(str::to_string)
        .or_else(|| {
            s.strip_prefix("/bin/sh -c ")
                .map(|rest| format!("RUN {}", rest.trim()))
        })
        .unwrap_or_else(|| s.to_string());
    let (k, v) = split_instruction(&s);
    if crate::catalog::INSTRUCTIONS.contains(&k.as_str()) {
        (k, v)
    } else {
        ("RUN".to_string(), s)
    }
}

fn port_number(p: &str) -> &str {
    p.split('/').next().unwrap_or(p).trim()
}

fn exposed_ports(input: &ImageInput<'_>, df: &DockerfileView) -> Vec<String> {
    let mut ports: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        let p = p.trim().trim_matches(|c| c == '{' || c == '}');
        if !p.is_empty() && !ports.iter().any(|x| port_number(x) == port_number(p)) {
            ports.push(p.to_string());
        }
    };
    for (k, v) in &df.lines {
        if k == "EXPOSE" {
            let v = v.trim_start_matches("map[").trim_end_matches(']');
            for p in v.split_whitespace() {
                add(p.trim_end_matches(":{}"));
            }
        }
    }
    if !df.actual {
        for p in &input.sbom.metadata.exposed_ports {
            add(p);
        }
    }
    ports
}

fn effective_user(input: &ImageInput<'_>, df: &DockerfileView) -> String {
    let from_df = df
        .lines
        .iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, v)| v.clone());
    let user = from_df.or_else(|| input.sbom.metadata.user.clone().filter(|u| !u.is_empty()));
    let user = user.unwrap_or_else(|| "root".into());
    user.split(':').next().unwrap_or("root").to_string()
}

/// The version scheme of an OS package type.
fn os_scheme(t: PackageType) -> portcullis_vuln::Scheme {
    match t {
        PackageType::Rpm => portcullis_vuln::Scheme::Rpm,
        PackageType::Apk => portcullis_vuln::Scheme::Apk,
        _ => portcullis_vuln::Scheme::Dpkg,
    }
}

/// Compares two distro release versions (`VERSION_ID`: `12`, `3.19.1`, `22.04`) segment by segment, digit
/// runs numerically, others lexically, for `distro.deny`. Hand-written: release ids follow no package
/// version scheme, so `portcullis_vuln::compare` (which package versions use) does not apply.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn segs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let digit = bytes[i].is_ascii_digit();
            let start = i;
            while i < bytes.len()
                && bytes[i].is_ascii_digit() == digit
                && bytes[i].is_ascii_alphanumeric()
            {
                i += 1;
            }
            if i == start {
                i += 1;
                continue;
            }
            out.push((digit, &s[start..i]));
        }
        out
    }
    let (sa, sb) = (segs(a), segs(b));
    for (x, y) in sa.iter().zip(sb.iter()) {
        let o = match (x.0, y.0) {
            (true, true) => {
                let (nx, ny) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
            }
            _ => x.1.cmp(y.1),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    sa.len().cmp(&sb.len())
}

/// An RFC 3339 time, else the `YYYY-MM-DD` date it starts with (midnight UTC).
fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let rfc3339 = || {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
    };
    // A bare date (the common case in vulnerability data) cannot be RFC 3339: skip that attempt.
    (if s.len() > 10 { rfc3339() } else { None }).or_else(|| {
        iso_date(s)
            .or_else(|| s.get(..10)?.parse::<NaiveDate>().ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    })
}

/// `YYYY-MM-DD` at the start of `s`, read digit by digit: vulnerability data has a date per finding, and
/// chrono's general parser costs several times more per date; anything else is left to chrono.
fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes().get(..10)?;
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

/// Highest CVSS v3 (base, exploitability, impact) over the scores from NVD (`nvd == true`) or from vendors.
fn cvss_v3(f: &Finding, nvd: bool) -> (f64, f64, f64) {
    let mut out = (-1.0f64, -1.0f64, -1.0f64);
    for c in f
        .cvss
        .iter()
        .filter(|c| c.version.starts_with('3') && c.source.eq_ignore_ascii_case("nvd") == nvd)
    {
        out.0 = out.0.max(c.base_score);
        out.1 = out.1.max(c.exploitability_score.unwrap_or(-1.0));
        out.2 = out.2.max(c.impact_score.unwrap_or(-1.0));
    }
    out
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

fn fix_available(f: &Finding) -> bool {
    f.fixed_in.is_some() || f.fix_state == FixState::Fixed
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

/// The check output of a row that a finding fired (finding `fi` of the input, fired by `check`): rendered
/// on demand, since a table has thousands of them and most are never read.
pub(crate) fn finding_msg(check: &Check, ctx: &Ctx<'_>, fi: usize) -> String {
    let f = &ctx.input.report.findings[fi];
    match check {
        Check::VulnPackage(v) => vuln_msg(v, f, &ctx.facts[fi]),
        Check::VulnDeny { ids, .. } => {
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

fn run_vuln_package<'c>(v: &VulnPackage, ctx: &'c Ctx<'_>, out: &mut Outcome<'c>) {
    let now = ctx.input.now;
    let created_before = v
        .max_days_since_creation
        .map(|d| now - chrono::Duration::days(d));
    let fixed_before = match (v.fix_available, v.max_days_since_fix) {
        (Some(true), Some(d)) => Some(now - chrono::Duration::days(d)),
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

fn passwd_entries(content: &str) -> impl Iterator<Item = (&str, Vec<&str>)> {
    content
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| (l, l.split(':').collect()))
}

fn pkg_matches(p: &Package, name: &str, version: Option<&String>) -> bool {
    p.name == name && version.is_none_or(|v| &p.version == v)
}

/// Runs one compiled check; `fired` is an empty buffer to fire into (one is reused across rules).
pub(crate) fn run<'c>(
    check: &Check,
    ctx: &'c Ctx<'_>,
    want_msgs: bool,
    fired: Vec<Fired<'c>>,
) -> Outcome<'c> {
    let mut out = Outcome {
        fired,
        not_evaluated: None,
        want_msgs,
    };
    let input = &ctx.input;
    let df = &ctx.df;
    let sbom = input.sbom;
    match check {
        Check::Always => out.fire("always", || "always".into()),
        Check::Missing(reason) => return Outcome::missing(*reason),
        Check::Invalid(reason) => return Outcome::missing(reason.clone()),
        Check::DfNoDockerfile => {
            if !df.actual {
                out.fire("no_dockerfile_provided", || {
                    "Image was not analyzed with an actual Dockerfile".into()
                });
            }
        }
        Check::DfInstruction { actual_only, .. }
        | Check::DfEffectiveUser { actual_only, .. }
        | Check::DfExposedPorts { actual_only, .. }
            if *actual_only && !df.actual =>
        {
            return Outcome::missing(
                "actual_dockerfile_only is set and no actual Dockerfile was provided",
            );
        }
        Check::DfInstruction {
            instruction,
            check,
            value,
            like,
            ..
        } => {
            let lines: Vec<&String> = df
                .lines
                .iter()
                .filter(|(k, _)| k == instruction)
                .map(|(_, v)| v)
                .collect();
            let val = value.clone().unwrap_or_default();
            let in_list = |arg: &str| val.split(',').any(|x| x.trim() == arg.trim());
            match check.as_str() {
                "exists" => {
                    if let Some(arg) = lines.first() {
                        out.fire(
                            instruction.clone(), || format!("Dockerfile directive '{instruction}' check 'exists' matched against '' for line '{arg}'"),
                        );
                    }
                }
                "not_exists" => {
                    if lines.is_empty() {
                        out.fire(
                            instruction.clone(), || format!("Dockerfile directive '{instruction}' not found, matching condition 'not_exists' check"),
                        );
                    }
                }
                c => {
                    for arg in lines {
                        let hit = match c {
                            "=" => arg.trim() == val.trim(),
                            "!=" => arg.trim() != val.trim(),
                            "like" => like.as_ref().is_some_and(|r| r.is_match(arg)),
                            "not_like" => !like.as_ref().is_some_and(|r| r.is_match(arg)),
                            "in" => in_list(arg),
                            "not_in" => !in_list(arg),
                            _ => false,
                        };
                        if hit {
                            out.fire(
                                instruction.clone(), || format!("Dockerfile directive '{instruction}' check '{c}' matched against '{val}' for line '{arg}'"),
                            );
                        }
                    }
                }
            }
        }
        Check::DfEffectiveUser { users, allow, .. } => {
            let user = effective_user(input, df);
            let listed = users.contains(&user);
            if listed != *allow {
                let kind = if *allow { "whitelist" } else { "blacklist" };
                out.fire(
                    user.clone(), || format!("User {user} found as effective user, which is not on the allowed list ({kind})"),
                );
            }
        }
        Check::DfExposedPorts { ports, allow, .. } => {
            for p in exposed_ports(input, df) {
                let listed = ports
                    .iter()
                    .any(|x| x == &p || (!x.contains('/') && x == port_number(&p)));
                if listed != *allow {
                    let kind = if *allow {
                        "not in policy whitelist"
                    } else {
                        "in policy blacklist"
                    };
                    out.fire(port_number(&p).to_string(), || {
                        format!("Dockerfile exposes port ({p}) which is {kind}")
                    });
                }
            }
        }
        Check::FilesNameMatch(re) => {
            let mut seen = std::collections::BTreeSet::new();
            let paths: Box<dyn Iterator<Item = &String>> = match input.files {
                Some(files) => Box::new(files.iter()),
                None => Box::new(
                    sbom.special_files
                        .iter()
                        .map(|f| &f.path)
                        .chain(sbom.packages.iter().flat_map(|p| p.files.iter())),
                ),
            };
            for path in paths {
                if re.is_match(path) && seen.insert(path.as_str()) {
                    out.fire(
                        path.clone(), || format!("Application of regex matched file found in container: file={path} regexp={}", re.as_str()),
                    );
                }
            }
            if input.files.is_none() {
                out.not_evaluated = Some(
                    "the SBOM lists only package-owned and setuid/setgid files; other files were not checked"
                        .into(),
                );
            }
        }
        Check::FilesSuid => {
            for f in &sbom.special_files {
                if f.mode & 0o6000 != 0 {
                    out.fire(f.path.clone(), || {
                        format!(
                            "SUID or SGID found set on file {}. Mode: {:o}",
                            f.path, f.mode
                        )
                    });
                }
            }
        }
        Check::Licenses {
            licenses,
            exact,
            class,
        } => {
            for p in sbom
                .packages
                .iter()
                .filter(|p| class.admits(p.package_type))
            {
                let hit = p.licenses.iter().find(|l| {
                    licenses.iter().any(|want| {
                        if *exact {
                            *l == want
                        } else {
                            l.contains(want.as_str())
                        }
                    })
                });
                if let Some(l) = hit {
                    let kind = if *exact { "exact" } else { "partial" };
                    out.fire(
                        format!("{}+{}", p.name, l), || format!("LICENSE BLACKLISTED ({kind} match): package {} {} is distributed under {l}", p.name, p.version),
                    );
                }
            }
        }
        Check::MetadataAttr {
            attribute,
            check,
            value,
            like,
        } => {
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
        Check::PkgDeny {
            only,
            name,
            version,
        } => {
            for p in sbom.packages.iter().filter(|p| match only {
                Some(t) => p.package_type == *t,
                None => is_os(p.package_type),
            }) {
                if pkg_matches(p, name, version.as_ref()) {
                    out.fire(format!("{}+{}", p.name, p.version), || {
                        format!("Package is blacklisted: {} {}", p.name, p.version)
                    });
                }
            }
        }
        Check::RequiredPackage {
            name,
            version,
            minimum,
        } => {
            let found: Vec<&Package> = sbom
                .packages
                .iter()
                .filter(|p| is_os(p.package_type) && &p.name == name)
                .collect();
            let mut unparsable = None;
            let ok = match version {
                None => !found.is_empty(),
                Some(v) if *minimum => found.iter().any(|p| {
                    match portcullis_vuln::compare(os_scheme(p.package_type), &p.version, v) {
                        Ok(o) => o != std::cmp::Ordering::Less,
                        Err(e) => {
                            unparsable = Some(format!(
                                "cannot compare {} version `{}` with `{v}`: {e}",
                                p.name, p.version
                            ));
                            false
                        }
                    }
                }),
                Some(v) => found.iter().any(|p| &p.version == v),
            };
            if let Some(reason) = unparsable
                && !ok
            {
                return Outcome::missing(reason);
            }
            if !ok {
                let msg = match (version, found.first()) {
                    (None, _) | (Some(_), None) => format!("Required package {name} not found"),
                    (Some(v), Some(p)) => format!(
                        "Required package {name} version {v} ({}) not found; found version {}",
                        if *minimum { "minimum" } else { "exact" },
                        p.version
                    ),
                };
                out.fire(name.clone(), || msg);
            }
        }
        Check::PasswdNotAvailable => match input.passwd {
            None => return Outcome::missing("the analyser did not record /etc/passwd"),
            Some(None) => out.fire("content_not_available", || {
                "/etc/passwd file not present in image".into()
            }),
            Some(Some(_)) => {}
        },
        Check::Passwd { field, values } => {
            match input.passwd {
                None => return Outcome::missing("the analyser did not record /etc/passwd"),
                Some(None) => {}
                Some(Some(content)) => {
                    for (line, parts) in passwd_entries(content) {
                        let (hit, what) = match field {
                            PasswdField::FullEntry => (values.iter().any(|v| v == line), line),
                            f => {
                                let idx = match f {
                                    PasswdField::Name => 0,
                                    PasswdField::Uid => 2,
                                    PasswdField::Gid => 3,
                                    _ => 6,
                                };
                                let v = parts.get(idx).copied().unwrap_or("");
                                (values.iter().any(|x| x == v), v)
                            }
                        };
                        if hit {
                            out.fire(
                            what.to_string(), || format!("Blacklisted {:?} '{what}' found in image's /etc/passwd: {line}", field),
                        );
                        }
                    }
                }
            }
        }
        Check::RetrievedNotAvailable(path) => match input.retrieved_files {
            None => return Outcome::missing("the analyser retrieves no file contents"),
            Some(m) => {
                if !m.contains_key(path) {
                    out.fire(path.clone(), || {
                        format!("Cannot locate file in the image analysis: {path}")
                    });
                }
            }
        },
        Check::RetrievedRegex {
            path,
            must_match,
            re,
        } => match input.retrieved_files {
            None => return Outcome::missing("the analyser retrieves no file contents"),
            Some(m) => match m.get(path) {
                None => {
                    return Outcome::missing(format!("file {path} was not retrieved"));
                }
                Some(content) => {
                    let found = re.is_match(content);
                    if found == *must_match {
                        out.fire(path.clone(), || {
                            format!(
                                "Content check: regex {} {} in file {path}",
                                re.as_str(),
                                if found { "matched" } else { "did not match" }
                            )
                        });
                    }
                }
            },
        },
        Check::VulnPackage(v) => run_vuln_package(v, ctx, &mut out),
        Check::VulnDeny { ids, vendor_only } => {
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
            None => {
                return Outcome::missing(
                    "the vulnerability database's last sync time was not given",
                );
            }
            Some(t) => {
                if input.now - t > chrono::Duration::days(*days) {
                    out.fire(
                        "stale_feed_data", || format!("The vulnerability feed for this image distro is older than MAXAGE ({days}) days"),
                    );
                }
            }
        },
        Check::VulnDataUnavailable => match input.vuln_data_available {
            None => {
                return Outcome::missing(
                    "whether vulnerability data covers this distro was not given",
                );
            }
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
        Check::DistroDeny {
            distro,
            version,
            cmp,
        } => match &sbom.distro {
            None => return Outcome::missing("no distro was detected in the image"),
            Some(d) => {
                let v = d.version_id.clone().unwrap_or_default();
                if d.id.eq_ignore_ascii_case(distro)
                    && cmp.test(version_cmp(&v, version), std::cmp::Ordering::Equal)
                {
                    out.fire(format!("{}:{}", d.id, v), || {
                        format!(
                            "Distro {} {v} is denied by policy ({distro} {cmp:?} {version})",
                            d.id
                        )
                    });
                }
            }
        },
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ordering() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("1.10", "1.9"), Greater);
        assert_eq!(version_cmp("3.0.13-1", "3.0.13-1"), Equal);
        assert_eq!(version_cmp("12", "11"), Greater);
        assert_eq!(version_cmp("1.0", "1.0.1"), Less);
    }

    #[test]
    fn dates_parse_as_chrono_does() {
        for s in [
            "2023-06-01",
            "2024-02-29",
            "2023-02-29",
            "2023-13-01",
            "2023-6-01",
            "2023-06-01T10:20:30Z",
            "2023-06-01T10:20:30+02:00",
            "2023-06-01 10:20",
            "2023/06/01",
            "+2023-06-1",
            "20230601",
            "",
            "2023-06-0x",
        ] {
            let chrono = DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|t| t.and_utc())
                });
            assert_eq!(parse_date(s), chrono, "{s}");
        }
        assert!(parse_date("2023-06-01").is_some());
    }

    #[test]
    fn history_to_instructions() {
        assert_eq!(
            history_line("/bin/sh -c #(nop)  CMD [\"bash\"]"),
            ("CMD".into(), "[\"bash\"]".into())
        );
        assert_eq!(
            history_line("/bin/sh -c apt-get update"),
            ("RUN".into(), "apt-get update".into())
        );
        assert_eq!(
            history_line("EXPOSE map[80/tcp:{}]"),
            ("EXPOSE".into(), "map[80/tcp:{}]".into())
        );
        assert_eq!(history_line("|1 A=b /bin/sh -c make").0, "RUN");
    }

    #[test]
    fn dockerfile_parse_joins_continuations() {
        let lines = parse_dockerfile("FROM debian\n# c\nRUN a \\\n  b\nUSER app\n");
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1].0, "RUN");
        assert!(lines[1].1.contains('b'));
    }
}
