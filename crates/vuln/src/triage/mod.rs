//! Triage: decisions about findings made after matching — ignore rules ([`ignore`]) and VEX documents
//! ([`openvex`], [`cyclonedx`], [`csaf`]). A suppressed finding is never dropped: it moves to
//! [`MatchReport::suppressed`] with its reason, where gates (`--fail-on`, policy triggers) do not count it.

use serde::{Deserialize, Serialize};

use crate::{Finding, MatchReport};

pub mod csaf;
pub mod cyclonedx;
pub mod ignore;
pub mod openvex;

/// Largest VEX document or ignore-rules file read (64 MiB).
pub const MAX_DOCUMENT_BYTES: u64 = 64 << 20;

/// Deepest JSON/YAML nesting accepted in a triage document.
pub const MAX_DEPTH: usize = 64;

/// What suppressed a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuppressedBy {
    /// A rule of an ignore-rules file.
    IgnoreRule,
    /// A VEX statement (status `not_affected` or `fixed`).
    Vex,
}

/// Why a finding is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// An ignore rule or a VEX statement.
    pub by: SuppressedBy,
    /// The rule's reason, or the VEX justification / impact statement.
    pub reason: String,
    /// Where the decision comes from (`rules.yaml rule 2`, `vex.json`).
    pub source: String,
}

/// A VEX status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// The product is not affected.
    NotAffected,
    /// The vulnerability is fixed in the product.
    Fixed,
    /// The product is affected.
    Affected,
    /// Not known yet.
    UnderInvestigation,
}

impl VexStatus {
    /// True for the statuses that suppress a finding (`not_affected`, `fixed`).
    pub fn suppresses(self) -> bool {
        matches!(self, VexStatus::NotAffected | VexStatus::Fixed)
    }

    /// The snake_case name VEX documents use.
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Fixed => "fixed",
            VexStatus::Affected => "affected",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }
}

/// What a VEX document said about a finding it did not suppress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexNote {
    /// `affected` or `under_investigation`.
    pub status: VexStatus,
    /// The action or impact statement, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The document.
    pub source: String,
}

/// Errors of reading a triage document.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("{path}: larger than {max} bytes; split it or pass a smaller document")]
    TooLarge {
        /// The file.
        path: String,
        /// The limit.
        max: u64,
    },
    /// The document is not what it should be.
    #[error("{path}: {what}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong, where, and what to do.
        what: String,
    },
}

/// Reads `path` whole, refusing files over [`MAX_DOCUMENT_BYTES`].
pub(crate) fn read_bounded(path: &std::path::Path) -> Result<Vec<u8>, TriageError> {
    use std::io::Read;
    let io = |source| TriageError::Io {
        path: path.display().to_string(),
        source,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut buf = Vec::new();
    f.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(TriageError::TooLarge {
            path: path.display().to_string(),
            max: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(buf)
}

/// The nesting depth of a JSON value (a scalar is 0).
pub(crate) fn depth(v: &serde_json::Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            serde_json::Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            serde_json::Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

/// Parses `bytes` as JSON, refusing nesting deeper than [`MAX_DEPTH`] (serde_json itself stops at 128).
pub(crate) fn parse_json(path: &str, bytes: &[u8]) -> Result<serde_json::Value, TriageError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| TriageError::Invalid {
        path: path.into(),
        what: format!("not JSON ({e})"),
    })?;
    if depth(&v) > MAX_DEPTH {
        return Err(TriageError::Invalid {
            path: path.into(),
            what: format!("nested deeper than {MAX_DEPTH} levels"),
        });
    }
    Ok(v)
}

/// One VEX statement, whatever the format: a vulnerability, the products (package URLs or names) it is about,
/// and its status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexStatement {
    /// Vulnerability id (`CVE-…`, `GHSA-…`); matched against a finding's id and aliases.
    pub vulnerability: String,
    /// The packages it is about.
    pub products: Vec<VexProduct>,
    /// Status.
    pub status: VexStatus,
    /// Justification / impact / action text.
    pub detail: Option<String>,
}

/// A package a VEX statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexProduct {
    /// A package URL (`pkg:pypi/requests@2.30.0`; without a version it names every version), else the bare
    /// package name.
    pub package: String,
    /// The distro release the statement is limited to (`rhel:9`, from a CSAF platform's CPE), if any.
    pub namespace: Option<String>,
}

/// A parsed VEX document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VexDocument {
    /// Where it was read from.
    pub source: String,
    /// Its statements.
    pub statements: Vec<VexStatement>,
}

/// Reads a VEX document (OpenVEX, CycloneDX VEX or CSAF VEX, told apart by content).
pub fn read_vex(path: &std::path::Path) -> Result<VexDocument, TriageError> {
    let bytes = read_bounded(path)?;
    parse_vex(&path.display().to_string(), &bytes)
}

/// Parses a VEX document (OpenVEX, CycloneDX VEX or CSAF VEX, told apart by content) from `bytes`; `name` says
/// where it came from in errors and suppression reasons.
pub fn parse_vex(name: &str, bytes: &[u8]) -> Result<VexDocument, TriageError> {
    let name = name.to_string();
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(TriageError::TooLarge {
            path: name,
            max: MAX_DOCUMENT_BYTES,
        });
    }
    let v = parse_json(&name, bytes)?;
    let statements = if openvex::is_openvex(&v) {
        openvex::statements(&name, &v)?
    } else if cyclonedx::is_cyclonedx(&v) {
        cyclonedx::statements(&name, &v)?
    } else if csaf::is_csaf(&v) {
        csaf::statements(&name, &v)?
    } else {
        return Err(TriageError::Invalid {
            path: name,
            what: "not a VEX document: expected OpenVEX (`@context` openvex), CycloneDX (`bomFormat`) or CSAF \
                   (`document.csaf_version`) JSON"
                .into(),
        });
    };
    Ok(VexDocument {
        source: name,
        statements,
    })
}

fn finding_ids(f: &Finding) -> impl Iterator<Item = &str> {
    std::iter::once(f.id.as_str()).chain(f.aliases.iter().map(String::as_str))
}

/// A package URL split into (type, namespace/name, version): `pkg:pypi/requests@2.30.0?x=y` →
/// (`pypi`, `requests`, `Some("2.30.0")`). Qualifiers and subpath are ignored.
fn split_purl(p: &str) -> Option<(String, String, Option<String>)> {
    let rest = p.strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let (ty, path) = rest.split_once('/')?;
    let (path, version) = match path.rsplit_once('@') {
        Some((p, v)) => (p, Some(percent_decode(v))),
        None => (path, None),
    };
    Some((ty.to_ascii_lowercase(), percent_decode(path), version))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(x) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(x);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The purl type of a package type, as purls of SBOMs write it.
fn purl_type(t: portcullis_sbom::PackageType) -> &'static str {
    use portcullis_sbom::PackageType as T;
    match t {
        T::Deb => "deb",
        T::Apk => "apk",
        T::Rpm => "rpm",
        T::Python => "pypi",
        T::Npm => "npm",
        T::Java => "maven",
        T::GoModule => "golang",
        T::RustCrate => "cargo",
        T::Gem => "gem",
        T::Php => "composer",
        T::Dotnet => "nuget",
    }
}

/// Whether a VEX product names the package of `f`: a purl whose type and name (the last path segment, or
/// the whole namespace/name for Maven and Go) match, and whose version matches when it gives one (an rpm
/// version given without its epoch matches the installed `epoch:version-release`); or a bare package name.
fn product_matches(product: &str, f: &Finding) -> bool {
    let name_eq = |a: &str, b: &str| {
        if f.package_type == portcullis_sbom::PackageType::Python {
            crate::model::normalize_name("pypi", a) == crate::model::normalize_name("pypi", b)
        } else {
            a == b
        }
    };
    if let Some((ty, path, version)) = split_purl(product) {
        if ty != purl_type(f.package_type) {
            return false;
        }
        let last = path.rsplit('/').next().unwrap_or(&path);
        let name_ok = name_eq(last, &f.package_name)
            || path.replace('/', ":") == f.package_name
            || path == f.package_name;
        let version_ok = version.is_none_or(|v| {
            v == f.package_version
                || v.trim_start_matches('v') == f.package_version.trim_start_matches('v')
                || f.package_version
                    .split_once(':')
                    .is_some_and(|(_, rest)| v == rest)
        });
        return name_ok && version_ok;
    }
    product == f.package_name
}

fn move_to_suppressed(report: &mut MatchReport, keep: impl Fn(&mut Finding) -> bool) {
    let mut kept = Vec::with_capacity(report.findings.len());
    for mut f in std::mem::take(&mut report.findings) {
        if keep(&mut f) {
            kept.push(f);
        } else {
            report.suppressed.push(f);
        }
    }
    report.findings = kept;
}

/// Applies VEX documents: a finding whose vulnerability (id or alias) and package a statement names is
/// suppressed when the status is `not_affected` or `fixed` (the justification is the reason) and annotated
/// when it is `affected` or `under_investigation`. When several statements name a finding, the last document
/// given wins, and within a document the last statement.
pub fn apply_vex(report: &mut MatchReport, docs: &[VexDocument]) {
    // vulnerability id (upper case) → its statements, in document order: (order, statement, document)
    let mut by_id: std::collections::HashMap<String, Vec<(usize, &VexStatement, &str)>> =
        std::collections::HashMap::new();
    let mut order = 0;
    for d in docs {
        for s in &d.statements {
            by_id
                .entry(s.vulnerability.to_ascii_uppercase())
                .or_default()
                .push((order, s, &d.source));
            order += 1;
        }
    }
    move_to_suppressed(report, |f| {
        let mut decision: Option<(usize, &VexStatement, &str)> = None;
        for id in finding_ids(f) {
            for &(o, s, source) in by_id
                .get(&id.to_ascii_uppercase())
                .map(Vec::as_slice)
                .unwrap_or(&[])
            {
                if decision.is_none_or(|(d, ..)| o > d)
                    && s.products.iter().any(|p| {
                        p.namespace.as_ref().is_none_or(|ns| *ns == f.namespace)
                            && product_matches(&p.package, f)
                    })
                {
                    decision = Some((o, s, source));
                }
            }
        }
        let decision = decision.map(|(_, s, source)| (s, source));
        let Some((s, source)) = decision else {
            return true;
        };
        if s.status.suppresses() {
            f.suppressed = Some(Suppression {
                by: SuppressedBy::Vex,
                reason: format!(
                    "{}: {}",
                    s.status.as_str(),
                    s.detail.as_deref().unwrap_or("no justification given")
                ),
                source: source.to_string(),
            });
            false
        } else {
            f.vex = Some(VexNote {
                status: s.status,
                detail: s.detail.clone(),
                source: source.to_string(),
            });
            true
        }
    });
}

/// The triage configuration of a scan or of the engine: VEX documents and ignore-rules files, with the digest
/// of their contents.
#[derive(Debug, Clone, Default)]
pub struct Triage {
    /// VEX documents, in the order given (a later one wins).
    pub vex: Vec<VexDocument>,
    /// Ignore-rules files.
    pub ignore: Vec<ignore::IgnoreRules>,
    /// SHA-256 of every file read, in order.
    content_sha256: Vec<String>,
}

impl Triage {
    /// Reads VEX documents and ignore-rules files.
    pub fn load(
        vex: &[std::path::PathBuf],
        ignore: &[std::path::PathBuf],
    ) -> Result<Triage, TriageError> {
        use sha2::Digest as _;
        let mut t = Triage::default();
        for p in vex {
            t.content_sha256
                .push(hex::encode(sha2::Sha256::digest(read_bounded(p)?)));
            t.vex.push(read_vex(p)?);
        }
        for p in ignore {
            t.content_sha256
                .push(hex::encode(sha2::Sha256::digest(read_bounded(p)?)));
            t.ignore.push(ignore::read_ignore_rules(p)?);
        }
        Ok(t)
    }

    /// Adds a VEX document read from `bytes` (`name` for messages), after those already held.
    pub fn add_vex(&mut self, name: &str, bytes: &[u8]) -> Result<(), TriageError> {
        use sha2::Digest as _;
        self.vex.push(parse_vex(name, bytes)?);
        self.content_sha256
            .push(hex::encode(sha2::Sha256::digest(bytes)));
        Ok(())
    }

    /// Adds an ignore-rules file read from `bytes` (`name` for messages), after those already held.
    pub fn add_ignore_rules(&mut self, name: &str, bytes: &[u8]) -> Result<(), TriageError> {
        use sha2::Digest as _;
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(TriageError::TooLarge {
                path: name.to_string(),
                max: MAX_DOCUMENT_BYTES,
            });
        }
        self.ignore.push(ignore::parse(name, bytes)?);
        self.content_sha256
            .push(hex::encode(sha2::Sha256::digest(bytes)));
        Ok(())
    }

    /// `self` followed by `other` (its documents apply after, so a later VEX statement wins).
    pub fn merged(&self, other: &Triage) -> Triage {
        let mut t = self.clone();
        t.vex.extend(other.vex.iter().cloned());
        t.ignore.extend(other.ignore.iter().cloned());
        t.content_sha256
            .extend(other.content_sha256.iter().cloned());
        t
    }

    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.vex.is_empty() && self.ignore.is_empty()
    }

    /// What the triage decides on `today`, as a short digest: the files' contents and which rules have
    /// expired. It changes when a file changes or a rule expires, so results that carry it (the engine appends
    /// it to the database version) are re-matched exactly then. Empty when there is nothing to apply.
    pub fn fingerprint(&self, today: chrono::NaiveDate) -> String {
        use sha2::Digest as _;
        if self.is_empty() {
            return String::new();
        }
        let mut h = sha2::Sha256::new();
        for c in &self.content_sha256 {
            h.update(c.as_bytes());
            h.update([0]);
        }
        for r in self.ignore.iter().flat_map(|f| &f.rules) {
            h.update([u8::from(r.expired(today))]);
        }
        hex::encode(h.finalize())[..12].to_string()
    }

    /// Applies the VEX documents, then the ignore rules, on `today`.
    pub fn apply(&self, report: &mut MatchReport, today: chrono::NaiveDate) {
        apply_vex(report, &self.vex);
        for rules in &self.ignore {
            ignore::apply_ignore_rules(report, rules, today);
        }
    }
}

/// Takes `n` characters of `s` at most (for texts taken from documents into reasons).
pub(crate) fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_split_and_depth_is_counted() {
        assert_eq!(
            split_purl("pkg:maven/org.yaml/snakeyaml@1.33?type=jar"),
            Some((
                "maven".into(),
                "org.yaml/snakeyaml".into(),
                Some("1.33".into())
            ))
        );
        assert_eq!(
            split_purl("pkg:npm/%40babel/core"),
            Some(("npm".into(), "@babel/core".into(), None))
        );
        assert_eq!(split_purl("requests"), None);
        let deep = "[".repeat(70) + &"]".repeat(70);
        assert!(parse_json("x", deep.as_bytes()).is_err());
        assert!(parse_json("x", b"[[1]]").is_ok());
    }
}
