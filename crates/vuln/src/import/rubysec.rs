//! ruby-advisory-db YAML (`gems/<gem>/*.yml`, `rubies/*/*.yml`): `gem`, `cve`, `ghsa`, `patched_versions`,
//! `unaffected_versions`, `cvss_v3`/`cvss_v4`/`criticality`.

use serde_json::Value;

use super::{Collector, File, Importer, fix_candidates, s, with_fixes};
use crate::model::{Range, VulnInfo, severity_from_score, severity_from_word};
use crate::{Scheme, version};

/// A ruby-advisory-db record: has `gem` and one of `patched_versions`, `cve`, `ghsa`.
pub(super) struct RubySec;

impl Importer for RubySec {
    fn name(&self) -> &'static str {
        "rubysec"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("gem") && (f.has("patched_versions") || f.has("cve") || f.has("ghsa"))
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        c.count("rubysec");
        let Some(gem) = s(v, "gem") else {
            return c.bad(name, None, "no `gem`");
        };
        let text = |k: &str| match &v[k] {
            Value::String(x) => Some(x.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let cve = text("cve").map(|c| format!("CVE-{c}"));
        let ghsa = text("ghsa").map(|g| format!("GHSA-{g}"));
        let stem = f.stem(".yml");
        let id = cve
            .clone()
            .or(ghsa.clone())
            .unwrap_or_else(|| stem.to_string());
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        };
        let (patched, unaffected) = (list("patched_versions"), list("unaffected_versions"));
        for req in patched.iter().chain(&unaffected) {
            if let Err(e) = version::satisfies(Scheme::Gem, "0", req) {
                return c.bad(name, Some(&id), format!("requirement `{req}`: {e}"));
            }
        }
        let fixed: Vec<String> = patched.iter().flat_map(|p| fix_candidates(p)).collect();
        let severity = v["cvss_v3"]
            .as_f64()
            .or(v["cvss_v4"].as_f64())
            .map(severity_from_score)
            .or_else(|| s(v, "criticality").as_deref().and_then(severity_from_word));
        c.batch.affected.push(with_fixes(
            id.clone(),
            "rubygems".into(),
            gem,
            vec![Range::Unless(
                patched.into_iter().chain(unaffected).collect(),
            )],
            &fixed,
            severity,
        ));
        c.batch.vulns.push(VulnInfo {
            id,
            origin: "rubysec".into(),
            aliases: [cve, ghsa].into_iter().flatten().collect(),
            severity,
            description: s(v, "title"),
            published: text("date"),
            url: s(v, "url"),
            ..Default::default()
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::import::testing::{import_one, owner};
    use crate::model::Range;
    use crate::{FixState, Severity};

    const GEM: &[u8] = include_bytes!("testdata/rubysec-CVE-2021-28796.yml");

    #[test]
    fn detects_ruby_advisory() {
        assert_eq!(
            owner("gems/qiita-markdown/CVE-2021-28796.yml", GEM),
            Some("rubysec")
        );
    }

    #[test]
    fn patched_versions_bound_the_range_and_name_the_fix() {
        let b = import_one("gems/qiita-markdown/CVE-2021-28796.yml", GEM);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        let a = &b.affected[0];
        assert_eq!(
            (a.vuln_id.as_str(), a.namespace.as_str(), a.package.as_str()),
            ("CVE-2021-28796", "rubygems", "qiita-markdown")
        );
        assert_eq!(a.ranges, [Range::Unless(vec![">= 0.33.0".into()])]);
        assert_eq!(
            (a.fix_state, a.fixed_in.as_deref()),
            (FixState::Fixed, Some("0.33.0"))
        );
        assert_eq!(a.severity, Some(Severity::Medium));
        assert_eq!(
            b.vulns[0].aliases,
            ["CVE-2021-28796", "GHSA-f2c9-5jqw-3xh3"]
        );
    }
}
