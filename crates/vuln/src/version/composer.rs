//! Composer (Packagist) version ordering: composer/semver's `VersionParser::normalize` (`v` prefix, up to four
//! numeric parts padded to four, stability suffixes `-beta2`/`-RC1`/`-patch1`/`-dev`, date versions, `1.x-dev`
//! wildcard branches, `+build` and `@stability` stripped) followed by PHP's `version_compare`, as composer/semver's
//! `Comparator` does.
//!
//! Hand-written: no Rust crate implements Composer's normaliser or PHP's `version_compare` special forms
//! (`dev < alpha = a < beta = b < RC = rc < # < pl = p`). Both are ports of the PHP sources (composer/semver 3.x
//! `VersionParser.php`, php-src `ext/standard/versioning.c`); the differential test runs the real ones.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

/// composer/semver's `$modifierRegex` (its possessive quantifiers written greedily: no difference for a match).
const MODIFIER: &str =
    r"[._-]?(?:(stable|beta|b|RC|alpha|a|patch|pl|p)((?:[.-]?\d+)*)?)?([.-]?dev)?";

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

static ALIAS: LazyLock<Regex> = LazyLock::new(|| re(r"^([^,\s]+) +as +([^,\s]+)$"));
static STABILITY_FLAG: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)@(?:stable|RC|beta|alpha|dev)$"));
static BUILD: LazyLock<Regex> = LazyLock::new(|| re(r"^([^,\s+]+)\+[^\s]+$"));
static CLASSICAL: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)^v?(\d{{1,5}})(\.\d+)?(\.\d+)?(\.\d+)?{MODIFIER}$"
    ))
});
static DATETIME: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?i)^v?(\d{{4}}(?:[.:-]?\d{{2}}){{1,6}}(?:[.:-]?\d{{1,3}})?){MODIFIER}$"
    ))
});
static DEV_SUFFIX: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)^(.*?)[.-]?dev$"));
static BRANCH: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^v?(\d+)(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?(\.(?:\d+|[xX*]))?$"));

fn expand_stability(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "a" => "alpha".into(),
        "b" => "beta".into(),
        "p" | "pl" => "patch".into(),
        "rc" => "RC".into(),
        other => other.into(),
    }
}

/// `VersionParser::normalizeBranch` for a numeric branch (`1.x`, `2.1.*`); `None` for a named branch.
fn normalize_branch(name: &str) -> Option<String> {
    let c = BRANCH.captures(name.trim())?;
    let mut v = String::new();
    for i in 1..5 {
        match c.get(i) {
            Some(m) => v.push_str(&m.as_str().replace(['*', 'X'], "x")),
            None => v.push_str(".x"),
        }
    }
    Some(format!("{}-dev", v.replace('x', "9999999")))
}

/// `VersionParser::normalize`; a `dev-` branch is refused (branches have no order).
pub fn normalize(input: &str) -> Result<String, String> {
    let mut v = input.trim().to_string();
    if let Some(c) = ALIAS.captures(&v) {
        v = c[1].to_string();
    }
    if let Some(m) = STABILITY_FLAG.find(&v) {
        v.truncate(m.start());
    }
    if ["master", "trunk", "default"].contains(&v.as_str())
        || v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("dev-"))
    {
        return Err(format!(
            "`{input}` is a development branch, which has no version order"
        ));
    }
    if let Some(c) = BUILD.captures(&v) {
        v = c[1].to_string();
    }
    let matched = if let Some(c) = CLASSICAL.captures(&v) {
        let part = |i: usize| c.get(i).map_or("", |m| m.as_str());
        let or_zero = |s: &str| {
            if s.is_empty() {
                ".0".to_string()
            } else {
                s.to_string()
            }
        };
        let version = format!(
            "{}{}{}{}",
            part(1),
            or_zero(part(2)),
            or_zero(part(3)),
            or_zero(part(4))
        );
        Some((
            version,
            part(5).to_string(),
            part(6).to_string(),
            part(7).to_string(),
        ))
    } else if let Some(c) = DATETIME.captures(&v) {
        let part = |i: usize| c.get(i).map_or("", |m| m.as_str());
        let version: String = part(1)
            .chars()
            .map(|ch| if ch.is_ascii_digit() { ch } else { '.' })
            .collect();
        Some((
            version,
            part(2).to_string(),
            part(3).to_string(),
            part(4).to_string(),
        ))
    } else {
        None
    };
    if let Some((mut version, stability, number, dev)) = matched {
        if !stability.is_empty() {
            if stability == "stable" {
                return Ok(version);
            }
            version.push('-');
            version.push_str(&expand_stability(&stability));
            version.push_str(number.trim_start_matches(['.', '-']));
        }
        if !dev.is_empty() {
            version.push_str("-dev");
        }
        return Ok(version);
    }
    if let Some(c) = DEV_SUFFIX.captures(&v)
        && let Some(n) = normalize_branch(&c[1])
    {
        return Ok(n);
    }
    Err(format!(
        "`{input}` is not a Composer version (e.g. `1.2.3`, `v2.0.0-beta1`, `1.0.0-RC2`, `2.x-dev`)"
    ))
}

/// php-src `php_canonicalize_version`: `-`, `_`, `+` and other non-alphanumerics become `.`, and a `.` goes
/// between a digit and a non-digit.
fn canonicalize(v: &[u8]) -> Vec<u8> {
    let Some((&first, rest)) = v.split_first() else {
        return Vec::new();
    };
    let isdig = |c: u8| c.is_ascii_digit();
    let isndig = |c: u8| !c.is_ascii_digit() && c != b'.';
    let mut q = vec![first];
    let mut lp = first;
    for &p in rest {
        let lq = *q.last().unwrap_or(&0);
        if matches!(p, b'-' | b'_' | b'+') {
            if lq != b'.' {
                q.push(b'.');
            }
        } else if (isndig(lp) && isdig(p)) || (isdig(lp) && isndig(p)) {
            if lq != b'.' {
                q.push(b'.');
            }
            q.push(p);
        } else if !p.is_ascii_alphanumeric() {
            if lq != b'.' {
                q.push(b'.');
            }
        } else {
            q.push(p);
        }
        lp = p;
    }
    q
}

/// php-src `compare_special_version_forms`: by the first listed form each one starts with; unknown forms lowest.
fn special(form: &[u8]) -> i32 {
    const FORMS: [(&str, i32); 10] = [
        ("dev", 0),
        ("alpha", 1),
        ("a", 1),
        ("beta", 2),
        ("b", 2),
        ("RC", 3),
        ("rc", 3),
        ("#", 4),
        ("pl", 5),
        ("p", 5),
    ];
    FORMS
        .iter()
        .find(|(f, _)| form.starts_with(f.as_bytes()))
        .map_or(-1, |(_, n)| *n)
}

/// C `strtol` of a digit run (saturating, as `strtol` does).
fn strtol(s: &[u8]) -> i64 {
    s.iter()
        .take_while(|c| c.is_ascii_digit())
        .fold(0i64, |n, &c| {
            n.saturating_mul(10).saturating_add(i64::from(c - b'0'))
        })
}

/// php-src `php_version_compare`.
fn php_version_compare(v1: &[u8], v2: &[u8]) -> Ordering {
    if v1.is_empty() || v2.is_empty() {
        return (!v1.is_empty()).cmp(&!v2.is_empty());
    }
    let canon = |v: &[u8]| {
        if v[0] == b'#' {
            v.to_vec()
        } else {
            canonicalize(v)
        }
    };
    let (a, b) = (canon(v1), canon(v2));
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let find_dot = |s: &[u8], from: usize| {
        s[from.min(s.len())..]
            .iter()
            .position(|&c| c == b'.')
            .map(|i| from + i)
    };
    let (mut p1, mut p2) = (0usize, 0usize);
    let (mut n1, mut n2) = (Some(0usize), Some(0usize));
    let mut compare = Ordering::Equal;
    while at(&a, p1) != 0 && at(&b, p2) != 0 && n1.is_some() && n2.is_some() {
        n1 = find_dot(&a, p1);
        n2 = find_dot(&b, p2);
        let s1 = &a[p1..n1.unwrap_or(a.len())];
        let s2 = &b[p2..n2.unwrap_or(b.len())];
        let (d1, d2) = (at(s1, 0).is_ascii_digit(), at(s2, 0).is_ascii_digit());
        compare = match (d1, d2) {
            (true, true) => strtol(s1).cmp(&strtol(s2)),
            (false, false) => special(s1).cmp(&special(s2)),
            (true, false) => special(b"#N#").cmp(&special(s2)),
            (false, true) => special(s1).cmp(&special(b"#N#")),
        };
        if compare.is_ne() {
            break;
        }
        if let Some(n) = n1 {
            p1 = n + 1;
        }
        if let Some(n) = n2 {
            p2 = n + 1;
        }
    }
    if compare.is_eq() {
        if n1.is_some() {
            compare = if at(&a, p1).is_ascii_digit() {
                Ordering::Greater
            } else {
                php_version_compare(&a[p1.min(a.len())..], b"#N#")
            };
        } else if n2.is_some() {
            compare = if at(&b, p2).is_ascii_digit() {
                Ordering::Less
            } else {
                php_version_compare(b"#N#", &b[p2.min(b.len())..])
            };
        }
    }
    compare
}

/// Compares two Composer versions: both normalised, then ordered by `version_compare`.
pub fn compare(a: &str, b: &str) -> Result<Ordering, String> {
    let (a, b) = (normalize(a)?, normalize(b)?);
    Ok(php_version_compare(a.as_bytes(), b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_known_pairs() {
        let lt = |a, b| assert_eq!(compare(a, b).unwrap(), Ordering::Less, "{a} < {b}");
        lt("1.0.0-beta2", "1.0.0");
        lt("1.0.0-RC1", "1.0.0");
        lt("1.0.0-alpha", "1.0.0-beta");
        lt("1.0.0", "1.0.0-p1");
        lt("v2.9.9", "2.10");
        lt("1.0.0-dev", "1.0.0-alpha1");
        lt("1.0.0-RC2", "1.0.0");
        lt("2.1.x-dev", "2.2.0");
        lt("1.0.0.9", "1.0.0.10");
        assert_eq!(compare("v1.2", "1.2.0").unwrap(), Ordering::Equal);
        assert_eq!(compare("1.2.3.4", "v1.2.3.4").unwrap(), Ordering::Equal);
        assert_eq!(compare("1.0.0-stable", "1.0.0").unwrap(), Ordering::Equal);
        assert_eq!(compare("1.0.0+build5", "1.0.0").unwrap(), Ordering::Equal);
        assert_eq!(
            compare("1.0.0-pl1", "1.0.0-patch1").unwrap(),
            Ordering::Equal
        );
        assert_eq!(
            normalize("2.x-dev").unwrap(),
            "2.9999999.9999999.9999999-dev"
        );
        assert_eq!(normalize("1.0.0-b2").unwrap(), "1.0.0.0-beta2");
        assert_eq!(normalize("20230131").unwrap(), "20230131");
        assert_eq!(normalize("2023-01-31").unwrap(), "2023.01.31");
        assert!(compare("dev-main", "1.0").is_err());
        assert!(compare("1.2.3.4.5", "1.0").is_err());
        assert!(compare("not a version", "1.0").is_err());
    }
}
