//! Version schemes, advisory importers, the vulnerability database and the matcher.
//!
//! Input: an [`portcullis_sbom::Sbom`]. Output: [`Finding`]s, each carrying the database version it came from.

use serde::{Deserialize, Serialize};

mod aliases;
pub mod db;
pub mod import;
mod matcher;
pub mod model;
pub mod report;
pub mod sync;
pub mod triage;
pub mod version;

pub use db::{
    ImportReport, Index, Provenance, Status, VulnDb, install_bundle, is_bundle, resolve_db_path,
};
pub use import::BadRecord;
pub use matcher::distro_namespace;
pub use version::{Scheme, VersionError, compare, satisfies};

/// Severity, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// No severity known.
    #[default]
    Unknown,
    /// Negligible / unimportant.
    Negligible,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 6] = [
        Severity::Unknown,
        Severity::Negligible,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name the JSON and the database use (`high`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Negligible => "negligible",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of [`Severity::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{given}`; use negligible, low, medium, high or critical")]
pub struct UnknownSeverity {
    /// The name given.
    pub given: String,
}

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;

    /// Parses the name [`Severity::as_str`] writes, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownSeverity {
                given: s.to_ascii_lowercase(),
            })
    }
}

/// Whether (and how) a vulnerability is fixed for the matched package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FixState {
    /// A fixed version exists (`Finding::fixed_in`).
    Fixed,
    /// No fix is available yet.
    NotFixed,
    /// The vendor will not fix it (Debian `no-dsa`/`ignored`/`postponed`, …).
    WontFix,
    /// The vendor says the package is not affected (never reported as a finding, kept for explanations).
    NotAffected,
    /// Unknown.
    #[default]
    Unknown,
}

impl FixState {
    /// The kebab-case name the JSON and the database use (`not-fixed`).
    pub fn as_str(self) -> &'static str {
        match self {
            FixState::Fixed => "fixed",
            FixState::NotFixed => "not-fixed",
            FixState::WontFix => "wont-fix",
            FixState::NotAffected => "not-affected",
            FixState::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for FixState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CVSS score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// Who scored it (`nvd`, `debian`, `ghsa`, …).
    pub source: String,
    /// CVSS version (`3.1`, `4.0`, …).
    pub version: String,
    /// The vector string.
    pub vector: String,
    /// Base score.
    pub base_score: f64,
    /// Exploitability sub-score, when known.
    pub exploitability_score: Option<f64>,
    /// Impact sub-score, when known.
    pub impact_score: Option<f64>,
}

/// One vulnerability matched to one package of an SBOM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Vulnerability id (`CVE-2023-0286`, `GHSA-…`, `RUSTSEC-…`).
    pub id: String,
    /// Other ids of the same vulnerability (aliases).
    pub aliases: Vec<String>,
    /// Matched package name.
    pub package_name: String,
    /// Matched package version.
    pub package_version: String,
    /// Matched package type.
    pub package_type: portcullis_sbom::PackageType,
    /// Where the package was found.
    pub package_location: String,
    /// The namespace the record came from (`debian:12`, `alpine:3.18`, `pypi`, `npm`, …).
    pub namespace: String,
    /// Severity (vendor first, NVD as fallback).
    pub severity: Severity,
    /// CVSS scores known for the vulnerability.
    pub cvss: Vec<Cvss>,
    /// Fix state for this package.
    pub fix_state: FixState,
    /// The first fixed version, when there is one.
    pub fixed_in: Option<String>,
    /// When the fix was published, when known (RFC 3339 date).
    pub fix_date: Option<String>,
    /// When the vulnerability was published, when known (RFC 3339 date).
    pub published: Option<String>,
    /// Reference URL.
    pub url: Option<String>,
    /// Short description.
    pub description: Option<String>,
    /// On CISA's Known Exploited Vulnerabilities list.
    pub kev: bool,
    /// EPSS probability (0..1), when known.
    pub epss: Option<f64>,
    /// Why this finding is suppressed (set on the findings of [`MatchReport::suppressed`] only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<triage::Suppression>,
    /// What a VEX document said about a finding it did not suppress (affected, under investigation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<triage::VexNote>,
}

/// The result of matching one SBOM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MatchReport {
    /// Findings, sorted by (severity desc, id, package).
    pub findings: Vec<Finding>,
    /// Version of the vulnerability database used.
    pub db_version: String,
    /// Packages that were not checked because the database has no data for their distro release or ecosystem
    /// (or their distro was not recognised), grouped by namespace: "no findings" does not mean "no
    /// vulnerabilities" for them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmatched: Vec<Unmatched>,
    /// What the database had data for (absent in reports made before coverage was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    /// Findings suppressed by an ignore rule or a VEX statement: kept with their reason, never counted by
    /// gates (`--fail-on`, policy triggers), which read [`MatchReport::findings`] only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Finding>,
    /// Problems met while applying triage (an expired ignore rule, a VEX statement naming no known package).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triage_warnings: Vec<String>,
}

/// Most packages listed by name in [`Coverage::packages_without_data`] (the count is always exact).
pub const MAX_UNCOVERED_LISTED: usize = 500;

/// What the vulnerability data covered for one SBOM: how fresh it was and which packages had nothing to be
/// matched against, so that missing data is never mistaken for "no vulnerabilities".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Coverage {
    /// When the data this SBOM was matched against was last synced (RFC 3339): the oldest import among the
    /// sources of the namespaces it used, else the oldest import of all; `None` when nothing was imported.
    pub synced_at: Option<String>,
    /// The namespace of the image's distro (`debian:12`), when a distro was detected.
    pub distro_namespace: Option<String>,
    /// False when the image has a distro or OS packages and the database holds no data for that distro
    /// release (or the distro is unknown): its OS packages could not be checked at all.
    pub distro_covered: bool,
    /// Packages with no data to match against (their namespace is missing from the database), at most
    /// [`MAX_UNCOVERED_LISTED`].
    pub packages_without_data: Vec<UncoveredPackage>,
    /// How many packages had no data (all of them, also those not listed).
    pub packages_without_data_count: usize,
}

/// A package the vulnerability data could not say anything about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UncoveredPackage {
    /// Package name.
    pub name: String,
    /// Package version.
    pub version: String,
    /// Package type.
    pub package_type: portcullis_sbom::PackageType,
    /// The namespace that has no data (`rhel:9`, `nuget`); `None` when the distro is unknown.
    pub namespace: Option<String>,
}

/// Packages of one namespace that could not be checked, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmatched {
    /// The namespace looked up (`rhel:9`, `nuget`); empty when the packages' distro was not recognised.
    pub namespace: String,
    /// The package type (`rpm`, `deb`, `apk`, `python`, …).
    pub package_type: portcullis_sbom::PackageType,
    /// How many packages.
    pub packages: usize,
    /// Why, and what to do.
    pub reason: String,
}

/// Errors of the vulnerability stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The SQLite database failed.
    #[error("vulnerability database {path}: {source}")]
    Db {
        /// Database file.
        path: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A download failed.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An import could not be done (nothing was changed).
    #[error("{0}")]
    Import(String),
    /// A version or range did not parse.
    #[error(transparent)]
    Version(#[from] VersionError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_and_fix_state_names_are_the_serde_names() {
        for s in Severity::ALL {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json.as_str(), Some(s.as_str()), "{s:?}");
            assert_eq!(s.to_string(), s.as_str());
            assert_eq!(s.as_str().parse::<Severity>(), Ok(s));
            assert_eq!(s.as_str().to_uppercase().parse::<Severity>(), Ok(s));
        }
        assert!(Severity::ALL.windows(2).all(|w| w[0] < w[1]));
        let e = "severe".parse::<Severity>().unwrap_err();
        assert!(e.to_string().contains("`severe`"), "{e}");
        for f in [
            FixState::Fixed,
            FixState::NotFixed,
            FixState::WontFix,
            FixState::NotAffected,
            FixState::Unknown,
        ] {
            assert_eq!(serde_json::to_value(f).unwrap().as_str(), Some(f.as_str()));
        }
    }
}
