//! The database's record types: what an advisory says about one package in one namespace.

use serde::{Deserialize, Serialize};

use crate::{Cvss, FixState, Scheme, Severity};

/// Which versions of a package a record covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Range {
    /// Every version.
    All,
    /// `introduced <= v < fixed` / `v <= last_affected` (OSV events; `introduced` absent or `0` = from the start).
    Interval {
        /// First affected version.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        introduced: Option<String>,
        /// First fixed version (exclusive bound).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fixed: Option<String>,
        /// Last affected version (inclusive bound).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_affected: Option<String>,
    },
    /// Exactly this version (compared as a string, ignoring a leading `v`).
    Exact(String),
    /// Versions satisfying a range expression in the scheme's syntax (npm ranges, PEP 440 specifiers, …).
    Expr(String),
    /// Every version that satisfies none of these requirements (RubyGems `patched_versions` +
    /// `unaffected_versions`).
    Unless(Vec<String>),
}

/// What one advisory says about one package in one namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    /// Vulnerability id (`CVE-…`, `GHSA-…`, `GO-…`).
    pub vuln_id: String,
    /// Namespace: `debian:12`, `ubuntu:22.04`, `alpine:3.18`, `pypi`, `npm`, `go`, `crates.io`, `maven`,
    /// `rubygems`, `packagist`, `nuget`.
    pub namespace: String,
    /// Package name, normalised with [`normalize_name`] (for distros: the source package name).
    pub package: String,
    /// Affected version ranges (a version is affected when any range covers it).
    pub ranges: Vec<Range>,
    /// Fix state stated by the record.
    pub fix_state: FixState,
    /// First fixed version, when the record names one (several space-separated candidates for OSV, npm and gem
    /// records: the matcher picks the smallest above the installed version).
    pub fixed_in: Option<String>,
    /// Vendor severity for this package, when the record gives one.
    pub severity: Option<Severity>,
    /// Precedence among records for the same (vulnerability, namespace, package): higher wins
    /// (Debian: 3 explicit release line, 2 DSA/DLA fix, 1 inherited from unstable).
    pub priority: u8,
}

/// Vulnerability-level data (not per package).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct VulnInfo {
    /// Vulnerability id.
    pub id: String,
    /// Which data set said it (`nvd`, `osv`, `debian`, `alpine`, `nodejs`, `rubysec`).
    pub origin: String,
    /// Other ids.
    pub aliases: Vec<String>,
    /// Severity stated by this origin.
    pub severity: Option<Severity>,
    /// CVSS scores.
    pub cvss: Vec<Cvss>,
    /// Short description.
    pub description: Option<String>,
    /// Publication date.
    pub published: Option<String>,
    /// Reference URL.
    pub url: Option<String>,
    /// Withdrawn (OSV `withdrawn`, NVD `Rejected`): kept for explanations, never matched.
    pub withdrawn: bool,
    /// Last modification date, when the origin gives one (NVD `lastModified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// CWE ids (`CWE-79`), when the origin gives them (NVD `weaknesses`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwes: Vec<String>,
}

/// An EPSS score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    /// CVE id.
    pub cve: String,
    /// Probability of exploitation in the next 30 days.
    pub score: f64,
    /// Percentile.
    pub percentile: f64,
}

/// Normalises a package name the way its ecosystem compares names (PyPI: PEP 503; NuGet, Packagist: case).
pub fn normalize_name(namespace: &str, name: &str) -> String {
    match namespace {
        "pypi" => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.push(c.to_ascii_lowercase());
                }
            }
            out
        }
        "nuget" | "packagist" => name.trim().to_ascii_lowercase(),
        _ => name.trim().to_string(),
    }
}

/// The version scheme of a namespace.
pub fn scheme_for_namespace(namespace: &str) -> Option<Scheme> {
    let family = namespace.split(':').next().unwrap_or(namespace);
    Some(match family {
        "debian" | "ubuntu" | "ubuntu-pro" => Scheme::Dpkg,
        "alpine" | "wolfi" | "chainguard" => Scheme::Apk,
        "rhel"
        | "centos"
        | "rocky"
        | "almalinux"
        | "fedora"
        | "amazon"
        | "oraclelinux"
        | "sles"
        | "sle-micro"
        | "opensuse"
        | "opensuse-leap"
        | "opensuse-leap-micro"
        | "opensuse-tumbleweed"
        | "mariner"
        | "photon" => Scheme::Rpm,
        "pypi" => Scheme::Pep440,
        "npm" | "nodejs" => Scheme::Semver,
        "go" => Scheme::Go,
        "crates.io" => Scheme::Cargo,
        "maven" => Scheme::Maven,
        "rubygems" => Scheme::Gem,
        "packagist" => Scheme::Composer,
        "nuget" => Scheme::Nuget,
        _ => return None,
    })
}

/// Debian release codename → namespace (`bookworm` → `debian:12`, `sid` → `debian:unstable`).
pub fn debian_namespace(release: &str) -> Option<String> {
    let n = match release.trim().to_ascii_lowercase().as_str() {
        "sid" | "unstable" => return Some("debian:unstable".into()),
        "forky" => "14",
        "trixie" => "13",
        "bookworm" => "12",
        "bullseye" => "11",
        "buster" => "10",
        "stretch" => "9",
        "jessie" => "8",
        "wheezy" => "7",
        "squeeze" => "6",
        "lenny" => "5",
        "etch" => "4",
        "sarge" => "3.1",
        _ => return None,
    };
    Some(format!("debian:{n}"))
}

/// Debian releases that inherit the unstable status when a record has no line of their own.
pub const DEBIAN_INHERITING: [&str; 4] = ["debian:10", "debian:11", "debian:12", "debian:13"];

/// Maps an OSV ecosystem (`PyPI`, `Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.18`) to a namespace.
pub fn osv_namespace(ecosystem: &str) -> Option<String> {
    let mut parts = ecosystem.split(':');
    let head = parts.next()?.trim();
    let rest: Vec<&str> = parts.collect();
    let ns = match head {
        "Go" => "go".to_string(),
        "crates.io" => "crates.io".to_string(),
        "PyPI" => "pypi".to_string(),
        "npm" => "npm".to_string(),
        "Maven" => "maven".to_string(),
        "RubyGems" => "rubygems".to_string(),
        "Packagist" => "packagist".to_string(),
        "NuGet" => "nuget".to_string(),
        "Debian" => format!("debian:{}", rest.first()?),
        "Alpine" => format!("alpine:{}", rest.first()?.trim_start_matches('v')),
        "Ubuntu" => {
            if rest.first() == Some(&"Pro") {
                format!("ubuntu-pro:{}", rest.get(1)?)
            } else {
                format!("ubuntu:{}", rest.first()?)
            }
        }
        "AlmaLinux" => format!("almalinux:{}", major(rest.first()?)?),
        "Rocky Linux" => format!("rocky:{}", major(rest.first()?)?),
        // `Red Hat:rhel_eus:9.2::appstream`, `Red Hat:enterprise_linux:9::baseos`: every RHEL stream of a major
        // release is the image's `rhel:<major>`; other Red Hat products (OpenShift, JBoss…) have no namespace
        "Red Hat" => {
            let product = rest.first()?;
            if !(product.starts_with("rhel") || product.starts_with("enterprise_linux")) {
                return None;
            }
            format!("rhel:{}", major(rest.get(1)?)?)
        }
        "SUSE" | "openSUSE" => suse_namespace(head, rest.first()?)?,
        "Wolfi" => "wolfi".to_string(),
        "Chainguard" => "chainguard".to_string(),
        _ => return None,
    };
    Some(ns)
}

/// The leading number of a release (`9.2` → `9`), when there is one.
fn major(release: &str) -> Option<&str> {
    let m = release.trim().split('.').next()?;
    (!m.is_empty() && m.bytes().all(|b| b.is_ascii_digit())).then_some(m)
}

/// SUSE OSV products → the os-release namespace of the systems that install them: `SUSE:Linux Enterprise Server
/// 15 SP5` (and its modules, Package Hub) → `sles:15.5`, `SUSE:Linux Enterprise Micro 5.5` → `sle-micro:5.5`,
/// `openSUSE:Leap 15.5` → `opensuse-leap:15.5`, `openSUSE:Tumbleweed` → `opensuse-tumbleweed`.
fn suse_namespace(vendor: &str, product: &str) -> Option<String> {
    let product = product.trim();
    if vendor == "openSUSE" {
        if product.starts_with("Tumbleweed") {
            return Some("opensuse-tumbleweed".into());
        }
        let family = if product.starts_with("Leap Micro") {
            "opensuse-leap-micro"
        } else if product.starts_with("Leap") {
            "opensuse-leap"
        } else {
            return None;
        };
        let ver = product.split_whitespace().last()?;
        return ver
            .starts_with(|c: char| c.is_ascii_digit())
            .then(|| format!("{family}:{ver}"));
    }
    let words: Vec<&str> = product.split_whitespace().collect();
    let vi = words
        .iter()
        .position(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let version = words[vi];
    if product.contains("Micro") {
        return Some(format!("sle-micro:{version}"));
    }
    let sp = words
        .get(vi + 1)
        .and_then(|w| w.strip_prefix("SP"))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    Some(match sp {
        Some(n) => format!("sles:{}.{n}", major(version)?),
        None => format!("sles:{version}"),
    })
}

/// Severity from a vendor word (`unimportant`, `low`, `moderate`, `medium`, `high`, `critical`; Debian's
/// trailing `*` marks are ignored). `None` for "not yet assigned" and unknown words.
pub fn severity_from_word(s: &str) -> Option<Severity> {
    let s = s.trim().trim_end_matches('*').to_ascii_lowercase();
    Some(match s.as_str() {
        "unimportant" | "negligible" | "none" | "info" | "informational" => Severity::Negligible,
        "low" => Severity::Low,
        "medium" | "moderate" => Severity::Medium,
        "high" | "important" => Severity::High,
        "critical" => Severity::Critical,
        _ => return None,
    })
}

/// Severity band of a CVSS v3/v4 base score.
pub fn severity_from_score(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        s if s > 0.0 => Severity::Low,
        _ => Severity::Negligible,
    }
}

/// CVSS v3.x base score from a vector string (`CVSS:3.1/AV:N/AC:L/…`).
///
/// Hand-written: the specification's formula is a dozen lines; no maintained crate in our dependency set computes
/// it. Returns `None` for other versions or malformed vectors.
pub fn cvss3_base_score(vector: &str) -> Option<f64> {
    cvss3_scores(vector).map(|(base, ..)| base)
}

/// CVSS v3.x (base, exploitability, impact) scores from a vector string, the sub-scores rounded to one decimal as
/// NVD shows them (`CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H` → 7.8, 1.8, 5.9). `None` for other versions or
/// malformed vectors.
pub fn cvss3_scores(vector: &str) -> Option<(f64, f64, f64)> {
    let mut parts = vector.split('/');
    if !parts.next()?.starts_with("CVSS:3") {
        return None;
    }
    let mut m = std::collections::HashMap::new();
    for p in parts {
        let (k, v) = p.split_once(':')?;
        m.insert(k, v);
    }
    let scope_changed = *m.get("S")? == "C";
    let av = match *m.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac = match *m.get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr = match (*m.get("PR")?, scope_changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui = match *m.get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| -> Option<f64> {
        Some(match *m.get(k)? {
            "H" => 0.56,
            "L" => 0.22,
            "N" => 0.0,
            _ => return None,
        })
    };
    let (c, i, a) = (cia("C")?, cia("I")?, cia("A")?);
    let iss = 1.0 - (1.0 - c) * (1.0 - i) * (1.0 - a);
    let impact = if scope_changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploit = 8.22 * av * ac * pr * ui;
    let one_decimal = |x: f64| (x * 10.0).round() / 10.0;
    if impact <= 0.0 {
        return Some((0.0, one_decimal(exploit), 0.0));
    }
    let raw = if scope_changed {
        (1.08 * (impact + exploit)).min(10.0)
    } else {
        (impact + exploit).min(10.0)
    };
    // CVSS 3.1 round-up to one decimal
    let int = (raw * 100_000.0).round() as i64;
    let base = if int % 10_000 == 0 {
        int as f64 / 100_000.0
    } else {
        ((int / 10_000) as f64 + 1.0) / 10.0
    };
    Some((base, one_decimal(exploit), one_decimal(impact)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss3_sub_scores_match_nvd() {
        // the figures of the real NVD records: CVE-2024-4467's vector (7.8 / 1.8 / 5.9), CVE-2023-24538
        // (9.8 / 3.9 / 5.9), CVE-2023-43804 NVD's (8.1 / 2.8 / 5.2) and GitHub's (5.9 / 0.7 / 5.2)
        assert_eq!(
            cvss3_scores("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"),
            Some((7.8, 1.8, 5.9))
        );
        assert_eq!(
            cvss3_scores("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some((9.8, 3.9, 5.9))
        );
        assert_eq!(
            cvss3_scores("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N"),
            Some((8.1, 2.8, 5.2))
        );
        assert_eq!(
            cvss3_scores("CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:H/A:N"),
            Some((5.9, 0.7, 5.2))
        );
    }

    #[test]
    fn cvss3_scores_match_nvd() {
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:H/A:N"),
            Some(6.5)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            Some(9.8)
        );
        assert_eq!(
            cvss3_base_score("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"),
            Some(10.0)
        );
        assert_eq!(cvss3_base_score("AV:N/AC:M/Au:N/C:N/I:P/A:N"), None);
    }

    #[test]
    fn names_and_namespaces() {
        assert_eq!(normalize_name("pypi", "Foo_Bar.baz"), "foo-bar-baz");
        assert_eq!(osv_namespace("Ubuntu:22.04:LTS").unwrap(), "ubuntu:22.04");
        assert_eq!(osv_namespace("Alpine:v3.18").unwrap(), "alpine:3.18");
        assert_eq!(debian_namespace("bookworm").unwrap(), "debian:12");
        assert!(osv_namespace("Hackage").is_none());
    }

    #[test]
    fn rpm_and_apk_distro_ecosystems() {
        let ns = |e| osv_namespace(e);
        assert_eq!(ns("AlmaLinux:9").as_deref(), Some("almalinux:9"));
        assert_eq!(ns("Rocky Linux:8").as_deref(), Some("rocky:8"));
        assert_eq!(
            ns("Red Hat:rhel_eus:9.2::appstream").as_deref(),
            Some("rhel:9")
        );
        assert_eq!(
            ns("Red Hat:enterprise_linux:8::baseos").as_deref(),
            Some("rhel:8")
        );
        assert_eq!(ns("Red Hat:openshift:4.12::el9"), None);
        assert_eq!(
            ns("SUSE:Linux Enterprise Server 15 SP5").as_deref(),
            Some("sles:15.5")
        );
        assert_eq!(
            ns("SUSE:Linux Enterprise Module for Basesystem 15 SP4").as_deref(),
            Some("sles:15.4")
        );
        assert_eq!(ns("SUSE:Package Hub 12").as_deref(), Some("sles:12"));
        assert_eq!(
            ns("SUSE:Linux Enterprise Micro 5.5").as_deref(),
            Some("sle-micro:5.5")
        );
        assert_eq!(
            ns("openSUSE:Leap 15.5").as_deref(),
            Some("opensuse-leap:15.5")
        );
        assert_eq!(
            ns("openSUSE:Tumbleweed").as_deref(),
            Some("opensuse-tumbleweed")
        );
        assert_eq!(ns("Wolfi").as_deref(), Some("wolfi"));
        assert_eq!(ns("Chainguard").as_deref(), Some("chainguard"));
        for n in [
            "almalinux:9",
            "rocky:8",
            "rhel:9",
            "sles:15.5",
            "opensuse-leap:15.5",
        ] {
            assert_eq!(scheme_for_namespace(n), Some(Scheme::Rpm), "{n}");
        }
        assert_eq!(scheme_for_namespace("wolfi"), Some(Scheme::Apk));
    }
}
