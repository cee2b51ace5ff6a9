//! Per-CVE and DSA/DLA/DTSA records of the tracker as `vuln-list-debian` publishes them:
//! `{"Header": {"ID": …}, "Annotations": [{"Type": "package", "Release": …, "Package": …, "Kind": …, …}]}`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::debian::{FIXED_IN_UNSTABLE, Stmt, debian_row};
use super::{Collector, File, Importer, s};
use crate::model::{DEBIAN_INHERITING, VulnInfo, debian_namespace, severity_from_word};

/// A `vuln-list-debian` record: has `Header` and `Annotations`.
pub(super) struct TrackerRecord;

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

impl Importer for TrackerRecord {
    fn name(&self) -> &'static str {
        "debian-tracker-record"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("Header") && f.has("Annotations")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        let Some(id) = s(&v["Header"], "ID") else {
            return c.bad(name, None, "Debian tracker record without Header.ID");
        };
        let anns: Vec<Annotation> = match serde_json::from_value(v["Annotations"].clone()) {
            Ok(a) => a,
            Err(e) => return c.bad(name, Some(&id), format!("bad Annotations: {e}")),
        };
        if id.starts_with("DSA-") || id.starts_with("DLA-") || id.starts_with("DTSA-") {
            c.count("debian-dsa");
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
                    debian_row(
                        c,
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
        c.count("debian-cve");
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
                debian_row(
                    c,
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
                debian_row(
                    c,
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
                // a fix in unstable is not a fix a stable release can install
                let inherited = if kind == "fixed" {
                    FIXED_IN_UNSTABLE
                } else {
                    &kind
                };
                for ns in DEBIAN_INHERITING {
                    if !explicit.iter().any(|e| e == ns) {
                        debian_row(
                            c,
                            name,
                            Stmt {
                                id: &id,
                                ns,
                                pkg: &pkg,
                                kind: inherited,
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
        c.batch.vulns.push(VulnInfo {
            url: Some(format!("https://security-tracker.debian.org/tracker/{id}")),
            id,
            origin: "debian".into(),
            description,
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::import::testing::{import_one, owner};
    use crate::model::{Affected, Range};
    use crate::{FixState, Severity};

    const PERL: &[u8] = include_bytes!("testdata/debian/CVE-2023-31486.json");
    const DSA: &[u8] = include_bytes!("testdata/debian/DSA-5514-1.json");

    fn row<'a>(rows: &'a [Affected], ns: &str, pkg: &str) -> Option<&'a Affected> {
        rows.iter().find(|a| a.namespace == ns && a.package == pkg)
    }

    #[test]
    fn detects_cve_and_dsa_records() {
        assert_eq!(
            owner("tracker/CVE/2023/CVE-2023-31486.json", PERL),
            Some("debian-tracker-record")
        );
        assert_eq!(
            owner("tracker/DSA/DSA-5514-1.json", DSA),
            Some("debian-tracker-record")
        );
    }

    #[test]
    fn unstable_line_is_the_unstable_status_with_its_severity() {
        let b = import_one("CVE-2023-31486.json", PERL);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(b.records["debian-cve"], 1);
        let a = row(&b.affected, "debian:unstable", "perl").expect("perl in unstable");
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref(), a.priority),
            (FixState::Fixed, Some("5.38.2-2"), 3)
        );
        assert_eq!(a.severity, Some(Severity::Negligible));
        assert!(row(&b.affected, "debian:unstable", "libhttp-tiny-perl").is_some());
        // `[experimental]` is no release an image runs
        assert!(
            b.affected
                .iter()
                .all(|a| a.namespace != "debian:experimental")
        );
        assert_eq!(
            b.vulns[0].url.as_deref(),
            Some("https://security-tracker.debian.org/tracker/CVE-2023-31486")
        );
    }

    #[test]
    fn release_without_a_line_is_open_below_the_unstable_fix() {
        let b = import_one("CVE-2023-31486.json", PERL);
        for ns in ["debian:10", "debian:11", "debian:12", "debian:13"] {
            let a = row(&b.affected, ns, "perl").expect(ns);
            assert_eq!(
                (a.fix_state, a.fixed_in.as_deref(), a.priority),
                (FixState::NotFixed, None, 1),
                "{ns}"
            );
            // at or above unstable's fix the release is not affected
            assert_eq!(
                a.ranges,
                [Range::Interval {
                    introduced: None,
                    fixed: Some("5.38.2-2".into()),
                    last_affected: None
                }],
                "{ns}"
            );
            assert_eq!(a.severity, Some(Severity::Negligible));
        }
    }

    #[test]
    fn dsa_record_fixes_each_cve_in_its_releases() {
        let b = import_one("DSA-5514-1.json", DSA);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(b.records["debian-dsa"], 1);
        for (ns, fixed) in [
            ("debian:11", "2.31-13+deb11u7"),
            ("debian:12", "2.36-9+deb12u3"),
        ] {
            let a = row(&b.affected, ns, "glibc").expect(ns);
            assert_eq!(a.vuln_id, "CVE-2023-4911");
            assert_eq!(
                (a.fix_state, a.fixed_in.as_deref(), a.priority),
                (FixState::Fixed, Some(fixed), 2)
            );
        }
    }
}
