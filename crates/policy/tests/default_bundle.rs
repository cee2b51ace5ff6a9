//! Portcullis's shipped default bundle: what it stops, what it warns about, and that missing or stale
//! vulnerability data recorded in a report's coverage is evaluated, not skipped.

mod common;

use chrono::Duration;
use common::{finding, now, report, sbom};
use portcullis_policy::{Action, DEFAULT_BUNDLE_ID, ImageInput, default_bundle};
use portcullis_sbom::PackageType;
use portcullis_vuln::{Coverage, FixState, MatchReport, Severity};

const TAG: &str = "registry.example.com/team/app:1.0";

fn covered(synced_days_ago: i64) -> Coverage {
    Coverage {
        synced_at: Some((now() - Duration::days(synced_days_ago)).to_rfc3339()),
        distro_namespace: Some("debian:12".into()),
        distro_covered: true,
        ..Default::default()
    }
}

fn triggers(v: &portcullis_policy::Verdict) -> Vec<(String, Action)> {
    v.rows
        .iter()
        .map(|r| (r.trigger.clone(), r.gate_action))
        .collect()
}

#[test]
fn the_default_bundle_is_valid_and_named() {
    let b = default_bundle().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b.id(), DEFAULT_BUNDLE_ID);
    assert_eq!(b.doc.name.as_deref(), Some("Portcullis default bundle"));
}

#[test]
fn fixable_high_stops_medium_warns_and_a_clean_covered_image_passes() {
    let b = default_bundle().unwrap();
    let s = sbom();
    let mut r = report();
    r.coverage = Some(covered(0));
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.final_action, Action::Stop, "{:?}", triggers(&v));
    assert!(
        v.rows.iter().any(|r| r.gate_action == Action::Stop
            && r.rule_id == "stop-fixable-high"
            && r.check_output.contains("CVE-2023-0286")),
        "{:?}",
        v.rows
    );
    assert!(v.not_evaluated.is_empty(), "{:?}", v.not_evaluated);

    let mut medium = finding(
        "CVE-2021-23337",
        "lodash",
        Severity::Medium,
        PackageType::Npm,
    );
    medium.fix_state = FixState::Fixed;
    medium.fixed_in = Some("4.17.21".into());
    let mut unfixed_high = finding("CVE-2023-4911", "libc6", Severity::High, PackageType::Deb);
    unfixed_high.fix_state = FixState::NotFixed;
    let r = MatchReport {
        findings: vec![medium, unfixed_high],
        db_version: "test".into(),
        coverage: Some(covered(0)),
        ..Default::default()
    };
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.final_action, Action::Warn, "{:?}", triggers(&v));
    assert!(v.passed());

    let clean = MatchReport {
        findings: vec![],
        db_version: "test".into(),
        coverage: Some(covered(1)),
        ..Default::default()
    };
    let v = b.evaluate(&ImageInput::new(&s, &clean, TAG, now()));
    assert_eq!(v.final_action, Action::Go, "{:?}", triggers(&v));
    assert!(v.not_evaluated.is_empty(), "{:?}", v.not_evaluated);
}

#[test]
fn a_distro_without_data_stops_and_stale_data_warns() {
    let b = default_bundle().unwrap();
    let s = sbom();
    let mut cov = covered(0);
    cov.distro_covered = false;
    let r = MatchReport {
        findings: vec![],
        db_version: "test".into(),
        coverage: Some(cov),
        ..Default::default()
    };
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.final_action, Action::Stop, "{:?}", triggers(&v));
    let row = v
        .rows
        .iter()
        .find(|r| r.trigger == "vulnerability_data_unavailable")
        .expect("vulnerability_data_unavailable fired");
    assert!(
        row.check_output.contains("Feed data unavailable"),
        "{}",
        row.check_output
    );

    let stale = MatchReport {
        findings: vec![],
        db_version: "test".into(),
        coverage: Some(covered(3)),
        ..Default::default()
    };
    let v = b.evaluate(&ImageInput::new(&s, &stale, TAG, now()));
    assert_eq!(v.final_action, Action::Warn, "{:?}", triggers(&v));
    assert!(
        triggers(&v).contains(&("stale_feed_data".to_string(), Action::Warn)),
        "{:?}",
        triggers(&v)
    );

    // Data never imported: no sync time at all counts as stale, and the distro as uncovered.
    let never = MatchReport {
        findings: vec![],
        db_version: String::new(),
        coverage: Some(Coverage {
            distro_namespace: Some("debian:12".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let v = b.evaluate(&ImageInput::new(&s, &never, TAG, now()));
    assert_eq!(v.final_action, Action::Stop);
    let t = triggers(&v);
    assert!(
        t.contains(&("stale_feed_data".to_string(), Action::Warn)),
        "{t:?}"
    );
    assert!(
        t.contains(&("vulnerability_data_unavailable".to_string(), Action::Stop)),
        "{t:?}"
    );
}

#[test]
fn without_recorded_coverage_the_data_triggers_are_reported_not_evaluated() {
    let b = default_bundle().unwrap();
    let s = sbom();
    let r = report();
    let v = b.evaluate(&ImageInput::new(&s, &r, TAG, now()));
    assert_eq!(v.not_evaluated.len(), 2, "{:?}", v.not_evaluated);
}
