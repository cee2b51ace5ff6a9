//! Advisory importers: read real published formats into [`Affected`] / [`VulnInfo`] records.
//!
//! Formats: OSV JSON (any ecosystem) and OSV YAML (PyPA), the Debian security tracker (per-CVE/DSA JSON records
//! as in `vuln-list-debian`, the tracker JSON dump, the `DSA`/`DLA` text lists), Alpine secdb (YAML or JSON),
//! Node security-wg (npm and core), ruby-advisory-db, NVD CVE JSON 2.0, CISA KEV JSON, EPSS CSV. Sources are a
//! file, a directory (walked), an archive (`.tar`, `.tar.gz`, `.tgz`, `.zip`, `.gz`) or an `http(s)://` /
//! `file://` URL. Formats are recognised by content, so a directory may mix them; unrecognised files are skipped
//! and counted. Each bad record is reported (source, file, id, reason) and the rest imported.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::model::{
    Affected, DEBIAN_INHERITING, Epss, Range, VulnInfo, cvss3_base_score, debian_namespace,
    normalize_name, osv_namespace, scheme_for_namespace, severity_from_score, severity_from_word,
};
use crate::{Cvss, Error, FixState, Scheme, Severity, version};

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
    let mut c = Collector {
        source: source.to_string(),
        batch: Batch::default(),
        hasher: Sha256::new(),
    };
    if source.starts_with("http://") || source.starts_with("https://") {
        let bytes = fetch(source)?;
        let name = source
            .split(['?', '#'])
            .next()
            .unwrap_or(source)
            .rsplit('/')
            .next()
            .unwrap_or("download")
            .to_string();
        c.blob(&name, bytes);
    } else {
        let path = source.strip_prefix("file://").unwrap_or(source);
        let p = Path::new(path);
        let meta = std::fs::metadata(p).map_err(|e| Error::Io {
            path: path.to_string(),
            source: e,
        })?;
        if meta.is_dir() {
            let mut n = 0usize;
            for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::Import(format!("walking {path}: {e}")))?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let rel = entry
                    .path()
                    .strip_prefix(p)
                    .unwrap_or(entry.path())
                    .to_string_lossy()
                    .to_string();
                match std::fs::read(entry.path()) {
                    Ok(bytes) => c.blob(&rel, bytes),
                    Err(e) => c.bad(&rel, None, format!("cannot read: {e}")),
                }
                n += 1;
            }
            if n == 0 {
                return Err(Error::Import(format!("{path}: directory has no files")));
            }
        } else {
            let bytes = std::fs::read(p).map_err(|e| Error::Io {
                path: path.to_string(),
                source: e,
            })?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| path.to_string());
            c.blob(&name, bytes);
        }
    }
    let mut batch = c.batch;
    batch.content_sha256 = hex::encode(c.hasher.finalize());
    Ok(batch)
}

fn fetch(url: &str) -> Result<Vec<u8>, Error> {
    let fail = |reason: String| Error::Fetch {
        url: url.to_string(),
        reason,
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let resp = client.get(url).send().map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP status {}", resp.status())));
    }
    resp.bytes()
        .map(|b| b.to_vec())
        .map_err(|e| fail(format!("reading body: {e}")))
}

struct Collector {
    source: String,
    batch: Batch,
    hasher: Sha256,
}

/// One Debian statement: (vulnerability, namespace, package) with the tracker's kind of status.
struct Stmt<'a> {
    id: &'a str,
    ns: &'a str,
    pkg: &'a str,
    kind: &'a str,
    version: Option<&'a str>,
    severity: Option<Severity>,
    priority: u8,
}

/// A package annotation of a vuln-list-debian record.
#[derive(Debug, Deserialize)]
struct Annotation {
    #[serde(rename = "Type", default)]
    kind_type: String,
    #[serde(rename = "Release")]
    release: Option<String>,
    #[serde(rename = "Package")]
    package: Option<String>,
    #[serde(rename = "Kind")]
    kind: Option<String>,
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "Severity")]
    severity: Option<String>,
    #[serde(rename = "Bugs", default)]
    bugs: Vec<String>,
}

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

impl Collector {
    fn bad(&mut self, file: &str, id: Option<&str>, reason: impl Into<String>) {
        self.batch.bad.push(BadRecord {
            source: self.source.clone(),
            file: file.to_string(),
            id: id.map(str::to_string),
            reason: reason.into(),
        });
    }

    fn count(&mut self, kind: &str) {
        *self.batch.records.entry(kind.to_string()).or_default() += 1;
    }

    /// A file or archive by name.
    fn blob(&mut self, name: &str, bytes: Vec<u8>) {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            self.tar(name, flate2::read::GzDecoder::new(&bytes[..]));
        } else if lower.ends_with(".tar") {
            self.tar(name, &bytes[..]);
        } else if lower.ends_with(".zip") {
            self.zip(name, &bytes);
        } else if let Some(inner) = name.strip_suffix(".gz") {
            let mut out = Vec::new();
            match flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out) {
                Ok(_) => self.file(inner, &out),
                Err(e) => self.bad(
                    name,
                    None,
                    format!("gzip data is corrupt or truncated: {e}"),
                ),
            }
        } else {
            self.file(name, &bytes);
        }
    }

    fn tar(&mut self, name: &str, r: impl Read) {
        let mut archive = tar::Archive::new(r);
        let entries = match archive.entries() {
            Ok(e) => e,
            Err(e) => return self.bad(name, None, format!("not a readable tar archive: {e}")),
        };
        let mut n = 0usize;
        for entry in entries {
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    return self.bad(
                        name,
                        None,
                        format!("archive truncated or corrupt after {n} entries: {e}"),
                    );
                }
            };
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry
                .path()
                .map(|p| p.to_string_lossy().to_string())
                .unwrap_or_default();
            let mut buf = Vec::new();
            if let Err(e) = entry.read_to_end(&mut buf) {
                return self.bad(
                    &format!("{name}!{path}"),
                    None,
                    format!("archive truncated or corrupt in this entry: {e}"),
                );
            }
            n += 1;
            self.file(&format!("{name}!{path}"), &buf);
        }
    }

    fn zip(&mut self, name: &str, bytes: &[u8]) {
        let mut z = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
            Ok(z) => z,
            Err(e) => return self.bad(name, None, format!("not a readable zip archive: {e}")),
        };
        for i in 0..z.len() {
            let mut f = match z.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    self.bad(name, None, format!("zip entry {i} unreadable: {e}"));
                    continue;
                }
            };
            if !f.is_file() {
                continue;
            }
            let path = f.name().to_string();
            let mut buf = Vec::new();
            if let Err(e) = f.read_to_end(&mut buf) {
                self.bad(
                    &format!("{name}!{path}"),
                    None,
                    format!("zip entry corrupt: {e}"),
                );
                continue;
            }
            self.file(&format!("{name}!{path}"), &buf);
        }
    }

    /// One plain file: recognise its format by name and content.
    fn file(&mut self, name: &str, bytes: &[u8]) {
        self.hasher.update(name.as_bytes());
        self.hasher.update([0]);
        self.hasher.update(bytes);
        self.batch.files += 1;
        let lower = name.to_ascii_lowercase();
        let base = lower.rsplit(['/', '!']).next().unwrap_or(&lower);
        if base.ends_with(".json") || base == "json" {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(v) => self.value(name, &v),
                Err(e) => self.bad(name, None, format!("invalid JSON: {e}")),
            }
        } else if base.ends_with(".yaml") || base.ends_with(".yml") {
            match serde_yaml_ng::from_slice::<serde_yaml_ng::Value>(bytes) {
                Ok(v) => self.value(name, &yaml_to_json(v)),
                Err(e) => self.bad(name, None, format!("invalid YAML: {e}")),
            }
        } else if base.ends_with(".csv") && bytes.starts_with(b"#model_version") {
            self.epss(name, bytes);
        } else if base == "list" && bytes.starts_with(b"[") {
            self.dsa_list(name, bytes);
        } else {
            self.batch.skipped_files += 1;
        }
    }

    fn value(&mut self, name: &str, v: &Value) {
        let Some(obj) = v.as_object() else {
            self.batch.skipped_files += 1;
            return;
        };
        if obj.contains_key("affected")
            || (obj.contains_key("id")
                && obj.contains_key("modified")
                && obj.contains_key("schema_version"))
        {
            self.osv(name, v);
        } else if obj.contains_key("Header") && obj.contains_key("Annotations") {
            self.debian_record(name, v);
        } else if obj.contains_key("catalogVersion") && obj.contains_key("vulnerabilities") {
            self.kev(name, v);
        } else if obj.get("format").and_then(Value::as_str) == Some("NVD_CVE")
            || v["vulnerabilities"][0]["cve"].is_object()
        {
            self.nvd(name, v);
        } else if obj.contains_key("module_name") && obj.contains_key("vulnerable_versions") {
            self.node_npm(name, v);
        } else if obj.contains_key("vulnerable") && obj.contains_key("patched") {
            self.node_core(name, v);
        } else if obj.contains_key("distroversion") && obj.contains_key("packages") {
            self.alpine(name, v);
        } else if obj.contains_key("gem")
            && (obj.contains_key("patched_versions")
                || obj.contains_key("cve")
                || obj.contains_key("ghsa"))
        {
            self.rubysec(name, v);
        } else if obj
            .values()
            .next()
            .and_then(Value::as_object)
            .is_some_and(|m| {
                m.iter().next().is_some_and(|(k, x)| {
                    (k.starts_with("CVE-") || k.starts_with("TEMP-")) && x.get("releases").is_some()
                })
            })
        {
            self.debian_dump(name, v);
        } else {
            self.batch.skipped_files += 1;
        }
    }

    fn check_version(&self, scheme: Scheme, v: &str) -> Result<(), String> {
        version::validate(scheme, v).map_err(|e| e.to_string())
    }

    // ---------------------------------------------------------------- OSV

    fn osv(&mut self, name: &str, v: &Value) {
        let Some(id) = s(v, "id") else {
            return self.bad(name, None, "OSV record without `id`");
        };
        self.count("osv");
        if v["database_specific"].get("informational").is_some() {
            // RustSec unmaintained/unsound/notice advisories are not vulnerabilities
            return;
        }
        let mut severity = s(&v["database_specific"], "severity")
            .as_deref()
            .and_then(severity_from_word);
        let mut cvss = Vec::new();
        let mut collect_sev = |arr: &Value, severity: &mut Option<Severity>| {
            for sv in arr.as_array().into_iter().flatten() {
                let (ty, score) = (
                    s(sv, "type").unwrap_or_default(),
                    s(sv, "score").unwrap_or_default(),
                );
                if ty == "Ubuntu" {
                    if severity.is_none() {
                        *severity = severity_from_word(&score);
                    }
                } else if ty.starts_with("CVSS_V") {
                    let base = cvss3_base_score(&score);
                    if severity.is_none()
                        && let Some(b) = base
                    {
                        *severity = Some(severity_from_score(b));
                    }
                    if let Some(base_score) = base {
                        cvss.push(Cvss {
                            source: "osv".into(),
                            version: score
                                .strip_prefix("CVSS:")
                                .and_then(|x| x.split('/').next())
                                .unwrap_or("")
                                .to_string(),
                            vector: score.clone(),
                            base_score,
                            exploitability_score: None,
                            impact_score: None,
                        });
                    }
                }
            }
        };
        collect_sev(&v["severity"], &mut severity);
        let withdrawn = v.get("withdrawn").is_some_and(|w| !w.is_null());
        let aliases: Vec<String> = v["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(v["upstream"].as_array().into_iter().flatten())
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        let url = v["references"]
            .as_array()
            .and_then(|r| r.iter().find_map(|x| s(x, "url")));
        let description = s(v, "summary").or_else(|| s(v, "details"));
        if !withdrawn {
            for a in v["affected"].as_array().into_iter().flatten() {
                let eco = s(&a["package"], "ecosystem").unwrap_or_default();
                let Some(pkg) = s(&a["package"], "name") else {
                    self.bad(name, Some(&id), "affected entry without package name");
                    continue;
                };
                let Some(ns) = osv_namespace(&eco) else {
                    self.bad(
                        name,
                        Some(&id),
                        format!("unknown ecosystem `{eco}` (package {pkg})"),
                    );
                    continue;
                };
                let Some(scheme) = scheme_for_namespace(&ns) else {
                    self.bad(name, Some(&id), format!("no version scheme for `{ns}`"));
                    continue;
                };
                let mut pkg_sev = severity;
                collect_sev(&a["severity"], &mut pkg_sev);
                match self.osv_ranges(a, scheme) {
                    Ok(ranges) => {
                        // every fixed version, as candidates for hits outside an interval
                        let fixes: Vec<&str> = ranges
                            .iter()
                            .filter_map(|r| match r {
                                Range::Interval { fixed: Some(f), .. } => Some(f.as_str()),
                                _ => None,
                            })
                            .collect();
                        let fixed_in = (!fixes.is_empty()).then(|| fixes.join(" "));
                        self.batch.affected.push(Affected {
                            vuln_id: id.clone(),
                            namespace: ns.clone(),
                            package: normalize_name(&ns, &pkg),
                            ranges,
                            fix_state: if fixed_in.is_some() {
                                FixState::Fixed
                            } else {
                                FixState::NotFixed
                            },
                            fixed_in,
                            severity: pkg_sev,
                            priority: 3,
                        });
                    }
                    Err(reason) => self.bad(name, Some(&id), format!("{pkg}: {reason}")),
                }
            }
        }
        self.batch.vulns.push(VulnInfo {
            id,
            origin: "osv".into(),
            aliases,
            severity,
            cvss,
            description,
            published: s(v, "published"),
            url,
            withdrawn,
        });
    }

    fn osv_ranges(&self, a: &Value, scheme: Scheme) -> Result<Vec<Range>, String> {
        let mut out = Vec::new();
        for r in a["ranges"].as_array().into_iter().flatten() {
            let ty = s(r, "type").unwrap_or_default();
            if ty == "GIT" {
                continue;
            }
            if ty != "ECOSYSTEM" && ty != "SEMVER" {
                return Err(format!("unknown range type `{ty}`"));
            }
            let mut introduced: Option<String> = None;
            let mut open = false;
            for e in r["events"].as_array().into_iter().flatten() {
                let Some((k, val)) = e.as_object().and_then(|o| o.iter().next()) else {
                    return Err("empty range event".into());
                };
                let Some(val) = val.as_str() else {
                    return Err(format!("range event `{k}` is not a string"));
                };
                if !(k == "introduced" && val == "0") {
                    self.check_version(scheme, val)?;
                }
                match k.as_str() {
                    "introduced" => {
                        if open {
                            out.push(Range::Interval {
                                introduced: introduced.take(),
                                fixed: None,
                                last_affected: None,
                            });
                        }
                        introduced = (val != "0").then(|| val.to_string());
                        open = true;
                    }
                    "fixed" | "limit" => {
                        out.push(Range::Interval {
                            introduced: introduced.take(),
                            fixed: Some(val.to_string()),
                            last_affected: None,
                        });
                        open = false;
                    }
                    "last_affected" => {
                        out.push(Range::Interval {
                            introduced: introduced.take(),
                            fixed: None,
                            last_affected: Some(val.to_string()),
                        });
                        open = false;
                    }
                    other => return Err(format!("unknown range event `{other}`")),
                }
            }
            if open {
                out.push(Range::Interval {
                    introduced,
                    fixed: None,
                    last_affected: None,
                });
            }
        }
        for v in a["versions"].as_array().into_iter().flatten() {
            if let Some(v) = v.as_str() {
                out.push(Range::Exact(v.to_string()));
            }
        }
        if a.get("ranges").is_none() && a.get("versions").is_none() {
            out.push(Range::All);
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- Debian

    fn debian_row(&mut self, name: &str, st: Stmt<'_>) {
        let Stmt {
            id,
            ns,
            pkg,
            kind,
            version,
            severity,
            priority,
        } = st;
        let (ranges, state, fixed_in) = match kind {
            "fixed" => {
                let Some(ver) = version.filter(|v| !v.is_empty()) else {
                    return self.bad(
                        name,
                        Some(id),
                        format!("{pkg} ({ns}): fixed without a version"),
                    );
                };
                if ver == "0" {
                    (Vec::new(), FixState::NotAffected, None)
                } else {
                    if let Err(e) = self.check_version(Scheme::Dpkg, ver) {
                        return self.bad(name, Some(id), format!("{pkg} ({ns}): {e}"));
                    }
                    (
                        vec![Range::Interval {
                            introduced: None,
                            fixed: Some(ver.to_string()),
                            last_affected: None,
                        }],
                        FixState::Fixed,
                        Some(ver.to_string()),
                    )
                }
            }
            "unfixed" => (vec![Range::All], FixState::NotFixed, None),
            "no-dsa" | "ignored" | "postponed" | "end-of-life" => {
                (vec![Range::All], FixState::WontFix, None)
            }
            "not-affected" => (Vec::new(), FixState::NotAffected, None),
            "undetermined" => (vec![Range::All], FixState::Unknown, None),
            // removed, itp, … : the package is not in that release
            _ => return,
        };
        self.batch.affected.push(Affected {
            vuln_id: id.to_string(),
            namespace: ns.to_string(),
            package: pkg.to_string(),
            ranges,
            fix_state: state,
            fixed_in,
            severity,
            priority,
        });
    }

    fn debian_record(&mut self, name: &str, v: &Value) {
        let Some(id) = s(&v["Header"], "ID") else {
            return self.bad(name, None, "Debian tracker record without Header.ID");
        };
        let anns: Vec<Annotation> = match serde_json::from_value(v["Annotations"].clone()) {
            Ok(a) => a,
            Err(e) => return self.bad(name, Some(&id), format!("bad Annotations: {e}")),
        };
        if id.starts_with("DSA-") || id.starts_with("DLA-") || id.starts_with("DTSA-") {
            self.count("debian-dsa");
            let cves: Vec<String> = anns
                .iter()
                .filter(|a| a.kind_type == "xref")
                .flat_map(|a| a.bugs.iter().filter(|b| b.starts_with("CVE-")).cloned())
                .collect();
            for a in anns.iter().filter(|a| a.kind_type == "package") {
                let (Some(rel), Some(pkg)) = (&a.release, &a.package) else {
                    continue;
                };
                let Some(ns) = debian_namespace(rel) else {
                    continue;
                };
                for cve in &cves {
                    let kind = a.kind.clone().unwrap_or_default();
                    self.debian_row(
                        name,
                        Stmt {
                            id: cve,
                            ns: &ns,
                            pkg,
                            kind: &kind,
                            version: a.version.as_deref(),
                            severity: None,
                            priority: 2,
                        },
                    );
                }
            }
            return;
        }
        self.count("debian-cve");
        let mut by_pkg: BTreeMap<String, Vec<&Annotation>> = BTreeMap::new();
        for a in anns.iter().filter(|a| a.kind_type == "package") {
            if let Some(p) = &a.package {
                by_pkg.entry(p.clone()).or_default().push(a);
            }
        }
        for (pkg, list) in by_pkg {
            let sid = list.iter().find(|a| a.release.is_none());
            let pkg_sev = sid
                .and_then(|a| a.severity.as_deref())
                .and_then(severity_from_word);
            let mut explicit = Vec::new();
            for a in list.iter().filter(|a| a.release.is_some()) {
                let Some(ns) = a.release.as_deref().and_then(debian_namespace) else {
                    continue;
                };
                let sev = a
                    .severity
                    .as_deref()
                    .and_then(severity_from_word)
                    .or(pkg_sev);
                let kind = a.kind.clone().unwrap_or_default();
                self.debian_row(
                    name,
                    Stmt {
                        id: &id,
                        ns: &ns,
                        pkg: &pkg,
                        kind: &kind,
                        version: a.version.as_deref(),
                        severity: sev,
                        priority: 3,
                    },
                );
                explicit.push(ns);
            }
            if let Some(a) = sid {
                let kind = a.kind.clone().unwrap_or_default();
                self.debian_row(
                    name,
                    Stmt {
                        id: &id,
                        ns: "debian:unstable",
                        pkg: &pkg,
                        kind: &kind,
                        version: a.version.as_deref(),
                        severity: pkg_sev,
                        priority: 3,
                    },
                );
                for ns in DEBIAN_INHERITING {
                    if !explicit.iter().any(|e| e == ns) {
                        self.debian_row(
                            name,
                            Stmt {
                                id: &id,
                                ns,
                                pkg: &pkg,
                                kind: &kind,
                                version: a.version.as_deref(),
                                severity: pkg_sev,
                                priority: 1,
                            },
                        );
                    }
                }
            }
        }
        let description = s(&v["Header"], "Description")
            .map(|d| d.trim_start_matches('(').trim_end_matches(')').to_string())
            .filter(|d| !d.is_empty() && d != "...");
        self.batch.vulns.push(VulnInfo {
            url: Some(format!("https://security-tracker.debian.org/tracker/{id}")),
            id,
            origin: "debian".into(),
            description,
            ..Default::default()
        });
    }

    fn debian_dump(&mut self, name: &str, v: &Value) {
        let Some(pkgs) = v.as_object() else { return };
        for (pkg, cves) in pkgs {
            let Some(cves) = cves.as_object() else {
                self.bad(
                    name,
                    None,
                    format!("package `{pkg}`: expected an object of CVEs"),
                );
                continue;
            };
            for (cve, rec) in cves {
                self.count("debian-tracker-json");
                if rec["releases"].as_array().is_some_and(Vec::is_empty) {
                    continue;
                }
                let Some(releases) = rec["releases"].as_object() else {
                    self.bad(name, Some(cve), format!("{pkg}: no `releases` object"));
                    continue;
                };
                for (codename, r) in releases {
                    let Some(ns) = debian_namespace(codename) else {
                        continue;
                    };
                    let status = s(r, "status").unwrap_or_default();
                    let urgency = s(r, "urgency").unwrap_or_default();
                    let sev = severity_from_word(&urgency);
                    let kind = match status.as_str() {
                        "resolved" => "fixed",
                        "open" if r.get("nodsa").is_some() || urgency == "end-of-life" => "no-dsa",
                        "open" => "unfixed",
                        "undetermined" => "undetermined",
                        other => {
                            self.bad(
                                name,
                                Some(cve),
                                format!("{pkg} {codename}: unknown status `{other}`"),
                            );
                            continue;
                        }
                    };
                    let fixed = s(r, "fixed_version");
                    self.debian_row(
                        name,
                        Stmt {
                            id: cve,
                            ns: &ns,
                            pkg,
                            kind,
                            version: fixed.as_deref(),
                            severity: sev,
                            priority: 3,
                        },
                    );
                }
                self.batch.vulns.push(VulnInfo {
                    id: cve.clone(),
                    origin: "debian".into(),
                    description: s(rec, "description"),
                    url: Some(format!("https://security-tracker.debian.org/tracker/{cve}")),
                    ..Default::default()
                });
            }
        }
    }

    /// `data/DSA/list`, `data/DLA/list`: `[date] DSA-n pkg - desc` / `{CVE…}` / `[release] - pkg version`.
    fn dsa_list(&mut self, name: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let mut id = String::new();
        let mut cves: Vec<String> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('[') {
                let Some(rest) = line.split_once("] ").map(|(_, r)| r) else {
                    self.bad(
                        name,
                        None,
                        format!("line {}: expected `[date] DSA-…`", n + 1),
                    );
                    continue;
                };
                id = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                cves.clear();
                self.count("debian-dsa-list");
                continue;
            }
            let t = line.trim();
            if let Some(inner) = t.strip_prefix('{').and_then(|x| x.strip_suffix('}')) {
                cves = inner
                    .split_whitespace()
                    .filter(|c| c.starts_with("CVE-"))
                    .map(str::to_string)
                    .collect();
            } else if let Some(rest) = t.strip_prefix('[') {
                let Some((rel, rest)) = rest.split_once(']') else {
                    self.bad(name, Some(&id), format!("line {}: bad release line", n + 1));
                    continue;
                };
                let mut it = rest.trim().trim_start_matches('-').split_whitespace();
                let (Some(pkg), Some(ver)) = (it.next(), it.next()) else {
                    self.bad(
                        name,
                        Some(&id),
                        format!("line {}: expected `[release] - pkg version`", n + 1),
                    );
                    continue;
                };
                if ver.starts_with('<') {
                    continue;
                }
                let Some(ns) = debian_namespace(rel) else {
                    continue;
                };
                for cve in cves.clone() {
                    self.debian_row(
                        name,
                        Stmt {
                            id: &cve,
                            ns: &ns,
                            pkg,
                            kind: "fixed",
                            version: Some(ver),
                            severity: None,
                            priority: 2,
                        },
                    );
                }
            }
        }
    }

    // ---------------------------------------------------------------- Alpine

    fn alpine(&mut self, name: &str, v: &Value) {
        let dv = s(v, "distroversion").unwrap_or_default();
        let ver = dv.trim_start_matches('v');
        let ns = format!(
            "alpine:{}",
            ver.split('.').take(2).collect::<Vec<_>>().join(".")
        );
        for p in v["packages"].as_array().into_iter().flatten() {
            self.count("alpine-secdb");
            let Some(pkg) = s(&p["pkg"], "name") else {
                self.bad(name, None, "secdb package without name");
                continue;
            };
            let Some(fixes) = p["pkg"]["secfixes"].as_object() else {
                continue;
            };
            for (fixed, ids) in fixes {
                for idv in ids.as_array().into_iter().flatten() {
                    let Some(ids) = idv.as_str() else { continue };
                    for id in ids.split_whitespace() {
                        if fixed == "0" {
                            self.batch.affected.push(Affected {
                                vuln_id: id.to_string(),
                                namespace: ns.clone(),
                                package: pkg.clone(),
                                ranges: Vec::new(),
                                fix_state: FixState::NotAffected,
                                fixed_in: None,
                                severity: None,
                                priority: 3,
                            });
                            continue;
                        }
                        if let Err(e) = self.check_version(Scheme::Apk, fixed) {
                            self.bad(name, Some(id), format!("{pkg}: {e}"));
                            continue;
                        }
                        self.batch.affected.push(Affected {
                            vuln_id: id.to_string(),
                            namespace: ns.clone(),
                            package: pkg.clone(),
                            ranges: vec![Range::Interval {
                                introduced: None,
                                fixed: Some(fixed.clone()),
                                last_affected: None,
                            }],
                            fix_state: FixState::Fixed,
                            fixed_in: Some(fixed.clone()),
                            severity: None,
                            priority: 3,
                        });
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- Node security-wg

    fn node_npm(&mut self, name: &str, v: &Value) {
        self.count("nodejs-npm");
        let nid = v["id"].as_u64().map(|i| format!("NSWG-ECO-{i}"));
        let cves: Vec<String> = v["cves"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        let Some(id) = cves.first().cloned().or(nid.clone()) else {
            return self.bad(name, None, "record has neither `id` nor `cves`");
        };
        let Some(pkg) = s(v, "module_name") else {
            return self.bad(name, Some(&id), "no module_name");
        };
        let vulnerable = s(v, "vulnerable_versions").unwrap_or_default();
        let vulnerable = if vulnerable.trim().is_empty() {
            "*".to_string()
        } else {
            vulnerable
        };
        if let Err(e) = nodejs_semver::Range::parse(&vulnerable) {
            return self.bad(
                name,
                Some(&id),
                format!("vulnerable_versions `{vulnerable}`: {e}"),
            );
        }
        let patched = s(v, "patched_versions").unwrap_or_default();
        let fixed = fix_candidates(&patched);
        let severity = v["cvss_score"].as_f64().map(severity_from_score);
        self.batch.affected.push(Affected {
            vuln_id: id.clone(),
            namespace: "npm".into(),
            package: pkg,
            ranges: vec![Range::Expr(vulnerable)],
            fix_state: if fixed.is_empty() {
                FixState::NotFixed
            } else {
                FixState::Fixed
            },
            fixed_in: (!fixed.is_empty()).then(|| fixed.join(" ")),
            severity,
            priority: 3,
        });
        let mut cvss = Vec::new();
        if let (Some(vec), Some(score)) = (s(v, "cvss_vector"), v["cvss_score"].as_f64()) {
            cvss.push(Cvss {
                source: "nodejs".into(),
                version: vec
                    .strip_prefix("CVSS:")
                    .and_then(|x| x.split('/').next())
                    .unwrap_or("")
                    .into(),
                vector: vec,
                base_score: score,
                exploitability_score: None,
                impact_score: None,
            });
        }
        self.batch.vulns.push(VulnInfo {
            id,
            origin: "nodejs".into(),
            aliases: cves.into_iter().skip(1).chain(nid).collect(),
            severity,
            cvss,
            description: s(v, "title"),
            published: s(v, "publish_date"),
            url: v["references"]
                .as_array()
                .and_then(|r| r.first())
                .and_then(|x| x.as_str())
                .map(str::to_string),
            withdrawn: false,
        });
    }

    fn node_core(&mut self, name: &str, v: &Value) {
        self.count("nodejs-core");
        let stem = name
            .rsplit(['/', '!'])
            .next()
            .unwrap_or(name)
            .trim_end_matches(".json");
        let cves: Vec<String> = v["cve"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        let id = cves
            .first()
            .cloned()
            .unwrap_or_else(|| format!("NSWG-CORE-{stem}"));
        let vulnerable = s(v, "vulnerable").unwrap_or_default();
        if let Err(e) = nodejs_semver::Range::parse(&vulnerable) {
            return self.bad(name, Some(&id), format!("vulnerable `{vulnerable}`: {e}"));
        }
        let fixed = fix_candidates(&s(v, "patched").unwrap_or_default());
        let severity = s(v, "severity").as_deref().and_then(severity_from_word);
        self.batch.affected.push(Affected {
            vuln_id: id.clone(),
            namespace: "nodejs".into(),
            package: "node".into(),
            ranges: vec![Range::Expr(vulnerable)],
            fix_state: if fixed.is_empty() {
                FixState::NotFixed
            } else {
                FixState::Fixed
            },
            fixed_in: (!fixed.is_empty()).then(|| fixed.join(" ")),
            severity,
            priority: 3,
        });
        self.batch.vulns.push(VulnInfo {
            id,
            origin: "nodejs".into(),
            aliases: cves.into_iter().skip(1).collect(),
            severity,
            description: s(v, "description"),
            url: s(v, "ref"),
            ..Default::default()
        });
    }

    // ---------------------------------------------------------------- RubyGems

    fn rubysec(&mut self, name: &str, v: &Value) {
        self.count("rubysec");
        let Some(gem) = s(v, "gem") else {
            return self.bad(name, None, "no `gem`");
        };
        let text = |k: &str| match &v[k] {
            Value::String(x) => Some(x.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let cve = text("cve").map(|c| format!("CVE-{c}"));
        let ghsa = text("ghsa").map(|g| format!("GHSA-{g}"));
        let stem = name
            .rsplit(['/', '!'])
            .next()
            .unwrap_or(name)
            .trim_end_matches(".yml");
        let id = cve
            .clone()
            .or(ghsa.clone())
            .unwrap_or_else(|| stem.to_string());
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        };
        let (patched, unaffected) = (list("patched_versions"), list("unaffected_versions"));
        for req in patched.iter().chain(&unaffected) {
            if let Err(e) = version::satisfies(Scheme::Gem, "0", req) {
                return self.bad(name, Some(&id), format!("requirement `{req}`: {e}"));
            }
        }
        let fixed: Vec<String> = patched.iter().flat_map(|p| fix_candidates(p)).collect();
        let severity = v["cvss_v3"]
            .as_f64()
            .or(v["cvss_v4"].as_f64())
            .map(severity_from_score)
            .or_else(|| s(v, "criticality").as_deref().and_then(severity_from_word));
        self.batch.affected.push(Affected {
            vuln_id: id.clone(),
            namespace: "rubygems".into(),
            package: gem,
            ranges: vec![Range::Unless(
                patched.into_iter().chain(unaffected).collect(),
            )],
            fix_state: if fixed.is_empty() {
                FixState::NotFixed
            } else {
                FixState::Fixed
            },
            fixed_in: (!fixed.is_empty()).then(|| fixed.join(" ")),
            severity,
            priority: 3,
        });
        self.batch.vulns.push(VulnInfo {
            id,
            origin: "rubysec".into(),
            aliases: [cve, ghsa].into_iter().flatten().collect(),
            severity,
            description: s(v, "title"),
            published: text("date"),
            url: s(v, "url"),
            ..Default::default()
        });
    }

    // ---------------------------------------------------------------- NVD, KEV, EPSS

    fn nvd(&mut self, name: &str, v: &Value) {
        for item in v["vulnerabilities"].as_array().into_iter().flatten() {
            let c = &item["cve"];
            let Some(id) = s(c, "id") else {
                self.bad(name, None, "NVD item without cve.id");
                continue;
            };
            self.count("nvd");
            let mut cvss = Vec::new();
            let mut severity = None;
            for (key, ver) in [
                ("cvssMetricV40", "4.0"),
                ("cvssMetricV31", "3.1"),
                ("cvssMetricV30", "3.0"),
                ("cvssMetricV2", "2.0"),
            ] {
                for m in c["metrics"][key].as_array().into_iter().flatten() {
                    let d = &m["cvssData"];
                    let Some(score) = d["baseScore"].as_f64() else {
                        continue;
                    };
                    if severity.is_none() && m["type"].as_str() == Some("Primary") {
                        severity = Some(if ver == "2.0" {
                            s(m, "baseSeverity")
                                .as_deref()
                                .and_then(severity_from_word)
                                .unwrap_or(severity_from_score(score))
                        } else {
                            s(d, "baseSeverity")
                                .as_deref()
                                .and_then(severity_from_word)
                                .unwrap_or(severity_from_score(score))
                        });
                    }
                    cvss.push(Cvss {
                        source: s(m, "source").unwrap_or_else(|| "nvd".into()),
                        version: ver.into(),
                        vector: s(d, "vectorString").unwrap_or_default(),
                        base_score: score,
                        exploitability_score: m["exploitabilityScore"].as_f64(),
                        impact_score: m["impactScore"].as_f64(),
                    });
                }
            }
            if severity.is_none() {
                severity = cvss.first().map(|c| severity_from_score(c.base_score));
            }
            let description = c["descriptions"]
                .as_array()
                .and_then(|d| d.iter().find(|x| x["lang"] == "en"))
                .and_then(|x| s(x, "value"));
            self.batch.vulns.push(VulnInfo {
                url: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
                id,
                origin: "nvd".into(),
                severity,
                cvss,
                description,
                published: s(c, "published"),
                ..Default::default()
            });
        }
    }

    fn kev(&mut self, name: &str, v: &Value) {
        for item in v["vulnerabilities"].as_array().into_iter().flatten() {
            match s(item, "cveID") {
                Some(id) => {
                    self.count("kev");
                    self.batch.kev.push(id);
                }
                None => self.bad(name, None, "KEV entry without cveID"),
            }
        }
    }

    fn epss(&mut self, name: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        if lines.next().map(str::trim) != Some("cve,epss,percentile") {
            return self.bad(name, None, "EPSS CSV header must be `cve,epss,percentile`");
        }
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            match (
                f.first(),
                f.get(1).and_then(|x| x.parse::<f64>().ok()),
                f.get(2).and_then(|x| x.parse::<f64>().ok()),
            ) {
                (Some(cve), Some(score), Some(percentile)) if cve.starts_with("CVE-") => {
                    self.count("epss");
                    self.batch.epss.push(Epss {
                        cve: cve.to_string(),
                        score,
                        percentile,
                    });
                }
                _ => self.bad(
                    name,
                    f.first().copied(),
                    format!("line {}: expected `CVE-…,score,percentile`", n + 3),
                ),
            }
        }
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
