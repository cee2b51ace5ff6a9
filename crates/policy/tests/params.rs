//! Issue #16 (policy parts): rule parameters are checked as strictly as anchore-engine's validators (a bad
//! value refuses the bundle, naming the rule, the parameter and the fix), values are read as Anchore reads
//! them (sizes with units), and the licence triggers report every matching licence of a package.

mod common;

use common::{now, pkg, report, sbom};
use portcullis_policy::{Action, Bundle, Error, ImageInput, Problem};
use portcullis_sbom::PackageType;

const TAG: &str = "docker.io/library/debian:12";

/// A bundle with one STOP rule of `gate.trigger` with `params` (`name`, `value` pairs), mapped to every
/// image.
fn one_rule(gate: &str, trigger: &str, params: &[(&str, &str)]) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|(n, v)| serde_json::json!({"name": n, "value": v}).to_string())
        .collect();
    format!(
        r#"{{"id":"b","version":"1_0","name":"B",
        "policies":[{{"id":"p","version":"1_0","rules":[
          {{"id":"r","gate":"{gate}","trigger":"{trigger}","action":"STOP","params":[{}]}}]}}],
        "whitelists":[],
        "mappings":[{{"id":"m","registry":"*","repository":"*","image":{{"type":"tag","value":"*"}},"policy_id":"p","whitelist_ids":[]}}],
        "whitelisted_images":[],"blacklisted_images":[]}}"#,
        params.join(",")
    )
}

fn load(gate: &str, trigger: &str, params: &[(&str, &str)]) -> Result<Bundle, Error> {
    Bundle::from_slice(one_rule(gate, trigger, params).as_bytes(), "test bundle")
}

/// The single problem of a refused one-rule bundle.
fn refused(gate: &str, trigger: &str, params: &[(&str, &str)]) -> Problem {
    match load(gate, trigger, params) {
        Err(Error::Invalid { mut problems, .. }) => {
            assert_eq!(problems.len(), 1, "{problems:#?}");
            let p = problems.remove(0);
            assert!(
                p.location
                    .contains(&format!("rules[0] (id r) ({gate}.{trigger})")),
                "{p:#?}"
            );
            p
        }
        Err(e) => panic!("{gate}.{trigger} {params:?}: expected a validation problem, got {e}"),
        Ok(_) => panic!("{gate}.{trigger} {params:?} must be refused"),
    }
}

fn accepted(gate: &str, trigger: &str, params: &[(&str, &str)]) -> Bundle {
    load(gate, trigger, params).unwrap_or_else(|e| panic!("{gate}.{trigger} {params:?}: {e}"))
}

#[test]
fn metadata_size_must_be_a_number_of_bytes_with_an_optional_unit() {
    let p = refused(
        "metadata",
        "attribute",
        &[("attribute", "size"), ("check", ">"), ("value", "test")],
    );
    assert!(p.message.contains("`test` is not a size"), "{p:#?}");
    assert!(p.message.contains("kb, mb, gb or tb"), "{p:#?}");
    for bad in ["1.5gb", "1 gb", "-1", "10g", "99999999999999999999"] {
        let p = refused(
            "metadata",
            "attribute",
            &[("attribute", "size"), ("check", ">"), ("value", bad)],
        );
        assert!(p.message.contains("is not a size"), "{bad}: {p:#?}");
    }
    let p = refused(
        "metadata",
        "attribute",
        &[
            ("attribute", "layer_count"),
            ("check", ">"),
            ("value", "many"),
        ],
    );
    assert!(p.message.contains("not a whole number of layers"), "{p:#?}");
    // A comparison without a value would never fire: refused.
    let p = refused(
        "metadata",
        "attribute",
        &[("attribute", "size"), ("check", ">")],
    );
    assert!(p.message.contains("needs a `value`"), "{p:#?}");
    // Other attributes take any string, and `exists` needs no value.
    accepted(
        "metadata",
        "attribute",
        &[("attribute", "distro"), ("check", "="), ("value", "debian")],
    );
    accepted(
        "metadata",
        "attribute",
        &[("attribute", "size"), ("check", "exists")],
    );
}

#[test]
fn metadata_size_units_compare_in_bytes_as_anchore() {
    // The test image is 50,000,000 bytes: over 47mb (49,283,072), under 48mb (50,331,648) and 1gb.
    let (s, r) = (sbom(), report());
    let input = ImageInput::new(&s, &r, TAG, now());
    for (value, fires) in [
        ("47mb", true),
        ("48MB", false),
        ("1gb", false),
        ("48828kb", true),
        ("49999999", true),
        ("50000000", false),
    ] {
        let b = accepted(
            "metadata",
            "attribute",
            &[("attribute", "size"), ("check", ">"), ("value", value)],
        );
        let v = b.evaluate(&input);
        assert_eq!(
            v.rows.len(),
            usize::from(fires),
            "size > {value}: {:#?}",
            v.rows
        );
        assert!(v.not_evaluated.is_empty(), "{value}: {:?}", v.not_evaluated);
        if fires {
            assert_eq!(v.final_action, Action::Stop);
            let bytes = value.to_ascii_lowercase();
            let expected = match bytes.strip_suffix("mb") {
                Some(n) => (n.parse::<u64>().unwrap() << 20).to_string(),
                None => match bytes.strip_suffix("kb") {
                    Some(n) => (n.parse::<u64>().unwrap() << 10).to_string(),
                    None => bytes.clone(),
                },
            };
            assert!(
                v.rows[0]
                    .check_output
                    .contains(&format!("check_value: '{expected}'")),
                "{}",
                v.rows[0].check_output
            );
        }
    }
    let b = accepted(
        "metadata",
        "attribute",
        &[("attribute", "size"), ("check", "="), ("value", "50000000")],
    );
    assert_eq!(b.evaluate(&input).rows.len(), 1);
}

#[test]
fn numbers_are_checked_as_anchore_checks_them() {
    let base = [("package_type", "all"), ("severity", "high")];
    // `NaN` compares false with every score: such a rule would silently never fire.
    for (name, bad) in [
        ("cvss_v3_base_score", "NaN"),
        ("cvss_v3_base_score", "inf"),
        ("vendor_cvss_v3_impact_score", "1e1"),
        ("max_days_since_creation", "-1"),
        ("max_days_since_fix", "30d"),
        ("max_days_since_creation", "1.5"),
    ] {
        let mut params = base.to_vec();
        params.push((name, bad));
        let p = refused("vulnerabilities", "package", &params);
        assert!(
            p.message
                .starts_with(&format!("parameter `{name}`: `{bad}` is not a")),
            "{p:#?}"
        );
    }
    let mut params = base.to_vec();
    params.extend([
        ("cvss_v3_base_score", "-1"),
        ("max_days_since_creation", "0"),
    ]);
    accepted("vulnerabilities", "package", &params);
    let p = refused(
        "vulnerabilities",
        "stale_feed_data",
        &[("max_days_since_sync", "-2")],
    );
    assert!(
        p.message.contains("is not an integer: give a whole number"),
        "{p:#?}"
    );
}

#[test]
fn huge_day_counts_do_not_panic() {
    let (s, r) = (sbom(), report());
    let mut input = ImageInput::new(&s, &r, TAG, now());
    input.feed_synced = Some(now() - chrono::Duration::days(3));
    let max = i64::MAX.to_string();
    let b = accepted(
        "vulnerabilities",
        "package",
        &[
            ("package_type", "all"),
            ("severity", "unknown"),
            ("severity_comparison", ">="),
            ("max_days_since_creation", &max),
            ("fix_available", "true"),
            ("max_days_since_fix", &max),
        ],
    );
    // No finding is older than i64::MAX days; findings without a publication date still fire.
    let v = b.evaluate(&input);
    assert!(
        v.rows
            .iter()
            .all(|row| !row.trigger_id.contains("CVE-2023-0286")),
        "{:#?}",
        v.rows
    );
    assert!(
        v.rows
            .iter()
            .any(|row| row.trigger_id == "CVE-2021-23337+lodash"),
        "{:#?}",
        v.rows
    );
    let b = accepted(
        "vulnerabilities",
        "stale_feed_data",
        &[("max_days_since_sync", &max)],
    );
    assert!(b.evaluate(&input).rows.is_empty());
}

#[test]
fn lists_must_have_items_and_numeric_lists_numbers() {
    let p = refused("licenses", "blacklist_exact_match", &[("licenses", "")]);
    assert!(p.message.contains("the list is empty"), "{p:#?}");
    let p = refused(
        "vulnerabilities",
        "blacklist",
        &[("vulnerability_ids", "CVE-1,,CVE-2")],
    );
    assert!(p.message.contains("item 2 of the list"), "{p:#?}");
    let p = refused(
        "passwd_file",
        "blacklist_userids",
        &[("user_ids", "0,root")],
    );
    assert!(p.message.contains("`root` is not a whole number"), "{p:#?}");
    let p = refused("passwd_file", "blacklist_groupids", &[("group_ids", "-1")]);
    assert!(p.message.contains("`-1` is not a whole number"), "{p:#?}");
    let p = refused(
        "dockerfile",
        "exposed_ports",
        &[("ports", "22/tcp"), ("type", "blacklist")],
    );
    assert!(
        p.message.contains("`22/tcp` is not a whole number"),
        "{p:#?}"
    );
    accepted(
        "passwd_file",
        "blacklist_userids",
        &[("user_ids", "0, 1000")],
    );
    accepted(
        "dockerfile",
        "exposed_ports",
        &[("ports", "22,80"), ("type", "blacklist")],
    );
    // Anchore's `mode_op` is `equals`/`not_equals`, not a comparison.
    let p = refused(
        "files",
        "attribute_match",
        &[
            ("filename", "/etc/passwd"),
            ("mode", "00644"),
            ("mode_op", "="),
        ],
    );
    assert!(p.message.contains("equals, not_equals"), "{p:#?}");
}

#[test]
fn licence_triggers_report_every_matching_licence() {
    let mut git = pkg("git", "1:2.39.2-1.1", PackageType::Deb);
    git.licenses = vec![
        "GPL-2".into(),
        "BSD-2-clause".into(),
        "Boost".into(),
        "BSD-2-clause".into(),
    ];
    let mut s = sbom();
    s.packages.push(git);
    let r = report();
    let input = ImageInput::new(&s, &r, TAG, now());

    let b = accepted(
        "licenses",
        "blacklist_exact_match",
        &[("licenses", "Boost,BSD-2-clause")],
    );
    let v = b.evaluate(&input);
    let git_rows: Vec<_> = v
        .rows
        .iter()
        .filter(|r| r.trigger_id.starts_with("git+"))
        .collect();
    assert_eq!(git_rows.len(), 1, "{:#?}", v.rows);
    // One row per package; its id names the first match (allowlists written for it keep working).
    assert_eq!(git_rows[0].trigger_id, "git+BSD-2-clause");
    assert!(
        git_rows[0]
            .check_output
            .ends_with("is distributed under git(BSD-2-clause), git(Boost)"),
        "{}",
        git_rows[0].check_output
    );

    let b = accepted(
        "licenses",
        "blacklist_partial_match",
        &[("licenses", "BSD,GPL")],
    );
    let v = b.evaluate(&input);
    let git_row = v
        .rows
        .iter()
        .find(|r| r.trigger_id.starts_with("git+"))
        .unwrap();
    assert_eq!(git_row.trigger_id, "git+GPL-2");
    assert!(
        git_row
            .check_output
            .ends_with("is distributed under git(GPL-2), git(BSD-2-clause)"),
        "{}",
        git_row.check_output
    );
    // libc6 (LGPL-2.1, BSD-2) matches both licences too.
    let libc = v
        .rows
        .iter()
        .find(|r| r.trigger_id.starts_with("libc6+"))
        .unwrap();
    assert!(
        libc.check_output.ends_with("libc6(LGPL-2.1), libc6(BSD-2)"),
        "{}",
        libc.check_output
    );
}
