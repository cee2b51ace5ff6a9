//! Wolfi advisory YAML (`wolfi-dev/advisories`, one `<package>.advisories.yaml` per package, schema 2.x):
//! `{schema-version, package: {name}, advisories: [{id: CGA-…, aliases, events: [{timestamp, type, data}]}]}`.
//! The latest event states the package's status: `fixed` (`data.fixed-version`), `false-positive-determination`
//! (not affected), `fix-not-planned` (won't fix), `detection` / `true-positive-determination` /
//! `pending-upstream-fix` (affected, no fix yet).

use serde_json::Value;

use super::{Collector, File, Importer, check_version, s};
use crate::model::{Affected, Range, VulnInfo};
use crate::{FixState, Scheme};

/// A Wolfi advisories file: has `schema-version`, `package` and `advisories`.
pub(super) struct WolfiAdvisories;

impl Importer for WolfiAdvisories {
    fn name(&self) -> &'static str {
        "wolfi-advisories"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("schema-version") && f.has("package") && f.has("advisories")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        let Some(pkg) = s(&v["package"], "name") else {
            return c.bad(name, None, "Wolfi advisories without `package.name`");
        };
        for adv in v["advisories"].as_array().into_iter().flatten() {
            c.count("wolfi-advisories");
            let Some(id) = s(adv, "id") else {
                c.bad(name, None, format!("{pkg}: advisory without `id`"));
                continue;
            };
            // the latest event by timestamp (RFC 3339 UTC strings order as text); ties keep file order
            let events: Vec<&Value> = adv["events"].as_array().into_iter().flatten().collect();
            let Some(last) = events
                .iter()
                .enumerate()
                .max_by(|(i, a), (j, b)| {
                    let ts = |e: &Value| s(e, "timestamp").unwrap_or_default();
                    ts(a).cmp(&ts(b)).then(i.cmp(j))
                })
                .map(|(_, e)| *e)
            else {
                c.bad(name, Some(&id), format!("{pkg}: advisory without events"));
                continue;
            };
            let ty = s(last, "type").unwrap_or_default();
            let (fix_state, ranges, fixed_in) = match ty.as_str() {
                "fixed" => {
                    let Some(fixed) = s(&last["data"], "fixed-version") else {
                        c.bad(
                            name,
                            Some(&id),
                            format!("{pkg}: `fixed` event without `fixed-version`"),
                        );
                        continue;
                    };
                    if let Err(e) = check_version(Scheme::Apk, &fixed) {
                        c.bad(name, Some(&id), format!("{pkg}: {e}"));
                        continue;
                    }
                    let range = Range::Interval {
                        introduced: None,
                        fixed: Some(fixed.clone()),
                        last_affected: None,
                    };
                    (FixState::Fixed, vec![range], Some(fixed))
                }
                "false-positive-determination" => (FixState::NotAffected, Vec::new(), None),
                "fix-not-planned" => (FixState::WontFix, vec![Range::All], None),
                "detection" | "true-positive-determination" | "pending-upstream-fix" => {
                    (FixState::NotFixed, vec![Range::All], None)
                }
                other => {
                    c.bad(
                        name,
                        Some(&id),
                        format!("{pkg}: unknown event type `{other}`"),
                    );
                    continue;
                }
            };
            c.batch.affected.push(Affected {
                vuln_id: id.clone(),
                namespace: "wolfi".into(),
                package: pkg.clone(),
                ranges,
                fix_state,
                fixed_in,
                severity: None,
                priority: 3,
            });
            c.batch.vulns.push(VulnInfo {
                id: id.clone(),
                origin: "wolfi".into(),
                aliases: adv["aliases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_string))
                    .collect(),
                severity: None,
                cvss: Vec::new(),
                description: None,
                published: events.first().and_then(|e| s(e, "timestamp")),
                url: Some(format!("https://images.chainguard.dev/security/{id}")),
                withdrawn: false,
                ..Default::default()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::FixState;
    use crate::import::testing::{import_one, owner};

    const AACTL: &[u8] = include_bytes!("testdata/wolfi-aactl.advisories.yaml");

    #[test]
    fn detects_wolfi_advisories() {
        assert_eq!(
            owner("wolfi-advisories/aactl.advisories.yaml", AACTL),
            Some("wolfi-advisories")
        );
    }

    #[test]
    fn latest_event_gives_the_state() {
        let b = import_one("aactl.advisories.yaml", AACTL);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let get = |id: &str| b.affected.iter().find(|a| a.vuln_id == id).unwrap();
        // detection on 2025-01-31T07:03:40Z, then `fixed-version: 0.4.12-r22`
        let a = get("CGA-296v-fx37-w4p4");
        assert_eq!(
            (a.namespace.as_str(), a.package.as_str()),
            ("wolfi", "aactl")
        );
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref()),
            (FixState::Fixed, Some("0.4.12-r22"))
        );
        // false-positive-determination (vulnerable-code-not-included-in-package, "Only affects Windows")
        assert_eq!(get("CGA-7ggg-m3hv-6chj").fix_state, FixState::NotAffected);
        let info = b
            .vulns
            .iter()
            .find(|v| v.id == "CGA-7ggg-m3hv-6chj")
            .unwrap();
        assert_eq!(info.aliases, ["CVE-2023-45283", "GHSA-vvjp-q62m-2vph"]);
    }

    #[test]
    fn unknown_event_is_a_bad_record() {
        let y = b"schema-version: 2.0.2\npackage:\n  name: x\nadvisories:\n  - id: CGA-1\n    events:\n      - timestamp: 2024-01-01T00:00:00Z\n        type: something-new\n";
        let b = import_one("x.advisories.yaml", y);
        assert!(b.affected.is_empty());
        assert!(b.bad[0].reason.contains("something-new"), "{:?}", b.bad);
    }
}
