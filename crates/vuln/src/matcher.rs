//! Matching an SBOM against the in-memory index: a pure function of (SBOM, database contents).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use portcullis_sbom::{Distro, Package, PackageType, Sbom};

use crate::db::{Index, VulnDb};
use crate::model::{Affected, Range, debian_namespace, normalize_name, scheme_for_namespace};
use crate::{
    Coverage, Error, Finding, FixState, MAX_UNCOVERED_LISTED, MatchReport, Scheme, Severity,
    UncoveredPackage, Unmatched, compare, satisfies,
};

impl VulnDb {
    /// Matches every package of `sbom` against the database.
    pub fn match_sbom(&self, sbom: &Sbom) -> Result<MatchReport, Error> {
        Ok(self.index()?.match_sbom(sbom))
    }
}

/// The namespace of an OS package for a distro (`debian:12`, `ubuntu:22.04`, `alpine:3.18`, `rhel:9`).
///
/// RHEL and UBI (all variants: minimal, micro, init have `ID=rhel`) and CentOS (Stream) use Red Hat's data by
/// major release, as the vendors' scanners do; AlmaLinux and Rocky their own; Amazon Linux `amazon:2` /
/// `amazon:2023`; SUSE by `major.minor` (`sles:15.5`, `opensuse-leap:15.5`, `sle-micro:5.5`); the rolling
/// distributions (Wolfi, Chainguard, openSUSE Tumbleweed) have no version.
pub fn distro_namespace(d: &Distro) -> Option<String> {
    let id = d.id.to_ascii_lowercase();
    let ver = d.version_id.as_deref().unwrap_or("").trim();
    let major = ver.split('.').next().unwrap_or("");
    let major_minor = || ver.split('.').take(2).collect::<Vec<_>>().join(".");
    match id.as_str() {
        "rhel" | "centos" => (!major.is_empty()).then(|| format!("rhel:{major}")),
        // Amazon Linux 1 (AMI) numbers its releases by date: 2018.03
        "amzn" if major.len() == 4 && major < "2022" => Some("amazon:1".into()),
        "amzn" => (!major.is_empty()).then(|| format!("amazon:{major}")),
        "wolfi" | "chainguard" | "opensuse-tumbleweed" => Some(id),
        "sles" | "sled" | "sle-micro" | "opensuse-leap" | "opensuse-leap-micro" => {
            let family = if id == "sled" { "sles" } else { id.as_str() };
            (!ver.is_empty()).then(|| format!("{family}:{}", major_minor()))
        }
        "debian" => {
            if !major.is_empty() {
                Some(format!("debian:{major}"))
            } else {
                d.codename
                    .as_deref()
                    .and_then(debian_namespace)
                    .or_else(|| Some("debian:unstable".into()))
            }
        }
        "ubuntu" => (!ver.is_empty()).then(|| format!("ubuntu:{ver}")),
        "alpine" => {
            let mm: Vec<&str> = ver.split('.').take(2).collect();
            (!ver.is_empty()).then(|| format!("alpine:{}", mm.join(".")))
        }
        "" => None,
        other => (!major.is_empty()).then(|| format!("{other}:{major}")),
    }
}

/// The namespaces to look an OS package up in, most specific first: the release's own, then for SUSE the major
/// release's (`sles:12.5`, `sles:12`: SUSE publishes some products, e.g. Package Hub 12, for every service pack).
fn distro_namespaces(d: &Distro) -> Vec<String> {
    let mut out: Vec<String> = distro_namespace(d).into_iter().collect();
    if let Some(ns) = out.first()
        && let Some((family, ver)) = ns.split_once(':')
        && matches!(family, "sles" | "sle-micro")
        && let Some((major, _)) = ver.split_once('.')
    {
        out.push(format!("{family}:{major}"));
    }
    out
}

fn language_namespace(t: PackageType) -> Option<&'static str> {
    Some(match t {
        PackageType::Python => "pypi",
        PackageType::Npm => "npm",
        PackageType::Java => "maven",
        PackageType::GoModule => "go",
        PackageType::RustCrate => "crates.io",
        PackageType::Gem => "rubygems",
        PackageType::Php => "packagist",
        PackageType::Dotnet => "nuget",
        PackageType::Deb | PackageType::Apk | PackageType::Rpm => return None,
    })
}

/// Where to look a package up: (namespace, name, version) for the binary and, for OS packages, the source name.
fn targets<'a>(p: &'a Package, distro_ns: &'a [String]) -> Vec<(&'a str, Cow<'a, str>, &'a str)> {
    let mut out = Vec::with_capacity(2);
    if let Some(ns) = language_namespace(p.package_type) {
        let name = match ns {
            "pypi" | "nuget" | "packagist" => Cow::Owned(normalize_name(ns, &p.name)),
            _ => Cow::Borrowed(p.name.trim()),
        };
        out.push((ns, name, p.version.as_str()));
        return out;
    }
    for ns in distro_ns {
        out.push((
            ns.as_str(),
            Cow::Borrowed(p.name.as_str()),
            p.version.as_str(),
        ));
        if let Some(src) = p.source_name.as_ref().filter(|s| **s != p.name) {
            let v = p.source_version.as_deref().unwrap_or(&p.version);
            out.push((ns.as_str(), Cow::Borrowed(src.as_str()), v));
        }
    }
    out
}

/// True for an rpm EVR built in a module stream (its release carries `.module_el9…` or `.module+el8…`).
fn is_module_build(evr: &str) -> bool {
    evr.rsplit_once('-')
        .is_some_and(|(_, release)| release.contains(".module"))
}

fn cmp(scheme: Scheme, a: &str, b: &str) -> Option<Ordering> {
    compare(scheme, a, b).ok()
}

/// If `row` covers `version`, the fixed version that applies (`Some(None)` = affected, no fix named).
fn hit(scheme: Scheme, version: &str, row: &Affected) -> Option<Option<String>> {
    for r in &row.ranges {
        let (covered, fixed) = match r {
            Range::All => (true, None),
            Range::Interval {
                introduced,
                fixed,
                last_affected,
            } => {
                let lo = introduced
                    .as_deref()
                    .filter(|i| *i != "0")
                    .is_none_or(|i| cmp(scheme, version, i).is_some_and(|o| o != Ordering::Less));
                let hi = fixed
                    .as_deref()
                    .is_none_or(|f| cmp(scheme, version, f) == Some(Ordering::Less));
                // rpm module streams are separate builds: a module package's fix (`.module_el9…`,
                // `.module+el8…` in its release) says nothing about the non-module package and vice versa
                let same_stream = scheme != Scheme::Rpm
                    || fixed
                        .as_deref()
                        .is_none_or(|f| is_module_build(f) == is_module_build(version));
                let last = last_affected.as_deref().is_none_or(|l| {
                    cmp(scheme, version, l).is_some_and(|o| o != Ordering::Greater)
                });
                (lo && hi && last && same_stream, fixed.clone())
            }
            // OSV `versions` lists enumerate published version strings, which is what package databases record:
            // compare them as strings (a scheme comparison of every listed version per package is the matcher's
            // hottest path otherwise; the ranges next to them are compared by scheme)
            Range::Exact(v) => (
                v.trim_start_matches('v') == version.trim_start_matches('v'),
                None,
            ),
            Range::Expr(e) => (satisfies(scheme, version, e).unwrap_or(false), None),
            Range::Unless(reqs) => (
                !reqs
                    .iter()
                    .any(|q| satisfies(scheme, version, q).unwrap_or(false)),
                None,
            ),
        };
        if covered {
            let interval = matches!(r, Range::Interval { .. });
            let fixed = fixed.or_else(|| {
                // outside an interval: the smallest named fix above the installed version, if any
                if interval {
                    return None;
                }
                let cands = row.fixed_in.as_deref()?;
                let mut best: Option<&str> = None;
                for c in cands.split_whitespace() {
                    if cmp(scheme, c, version) == Some(Ordering::Greater)
                        && best.is_none_or(|b| cmp(scheme, c, b) == Some(Ordering::Less))
                    {
                        best = Some(c);
                    }
                }
                best.map(str::to_string)
            });
            return Some(fixed);
        }
    }
    None
}

impl Index {
    /// The database version of this index.
    pub fn db_version(&self) -> &str {
        &self.db_version
    }

    /// When the data was last synced (RFC 3339): the oldest import of all sources; `None` before any import.
    pub fn synced_at(&self) -> Option<&str> {
        self.synced_at.as_deref()
    }

    /// The namespaces that have data (`debian:12`, `npm`, …), each with the oldest import time of its sources.
    pub fn namespaces(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.by_package
            .keys()
            .map(|ns| (ns.as_str(), self.ns_synced.get(ns).map(String::as_str)))
    }

    /// What the data covers for `sbom`: its freshness and the packages that have nothing to be matched
    /// against.
    pub fn coverage(&self, sbom: &Sbom) -> Coverage {
        // The same namespaces matching looks in (a SUSE service pack falls back to its major release's data), so
        // coverage never calls a release uncovered whose packages were matched.
        let distro_nss = sbom
            .distro
            .as_ref()
            .map(distro_namespaces)
            .unwrap_or_default();
        let distro_refs: Vec<&str> = distro_nss.iter().map(String::as_str).collect();
        let mut cov = Coverage {
            distro_namespace: distro_nss.first().cloned(),
            ..Default::default()
        };
        let mut used: HashSet<&str> = HashSet::new();
        let mut has_os = false;
        for p in &sbom.packages {
            let lang;
            let nss: &[&str] = match language_namespace(p.package_type) {
                Some(ns) => {
                    lang = [ns];
                    &lang
                }
                None => {
                    has_os = true;
                    &distro_refs
                }
            };
            let mut covered = false;
            for (ns, _) in nss
                .iter()
                .filter_map(|ns| self.by_package.get_key_value(*ns))
            {
                used.insert(ns.as_str());
                covered = true;
            }
            if !covered {
                cov.packages_without_data_count += 1;
                if cov.packages_without_data.len() < MAX_UNCOVERED_LISTED {
                    cov.packages_without_data.push(UncoveredPackage {
                        name: p.name.clone(),
                        version: p.version.clone(),
                        package_type: p.package_type,
                        namespace: nss.first().map(|ns| ns.to_string()),
                    });
                }
            }
        }
        cov.distro_covered = if distro_refs.is_empty() {
            !has_os
        } else {
            distro_refs
                .iter()
                .any(|ns| self.by_package.contains_key(*ns))
        };
        cov.synced_at = used
            .iter()
            .filter_map(|ns| self.ns_synced.get(*ns))
            .min()
            .or(self.synced_at.as_ref())
            .cloned();
        cov
    }

    /// Matches every package of `sbom`.
    pub fn match_sbom(&self, sbom: &Sbom) -> MatchReport {
        let distro_ns = sbom
            .distro
            .as_ref()
            .map(distro_namespaces)
            .unwrap_or_default();
        let mut findings = Vec::new();
        let mut seen = HashSet::new();
        // (namespace, type) → packages whose namespaces have no data at all
        let mut unmatched: BTreeMap<(String, PackageType), usize> = BTreeMap::new();
        for (pi, p) in sbom.packages.iter().enumerate() {
            let targets = targets(p, &distro_ns);
            if !targets
                .iter()
                .any(|(ns, ..)| self.by_package.contains_key(*ns))
            {
                let ns = targets.first().map(|t| t.0.to_string()).unwrap_or_default();
                *unmatched.entry((ns, p.package_type)).or_default() += 1;
            }
            for (ns, name, version) in targets {
                let Some(rows) = self.by_package.get(ns).and_then(|m| m.get(name.as_ref())) else {
                    continue;
                };
                let Some(scheme) = scheme_for_namespace(ns) else {
                    continue;
                };
                if let Err(e) = crate::version::validate(scheme, version) {
                    tracing::warn!(package = %p.name, "not matched: {e}");
                    continue;
                }
                // per vulnerability (rows are grouped by id, highest precedence first), only the statements with
                // the highest precedence count
                for group in rows.chunk_by(|a, b| a.vuln_id == b.vuln_id) {
                    let top = group[0].priority;
                    let top = group.iter().take_while(|r| r.priority == top);
                    if top.clone().any(|r| r.fix_state == FixState::NotAffected) {
                        continue;
                    }
                    for row in top {
                        let Some(fixed) = hit(scheme, version, row) else {
                            continue;
                        };
                        // binary and source name may both match the same vulnerability: report it once
                        if seen.insert((pi, row.vuln_id.as_str())) {
                            findings.push(self.finding(row, p, fixed));
                        }
                        break;
                    }
                }
            }
        }
        let mut findings = crate::aliases::merge(findings);
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.package_name.cmp(&b.package_name))
                .then_with(|| a.package_version.cmp(&b.package_version))
        });
        let distro = sbom.distro.as_ref();
        let unmatched = unmatched
            .into_iter()
            .map(|((namespace, package_type), packages)| {
                let reason = if namespace.is_empty() {
                    match distro {
                        Some(d) => format!(
                            "distribution `{}` {} is not supported: no vulnerability data applies to its packages",
                            d.id,
                            d.version_id.as_deref().unwrap_or("(no VERSION_ID)")
                        ),
                        None => "no distribution recognised (no /etc/os-release or release file): its \
                                 packages cannot be looked up"
                            .to_string(),
                    }
                } else {
                    format!(
                        "no vulnerability data for `{namespace}` in the database: import it (`portcullis db \
                         update`, or `db import` of the vendor's advisories)"
                    )
                };
                Unmatched {
                    namespace,
                    package_type,
                    packages,
                    reason,
                }
            })
            .collect();
        MatchReport {
            findings,
            db_version: self.db_version.clone(),
            coverage: Some(self.coverage(sbom)),
            unmatched,
            suppressed: Vec::new(),
            triage_warnings: Vec::new(),
        }
    }

    fn finding(&self, row: &Affected, p: &Package, fixed: Option<String>) -> Finding {
        let infos = self
            .vulns
            .get(&row.vuln_id)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let mut aliases: Vec<String> = infos
            .iter()
            .flat_map(|i| i.aliases.iter().cloned())
            .collect();
        aliases.sort();
        aliases.dedup();
        aliases.retain(|a| *a != row.vuln_id);
        let family = row.namespace.split(':').next().unwrap_or("");
        let vendor = infos
            .iter()
            .find(|i| i.origin == family)
            .or_else(|| infos.iter().find(|i| i.origin != "nvd"));
        let nvd: Vec<&crate::model::VulnInfo> = std::iter::once(row.vuln_id.as_str())
            .chain(aliases.iter().map(String::as_str))
            .flat_map(|id| self.vulns.get(id).into_iter().flatten())
            // a rejected NVD record gives no fallback
            .filter(|i| i.origin == "nvd" && !i.withdrawn)
            .collect();
        let severity = row
            .severity
            .or_else(|| {
                infos
                    .iter()
                    .find_map(|i| (i.origin != "nvd").then_some(i.severity).flatten())
            })
            .or_else(|| nvd.iter().find_map(|i| i.severity))
            .unwrap_or(Severity::Unknown);
        let mut cvss: Vec<crate::Cvss> = infos
            .iter()
            .filter(|i| i.origin != "nvd")
            .flat_map(|i| i.cvss.iter().cloned())
            .collect();
        cvss.extend(nvd.iter().flat_map(|i| i.cvss.iter().cloned()));
        let ids: Vec<&str> = std::iter::once(row.vuln_id.as_str())
            .chain(aliases.iter().map(String::as_str))
            .collect();
        let kev = ids.iter().any(|i| self.kev.contains(*i));
        let epss = ids.iter().find_map(|i| self.epss.get(*i)).map(|e| e.score);
        // a statement that says "not fixed" names no fix even when its range ends at a version (Debian: a release
        // affected below unstable's fix, which it cannot install)
        let fix_state = match row.fix_state {
            FixState::WontFix | FixState::Unknown | FixState::NotFixed => row.fix_state,
            _ if fixed.is_some() => FixState::Fixed,
            _ => FixState::NotFixed,
        };
        let description = vendor
            .and_then(|v| v.description.clone())
            .or_else(|| nvd.iter().find_map(|i| i.description.clone()));
        Finding {
            id: row.vuln_id.clone(),
            aliases,
            package_name: p.name.clone(),
            package_version: p.version.clone(),
            package_type: p.package_type,
            package_location: p.location.clone(),
            namespace: row.namespace.clone(),
            severity,
            cvss,
            fix_state,
            fixed_in: if fix_state == FixState::Fixed {
                fixed
            } else {
                None
            },
            fix_date: None,
            published: vendor
                .and_then(|v| v.published.clone())
                .or_else(|| nvd.iter().find_map(|i| i.published.clone())),
            url: vendor
                .and_then(|v| v.url.clone())
                .or_else(|| nvd.iter().find_map(|i| i.url.clone())),
            description,
            kev,
            epss,
            suppressed: None,
            vex: None,
        }
    }
}
