//! OSV JSON (any ecosystem) and OSV YAML (PyPA): `introduced`/`fixed`/`last_affected`/`limit` events of
//! ECOSYSTEM/SEMVER ranges, `versions` lists, `withdrawn`; RustSec informational advisories are skipped.

use serde_json::Value;

use super::{Collector, File, Importer, check_version, s};
use crate::model::{
    Affected, Range, VulnInfo, cvss3_base_score, normalize_name, osv_namespace,
    scheme_for_namespace, severity_from_score, severity_from_word,
};
use crate::{Cvss, FixState, Scheme, Severity};

/// An OSV record: has `affected`, or `id` + `modified` + `schema_version`.
pub(super) struct Osv;

impl Importer for Osv {
    fn name(&self) -> &'static str {
        "osv"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("affected") || (f.has("id") && f.has("modified") && f.has("schema_version"))
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        let Some(id) = s(v, "id") else {
            return c.bad(name, None, "OSV record without `id`");
        };
        c.count("osv");
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
        // an rpm distribution's errata (ALSA, RLSA, RHSA, SUSE-SU) name the CVEs they fix in `related`
        let errata = v["affected"].as_array().into_iter().flatten().any(|a| {
            s(&a["package"], "ecosystem").is_some_and(|e| {
                [
                    "AlmaLinux:",
                    "Rocky Linux:",
                    "Red Hat:",
                    "SUSE:",
                    "openSUSE:",
                ]
                .iter()
                .any(|p| e.starts_with(p))
            })
        });
        let related = v["related"].as_array().filter(|_| errata);
        let aliases: Vec<String> = v["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(v["upstream"].as_array().into_iter().flatten())
            .chain(related.into_iter().flatten())
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
                    c.bad(name, Some(&id), "affected entry without package name");
                    continue;
                };
                let Some(ns) = osv_namespace(&eco) else {
                    // Red Hat's and SUSE's feeds also cover products that are no OS image (OpenShift, JBoss,
                    // SUSE Manager tools…): out of scope, not bad data
                    if ["Red Hat:", "SUSE:", "openSUSE:"]
                        .iter()
                        .any(|p| eco.starts_with(p))
                    {
                        continue;
                    }
                    c.bad(
                        name,
                        Some(&id),
                        format!("unknown ecosystem `{eco}` (package {pkg})"),
                    );
                    continue;
                };
                let Some(scheme) = scheme_for_namespace(&ns) else {
                    c.bad(name, Some(&id), format!("no version scheme for `{ns}`"));
                    continue;
                };
                let mut pkg_sev = severity;
                collect_sev(&a["severity"], &mut pkg_sev);
                match osv_ranges(a, scheme) {
                    Ok(ranges) => {
                        // every fixed version, as candidates for hits outside an interval
                        let fixes: Vec<&str> = ranges
                            .iter()
                            .filter_map(|r| match r {
                                Range::Interval { fixed: Some(f), .. } => Some(f.as_str()),
                                _ => None,
                            })
                            .collect();
                        // Chainguard/Wolfi write `introduced 0, fixed 0` for "not affected"
                        if !fixes.is_empty() && fixes.iter().all(|f| *f == "0") {
                            c.batch.affected.push(Affected {
                                vuln_id: id.clone(),
                                namespace: ns.clone(),
                                package: normalize_name(&ns, &pkg),
                                ranges: Vec::new(),
                                fix_state: FixState::NotAffected,
                                fixed_in: None,
                                severity: pkg_sev,
                                priority: 3,
                            });
                            continue;
                        }
                        let fixed_in = (!fixes.is_empty()).then(|| fixes.join(" "));
                        c.batch.affected.push(Affected {
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
                    Err(reason) => c.bad(name, Some(&id), format!("{pkg}: {reason}")),
                }
            }
        }
        c.batch.vulns.push(VulnInfo {
            id,
            origin: "osv".into(),
            aliases,
            severity,
            cvss,
            description,
            published: s(v, "published"),
            url,
            withdrawn,
            ..Default::default()
        });
    }
}

fn osv_ranges(a: &Value, scheme: Scheme) -> Result<Vec<Range>, String> {
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
                check_version(scheme, val)?;
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

#[cfg(test)]
mod tests {
    use crate::FixState;
    use crate::import::testing::{import_one, owner};
    use crate::model::Range;

    const GO: &[u8] = include_bytes!("testdata/GO-2022-0378.json");
    const PYSEC: &[u8] = include_bytes!("testdata/PYSEC-2023-121.yaml");

    const ALSA: &[u8] = include_bytes!("testdata/ALSA-2022-4587.json");

    #[test]
    fn almalinux_errata_by_release_with_related_cves() {
        let b = import_one("ALSA-2022:4587.json", ALSA);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let a = &b.affected[0];
        assert_eq!(
            (a.vuln_id.as_str(), a.namespace.as_str(), a.package.as_str()),
            ("ALSA-2022:4587", "almalinux:9", "pcs")
        );
        assert_eq!(a.fixed_in.as_deref(), Some("0.11.1-10.el9"));
        assert_eq!(b.vulns[0].aliases, ["CVE-2022-29970"]);
    }

    #[test]
    fn detects_osv_json_and_yaml() {
        assert_eq!(owner("osv/go/GO-2022-0378.json", GO), Some("osv"));
        assert_eq!(owner("pypa/zstd/PYSEC-2023-121.yaml", PYSEC), Some("osv"));
    }

    #[test]
    fn semver_interval_names_its_fix() {
        let b = import_one("GO-2022-0378.json", GO);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let a = &b.affected[0];
        assert_eq!(
            (a.vuln_id.as_str(), a.namespace.as_str(), a.package.as_str()),
            ("GO-2022-0378", "go", "github.com/foxcpp/maddy")
        );
        assert_eq!(
            a.ranges,
            [Range::Interval {
                introduced: Some("0.5.0".into()),
                fixed: Some("0.5.2".into()),
                last_affected: None
            }]
        );
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref()),
            (FixState::Fixed, Some("0.5.2"))
        );
        assert_eq!(b.vulns[0].aliases, ["GHSA-qh54-9vc5-m9fg"]);
        assert_eq!(b.records["osv"], 1);
    }

    #[test]
    fn open_range_and_versions_list_without_fix() {
        let b = import_one("PYSEC-2023-121.yaml", PYSEC);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let a = &b.affected[0];
        assert_eq!((a.namespace.as_str(), a.package.as_str()), ("pypi", "zstd"));
        assert_eq!(
            a.ranges[0],
            Range::Interval {
                introduced: None,
                fixed: None,
                last_affected: None
            }
        );
        assert!(a.ranges.contains(&Range::Exact("1.4.9.1".into())));
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref()),
            (FixState::NotFixed, None)
        );
        assert_eq!(b.vulns[0].aliases, ["CVE-2022-4899"]);
    }

    #[test]
    fn bad_version_is_a_bad_record_naming_package_and_id() {
        let text = String::from_utf8(GO.to_vec())
            .unwrap()
            .replace("\"0.5.2\"", "\"not a version!\"");
        let b = import_one("GO-2022-0378.json", text.as_bytes());
        assert!(b.affected.is_empty());
        assert_eq!(b.bad[0].id.as_deref(), Some("GO-2022-0378"));
        assert!(
            b.bad[0].reason.contains("github.com/foxcpp/maddy")
                && b.bad[0].reason.contains("not a version!"),
            "{:?}",
            b.bad
        );
    }
}
