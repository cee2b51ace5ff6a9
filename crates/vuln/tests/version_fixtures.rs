//! Reference test vectors of the hand-written version schemes, checked without the reference tools:
//! apk-tools' own `test/version.data` (apk has no oracle on Debian) and Maven's `ComparableVersionTest` cases with
//! the answers of Maven's `ComparableVersion` (also re-checked against the real class by `differential.rs`).

use std::cmp::Ordering;

use portcullis_vuln::version::validate;
use portcullis_vuln::{Scheme, compare};

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sign(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

#[test]
fn apk_agrees_with_apk_tools_version_data() {
    let text = data("apk-version.data");
    let mut checked = 0;
    let mut bad = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [a, op, b] = parts[..] else {
            panic!("bad fixture line `{line}`");
        };
        checked += 1;
        // each line holds both ways round
        let ours = compare(Scheme::Apk, a, b).map(sign);
        let back = compare(Scheme::Apk, b, a).map(|o| sign(o.reverse()));
        if ours.as_deref() != Ok(op) || back.as_deref() != Ok(op) {
            bad.push(format!("{a} {op} {b}: ours {ours:?} / reversed {back:?}"));
        }
    }
    assert!(checked > 700, "only {checked} apk fixture lines");
    assert!(
        bad.is_empty(),
        "{} of {checked} disagree:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn apk_validation_follows_apk_version_validate() {
    for ok in [
        "5.7.1p1-r0",
        "1.8.28p1-r1",
        "6.6.2_p1",
        "1.0.0_pre20191002222144-r0",
        "0.1.0_alpha_pre2",
        "2.12r-r4",
        "1.2.3_git20230101-r0",
    ] {
        assert!(validate(Scheme::Apk, ok).is_ok(), "{ok} must be valid");
    }
    for bad in [
        "23_foo",
        "1.0bc",
        "1.0-1",
        "1.0A",
        "",
        "1.0_p1-rX",
        "1.0_p1-r1_p2",
    ] {
        let e = validate(Scheme::Apk, bad).expect_err(bad);
        assert_eq!(e.input, bad);
    }
}

#[test]
fn maven_agrees_with_comparable_version_cases() {
    let text = data("maven-canonical.tsv");
    let mut checked = 0;
    let mut bad = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [a, b, want] = cols[..] else {
            panic!("bad fixture line `{line}`");
        };
        checked += 1;
        let ours = compare(Scheme::Maven, a, b).map(|o| (o as i8).to_string());
        if ours.as_deref() != Ok(want) {
            bad.push(format!("{a} vs {b}: Maven {want}, ours {ours:?}"));
        }
    }
    assert!(checked > 1000, "only {checked} Maven fixture lines");
    assert!(
        bad.is_empty(),
        "{} of {checked} disagree:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn issue_16_cases() {
    let c = |s, a, b| compare(s, a, b).unwrap();
    assert_eq!(c(Scheme::Maven, "2.0.0-M4", "2.0.0.M5"), Ordering::Less);
    assert_eq!(c(Scheme::Maven, "1a", "1.0-a"), Ordering::Equal);
    assert_eq!(
        c(Scheme::Maven, "7.4.3.20", "7.4.3.20-ga20"),
        Ordering::Less
    );
    assert_eq!(c(Scheme::Apk, "5.7.1p1-r0", "5.7.1-r0"), Ordering::Greater);
    assert_eq!(c(Scheme::Apk, "6.6.2_p1", "6.6.2"), Ordering::Greater);
    let big = format!("1.{}", "9".repeat(30));
    assert_eq!(c(Scheme::Gem, "1.2", &big), Ordering::Less);
    assert_eq!(c(Scheme::Composer, "v1.2.3.4", "1.2.3.4"), Ordering::Equal);
    assert_eq!(
        c(Scheme::Composer, "1.0.0-beta2", "1.0.0-RC1"),
        Ordering::Less
    );
}
