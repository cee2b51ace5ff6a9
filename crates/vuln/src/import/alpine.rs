//! Alpine secdb (YAML or JSON): `{distroversion, packages: [{pkg: {name, secfixes: {fixed: [CVE…]}}}]}`;
//! a fix of `0` means not affected. Wolfi's and Chainguard's `security.json` have the same packages under
//! `{reponame, urlprefix}` instead of a `distroversion` (rolling distributions: no release).

use super::{Collector, File, Importer, check_version, s};
use crate::model::{Affected, Range};
use crate::{FixState, Scheme};

/// An Alpine, Wolfi or Chainguard secdb file: has `packages` and `distroversion` or `urlprefix`.
pub(super) struct Secdb;

/// The namespace of a secdb: `alpine:<major.minor>` from `distroversion`, else Wolfi's or Chainguard's by their
/// repository (`https://packages.wolfi.dev` `os`, `https://packages.cgr.dev` `chainguard`).
fn secdb_namespace(v: &serde_json::Value) -> Option<String> {
    if let Some(dv) = s(v, "distroversion") {
        let ver = dv.trim_start_matches('v');
        return Some(format!(
            "alpine:{}",
            ver.split('.').take(2).collect::<Vec<_>>().join(".")
        ));
    }
    let (repo, url) = (s(v, "reponame")?, s(v, "urlprefix")?);
    if repo == "chainguard" || url.contains("cgr.dev") {
        Some("chainguard".into())
    } else if url.contains("wolfi.dev") {
        Some("wolfi".into())
    } else {
        None
    }
}

impl Importer for Secdb {
    fn name(&self) -> &'static str {
        "alpine-secdb"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("packages") && (f.has("distroversion") || f.has("urlprefix"))
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        let Some(ns) = secdb_namespace(v) else {
            return c.bad(
                name,
                None,
                "secdb of an unknown repository (neither Alpine's `distroversion` nor a Wolfi or Chainguard \
                 `urlprefix`)",
            );
        };
        for p in v["packages"].as_array().into_iter().flatten() {
            c.count("alpine-secdb");
            let Some(pkg) = s(&p["pkg"], "name") else {
                c.bad(name, None, "secdb package without name");
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
                            c.batch.affected.push(Affected {
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
                        if let Err(e) = check_version(Scheme::Apk, fixed) {
                            c.bad(name, Some(id), format!("{pkg}: {e}"));
                            continue;
                        }
                        c.batch.affected.push(Affected {
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
}

#[cfg(test)]
mod tests {
    use crate::FixState;
    use crate::import::testing::{import_one, owner};

    const MAIN: &[u8] = include_bytes!("testdata/alpine-v3.11-main.yaml");

    #[test]
    fn detects_secdb_yaml() {
        assert_eq!(owner("v3.11/main.yaml", MAIN), Some("alpine-secdb"));
    }

    #[test]
    fn each_secfix_is_a_fix_in_the_minor_release_namespace() {
        let b = import_one("v3.11/main.yaml", MAIN);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(b.records["alpine-secdb"], 2);
        let a = b
            .affected
            .iter()
            .find(|a| a.vuln_id == "CVE-2019-14904")
            .expect("ansible CVE-2019-14904");
        assert_eq!(
            (a.namespace.as_str(), a.package.as_str()),
            ("alpine:3.11", "ansible")
        );
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref()),
            (FixState::Fixed, Some("2.9.3-r0"))
        );
    }

    #[test]
    fn fix_zero_means_not_affected() {
        let b = import_one(
            "secdb.json",
            br#"{"distroversion":"v3.18","packages":[{"pkg":{"name":"zlib","secfixes":{"0":["CVE-2023-6992"]}}}]}"#,
        );
        assert_eq!(b.affected[0].fix_state, FixState::NotAffected);
        assert_eq!(b.affected[0].namespace, "alpine:3.18");
    }

    #[test]
    fn wolfi_and_chainguard_security_json_by_repository() {
        let w = br#"{"reponame":"os","urlprefix":"https://packages.wolfi.dev","packages":[{"pkg":{"name":"brotli","secfixes":{"1.0.9-r0":["CVE-2020-8927"]}}}]}"#;
        assert_eq!(owner("security.json", w), Some("alpine-secdb"));
        let b = import_one("security.json", w);
        assert_eq!(
            (
                b.affected[0].namespace.as_str(),
                b.affected[0].fixed_in.as_deref()
            ),
            ("wolfi", Some("1.0.9-r0"))
        );
        let cg = String::from_utf8_lossy(w)
            .replace("\"os\"", "\"chainguard\"")
            .replace("packages.wolfi.dev", "libraries.cgr.dev");
        assert_eq!(
            import_one("security.json", cg.as_bytes()).affected[0].namespace,
            "chainguard"
        );
        let other = String::from_utf8_lossy(w).replace("packages.wolfi.dev", "example.org");
        let b = import_one("security.json", other.as_bytes());
        assert!(
            b.affected.is_empty() && b.bad[0].reason.contains("urlprefix"),
            "{:?}",
            b.bad
        );
    }
}
