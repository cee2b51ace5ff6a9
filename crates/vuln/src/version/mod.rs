//! Version ordering and range satisfaction for every supported ecosystem, behind one [`Scheme`] enum.

mod apk;
mod composer;
mod dpkg;
mod gem;
mod maven;
mod nuget;
mod rpm;

use std::cmp::Ordering;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A version scheme (how one ecosystem orders its versions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Debian `dpkg`.
    Dpkg,
    /// RPM (epoch, `~`, `^`).
    Rpm,
    /// Alpine `apk`.
    Apk,
    /// Python PEP 440.
    Pep440,
    /// SemVer 2.0 with npm range syntax.
    Semver,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems.
    Gem,
    /// Go modules (semver with `v`, pseudo-versions, `+incompatible`; also `go1.21` toolchain versions).
    Go,
    /// Cargo (semver, Cargo requirement syntax).
    Cargo,
    /// NuGet.
    Nuget,
    /// Composer (Packagist).
    Composer,
}

impl Scheme {
    /// Every scheme, in a stable order.
    pub const ALL: [Scheme; 11] = [
        Scheme::Dpkg,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Pep440,
        Scheme::Semver,
        Scheme::Maven,
        Scheme::Gem,
        Scheme::Go,
        Scheme::Cargo,
        Scheme::Nuget,
        Scheme::Composer,
    ];

    /// The scheme's command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Pep440 => "pep440",
            Scheme::Semver => "semver",
            Scheme::Maven => "maven",
            Scheme::Gem => "gem",
            Scheme::Go => "go",
            Scheme::Cargo => "cargo",
            Scheme::Nuget => "nuget",
            Scheme::Composer => "composer",
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scheme {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scheme::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| VersionError {
                scheme: s.to_string(),
                input: s.to_string(),
                reason: format!(
                    "unknown version scheme; use one of {}",
                    Scheme::ALL.map(|x| x.as_str()).join(", ")
                ),
            })
    }
}

/// A version or range that its scheme cannot parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scheme} version `{input}`: {reason}")]
pub struct VersionError {
    /// The scheme.
    pub scheme: String,
    /// The offending input.
    pub input: String,
    /// Why it was rejected.
    pub reason: String,
}

fn err(scheme: Scheme, input: &str, reason: impl std::fmt::Display) -> VersionError {
    VersionError {
        scheme: scheme.to_string(),
        input: input.to_string(),
        reason: reason.to_string(),
    }
}

/// Go versions: strip `v`/`go`, pad `1.21` to `1.21.0`, turn toolchain `1.21rc1` into `1.21.0-rc1`.
fn go_version(v: &str) -> Result<semver::Version, String> {
    let v = v.trim();
    let s = v
        .strip_prefix('v')
        .or_else(|| v.strip_prefix("go"))
        .unwrap_or(v);
    if let Ok(x) = semver::Version::parse(s) {
        return Ok(x);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (nums, rest) = s.split_at(split);
    let mut parts: Vec<&str> = nums.split('.').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(format!("`{v}` is not a Go module or toolchain version"));
    }
    while parts.len() < 3 {
        parts.push("0");
    }
    let rest = match rest.chars().next() {
        Some('-' | '+') | None => rest.to_string(),
        Some(_) => format!("-{rest}"),
    };
    semver::Version::parse(&format!("{}{rest}", parts.join(".")))
        .map_err(|e| format!("`{v}` is not a Go version: {e}"))
}

fn npm_version(v: &str) -> Result<nodejs_semver::Version, String> {
    nodejs_semver::Version::parse(v.trim()).map_err(|e| e.to_string())
}

fn pep440(v: &str) -> Result<pep440_rs::Version, String> {
    pep440_rs::Version::from_str(v.trim()).map_err(|e| e.to_string())
}

fn raw_compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, String> {
    match scheme {
        Scheme::Dpkg => dpkg::compare(a, b),
        Scheme::Rpm => rpm::compare(a, b),
        Scheme::Apk => apk::compare(a, b),
        Scheme::Pep440 => Ok(pep440(a)?.cmp(&pep440(b)?)),
        Scheme::Semver => Ok(npm_version(a)?.cmp(&npm_version(b)?)),
        Scheme::Maven => maven::compare(a, b),
        Scheme::Gem => gem::compare(a, b),
        Scheme::Go => Ok(go_version(a)?.cmp_precedence(&go_version(b)?)),
        Scheme::Cargo => {
            let p = |v: &str| semver::Version::parse(v.trim()).map_err(|e| e.to_string());
            Ok(p(a)?.cmp_precedence(&p(b)?))
        }
        Scheme::Nuget => nuget::compare(a, b),
        Scheme::Composer => composer::compare(a, b),
    }
}

/// Compares two versions of one scheme.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, VersionError> {
    raw_compare(scheme, a, b).map_err(|reason| {
        // name the side that fails to parse
        let bad = if raw_compare(scheme, a, a).is_err() {
            a
        } else {
            b
        };
        err(scheme, bad, reason)
    })
}

/// Checks that `v` parses in `scheme`.
pub fn validate(scheme: Scheme, v: &str) -> Result<(), VersionError> {
    match scheme {
        Scheme::Dpkg => dpkg::validate(v).map_err(|e| err(scheme, v, e)),
        Scheme::Apk => apk::validate(v).map_err(|e| err(scheme, v, e)),
        _ => compare(scheme, v, v).map(|_| ()),
    }
}

/// Whether `version` satisfies `range` in `scheme`'s range syntax:
/// npm ranges for `semver` (`>=1.2.3 <2 || ^3.1`), PEP 440 specifiers for `pep440` (`>=1.0,<2.0`),
/// Maven/NuGet intervals for `maven`/`nuget` (`[1.0,2.0)`, `(,1.2]`), Cargo requirements for `cargo`,
/// RubyGems requirements for `gem` (`~> 2.1, >= 2.1.3`), and for the others a list of comparisons
/// (`>= 1.0, < 2.0`, alternatives separated by `||`).
pub fn satisfies(scheme: Scheme, version: &str, range: &str) -> Result<bool, VersionError> {
    let r = range.trim();
    match scheme {
        Scheme::Semver => {
            let v = npm_version(version).map_err(|e| err(scheme, version, e))?;
            let range =
                nodejs_semver::Range::parse(r).map_err(|e| err(scheme, range, e.to_string()))?;
            Ok(range.satisfies(&v))
        }
        Scheme::Pep440 => {
            let v = pep440(version).map_err(|e| err(scheme, version, e))?;
            let spec = pep440_rs::VersionSpecifiers::from_str(r)
                .map_err(|e| err(scheme, range, e.to_string()))?;
            Ok(spec.contains(&v))
        }
        Scheme::Maven | Scheme::Nuget => {
            maven::in_intervals(version, r, |a, b| raw_compare(scheme, a, b))
                .map_err(|e| err(scheme, range, e))
        }
        Scheme::Cargo => {
            let v = semver::Version::parse(version.trim()).map_err(|e| err(scheme, version, e))?;
            let req = semver::VersionReq::parse(r).map_err(|e| err(scheme, range, e))?;
            Ok(req.matches(&v))
        }
        Scheme::Gem => gem::satisfies(version, r).map_err(|e| err(scheme, range, e)),
        _ => comparisons(scheme, version, r),
    }
}

/// Generic `op version` lists: `>= 1.0, < 2.0 || = 3.0`.
fn comparisons(scheme: Scheme, version: &str, range: &str) -> Result<bool, VersionError> {
    for alt in range.split("||") {
        let mut all = true;
        let mut any_term = false;
        for term in alt.split(',').flat_map(split_terms) {
            any_term = true;
            let (op, v) = term;
            let c = compare(scheme, version, v)?;
            let ok = match op {
                ">=" => c != Ordering::Less,
                ">" => c == Ordering::Greater,
                "<=" => c != Ordering::Greater,
                "<" => c == Ordering::Less,
                "!=" => c != Ordering::Equal,
                "=" | "==" | "" => c == Ordering::Equal,
                other => return Err(err(scheme, range, format!("unknown operator `{other}`"))),
            };
            all &= ok;
        }
        if any_term && all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Splits `>= 1.0 < 2.0` (space-separated, operator optionally detached) into (op, version) terms.
fn split_terms(s: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut pending_op: Option<&str> = None;
    for tok in s.split_whitespace() {
        let end = tok.find(|c: char| !"<>=!".contains(c)).unwrap_or(tok.len());
        let (op, v) = tok.split_at(end);
        if v.is_empty() {
            pending_op = Some(op);
        } else {
            let op = if op.is_empty() {
                pending_op.take().unwrap_or("")
            } else {
                op
            };
            out.push((op, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_pseudo_versions_and_incompatible() {
        let c = |a, b| compare(Scheme::Go, a, b).unwrap();
        assert_eq!(
            c("v0.0.0-20210101000000-abcdefabcdef", "v0.0.1"),
            Ordering::Less
        );
        assert_eq!(
            c("v1.2.4-0.20210101000000-abcdefabcdef", "v1.2.3"),
            Ordering::Greater
        );
        assert_eq!(c("v2.0.0+incompatible", "v2.0.0"), Ordering::Equal);
        assert_eq!(c("go1.21rc1", "1.21.0"), Ordering::Less);
        assert_eq!(c("1.21", "1.21.0"), Ordering::Equal);
    }

    #[test]
    fn ranges() {
        assert!(satisfies(Scheme::Semver, "1.2.5", ">=1.2.3 <2.0.0").unwrap());
        assert!(!satisfies(Scheme::Semver, "2.0.0", "^1.2.3").unwrap());
        assert!(satisfies(Scheme::Pep440, "2.31.0", ">=2.0,<2.32").unwrap());
        assert!(!satisfies(Scheme::Pep440, "2.32.0", ">=2.0,<2.32").unwrap());
        assert!(satisfies(Scheme::Maven, "2.14.1", "[2.0,2.15.0)").unwrap());
        assert!(satisfies(Scheme::Dpkg, "2.36-9", ">= 2.0, < 2.36-9+deb12u3").unwrap());
        assert!(satisfies(Scheme::Dpkg, "3.0", "< 1.0 || >= 3.0").unwrap());
        assert!(satisfies(Scheme::Cargo, "1.2.3", "^1.2").unwrap());
    }

    #[test]
    fn errors_name_the_bad_input() {
        let e = compare(Scheme::Pep440, "1.0", "not a version").unwrap_err();
        assert_eq!(e.input, "not a version");
        assert!("nope".parse::<Scheme>().is_err());
        assert!(satisfies(Scheme::Semver, "1.0.0", ">>>x").is_err());
    }
}
