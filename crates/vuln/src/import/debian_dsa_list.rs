//! The tracker's `data/DSA/list` and `data/DLA/list` text files: `[date] DSA-n pkg - desc`, then `{CVE…}` and
//! `[release] - pkg version` lines.

use super::debian::{Stmt, debian_row};
use super::{Collector, File, Importer};
use crate::model::debian_namespace;

/// A file named `list` that starts with `[`.
pub(super) struct DsaList;

impl Importer for DsaList {
    fn name(&self) -> &'static str {
        "debian-dsa-list"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.base == "list" && f.bytes.starts_with(b"[")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, bytes) = (f.name, f.bytes);
        let text = String::from_utf8_lossy(bytes);
        let mut id = String::new();
        let mut cves: Vec<String> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('[') {
                let Some(rest) = line.split_once("] ").map(|(_, r)| r) else {
                    c.bad(
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
                c.count("debian-dsa-list");
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
                    c.bad(name, Some(&id), format!("line {}: bad release line", n + 1));
                    continue;
                };
                let mut it = rest.trim().trim_start_matches('-').split_whitespace();
                let (Some(pkg), Some(ver)) = (it.next(), it.next()) else {
                    c.bad(
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
                    debian_row(
                        c,
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
}

#[cfg(test)]
mod tests {
    use crate::FixState;
    use crate::import::testing::{import_one, owner};

    const LIST: &[u8] = include_bytes!("testdata/debian/DSA/list");

    #[test]
    fn detects_a_list_named_list() {
        assert_eq!(owner("data/DSA/list", LIST), Some("debian-dsa-list"));
        assert_eq!(owner("data/DSA/other", LIST), None);
    }

    #[test]
    fn release_lines_fix_the_cves_of_their_advisory() {
        let b = import_one("data/DSA/list", LIST);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(b.records["debian-dsa-list"], 10);
        // woody is older than any namespace; advisories without CVEs give no rows
        assert_eq!(b.affected.len(), 1, "{:?}", b.affected);
        let a = &b.affected[0];
        assert_eq!(
            (a.vuln_id.as_str(), a.namespace.as_str(), a.package.as_str()),
            ("CVE-2025-53603", "debian:12", "sope")
        );
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref(), a.priority),
            (FixState::Fixed, Some("5.8.0-1+deb12u1"), 2)
        );
    }
}
