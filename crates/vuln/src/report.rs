//! Rendering match results: table, JSON, SARIF 2.1.0 and CycloneDX 1.6 JSON (with vulnerabilities), plus the
//! `--only-fixed` filter and the `--fail-on` gate.

use std::str::FromStr;

use portcullis_sbom::Sbom;
use serde_json::{Value, json};

use crate::{Finding, FixState, MatchReport, Severity};

/// Output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable table.
    Table,
    /// The [`MatchReport`] as JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX 1.6 JSON with a `vulnerabilities` section.
    CycloneDxJson,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "table" => Format::Table,
            "json" => Format::Json,
            "sarif" => Format::Sarif,
            "cyclonedx-json" => Format::CycloneDxJson,
            other => {
                return Err(format!(
                    "unknown output format `{other}`; use table, json, sarif or cyclonedx-json"
                ));
            }
        })
    }
}

/// Parses a severity name (`negligible`, `low`, `medium`, `high`, `critical`).
/// `unknown` is no threshold and is refused like any other unknown name.
pub fn parse_severity(s: &str) -> Result<Severity, crate::UnknownSeverity> {
    match s.parse::<Severity>()? {
        Severity::Unknown => Err(crate::UnknownSeverity {
            given: s.to_ascii_lowercase(),
        }),
        known => Ok(known),
    }
}

/// Keeps only findings that have a fix (`--only-fixed`).
pub fn only_fixed(report: &mut MatchReport) {
    report.findings.retain(|f| f.fix_state == FixState::Fixed);
}

/// Whether the gate fails: any finding at or above `threshold`.
pub fn gate_fails(report: &MatchReport, threshold: Severity) -> bool {
    report.findings.iter().any(|f| f.severity >= threshold)
}

/// `CVE-2023-32681 (GHSA-j8r2-6x86-q33q, PYSEC-2023-74)`: the id and, in parentheses, its aliases.
pub fn id_with_aliases(f: &Finding) -> String {
    if f.aliases.is_empty() {
        f.id.clone()
    } else {
        format!("{} ({})", f.id, f.aliases.join(", "))
    }
}

fn type_name(f: &Finding) -> &'static str {
    f.package_type.as_str()
}

/// Renders `report` (for `sbom`) in `format`.
pub fn render(report: &MatchReport, sbom: &Sbom, format: Format) -> String {
    match format {
        Format::Table => table(report),
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default(),
        Format::Sarif => serde_json::to_string_pretty(&sarif(report, sbom)).unwrap_or_default(),
        Format::CycloneDxJson => {
            serde_json::to_string_pretty(&cyclonedx(report, sbom)).unwrap_or_default()
        }
    }
}

fn table(report: &MatchReport) -> String {
    let header = [
        "NAME",
        "INSTALLED",
        "FIXED-IN",
        "STATE",
        "TYPE",
        "VULNERABILITY",
        "SEVERITY",
        "KEV",
        "EPSS",
    ];
    let rows: Vec<[String; 9]> = report
        .findings
        .iter()
        .map(|f| {
            [
                f.package_name.clone(),
                f.package_version.clone(),
                f.fixed_in.clone().unwrap_or_default(),
                f.fix_state.as_str().to_string(),
                type_name(f).to_string(),
                id_with_aliases(f),
                f.severity.as_str().to_string(),
                if f.kev { "yes".into() } else { String::new() },
                f.epss.map(|e| format!("{e:.3}")).unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: &[&str]| -> String {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = line(&header);
    out.push('\n');
    for r in &rows {
        out.push_str(&line(&r.each_ref().map(String::as_str)));
        out.push('\n');
    }
    if rows.is_empty() {
        out.push_str("No vulnerabilities found\n");
    }
    out.push_str(&format!(
        "{} findings, vulnerability database {}\n",
        rows.len(),
        report.db_version
    ));
    if !report.suppressed.is_empty() {
        out.push_str(&format!(
            "\nSUPPRESSED ({}; not counted by --fail-on or policy gates)\n",
            report.suppressed.len()
        ));
        for f in &report.suppressed {
            let (by, reason, source) = f
                .suppressed
                .as_ref()
                .map(|s| {
                    let by = match s.by {
                        crate::triage::SuppressedBy::IgnoreRule => "ignore-rule",
                        crate::triage::SuppressedBy::Vex => "vex",
                    };
                    (by, s.reason.as_str(), s.source.as_str())
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "{} {} ({}) {} {}: {by} {source}: {reason}\n",
                f.package_name,
                f.package_version,
                type_name(f),
                id_with_aliases(f),
                f.severity.as_str(),
            ));
        }
    }
    for f in report.findings.iter().filter(|f| f.vex.is_some()) {
        if let Some(v) = &f.vex {
            out.push_str(&format!(
                "VEX: {} {} {}: {} ({}){}\n",
                f.package_name,
                f.package_version,
                f.id,
                v.status.as_str(),
                v.source,
                v.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ));
        }
    }
    for w in &report.triage_warnings {
        out.push_str(&format!("WARNING: {w}\n"));
    }
    for u in &report.unmatched {
        let ty = serde_json::to_value(u.package_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "NOT CHECKED: {} {ty} package(s): {}\n",
            u.packages, u.reason
        ));
    }
    out
}

fn best_score(f: &Finding) -> Option<&crate::Cvss> {
    f.cvss
        .iter()
        .filter(|c| !c.version.starts_with('2'))
        .max_by(|a, b| a.version.cmp(&b.version))
        .or_else(|| f.cvss.first())
}

fn sarif(report: &MatchReport, sbom: &Sbom) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    for f in report.findings.iter().chain(&report.suppressed) {
        if seen.insert(f.id.clone()) {
            let score = best_score(f)
                .map(|c| c.base_score)
                .unwrap_or(match f.severity {
                    Severity::Critical => 9.5,
                    Severity::High => 8.0,
                    Severity::Medium => 5.5,
                    Severity::Low => 2.0,
                    _ => 0.0,
                });
            rules.push(json!({
                "id": f.id,
                "name": f.id.replace('-', ""),
                "shortDescription": {"text": format!("{} {} vulnerability", f.id, f.severity.as_str())},
                "fullDescription": {"text": f.description.clone().unwrap_or_else(|| f.id.clone())},
                "helpUri": f.url,
                "help": {"text": format!("Vulnerability {}\nSeverity: {}\nFixed in: {}", f.id, f.severity.as_str(),
                    f.fixed_in.as_deref().unwrap_or("-"))},
                "properties": {"security-severity": format!("{score:.1}"), "tags": ["vulnerability", "security"]},
            }));
        }
        let level = match f.severity {
            Severity::Critical | Severity::High => "error",
            Severity::Medium => "warning",
            _ => "note",
        };
        let fix = match (&f.fix_state, &f.fixed_in) {
            (FixState::Fixed, Some(v)) => format!("; fixed in {v}"),
            (FixState::WontFix, _) => "; the vendor will not fix it".into(),
            _ => "; no fix available".into(),
        };
        let mut result = json!({
            "ruleId": f.id,
            "level": level,
            "message": {"text": format!("{} {} ({}) is affected by {}{fix}", type_name(f), f.package_name,
                f.package_version, f.id)},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": f.package_location.trim_start_matches('/')}},
                "logicalLocations": [{"name": format!("{}@{}", f.package_name, f.package_version), "kind": "package"}],
            }],
            "properties": {"fixState": f.fix_state.as_str(), "kev": f.kev, "epss": f.epss, "namespace": f.namespace,
                "aliases": f.aliases},
        });
        // a suppressed finding stays in the log, marked as SARIF's externally suppressed result
        if let Some(sup) = &f.suppressed {
            result["suppressions"] = json!([{"kind": "external", "status": "accepted",
                "justification": format!("{}: {}", sup.source, sup.reason)}]);
        }
        results.push(result);
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {
                "name": "portcullis",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/portcullis",
                "rules": rules,
            }},
            "properties": {"vulnerabilityDbVersion": report.db_version, "source": sbom.source},
            "invocations": [{
                "executionSuccessful": true,
                "toolExecutionNotifications": report.unmatched.iter().map(|u| json!({
                    "level": "warning",
                    "descriptor": {"id": "vulnerability-data-unavailable"},
                    "message": {"text": format!("{} package(s) not checked: {}", u.packages, u.reason)},
                    "properties": {"namespace": u.namespace, "packages": u.packages},
                })).collect::<Vec<_>>(),
            }],
            "results": results,
        }],
    })
}

fn bom_ref(p: &portcullis_sbom::Package) -> String {
    if p.purl.is_empty() {
        format!("{}@{}", p.name, p.version)
    } else {
        p.purl.clone()
    }
}

fn cyclonedx(report: &MatchReport, sbom: &Sbom) -> Value {
    let components: Vec<Value> = sbom
        .packages
        .iter()
        .map(|p| {
            let mut c = json!({"type": "library", "bom-ref": bom_ref(p), "name": p.name, "version": p.version});
            if !p.purl.is_empty() {
                c["purl"] = json!(p.purl);
            }
            c
        })
        .collect();
    let vulns: Vec<Value> = report
        .findings
        .iter()
        .chain(&report.suppressed)
        .map(|f| {
            let target = sbom
                .packages
                .iter()
                .find(|p| {
                    p.name == f.package_name
                        && p.version == f.package_version
                        && p.location == f.package_location
                })
                .map(bom_ref)
                .unwrap_or_else(|| format!("{}@{}", f.package_name, f.package_version));
            let mut ratings: Vec<Value> = f
                .cvss
                .iter()
                .map(|c| {
                    let method = match c.version.as_str() {
                        "4.0" => "CVSSv4",
                        "3.1" => "CVSSv31",
                        "3.0" => "CVSSv3",
                        "2.0" => "CVSSv2",
                        _ => "other",
                    };
                    json!({"source": {"name": c.source}, "score": c.base_score, "method": method, "vector": c.vector})
                })
                .collect();
            ratings.insert(0, json!({"source": {"name": f.namespace}, "severity": match f.severity {
                Severity::Unknown => "unknown",
                Severity::Negligible => "none",
                s => s.as_str(),
            }}));
            let mut v = json!({
                "bom-ref": format!("{}:{}", f.id, target),
                "id": f.id,
                "source": {"name": f.namespace, "url": f.url},
                "ratings": ratings,
                "affects": [{"ref": target, "versions": [{"version": f.package_version, "status": "affected"}]}],
                "properties": [
                    {"name": "portcullis:fix-state", "value": f.fix_state.as_str()},
                    {"name": "portcullis:kev", "value": f.kev.to_string()},
                ],
            });
            if let Some(d) = &f.description {
                v["description"] = json!(d);
            }
            if let Some(fix) = &f.fixed_in {
                v["recommendation"] = json!(format!("Upgrade {} to {fix}", f.package_name));
            }
            if let (Some(e), Some(props)) = (f.epss, v["properties"].as_array_mut()) {
                props.push(json!({"name": "portcullis:epss", "value": e.to_string()}));
            }
            if let (Some(sup), Some(props)) = (&f.suppressed, v["properties"].as_array_mut()) {
                props.push(json!({"name": "portcullis:suppressed", "value": format!("{}: {}", sup.source, sup.reason)}));
            }
            if !f.aliases.is_empty() {
                v["references"] = json!(f.aliases.iter().map(|a| json!({"id": a, "source": {"name": "alias"}})).collect::<Vec<_>>());
            }
            v
        })
        .collect();
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "tools": {"components": [{"type": "application", "name": "portcullis", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {"type": "container", "name": sbom.source, "bom-ref": "subject"},
            "properties": [{"name": "portcullis:vulnerability-db-version", "value": report.db_version}],
        },
        "components": components,
        "vulnerabilities": vulns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_sbom::{Package, PackageType};

    fn finding(id: &str, sev: Severity, state: FixState, fixed: Option<&str>) -> Finding {
        Finding {
            id: id.into(),
            aliases: vec![],
            package_name: "openssl".into(),
            package_version: "3.0.11-1~deb12u1".into(),
            package_type: PackageType::Deb,
            package_location: "/var/lib/dpkg/status".into(),
            namespace: "debian:12".into(),
            severity: sev,
            cvss: vec![],
            fix_state: state,
            fixed_in: fixed.map(str::to_string),
            fix_date: None,
            published: None,
            url: None,
            description: None,
            kev: false,
            epss: Some(0.5),
            suppressed: None,
            vex: None,
        }
    }

    fn fixture() -> (MatchReport, Sbom) {
        let report = MatchReport {
            findings: vec![
                finding(
                    "CVE-1",
                    Severity::High,
                    FixState::Fixed,
                    Some("3.0.13-1~deb12u1"),
                ),
                finding("CVE-2", Severity::Low, FixState::WontFix, None),
            ],
            db_version: "1.test".into(),
            ..Default::default()
        };
        let sbom = Sbom {
            source: "img".into(),
            packages: vec![Package {
                name: "openssl".into(),
                version: "3.0.11-1~deb12u1".into(),
                package_type: PackageType::Deb,
                purl: "pkg:deb/debian/openssl@3.0.11-1~deb12u1".into(),
                source_name: None,
                source_version: None,
                arch: None,
                licenses: vec![],
                location: "/var/lib/dpkg/status".into(),
                files: vec![],
                layer: None,
            }],
            ..Default::default()
        };
        (report, sbom)
    }

    #[test]
    fn gate_and_only_fixed() {
        let (mut r, _) = fixture();
        assert!(gate_fails(&r, Severity::High));
        assert!(!gate_fails(&r, Severity::Critical));
        only_fixed(&mut r);
        assert_eq!(r.findings.len(), 1);
        assert!(!gate_fails(&r, Severity::Critical));
        assert!(parse_severity("bogus").is_err());
        assert!("xml".parse::<Format>().is_err());
    }

    #[test]
    fn formats() {
        let (r, s) = fixture();
        let t = render(&r, &s, Format::Table);
        assert!(t.contains("CVE-1") && t.contains("3.0.13-1~deb12u1") && t.contains("wont-fix"));
        let sarif: Value = serde_json::from_str(&render(&r, &s, Format::Sarif)).unwrap();
        assert_eq!(sarif["version"], "2.1.0");
        assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
        assert_eq!(sarif["runs"][0]["results"][1]["level"], "note");
        assert_eq!(
            sarif["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let cdx: Value = serde_json::from_str(&render(&r, &s, Format::CycloneDxJson)).unwrap();
        assert_eq!(cdx["bomFormat"], "CycloneDX");
        let v = &cdx["vulnerabilities"][0];
        assert_eq!(v["id"], "CVE-1");
        assert_eq!(
            v["affects"][0]["ref"],
            "pkg:deb/debian/openssl@3.0.11-1~deb12u1"
        );
        assert_eq!(cdx["components"][0]["bom-ref"], v["affects"][0]["ref"]);
        let json: MatchReport = serde_json::from_str(&render(&r, &s, Format::Json)).unwrap();
        assert_eq!(json, r);
    }
}
