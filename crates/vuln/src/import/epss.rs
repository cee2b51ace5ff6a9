//! FIRST EPSS scores CSV (`epss_scores-YYYY-MM-DD.csv`): a `#model_version:…` comment line, the header
//! `cve,epss,percentile`, one line per CVE.

use super::{Collector, File, Importer};
use crate::model::Epss;

/// A `.csv` file starting with `#model_version`.
pub(super) struct EpssCsv;

impl Importer for EpssCsv {
    fn name(&self) -> &'static str {
        "epss"
    }

    fn detect(&self, f: &File<'_>) -> bool {
        f.base.ends_with(".csv") && f.bytes.starts_with(b"#model_version")
    }

    fn import(&self, f: &File<'_>, c: &mut Collector) {
        let (name, bytes) = (f.name, f.bytes);
        let text = String::from_utf8_lossy(bytes);
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        if lines.next().map(str::trim) != Some("cve,epss,percentile") {
            return c.bad(name, None, "EPSS CSV header must be `cve,epss,percentile`");
        }
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            match (
                f.first(),
                f.get(1).and_then(|x| x.parse::<f64>().ok()),
                f.get(2).and_then(|x| x.parse::<f64>().ok()),
            ) {
                (Some(cve), Some(score), Some(percentile)) if cve.starts_with("CVE-") => {
                    c.count("epss");
                    c.batch.epss.push(Epss {
                        cve: cve.to_string(),
                        score,
                        percentile,
                    });
                }
                _ => c.bad(
                    name,
                    f.first().copied(),
                    format!("line {}: expected `CVE-…,score,percentile`", n + 3),
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::import::testing::{import_one, owner};

    const CSV: &[u8] = include_bytes!("testdata/epss.csv");

    #[test]
    fn detects_by_extension_and_model_line() {
        assert_eq!(owner("epss_scores-2025-02-20.csv", CSV), Some("epss"));
        assert_eq!(owner("other.csv", b"cve,epss,percentile\n"), None);
    }

    #[test]
    fn reads_every_score() {
        let b = import_one("epss.csv", CSV);
        assert!(b.bad.is_empty(), "{:?}", b.bad);
        assert_eq!(b.epss.len(), 5);
        assert_eq!(b.epss[4].cve, "CVE-1999-0005");
        assert_eq!((b.epss[4].score, b.epss[4].percentile), (0.91963, 0.99214));
    }

    #[test]
    fn wrong_header_and_bad_line_are_reported() {
        let b = import_one("e.csv", b"#model_version:x\ncve,score\n");
        assert!(b.bad[0].reason.contains("header"), "{:?}", b.bad);
        let b = import_one(
            "e.csv",
            b"#model_version:x\ncve,epss,percentile\nCVE-1,0.1,0.2\nnope\n",
        );
        assert_eq!(b.epss.len(), 1);
        assert!(b.bad[0].reason.contains("line 4"), "{:?}", b.bad);
    }
}
