//! NVD CVE API 2.0 JSON: response pages (`{format: "NVD_CVE", vulnerabilities: [{cve: …}]}`) and single `cve`
//! objects (one per file, as `vuln-list-nvd` stores them); CVSS v4.0, v3.1, v3.0 and v2 metrics, the primary one
//! giving the severity (else the first score, e.g. CISA-ADP's on a record NVD has not analysed).

use serde_json::Value;

use super::{Collector, File, Importer, s};
use crate::Cvss;
use crate::model::{VulnInfo, severity_from_score, severity_from_word};

/// An NVD API page (`format` is `NVD_CVE`, or `vulnerabilities[0].cve` is an object) or a single `cve` record.
pub(super) struct Nvd;

impl Importer for Nvd {
    fn name(&self) -> &'static str {
        "nvd"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.json().get("format").and_then(Value::as_str) == Some("NVD_CVE")
            || f.json()["vulnerabilities"][0]["cve"].is_object()
            || is_record(f.json())
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        if is_record(v) {
            return record(c, name, v);
        }
        for item in v["vulnerabilities"].as_array().into_iter().flatten() {
            record(c, name, &item["cve"]);
        }
    }
}

/// A single `cve` object, as `vuln-list-nvd` stores one per file: a `CVE-` id with NVD's `sourceIdentifier` and
/// `descriptions`.
fn is_record(v: &Value) -> bool {
    v["id"].as_str().is_some_and(|id| id.starts_with("CVE-"))
        && v.get("sourceIdentifier").is_some()
        && v.get("descriptions").is_some()
}

/// One `cve` object: its CVSS metrics, severity, description and publication date.
fn record(c: &mut Collector, name: &str, cve: &Value) {
    let Some(id) = s(cve, "id") else {
        c.bad(name, None, "NVD item without cve.id");
        return;
    };
    c.count("nvd");
    let mut cvss = Vec::new();
    let mut severity = None;
    for (key, ver) in [
        ("cvssMetricV40", "4.0"),
        ("cvssMetricV31", "3.1"),
        ("cvssMetricV30", "3.0"),
        ("cvssMetricV2", "2.0"),
    ] {
        for m in cve["metrics"][key].as_array().into_iter().flatten() {
            let d = &m["cvssData"];
            let Some(score) = d["baseScore"].as_f64() else {
                return;
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
    let description = cve["descriptions"]
        .as_array()
        .and_then(|d| d.iter().find(|x| x["lang"] == "en"))
        .and_then(|x| s(x, "value"));
    c.batch.vulns.push(VulnInfo {
        url: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
        id,
        origin: "nvd".into(),
        severity,
        cvss,
        description,
        published: s(cve, "published"),
        ..Default::default()
    });
}

#[cfg(test)]
mod tests {
    use crate::Severity;
    use crate::import::testing::{import_one, owner};

    const PAGE: &[u8] = include_bytes!("testdata/nvd-CVE-2021-28429.json");
    const RECORD: &[u8] = include_bytes!("testdata/nvd-record-CVE-2024-34156.json");

    #[test]
    fn detects_an_api_page_and_a_single_record() {
        assert_eq!(owner("nvdcve-2.0/CVE-2021-28429.json", PAGE), Some("nvd"));
        assert_eq!(owner("api/2024/CVE-2024-34156.json", RECORD), Some("nvd"));
    }

    #[test]
    fn unanalysed_record_takes_the_secondary_score() {
        // vulnStatus Deferred: NVD's own metric is missing, CISA-ADP's CVSS 3.1 7.5 (HIGH) is the only one
        let b = import_one("api/2024/CVE-2024-34156.json", RECORD);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(b.records["nvd"], 1);
        let v = &b.vulns[0];
        assert_eq!(v.id, "CVE-2024-34156");
        assert_eq!(v.severity, Some(Severity::High));
        assert_eq!(
            (v.cvss[0].version.as_str(), v.cvss[0].base_score),
            ("3.1", 7.5)
        );
        assert_eq!(v.published.as_deref(), Some("2024-09-06T21:15:12.020"));
    }

    #[test]
    fn primary_metric_gives_the_severity() {
        let b = import_one("CVE-2021-28429.json", PAGE);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let v = &b.vulns[0];
        assert_eq!(
            (v.id.as_str(), v.origin.as_str()),
            ("CVE-2021-28429", "nvd")
        );
        assert_eq!(v.severity, Some(Severity::Medium));
        assert_eq!(v.cvss[0].version, "3.1");
        assert_eq!(v.cvss[0].base_score, 5.5);
        assert_eq!(v.cvss[0].exploitability_score, Some(1.8));
        assert!(
            b.affected.is_empty(),
            "NVD records carry no package statements"
        );
    }
}
