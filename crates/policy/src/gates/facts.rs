//! What vulnerability rules compare about each finding, derived once per evaluation.

use std::cell::OnceCell;

use chrono::{DateTime, NaiveDate, Utc};
use portcullis_vuln::{Finding, FixState};

use super::common::is_os;

/// What rules compare about a finding, derived once per evaluation and kept together (rules scan every
/// finding; the findings themselves are large and only read for what fired).
pub(crate) struct Facts {
    /// Severity as an index into [`crate::catalog::SEVERITIES`].
    pub severity: usize,
    /// An OS package (Anchore's `os` class).
    pub os: bool,
    /// Marked won't-fix (excluded by `vendor_only`).
    pub wont_fix: bool,
    /// NVD CVSS v3 base, exploitability, impact; then the vendors' (`-1` when unknown, as Anchore).
    pub scores: [f64; 6],
    /// A fix is known.
    pub fix_available: bool,
    /// Parsed on first use: only age rules need them.
    pub published: OnceCell<Option<DateTime<Utc>>>,
    /// The fix date, parsed on first use.
    pub fix_date: OnceCell<Option<DateTime<Utc>>>,
}

impl Facts {
    /// The facts of finding `f`.
    pub(crate) fn of(f: &Finding) -> Facts {
        let (b, e, i) = cvss_v3(f, true);
        let (vb, ve, vi) = cvss_v3(f, false);
        Facts {
            severity: f.severity as usize,
            os: is_os(f.package_type),
            wont_fix: f.fix_state == FixState::WontFix,
            scores: [b, e, i, vb, ve, vi],
            fix_available: fix_available(f),
            published: OnceCell::new(),
            fix_date: OnceCell::new(),
        }
    }
}

/// An RFC 3339 time, else the `YYYY-MM-DD` date it starts with (midnight UTC).
pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let rfc3339 = || {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
    };
    // A bare date (the common case in vulnerability data) cannot be RFC 3339: skip that attempt.
    (if s.len() > 10 { rfc3339() } else { None }).or_else(|| {
        iso_date(s)
            .or_else(|| s.get(..10)?.parse::<NaiveDate>().ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
    })
}

/// `YYYY-MM-DD` at the start of `s`, read digit by digit: vulnerability data has a date per finding, and
/// chrono's general parser costs several times more per date; anything else is left to chrono.
pub(crate) fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes().get(..10)?;
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)
}

/// Highest CVSS v3 (base, exploitability, impact) over the scores from NVD (`nvd == true`) or from vendors.
/// NVD's scores are tagged `nvd` (its own) or `nvd:<scorer>` (another scorer's metric in an NVD record).
pub(crate) fn cvss_v3(f: &Finding, nvd: bool) -> (f64, f64, f64) {
    let mut out = (-1.0f64, -1.0f64, -1.0f64);
    let from_nvd = |s: &str| {
        s.eq_ignore_ascii_case("nvd") || s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("nvd:"))
    };
    for c in f
        .cvss
        .iter()
        .filter(|c| c.version.starts_with('3') && from_nvd(&c.source) == nvd)
    {
        out.0 = out.0.max(c.base_score);
        out.1 = out.1.max(c.exploitability_score.unwrap_or(-1.0));
        out.2 = out.2.max(c.impact_score.unwrap_or(-1.0));
    }
    out
}

pub(crate) fn fix_available(f: &Finding) -> bool {
    f.fixed_in.is_some() || f.fix_state == FixState::Fixed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_as_chrono_does() {
        for s in [
            "2023-06-01",
            "2024-02-29",
            "2023-02-29",
            "2023-13-01",
            "2023-6-01",
            "2023-06-01T10:20:30Z",
            "2023-06-01T10:20:30+02:00",
            "2023-06-01 10:20",
            "2023/06/01",
            "+2023-06-1",
            "20230601",
            "",
            "2023-06-0x",
        ] {
            let chrono = DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
                        .ok()
                        .and_then(|d| d.and_hms_opt(0, 0, 0))
                        .map(|t| t.and_utc())
                });
            assert_eq!(parse_date(s), chrono, "{s}");
        }
        assert!(parse_date("2023-06-01").is_some());
    }
}
