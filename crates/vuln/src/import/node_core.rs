//! Node.js security-wg core advisories (`vuln/core/*.json`, node itself): `cve`, `vulnerable`, `patched`,
//! `severity`.

use super::{Collector, File, Importer, fix_candidates, s, with_fixes};
use crate::model::{Range, VulnInfo, severity_from_word};

/// A node core advisory: has `vulnerable` and `patched`.
pub(super) struct CoreAdvisory;

impl Importer for CoreAdvisory {
    fn name(&self) -> &'static str {
        "nodejs-core"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("vulnerable") && f.has("patched")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        c.count("nodejs-core");
        let stem = f.stem(".json");
        let cves: Vec<String> = v["cve"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        let id = cves
            .first()
            .cloned()
            .unwrap_or_else(|| format!("NSWG-CORE-{stem}"));
        let vulnerable = s(v, "vulnerable").unwrap_or_default();
        if let Err(e) = nodejs_semver::Range::parse(&vulnerable) {
            return c.bad(name, Some(&id), format!("vulnerable `{vulnerable}`: {e}"));
        }
        let fixed = fix_candidates(&s(v, "patched").unwrap_or_default());
        let severity = s(v, "severity").as_deref().and_then(severity_from_word);
        c.batch.affected.push(with_fixes(
            id.clone(),
            "nodejs".into(),
            "node".into(),
            vec![Range::Expr(vulnerable)],
            &fixed,
            severity,
        ));
        c.batch.vulns.push(VulnInfo {
            id,
            origin: "nodejs".into(),
            aliases: cves.into_iter().skip(1).collect(),
            severity,
            description: s(v, "description"),
            url: s(v, "ref"),
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::Severity;
    use crate::import::testing::{import_one, owner};

    const CORE: &[u8] = include_bytes!("testdata/core-35.json");

    #[test]
    fn detects_core_advisory() {
        assert_eq!(owner("vuln/core/35.json", CORE), Some("nodejs-core"));
    }

    #[test]
    fn core_advisory_lists_each_patched_line() {
        let b = import_one("vuln/core/35.json", CORE);
        let a = &b.affected[0];
        assert_eq!(
            (a.vuln_id.as_str(), a.namespace.as_str(), a.package.as_str()),
            ("CVE-2015-6764", "nodejs", "node")
        );
        assert_eq!(a.fixed_in.as_deref(), Some("5.1.1 4.2.3"));
        assert_eq!(a.severity, Some(Severity::High));
    }
}
