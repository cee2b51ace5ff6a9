//! Advisory importers: read real published formats into [`Affected`] / [`VulnInfo`] records.
//!
//! Formats: OSV JSON (any ecosystem) and OSV YAML (PyPA), the Debian security tracker (per-CVE/DSA JSON records
//! as in `vuln-list-debian`, the tracker JSON dump, the `DSA`/`DLA` text lists), Alpine secdb (YAML or JSON),
//! Node security-wg (npm and core), ruby-advisory-db, Red Hat CSAF advisories and CSAF VEX, NVD CVE JSON 2.0, CISA KEV JSON, EPSS CSV. Sources are a
//! file, a directory (walked), an archive (`.tar`, `.tar.gz`, `.tgz`, `.zip`, `.gz`) or an `http(s)://` /
//! `file://` URL ([`archive`]). Formats are recognised by content, so a directory may mix them; unrecognised
//! files are skipped and counted. Each bad record is reported (source, file, id, reason) and the rest imported.
//!
//! One file per format, each an `Importer` (`detect` + `import`), listed once in `IMPORTERS`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{Affected, Epss, Range, VulnInfo};
use crate::{Error, FixState, Scheme, Severity, version};

mod alpine;
mod amazon;
pub(crate) mod archive;
mod debian;
mod debian_dsa_list;
mod debian_record;
mod debian_tracker_json;
mod epss;
mod kev;
mod node_core;
mod node_npm;
mod nvd;
mod nvd_api;
mod osv;
mod redhat_csaf;
mod rubysec;
mod wolfi;

/// Every advisory format, in the order their `detect` is asked: the first importer that claims a file reads it.
/// Adding a format: one new file `<format>.rs` in this folder, its `mod` line above and one line here.
const IMPORTERS: &[&dyn Importer] = &[
    &osv::Osv,
    &debian_record::TrackerRecord,
    &kev::Kev,
    &redhat_csaf::RedHatCsaf,
    &nvd::Nvd,
    &node_npm::NpmAdvisory,
    &node_core::CoreAdvisory,
    &alpine::Secdb,
    &amazon::UpdateInfo,
    &rubysec::RubySec,
    &wolfi::WolfiAdvisories,
    &debian_tracker_json::TrackerJson,
    &epss::EpssCsv,
    &debian_dsa_list::DsaList,
];

/// One advisory format.
trait Importer: Sync {
    /// Short name of the format (`osv`, `debian-tracker-json`, …), for logs and tests.
    fn name(&self) -> &'static str;
    /// Whether this importer owns `file`, judged by its name and content.
    fn detect(&self, file: &File<'_>) -> bool;
    /// Reads every record of `file` into `out`, reporting each bad one there and keeping the rest.
    fn import(&self, file: &File<'_>, out: &mut Collector);
}

/// One file of a source, as the importers see it.
struct File<'a> {
    /// Path within the source (`osv/PYSEC-1.json`, `feed.tar.gz!a/b.json`), named in bad-record reports.
    name: &'a str,
    /// The lower-cased last component of `name`.
    base: &'a str,
    /// Raw content.
    bytes: &'a [u8],
    /// The parsed document of a `.json`/`.yaml`/`.yml` file whose top level is an object.
    doc: Option<&'a Value>,
}

static NULL: Value = Value::Null;

impl File<'_> {
    /// The parsed document (`null` for files that are not a JSON/YAML object).
    fn json(&self) -> &Value {
        self.doc.unwrap_or(&NULL)
    }

    /// Whether the document is an object with `key`.
    fn has(&self, key: &str) -> bool {
        self.doc
            .and_then(Value::as_object)
            .is_some_and(|o| o.contains_key(key))
    }

    /// The file name without directories, archive prefix and `suffix`, in its original case.
    fn stem(&self, suffix: &str) -> &str {
        self.name
            .rsplit(['/', '!'])
            .next()
            .unwrap_or(self.name)
            .trim_end_matches(suffix)
    }
}

/// A record that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BadRecord {
    /// The import source (path or URL).
    pub source: String,
    /// The file within the source.
    pub file: String,
    /// The record id, when it could be read.
    pub id: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for BadRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}{}: {}",
            self.source,
            self.file,
            self.id
                .as_ref()
                .map(|i| format!(" [{i}]"))
                .unwrap_or_default(),
            self.reason
        )
    }
}

/// Everything read from one source, ready to be written in one transaction.
#[derive(Debug, Default)]
pub struct Batch {
    /// Per-package statements.
    pub affected: Vec<Affected>,
    /// Vulnerability-level data.
    pub vulns: Vec<VulnInfo>,
    /// CISA KEV CVE ids.
    pub kev: Vec<String>,
    /// EPSS scores.
    pub epss: Vec<Epss>,
    /// Bad records.
    pub bad: Vec<BadRecord>,
    /// Records read, by format.
    pub records: BTreeMap<String, usize>,
    /// Files read.
    pub files: usize,
    /// Files skipped as not advisory data.
    pub skipped_files: usize,
    /// SHA-256 over every file's name and content.
    pub content_sha256: String,
}

/// Reads every record of `source` (file, directory, archive or URL).
pub fn collect(source: &str) -> Result<Batch, Error> {
    collect_since(source, None)
}

/// Whether `source` is the NVD CVE API 2.0 endpoint, which is pulled incrementally ([`collect_since`]).
pub fn is_incremental(source: &str) -> bool {
    nvd_api::is_api(source)
}

/// Reads the records of `source`; for an incremental source (the NVD API) only those modified since `since`
/// (every record when `None`).
pub fn collect_since(
    source: &str,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Batch, Error> {
    let mut c = Collector::new(source);
    if nvd_api::is_api(source) {
        nvd_api::pull(&mut c, source, since)?;
    } else {
        archive::walk(&mut c, source)?;
    }
    Ok(c.finish())
}

/// Receives the files of one source and the importers' records.
struct Collector {
    source: String,
    batch: Batch,
    hasher: Sha256,
    limits: archive::Limits,
}

impl Collector {
    fn new(source: &str) -> Self {
        Collector {
            source: source.to_string(),
            batch: Batch::default(),
            hasher: Sha256::new(),
            limits: archive::Limits::default(),
        }
    }

    fn finish(self) -> Batch {
        let mut batch = self.batch;
        batch.content_sha256 = hex::encode(self.hasher.finalize());
        batch
    }

    /// Reports a bad record of `file`.
    fn bad(&mut self, file: &str, id: Option<&str>, reason: impl Into<String>) {
        self.batch.bad.push(BadRecord {
            source: self.source.clone(),
            file: file.to_string(),
            id: id.map(str::to_string),
            reason: reason.into(),
        });
    }

    /// Counts one record of format `kind`.
    fn count(&mut self, kind: &str) {
        *self.batch.records.entry(kind.to_string()).or_default() += 1;
    }

    /// One plain file: parse JSON/YAML by extension, then hand it to the first importer that claims it.
    fn file(&mut self, name: &str, bytes: &[u8]) {
        self.hasher.update(name.as_bytes());
        self.hasher.update([0]);
        self.hasher.update(bytes);
        self.batch.files += 1;
        let lower = name.to_ascii_lowercase();
        let base = lower.rsplit(['/', '!']).next().unwrap_or(&lower);
        // a CSAF document over its limit is refused before it is parsed
        if base.ends_with(".json")
            && bytes.len() > redhat_csaf::MAX_BYTES
            && redhat_csaf::looks_like_csaf(bytes)
        {
            return self.bad(name, None, redhat_csaf::too_large(bytes.len()));
        }
        let parsed = match parse(base, bytes) {
            Ok(v) => v,
            Err(reason) => return self.bad(name, None, reason),
        };
        let file = File {
            name,
            base,
            bytes,
            doc: parsed.as_ref().filter(|v| v.is_object()),
        };
        match owner(&file) {
            Some(importer) => {
                tracing::trace!(file = name, format = importer.name(), "importing");
                importer.import(&file, self);
            }
            None => self.batch.skipped_files += 1,
        }
    }
}

/// Whether `v` is a valid version of `scheme` (the reason when it is not).
fn check_version(scheme: Scheme, v: &str) -> Result<(), String> {
    version::validate(scheme, v).map_err(|e| e.to_string())
}

/// The document of a `.json`/`.yaml`/`.yml` file (by its lower-cased `base` name); `None` for other files.
fn parse(base: &str, bytes: &[u8]) -> Result<Option<Value>, String> {
    if base.ends_with(".json") || base == "json" {
        serde_json::from_slice::<Value>(bytes)
            .map(Some)
            .map_err(|e| format!("invalid JSON: {e}"))
    } else if base.ends_with(".yaml") || base.ends_with(".yml") {
        serde_yaml_ng::from_slice::<serde_yaml_ng::Value>(bytes)
            .map(|v| Some(yaml_to_json(v)))
            .map_err(|e| format!("invalid YAML: {e}"))
    } else {
        Ok(None)
    }
}

/// The first importer that claims `file`.
fn owner(file: &File<'_>) -> Option<&'static dyn Importer> {
    IMPORTERS.iter().copied().find(|i| i.detect(file))
}

/// The string at `v[k]`.
fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn yaml_to_json(v: serde_yaml_ng::Value) -> Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(seq) => Value::Array(seq.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let key = match k {
                        Y::String(s) => s,
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        other => serde_yaml_ng::to_string(&other)
                            .unwrap_or_default()
                            .trim()
                            .to_string(),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => yaml_to_json(t.value),
    }
}

/// A statement whose fix is one of `fixed` (candidates; none = not fixed), as npm and gem records state them.
fn with_fixes(
    vuln_id: String,
    namespace: String,
    package: String,
    ranges: Vec<Range>,
    fixed: &[String],
    severity: Option<Severity>,
) -> Affected {
    Affected {
        vuln_id,
        namespace,
        package,
        ranges,
        fix_state: if fixed.is_empty() {
            FixState::NotFixed
        } else {
            FixState::Fixed
        },
        fixed_in: (!fixed.is_empty()).then(|| fixed.join(" ")),
        severity,
        priority: 3,
    }
}

/// Versions named after `>=`, `^`, `~`, `~>` or `=` in a "patched" expression (`>=1.2.3 || ^2.0.1`).
fn fix_candidates(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for alt in expr.split("||").flat_map(|a| a.split(',')) {
        let t = alt.trim();
        let Some(first) = t.split_whitespace().next() else {
            continue;
        };
        let (op, ver) = if first.chars().all(|c| "<>=~^!".contains(c)) {
            (first, t.split_whitespace().nth(1).unwrap_or(""))
        } else {
            let end = first
                .find(|c: char| !"<>=~^!".contains(c))
                .unwrap_or(first.len());
            (&first[..end], &first[end..])
        };
        if matches!(op, ">=" | "^" | "~" | "~>" | "=" | "")
            && ver.starts_with(|c: char| c.is_ascii_digit())
        {
            out.push(ver.trim_start_matches('v').to_string());
        }
    }
    out
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use super::testing::{import_one, owner};

    /// Every fixture is claimed by exactly one importer: the order of `IMPORTERS` decides nothing for them
    /// (each importer's own tests check that it is the one).
    #[test]
    fn each_fixture_has_exactly_one_claimant() {
        let fixtures: [(&str, &[u8]); 14] = [
            (
                "GO-2022-0378.json",
                include_bytes!("testdata/GO-2022-0378.json"),
            ),
            (
                "PYSEC-2023-121.yaml",
                include_bytes!("testdata/PYSEC-2023-121.yaml"),
            ),
            (
                "CVE-2023-31486.json",
                include_bytes!("testdata/debian/CVE-2023-31486.json"),
            ),
            (
                "DSA-5514-1.json",
                include_bytes!("testdata/debian/DSA-5514-1.json"),
            ),
            ("json", include_bytes!("testdata/debian/tracker.json")),
            ("data/DSA/list", include_bytes!("testdata/debian/DSA/list")),
            (
                "main.yaml",
                include_bytes!("testdata/alpine-v3.11-main.yaml"),
            ),
            ("npm/25.json", include_bytes!("testdata/npm-25.json")),
            ("core/35.json", include_bytes!("testdata/core-35.json")),
            (
                "CVE-2021-28796.yml",
                include_bytes!("testdata/rubysec-CVE-2021-28796.yml"),
            ),
            (
                "CVE-2021-28429.json",
                include_bytes!("testdata/nvd-CVE-2021-28429.json"),
            ),
            (
                "CVE-2024-34156.json",
                include_bytes!("testdata/nvd-record-CVE-2024-34156.json"),
            ),
            ("kev.json", include_bytes!("testdata/kev.json")),
            ("epss.csv", include_bytes!("testdata/epss.csv")),
        ];
        let mut owners = Vec::new();
        for (name, bytes) in fixtures {
            let lower = name.to_ascii_lowercase();
            let base = lower.rsplit('/').next().unwrap();
            let doc = super::parse(base, bytes).unwrap();
            let file = super::File {
                name,
                base,
                bytes,
                doc: doc.as_ref().filter(|v| v.is_object()),
            };
            let claim: Vec<&str> = super::IMPORTERS
                .iter()
                .filter(|i| i.detect(&file))
                .map(|i| i.name())
                .collect();
            assert_eq!(claim.len(), 1, "{name}: {claim:?}");
            owners.push(claim[0]);
        }
        owners.sort();
        owners.dedup();
        // the fourteen fixtures belong to eleven different formats
        assert_eq!(owners.len(), 11, "{owners:?}");
    }

    #[test]
    fn fix_candidates_reads_lower_bounds_only() {
        assert_eq!(
            super::fix_candidates(">=1.2.3 || ^2.0.1, < 3, ~> 4.1"),
            ["1.2.3", "2.0.1", "4.1"]
        );
        assert!(super::fix_candidates("<1.0 || *").is_empty());
    }

    #[test]
    fn unrecognised_and_non_object_files_are_skipped() {
        assert_eq!(owner("a/readme.md", b"# hello"), None);
        assert_eq!(owner("a/list.json", b"[1, 2]"), None);
        assert_eq!(owner("a/other.json", br#"{"hello":"world"}"#), None);
        let b = import_one("a/other.json", br#"{"hello":"world"}"#);
        assert_eq!((b.files, b.skipped_files, b.bad.len()), (1, 1, 0));
    }

    #[test]
    fn unparsable_documents_are_bad_records_naming_the_file() {
        let b = import_one("x/PYSEC-1.json", b"{\"id\":");
        assert_eq!(b.bad.len(), 1);
        assert_eq!(b.bad[0].file, "x/PYSEC-1.json");
        assert!(b.bad[0].reason.starts_with("invalid JSON"), "{:?}", b.bad);
        let b = import_one("x/a.yaml", b"id: [unclosed");
        assert!(b.bad[0].reason.starts_with("invalid YAML"), "{:?}", b.bad);
    }
}
