//! Version schemes, advisory importers, the vulnerability database and the matcher.
//!
//! Input: an [`portcullis_sbom::Sbom`]. Output: [`Finding`]s, each carrying the database version it came from.

use serde::{Deserialize, Serialize};

pub mod db;
pub mod import;
mod matcher;
pub mod model;
pub mod report;
pub mod version;

pub use db::{ImportReport, Index, Provenance, Status, VulnDb, resolve_db_path};
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
