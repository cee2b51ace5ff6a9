//! Node.js security-wg npm advisories (`vuln/npm/*.json`): `module_name`, `vulnerable_versions`,
//! `patched_versions`, `cves`, `cvss_vector`/`cvss_score`.

use super::{Collector, File, Importer, fix_candidates, s, with_fixes};
use crate::Cvss;
use crate::model::{Range, VulnInfo, severity_from_score};

/// An npm advisory: has `module_name` and `vulnerable_versions`.
pub(super) struct NpmAdvisory;

impl Importer for NpmAdvisory {
    fn name(&self) -> &'static str {
        "nodejs-npm"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("module_name") && f.has("vulnerable_versions")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        c.count("nodejs-npm");
        let nid = v["id"].as_u64().map(|i| format!("NSWG-ECO-{i}"));
        let cves: Vec<String> = v["cves"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        let Some(id) = cves.first().cloned().or(nid.clone()) else {
            return c.bad(name, None, "record has neither `id` nor `cves`");
        };
        let Some(pkg) = s(v, "module_name") else {
            return c.bad(name, Some(&id), "no module_name");
        };
        let vulnerable = s(v, "vulnerable_versions").unwrap_or_default();
        let vulnerable = if vulnerable.trim().is_empty() {
            "*".to_string()
        } else {
            vulnerable
        };
        if let Err(e) = nodejs_semver::Range::parse(&vulnerable) {
            return c.bad(
                name,
                Some(&id),
                format!("vulnerable_versions `{vulnerable}`: {e}"),
            );
        }
        let patched = s(v, "patched_versions").unwrap_or_default();
        let fixed = fix_candidates(&patched);
        let severity = v["cvss_score"].as_f64().map(severity_from_score);
        c.batch.affected.push(with_fixes(
            id.clone(),
            "npm".into(),
            pkg,
            vec![Range::Expr(vulnerable)],
            &fixed,
            severity,
        ));
        let mut cvss = Vec::new();
        if let (Some(vec), Some(score)) = (s(v, "cvss_vector"), v["cvss_score"].as_f64()) {
            cvss.push(Cvss {
                source: "nodejs".into(),
                version: vec
                    .strip_prefix("CVSS:")
                    .and_then(|x| x.split('/').next())
                    .unwrap_or("")
                    .into(),
                vector: vec,
                base_score: score,
                exploitability_score: None,
                impact_score: None,
            });
        }
        c.batch.vulns.push(VulnInfo {
            id,
            origin: "nodejs".into(),
            aliases: cves.into_iter().skip(1).chain(nid).collect(),
            severity,
            cvss,
            description: s(v, "title"),
            published: s(v, "publish_date"),
            url: v["references"]
                .as_array()
                .and_then(|r| r.first())
                .and_then(|x| x.as_str())
                .map(str::to_string),
            withdrawn: false,
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::import::testing::{import_one, owner};
    use crate::model::Range;
    use crate::{FixState, Severity};

    const NPM: &[u8] = include_bytes!("testdata/npm-25.json");

    #[test]
    fn detects_npm_advisory() {
        assert_eq!(owner("vuln/npm/25.json", NPM), Some("nodejs-npm"));
    }

    #[test]
    fn npm_advisory_without_patch_is_not_fixed() {
        let b = import_one("vuln/npm/25.json", NPM);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let a = &b.affected[0];
        assert_eq!(
            (a.vuln_id.as_str(), a.namespace.as_str(), a.package.as_str()),
            ("CVE-2014-8883", "npm", "nhouston")
        );
        assert_eq!(a.ranges, [Range::Expr("<=99.999.99999".into())]);
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref()),
            (FixState::NotFixed, None)
        );
        assert_eq!(a.severity, Some(Severity::Medium));
        assert_eq!(b.vulns[0].aliases, ["NSWG-ECO-25"]);
        assert_eq!(b.vulns[0].cvss[0].version, "3.0");
    }
}
