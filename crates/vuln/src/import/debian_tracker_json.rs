//! The tracker's JSON dump (`security-tracker.debian.org/tracker/data/json`):
//! `{package: {CVE: {description, releases: {codename: {status, fixed_version, urgency, nodsa?}}}}}`.

use serde_json::Value;

use super::debian::{Stmt, debian_row};
use super::{Collector, File, Importer, s};
use crate::model::{VulnInfo, debian_namespace, severity_from_word};

/// The tracker JSON dump: an object of packages whose first entry is an object of `CVE-`/`TEMP-` ids with
/// `releases`.
pub(super) struct TrackerJson;

impl Importer for TrackerJson {
    fn name(&self) -> &'static str {
        "debian-tracker-json"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.doc
            .and_then(Value::as_object)
            .and_then(|o| o.values().next())
            .and_then(Value::as_object)
            .is_some_and(|m| {
                m.iter().next().is_some_and(|(k, x)| {
                    (k.starts_with("CVE-") || k.starts_with("TEMP-")) && x.get("releases").is_some()
                })
            })
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        let Some(pkgs) = v.as_object() else { return };
        for (pkg, cves) in pkgs {
            let Some(cves) = cves.as_object() else {
                c.bad(
                    name,
                    None,
                    format!("package `{pkg}`: expected an object of CVEs"),
                );
                continue;
            };
            for (cve, rec) in cves {
                c.count("debian-tracker-json");
                if rec["releases"].as_array().is_some_and(Vec::is_empty) {
                    continue;
                }
                let Some(releases) = rec["releases"].as_object() else {
                    c.bad(name, Some(cve), format!("{pkg}: no `releases` object"));
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
                            c.bad(
                                name,
                                Some(cve),
                                format!("{pkg} {codename}: unknown status `{other}`"),
                            );
                            continue;
                        }
                    };
                    let fixed = s(r, "fixed_version");
                    debian_row(
                        c,
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
                c.batch.vulns.push(VulnInfo {
                    id: cve.clone(),
                    origin: "debian".into(),
                    description: s(rec, "description"),
                    url: Some(format!("https://security-tracker.debian.org/tracker/{cve}")),
                    ..Default::default()
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::FixState;
    use crate::import::testing::{import_one, owner};

    const DUMP: &[u8] = include_bytes!("testdata/debian/tracker.json");

    #[test]
    fn detects_the_dump() {
        assert_eq!(
            owner("tracker/data/json", DUMP),
            Some("debian-tracker-json")
        );
        assert_eq!(owner("debian.json", DUMP), Some("debian-tracker-json"));
    }

    #[test]
    fn each_release_status_becomes_a_row() {
        let b = import_one("debian.json", DUMP);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(b.records["debian-tracker-json"], 7);
        let get = |id: &str, ns: &str| {
            b.affected
                .iter()
                .find(|a| a.vuln_id == id && a.namespace == ns)
                .map(|a| (a.fix_state, a.fixed_in.as_deref()))
        };
        assert_eq!(
            get("CVE-2022-0456", "debian:12"),
            Some((FixState::Fixed, Some("98.0.4758.80-1")))
        );
        assert_eq!(
            get("CVE-2022-0456", "debian:unstable"),
            Some((FixState::Fixed, Some("98.0.4758.80-1")))
        );
        // open at end of life: the vendor will not fix it
        assert_eq!(
            get("CVE-2022-0456", "debian:10"),
            Some((FixState::WontFix, None))
        );
        // fixed_version 0: never affected
        assert_eq!(
            get("CVE-2007-2383", "debian:10"),
            Some((FixState::NotAffected, None))
        );
    }
}
