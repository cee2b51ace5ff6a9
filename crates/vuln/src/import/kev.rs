//! CISA Known Exploited Vulnerabilities JSON (`known_exploited_vulnerabilities.json`).

use super::{Collector, File, Importer, s};

/// The KEV catalog: has `catalogVersion` and `vulnerabilities`.
pub(super) struct Kev;

impl Importer for Kev {
    fn name(&self) -> &'static str {
        "kev"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.has("catalogVersion") && f.has("vulnerabilities")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, v) = (f.name, f.json());
        for item in v["vulnerabilities"].as_array().into_iter().flatten() {
            match s(item, "cveID") {
                Some(id) => {
                    c.count("kev");
                    c.batch.kev.push(id);
                }
                None => c.bad(name, None, "KEV entry without cveID"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::import::testing::{import_one, owner};

    const KEV: &[u8] = include_bytes!("testdata/kev.json");

    #[test]
    fn detects_the_catalog_and_reads_each_cve() {
        assert_eq!(
            owner("known_exploited_vulnerabilities.json", KEV),
            Some("kev")
        );
        let b = import_one("known_exploited_vulnerabilities.json", KEV);
        assert_eq!(b.kev, ["CVE-2025-48384", "CVE-2024-8068"]);
        assert_eq!(b.records["kev"], 2);
    }

    #[test]
    fn entry_without_cve_id_is_a_bad_record() {
        let b = import_one(
            "kev.json",
            br#"{"catalogVersion":"1","vulnerabilities":[{"cveID":"CVE-1"},{"vendorProject":"x"}]}"#,
        );
        assert_eq!(b.kev, ["CVE-1"]);
        assert!(b.bad[0].reason.contains("without cveID"), "{:?}", b.bad);
    }
}
