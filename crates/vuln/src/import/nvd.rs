//! NVD CVE API 2.0 JSON: response pages (`{format: "NVD_CVE", vulnerabilities: [{cve: …}]}`) and single `cve`
//! objects (one per file, as `vuln-list-nvd` stores them); CVSS v4.0, v3.1, v3.0 and v2 metrics, the primary one
//! giving the severity (else the first score, e.g. CISA-ADP's on a record NVD has not analysed). Base,
//! exploitability and impact scores per metric, CWE ids, `published`/`lastModified` are stored; a `Rejected`
//! record is stored withdrawn. Scores are tagged `nvd` (NVD's own) or `nvd:<source>` (another scorer's metric in
//! the record).

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
                c.bad(
                    name,
                    Some(&id),
                    format!("{key} metric without cvssData.baseScore"),
                );
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
                source: metric_source(m),
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
    let mut cwes: Vec<String> = cve["weaknesses"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|w| w["description"].as_array().into_iter().flatten())
        .filter_map(|d| s(d, "value"))
        .filter(|v| v.starts_with("CWE-"))
        .collect();
    cwes.sort();
    cwes.dedup();
    c.batch.vulns.push(VulnInfo {
        url: Some(format!("https://nvd.nist.gov/vuln/detail/{id}")),
        id,
        origin: "nvd".into(),
        severity,
        cvss,
        description,
        published: s(cve, "published"),
        // a rejected CVE is kept for explanations, never matched or used as a fallback
        withdrawn: s(cve, "vulnStatus").as_deref() == Some("Rejected"),
        modified: s(cve, "lastModified"),
        cwes,
        ..Default::default()
    });
}

/// Who scored a metric: `nvd` for NVD's own (`nvd@nist.gov`), `nvd:<source>` for another scorer's metric in an
/// NVD record (CISA-ADP's on records NVD has not analysed, a CNA's): both count as NVD data for policies.
fn metric_source(m: &Value) -> String {
    match s(m, "source") {
        None => "nvd".into(),
        Some(src) if src == "nvd@nist.gov" => "nvd".into(),
        Some(src) => format!("nvd:{src}"),
    }
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

    fn shared(rel: &str) -> Vec<u8> {
        let base = std::env::var_os("PORTCULLIS_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared").into());
        let p = base.join("vulndata").join(rel);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn every_cvss_version_with_subscores_cwes_and_dates() {
        // CVE-2024-5732 (trivy-db fixture): CVSS 4.0 (VulDB, Secondary), 3.1, 2.0
        let b = import_one(
            "api/2024/CVE-2024-5732.json",
            &shared(
                "trivy-db/pkg/vulnsrc/nvd/testdata/happy/vuln-list-nvd/api/2024/CVE-2024-5732.json",
            ),
        );
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let v = &b.vulns[0];
        let versions: Vec<&str> = v.cvss.iter().map(|c| c.version.as_str()).collect();
        assert!(
            ["4.0", "3.1", "2.0"].iter().all(|x| versions.contains(x)),
            "{versions:?}"
        );
        assert!(
            v.cvss.iter().all(|c| c.source.starts_with("nvd")),
            "{:?}",
            v.cvss
        );
        assert!(v.modified.is_some() && v.published.is_some());
        assert!(!v.cwes.is_empty(), "{v:?}");
        assert!(!v.withdrawn);

        // CVE-2016-2781 (coreutils): only CVSS 3.0 and 2.0; NVD's own 3.0 metric: 6.5 MEDIUM, exploitability 2.0
        let b = import_one(
            "api/2016/CVE-2016-2781.json",
            &shared("nvd/vuln-list-nvd/api/2016/CVE-2016-2781.json"),
        );
        let v = &b.vulns[0];
        assert_eq!(v.severity, Some(Severity::Medium));
        let c = &v.cvss[0];
        assert_eq!(
            (
                c.source.as_str(),
                c.version.as_str(),
                c.base_score,
                c.exploitability_score
            ),
            ("nvd", "3.0", 6.5, Some(2.0))
        );
        assert_eq!(v.cwes, ["CWE-20"]);
        assert_eq!(v.modified.as_deref(), Some("2023-11-07T02:32:03.347"));

        // CVE-2005-2541 (tar): only CVSS 2.0, HIGH 10.0
        let b = import_one(
            "api/2005/CVE-2005-2541.json",
            &shared("nvd/vuln-list-nvd/api/2005/CVE-2005-2541.json"),
        );
        let v = &b.vulns[0];
        assert_eq!(v.severity, Some(Severity::High));
        assert_eq!(
            (v.cvss[0].version.as_str(), v.cvss[0].impact_score),
            ("2.0", Some(10.0))
        );
    }

    #[test]
    fn a_rejected_record_is_stored_withdrawn() {
        let b = import_one(
            "api/2024/CVE-2024-0069.json",
            &shared(
                "trivy-db/pkg/vulnsrc/nvd/testdata/happy/vuln-list-nvd/api/2024/CVE-2024-0069.json",
            ),
        );
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert!(b.vulns[0].withdrawn, "{:?}", b.vulns[0]);
        assert_eq!(b.vulns[0].severity, None);
    }

    #[test]
    fn a_multi_record_api_page() {
        let b = import_one(
            "respPageFull.json",
            &shared("vuln-list-update/nvd/testdata/fixtures/respPageFull.json"),
        );
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let ids: Vec<&str> = b.vulns.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["CVE-2020-8167", "CVE-2021-22903", "CVE-2021-3881"]);
        assert_eq!(b.records["nvd"], 3);
    }
}
