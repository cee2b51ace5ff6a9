//! One finding per vulnerability: findings on the same package whose ids are aliases of each other
//! (GHSA / PYSEC / CVE, GO / GHSA, NSWG / CVE, …), transitively, become one finding listing every id.
//!
//! Two different CVE ids are never merged: an erratum (RHSA, ALSA, USN) that names several CVEs stays a finding
//! of its own, so that aliases can never fold distinct vulnerabilities into one.

use std::collections::HashMap;

use crate::Finding;

/// True for a CVE id (`CVE-2023-32681`).
pub(crate) fn is_cve(id: &str) -> bool {
    id.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("CVE-"))
}

/// How specific the record behind a finding is: a distro's own record beats a GHSA, which beats a generic OSV
/// record (its fixed version and fix state win when the records disagree).
fn specificity(f: &Finding) -> u8 {
    if f.package_type.is_os_package() {
        3
    } else if f.id.starts_with("GHSA-") {
        2
    } else {
        1
    }
}

/// Order of preference for the primary id of a merged finding when it has no CVE id: GHSA, then the rest, each
/// alphabetically.
fn id_rank(id: &str) -> (u8, &str) {
    (if id.starts_with("GHSA-") { 0 } else { 1 }, id)
}

struct Sets {
    parent: Vec<usize>,
    /// The CVE id of each root's group, if any (a group never holds two).
    cve: Vec<Option<String>>,
}

impl Sets {
    fn root(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    /// Joins the groups of `a` and `b` unless they hold different CVE ids; true when they were joined now.
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return false;
        }
        match (&self.cve[ra], &self.cve[rb]) {
            (Some(x), Some(y)) if x != y => return false,
            _ => {}
        }
        let (keep, gone) = (ra.min(rb), ra.max(rb));
        self.parent[gone] = keep;
        if self.cve[keep].is_none() {
            self.cve[keep] = self.cve[gone].take();
        }
        true
    }
}

fn same_package(a: &Finding, b: &Finding) -> bool {
    a.package_name == b.package_name
        && a.package_version == b.package_version
        && a.package_type == b.package_type
        && a.package_location == b.package_location
}

/// Merges the findings of each package whose ids are aliases of each other. The merged finding's id is the
/// CVE id when there is one (else the GHSA id, else the alphabetically first), `aliases` lists every other id;
/// severity is the highest of the members; fix state, fixed version, namespace, description and URL come from
/// the most specific record (distro over GHSA over generic OSV); CVSS scores are pooled; KEV if any member
/// is, EPSS the highest. A finding with no alias in common with another is left as it is.
///
/// The findings of one package must be next to each other, as the matcher produces them (package by package).
pub(crate) fn merge(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out = Vec::with_capacity(findings.len());
    let mut chunk: Vec<Finding> = Vec::new();
    for f in findings {
        if chunk.last().is_some_and(|l| !same_package(l, &f)) {
            merge_package(std::mem::take(&mut chunk), &mut out);
        }
        chunk.push(f);
    }
    merge_package(chunk, &mut out);
    out
}

/// Merges the findings of one package into `out`.
fn merge_package(findings: Vec<Finding>, out: &mut Vec<Finding>) {
    let n = findings.len();
    if n < 2 {
        out.extend(findings);
        return;
    }
    let mut sets = Sets {
        parent: (0..n).collect(),
        cve: vec![None; n],
    };
    // findings naming several CVEs (errata) are never merged
    let mut mergeable = vec![true; n];
    for (i, f) in findings.iter().enumerate() {
        let mut cves = std::iter::once(&f.id)
            .chain(&f.aliases)
            .filter(|id| is_cve(id));
        let first = cves.next().cloned();
        if cves.any(|c| Some(c) != first.as_ref()) {
            mergeable[i] = false;
        }
        sets.cve[i] = first;
    }
    // id → the first finding that carries it
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut merged = false;
    for (i, f) in findings.iter().enumerate() {
        if !mergeable[i] {
            continue;
        }
        for id in std::iter::once(&f.id).chain(&f.aliases) {
            match seen.get(id.as_str()) {
                Some(&j) => merged |= sets.union(i, j),
                None => {
                    seen.insert(id.as_str(), i);
                }
            }
        }
    }
    if !merged {
        out.extend(findings);
        return;
    }
    let mut groups: Vec<Vec<Finding>> = Vec::new();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for (i, f) in findings.into_iter().enumerate() {
        let r = sets.root(i);
        let g = *slot.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(f);
    }
    out.extend(groups.into_iter().map(combine));
}

fn combine(mut members: Vec<Finding>) -> Finding {
    if members.len() == 1 {
        return members.pop().unwrap_or_else(|| unreachable!());
    }
    members.sort_by(|a, b| {
        specificity(b)
            .cmp(&specificity(a))
            .then_with(|| id_rank(&a.id).cmp(&id_rank(&b.id)))
    });
    let mut ids: Vec<String> = members
        .iter()
        .flat_map(|f| std::iter::once(f.id.clone()).chain(f.aliases.iter().cloned()))
        .collect();
    ids.sort();
    ids.dedup();
    let primary = ids
        .iter()
        .find(|i| is_cve(i))
        .or_else(|| ids.iter().min_by(|a, b| id_rank(a).cmp(&id_rank(b))))
        .cloned()
        .unwrap_or_default();
    let severity = members.iter().map(|f| f.severity).max().unwrap_or_default();
    let kev = members.iter().any(|f| f.kev);
    let epss = members
        .iter()
        .filter_map(|f| f.epss)
        .max_by(|a, b| a.total_cmp(b));
    let mut cvss: Vec<crate::Cvss> = Vec::new();
    for c in members.iter().flat_map(|f| f.cvss.iter()) {
        if !cvss.contains(c) {
            cvss.push(c.clone());
        }
    }
    let mut out = members.swap_remove(0);
    for m in &members {
        out.description = out.description.take().or_else(|| m.description.clone());
        out.url = out.url.take().or_else(|| m.url.clone());
        out.published = out.published.take().or_else(|| m.published.clone());
    }
    ids.retain(|i| *i != primary);
    out.id = primary;
    out.aliases = ids;
    out.severity = severity;
    out.kev = kev;
    out.epss = epss;
    out.cvss = cvss;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FixState, Severity};
    use portcullis_sbom::PackageType;

    fn f(id: &str, aliases: &[&str], sev: Severity, fixed: Option<&str>) -> Finding {
        Finding {
            id: id.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            package_name: "requests".into(),
            package_version: "2.30.0".into(),
            package_type: PackageType::Python,
            package_location: "/app".into(),
            namespace: "pypi".into(),
            severity: sev,
            cvss: vec![],
            fix_state: FixState::Fixed,
            fixed_in: fixed.map(str::to_string),
            fix_date: None,
            published: None,
            url: None,
            description: None,
            kev: false,
            epss: None,
            suppressed: None,
            vex: None,
        }
    }

    #[test]
    fn transitive_aliases_merge_but_two_cves_never_do() {
        let out = merge(vec![
            f("PYSEC-1", &["GHSA-a"], Severity::Unknown, Some("2.0")),
            f("GHSA-a", &["CVE-1"], Severity::High, Some("2.1")),
            f("OSV-X", &["PYSEC-1"], Severity::Low, None),
            // an erratum naming two CVEs, one of them the group's: stays apart
            f("RHSA-1", &["CVE-1", "CVE-2"], Severity::Low, None),
            f("CVE-2", &[], Severity::Low, None),
        ]);
        assert_eq!(out.len(), 3, "{out:#?}");
        let m = out
            .iter()
            .find(|x| x.id == "CVE-1")
            .expect("merged as CVE-1");
        assert_eq!(m.aliases, ["GHSA-a", "OSV-X", "PYSEC-1"]);
        assert_eq!(m.severity, Severity::High);
        assert_eq!(m.fixed_in.as_deref(), Some("2.1"), "GHSA wins over OSV");
        assert!(out.iter().any(|x| x.id == "RHSA-1"));
        assert!(out.iter().any(|x| x.id == "CVE-2"));
    }

    #[test]
    fn other_packages_are_not_merged() {
        let mut b = f("GHSA-a", &["CVE-1"], Severity::High, None);
        b.package_version = "2.31.0".into();
        let out = merge(vec![f("PYSEC-1", &["CVE-1"], Severity::Low, None), b]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].id, "PYSEC-1", "a lone finding keeps its id");
    }
}
