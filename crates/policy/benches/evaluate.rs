//! Admission-path budget: an image with 1,000 packages and 2,000 findings against a 50-rule bundle (with a
//! 100-item allowlist, wildcards included) must evaluate in ≤ 1 ms. Run: `cargo bench -p portcullis-policy
//! --bench evaluate`; figures and method in `benches/README.md`.
#![allow(missing_docs)] // criterion's group macros generate undocumented functions

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_policy::{Bundle, EvalOptions, ImageInput};
use portcullis_sbom::{FileRecord, ImageMetadata, Package, PackageType, Sbom};
use portcullis_testkit::package;
use portcullis_vuln::{Cvss, Finding, FixState, MatchReport, Severity};

const SEVERITIES: [Severity; 5] = [
    Severity::Negligible,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

fn image() -> (Sbom, MatchReport) {
    let types = [
        PackageType::Deb,
        PackageType::Npm,
        PackageType::Python,
        PackageType::Java,
    ];
    let packages: Vec<Package> = (0..1000)
        .map(|i| {
            package(
                types[i % types.len()],
                &format!("pkg{i}"),
                &format!("1.{}.{}", i % 17, i % 5),
            )
            .purl(format!("pkg:generic/pkg{i}"))
            .licenses([["MIT", "GPL-2.0", "BSD-3-Clause", "Apache-2.0"][i % 4]])
            .location(format!("/usr/lib/pkg{i}"))
            .files([format!("/usr/lib/pkg{i}/lib.so")])
            .build()
        })
        .collect();
    let findings: Vec<Finding> = (0..2000)
        .map(|i| {
            let p = &packages[i % 1000];
            Finding {
                id: format!("CVE-2023-{:05}", i),
                aliases: vec![],
                package_name: p.name.clone(),
                package_version: p.version.clone(),
                package_type: p.package_type,
                package_location: p.location.clone(),
                namespace: "debian:12".into(),
                severity: SEVERITIES[i % 5],
                cvss: vec![Cvss {
                    source: "nvd".into(),
                    version: "3.1".into(),
                    vector: String::new(),
                    base_score: (i % 100) as f64 / 10.0,
                    exploitability_score: Some((i % 39) as f64 / 10.0),
                    impact_score: Some((i % 60) as f64 / 10.0),
                }],
                fix_state: if i % 3 == 0 {
                    FixState::Fixed
                } else {
                    FixState::NotFixed
                },
                fixed_in: (i % 3 == 0).then(|| "9.9".into()),
                fix_date: Some("2024-01-01".into()),
                published: Some("2023-06-01".into()),
                url: None,
                description: None,
                kev: i % 97 == 0,
                epss: Some((i % 1000) as f64 / 1000.0),
                suppressed: None,
                vex: None,
            }
        })
        .collect();
    let sbom = Sbom {
        metadata: ImageMetadata {
            image_id: Some("sha256:aaaa".into()),
            exposed_ports: vec!["80/tcp".into(), "22/tcp".into()],
            history: (0..20).map(|i| format!("/bin/sh -c step{i}")).collect(),
            ..Default::default()
        },
        special_files: (0..20)
            .map(|i| FileRecord {
                path: format!("/usr/bin/s{i}"),
                mode: 0o104755,
                size: 1,
            })
            .collect(),
        packages,
        ..Default::default()
    };
    (
        sbom,
        MatchReport {
            findings,
            db_version: "bench".into(),
            ..Default::default()
        },
    )
}

fn rule(i: usize, gate: &str, trigger: &str, action: &str, params: &[(&str, String)]) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|(n, v)| format!(r#"{{"name":"{n}","value":"{v}"}}"#))
        .collect();
    format!(
        r#"{{"id":"r{i}","gate":"{gate}","trigger":"{trigger}","action":"{action}","params":[{}]}}"#,
        params.join(",")
    )
}

/// The bundle document (JSON) for [`bundle`].
fn bundle_doc(stop: &str, allow_all: bool) -> String {
    let sev = ["low", "medium", "high", "critical"];
    let cmp = [">", ">=", "=", "<"];
    let mut rules = Vec::new();
    for i in 0..24 {
        let mut params = vec![
            ("package_type", ["all", "os", "non-os"][i % 3].to_string()),
            ("severity_comparison", cmp[i % 4].to_string()),
            ("severity", sev[i % 4].to_string()),
        ];
        if i % 2 == 0 {
            params.push(("cvss_v3_base_score", format!("{}", i % 10)));
        }
        if i % 3 == 0 {
            params.push(("fix_available", "true".into()));
        }
        if i % 5 == 0 {
            params.push(("max_days_since_creation", "30".into()));
        }
        if i % 7 == 0 {
            params.push(("package_path_exclude", "/usr/lib/pkg1.*".into()));
        }
        rules.push(rule(
            i,
            "vulnerabilities",
            "package",
            [stop, "WARN"][i % 2],
            &params,
        ));
    }
    let n = rules.len();
    rules.push(rule(
        n,
        "vulnerabilities",
        "blacklist",
        stop,
        &[("vulnerability_ids", "CVE-2023-00001,CVE-2023-01999".into())],
    ));
    rules.push(rule(n + 1, "vulnerabilities", "kev", stop, &[]));
    rules.push(rule(
        n + 2,
        "vulnerabilities",
        "epss",
        "WARN",
        &[("epss_score", "0.9".into())],
    ));
    for j in 0..6 {
        rules.push(rule(
            n + 3 + j,
            "packages",
            "blacklist",
            stop,
            &[("name", format!("pkg{}", j * 150))],
        ));
    }
    rules.push(rule(
        n + 9,
        "packages",
        "required_package",
        "WARN",
        &[
            ("name", "pkg4".into()),
            ("version", "1.0".into()),
            ("version_match_type", "minimum".into()),
        ],
    ));
    for (j, l) in ["GPL", "AGPL", "SSPL"].iter().enumerate() {
        rules.push(rule(
            n + 10 + j,
            "licenses",
            "blacklist_partial_match",
            "WARN",
            &[("licenses", l.to_string())],
        ));
    }
    rules.push(rule(
        n + 13,
        "licenses",
        "blacklist_exact_match",
        stop,
        &[("licenses", "GPL-3.0,AGPL-3.0".into())],
    ));
    rules.push(rule(
        n + 14,
        "dockerfile",
        "exposed_ports",
        stop,
        &[("ports", "22".into()), ("type", "blacklist".into())],
    ));
    rules.push(rule(
        n + 15,
        "dockerfile",
        "instruction",
        "WARN",
        &[
            ("instruction", "HEALTHCHECK".into()),
            ("check", "not_exists".into()),
        ],
    ));
    rules.push(rule(
        n + 16,
        "dockerfile",
        "effective_user",
        "WARN",
        &[("users", "root".into()), ("type", "blacklist".into())],
    ));
    rules.push(rule(
        n + 17,
        "dockerfile",
        "instruction",
        "WARN",
        &[
            ("instruction", "RUN".into()),
            ("check", "like".into()),
            ("value", ".*curl.*".into()),
        ],
    ));
    rules.push(rule(n + 18, "files", "suid_or_guid_set", "WARN", &[]));
    rules.push(rule(
        n + 19,
        "files",
        "name_match",
        "WARN",
        &[("regex", ".*\\\\.pem".into())],
    ));
    rules.push(rule(
        n + 20,
        "metadata",
        "attribute",
        "WARN",
        &[
            ("attribute", "size".into()),
            ("check", ">".into()),
            ("value", "1000000000".into()),
        ],
    ));
    rules.push(rule(n + 21, "always", "always", "GO", &[]));
    rules.push(rule(
        n + 22,
        "distro",
        "deny",
        "STOP",
        &[
            ("distro", "centos".into()),
            ("version", "8".into()),
            ("check", "<=".into()),
        ],
    ));
    while rules.len() < 50 {
        let k = rules.len();
        rules.push(rule(
            k,
            "vulnerabilities",
            "package",
            "WARN",
            &[
                ("package_type", "all".into()),
                ("cvss_v3_impact_score", "5.0".into()),
            ],
        ));
    }
    assert_eq!(rules.len(), 50);
    let mut items: Vec<String> = (0..90)
        .map(|i| {
            format!(
                r#"{{"id":"i{i}","gate":"vulnerabilities","trigger_id":"CVE-2023-{:05}+pkg{}"}}"#,
                i * 7,
                (i * 7) % 1000
            )
        })
        .collect();
    for i in 0..10 {
        items.push(format!(r#"{{"id":"w{i}","gate":"vulnerabilities","trigger_id":"CVE-2023-01{i}0*+*","expires_on":"2030-01-01T00:00:00Z"}}"#));
    }
    if allow_all {
        items.push(r#"{"id":"all","gate":"vulnerabilities","trigger_id":"*"}"#.to_string());
    }
    format!(
        r#"{{"id":"bench","version":"1_0","policies":[{{"id":"p","version":"1_0","rules":[{}]}}],
        "whitelists":[{{"id":"wl","version":"1_0","items":[{}]}}],
        "mappings":[{{"registry":"*","repository":"*","image":{{"type":"tag","value":"*"}},"policy_id":"p","whitelist_ids":["wl"]}}],
        "whitelisted_images":[],"blacklisted_images":[{{"registry":"*","repository":"banned/*","image":{{"type":"tag","value":"*"}}}}]}}"#,
        rules.join(","),
        items.join(",")
    )
}

fn bundle(stop: &str, allow_all: bool) -> Bundle {
    Bundle::from_slice(bundle_doc(stop, allow_all).as_bytes(), "bench bundle")
        .unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let (sbom, report) = image();
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
    let input = ImageInput::new(&sbom, &report, "registry.example.com/team/app:1.0", now);
    let opts = EvalOptions::default();
    // The same 50 rules with STOP actions (the image fails), with every STOP turned into WARN (the image
    // passes), and with STOP actions but every finding allowlisted: the worst case for `decide`, which then
    // runs every vulnerability rule to the end before a later rule fails the image.
    for (label, stop, allow_all) in [
        ("failing", "STOP", false),
        ("passing", "WARN", false),
        ("all findings allowlisted", "STOP", true),
    ] {
        let b = bundle(stop, allow_all);
        let v = b.evaluate(&input);
        let allowlisted = v.rows.iter().filter(|r| r.whitelisted.is_some()).count();
        assert!(
            v.rows.len() > 1000,
            "the benchmark must exercise many rows: {}",
            v.rows.len()
        );
        assert!(allowlisted > 100, "{allowlisted} allowlisted");
        assert_eq!(b.decide(&input, &opts).final_action, v.final_action);
        eprintln!(
            "{label}: {} rows per evaluation ({allowlisted} allowlisted), final action {:?}",
            v.rows.len(),
            v.final_action
        );
        let table = b.evaluate_table(&input, &opts);
        assert_eq!(table.len(), v.rows.len());
        assert_eq!(table.final_action(), v.final_action);
        assert_eq!(table.into_verdict(), v);
        c.bench_function(&format!("evaluate (full table), {label}"), |bch| {
            bch.iter(|| b.evaluate(std::hint::black_box(&input)))
        });
        c.bench_function(&format!("evaluate_table (compact table), {label}"), |bch| {
            bch.iter(|| b.evaluate_table(std::hint::black_box(&input), &opts))
        });
        // What reading every row's check output adds (a caller explaining a denial reads a few).
        c.bench_function(
            &format!("evaluate_table + render every check output, {label}"),
            |bch| {
                bch.iter(|| {
                    let t = b.evaluate_table(std::hint::black_box(&input), &opts);
                    t.rows().map(|r| r.check_output().len()).sum::<usize>()
                })
            },
        );
        c.bench_function(&format!("decide, {label}"), |bch| {
            bch.iter(|| b.decide(std::hint::black_box(&input), &opts))
        });
        // The floor for any `evaluate` returning this table as `Vec<EvalRow>` of `String`s: allocating and
        // copying the finished rows, with no evaluation at all.
        c.bench_function(
            &format!("floor: clone the finished table, {label}"),
            |bch| bch.iter(|| std::hint::black_box(&v.rows).clone()),
        );
    }
}

/// Loading (parsing, validating and compiling) the 50-rule, 101-item bundle: done once per bundle
/// change, not per admission, but it must stay cheap since compiling is where the work moved.
fn load(c: &mut Criterion) {
    let doc = bundle_doc("STOP", true);
    c.bench_function("bundle load (parse, validate, compile)", |bch| {
        bch.iter(|| Bundle::from_slice(std::hint::black_box(doc.as_bytes()), "bench bundle"))
    });
}

criterion_group!(benches, bench, load);
criterion_main!(benches);
