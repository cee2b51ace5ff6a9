//! Parameter parsing and comparisons shared by several gates.

use portcullis_sbom::PackageType;
use regex::Regex;

use super::Params;

/// Operating-system package ecosystems (Anchore's "os" package class).
pub(crate) fn is_os(t: PackageType) -> bool {
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
    pub(crate) fn parse(v: Option<&String>) -> Class {
        match v.map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("os") => Class::Os,
            Some("non-os") => Class::NonOs,
            _ => Class::All,
        }
    }

    pub(crate) fn admits(self, t: PackageType) -> bool {
        self.admits_os(is_os(t))
    }

    /// As [`Class::admits`], given whether the package is an OS package.
    pub(crate) fn admits_os(self, os: bool) -> bool {
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
    pub(crate) fn parse(s: &str) -> Option<Cmp> {
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

    pub(crate) fn with_default(v: Option<&String>, default: Cmp) -> Cmp {
        v.and_then(|s| Cmp::parse(s.trim())).unwrap_or(default)
    }

    pub(crate) fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
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
    /// The comparison.
    pub cmp: Cmp,
    /// The threshold.
    pub value: f64,
}

/// A comma-separated list parameter, items trimmed, empty items dropped.
pub(crate) fn list(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// A boolean parameter (`true` in any case; anything else is false).
pub(crate) fn boolean(v: Option<&String>) -> Option<bool> {
    v.map(|s| s.trim().eq_ignore_ascii_case("true"))
}

/// Python's `re.match`: anchored at the start only.
pub(crate) fn re_match(pattern: &str, what: &str) -> Result<Regex, String> {
    crate::pattern::user_regex(&format!("^(?:{pattern})")).map_err(|e| {
        let why = e.to_string();
        let why = why
            .lines()
            .last()
            .unwrap_or("")
            .trim_start_matches("error: ");
        format!("parameter `{what}` is not a valid regex (`{pattern}`): {why}")
    })
}

/// The score condition of parameter `name` (and its `{name}_comparison`, default `>=`), when given.
pub(crate) fn score(params: &Params, name: &str) -> Option<Score> {
    let value = params.get(name)?.trim().parse::<f64>().ok()?;
    Some(Score {
        cmp: Cmp::with_default(params.get(&format!("{name}_comparison")), Cmp::Ge),
        value,
    })
}

/// The version scheme of an OS package type.
pub(crate) fn os_scheme(t: PackageType) -> portcullis_vuln::Scheme {
    match t {
        PackageType::Rpm => portcullis_vuln::Scheme::Rpm,
        PackageType::Apk => portcullis_vuln::Scheme::Apk,
        _ => portcullis_vuln::Scheme::Dpkg,
    }
}
