//! Shared helpers of the admission tests: the captured reviews and a verdict source built for them.

#![allow(dead_code)]

use std::collections::HashMap;

use portcullis_admission::{VerdictEntry, VerdictsFile};
use portcullis_policy::{Action, EvalRow, FinalReason, Verdict};
use portcullis_sbom::PackageType;
use portcullis_vuln::{Finding, FixState, Severity};

/// `<repo>/../shared`, or `PORTCULLIS_SHARED`.
#[allow(unused_imports)] // not every test target of this crate reads the shared data
pub use portcullis_testkit::shared;

/// Every captured review: (file name, bytes).
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = shared().join("fixtures/admission-review");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; set PORTCULLIS_SHARED", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .filter(|(n, _)| n.ends_with(".json"))
        .collect();
    out.sort();
    assert_eq!(
        out.len(),
        18,
        "expected the 18 captured reviews in {}",
        dir.display()
    );
    out
}

/// A finding for `pkg`.
pub fn finding(id: &str, pkg: &str, version: &str, fixed: Option<&str>, sev: Severity) -> Finding {
    Finding {
        id: id.into(),
        aliases: vec![],
        package_name: pkg.into(),
        package_version: version.into(),
        package_type: PackageType::Deb,
        package_location: "/var/lib/dpkg/status".into(),
        namespace: "debian:12".into(),
        severity: sev,
        cvss: vec![],
        fix_state: if fixed.is_some() {
            FixState::Fixed
        } else {
            FixState::NotFixed
        },
        fixed_in: fixed.map(str::to_string),
        fix_date: None,
        published: None,
        url: None,
        description: None,
        kev: false,
        epss: None,
        suppressed: None,
        vex: None,
    }
}

/// A vulnerabilities.package row.
pub fn vuln_row(id: &str, pkg: &str, action: Action) -> EvalRow {
    EvalRow {
        image_id: "img".into(),
        repo_tag: "x".into(),
        trigger_id: format!("{id}+{pkg}"),
        gate: "vulnerabilities".into(),
        trigger: "package".into(),
        check_output: format!("Vulnerability found in package {pkg} ({id})"),
        gate_action: action,
        whitelisted: None,
        policy_id: "p1".into(),
        rule_id: "r1".into(),
        whitelist_name: None,
        whitelist_item_id: None,
        platform: None,
    }
}

/// A verdict with `rows`; the final action is the worst row (GO when none).
pub fn verdict(policy: &str, rows: Vec<EvalRow>) -> Verdict {
    let final_action = rows
        .iter()
        .map(|r| r.gate_action)
        .max()
        .unwrap_or(Action::Go);
    Verdict {
        bundle_id: policy.into(),
        bundle_name: Some(policy.into()),
        bundle_digest: "sha256:0000".into(),
        final_action,
        final_reason: FinalReason::PolicyEvaluation,
        policy_ids: vec!["p1".into()],
        rows,
        not_evaluated: vec![],
        image_id: "img".into(),
        tag: "x".into(),
        mapping: None,
        policy_final_action: final_action,
        matched_whitelisted_image: None,
        matched_blacklisted_image: None,
        warnings: vec![],
    }
}

/// A fake manifest digest for an image name (stands in for what analysis recorded).
pub fn digest_for(image: &str) -> String {
    let mut h: u64 = 1469598103934665603;
    for b in image.bytes() {
        h = (h ^ b as u64).wrapping_mul(1099511628211);
    }
    format!("sha256:{h:016x}{h:016x}{h:016x}{h:016x}")
}

/// Every image of the captured reviews.
pub const FIXTURE_IMAGES: &[&str] = &[
    "redis:7",
    "127.0.0.1:5000/shop/migrate:1.4",
    "docker.io/envoyproxy/envoy:v1.31.0",
    "nginx",
    "quay.io/prometheus/node-exporter@sha256:4cb2b9019f1757be8482419002cb7afe028fdba35d47958829e4cfeaf6246d80",
    "ghcr.io/acme/tools:2024.1@sha256:4cb2b9019f1757be8482419002cb7afe028fdba35d47958829e4cfeaf6246d80",
    "registry.example.com:8443/team/api:2.1.0",
    "registry.example.com:8443/team/api:2.2.0",
    "busybox:1.36",
    "postgres:16.4",
    "gcr.io/google-containers/fluentd-elasticsearch:1.20",
    "alpine:3.18",
    "python:3.12-slim",
    "ubuntu:22.04",
    "ubuntu",
    "curlimages/curl:8.8.0",
    "debian:bookworm",
    "debian:trixie",
];

/// Verdicts for every fixture image under `policy`: all pass (nginx with a WARN row) except `busybox:1.36`, which
/// fails with five STOP findings.
pub fn fixture_verdicts(policy: &str) -> VerdictsFile {
    let mut images = Vec::new();
    for img in FIXTURE_IMAGES {
        let (rows, findings) = match *img {
            "busybox:1.36" => (
                vec![
                    vuln_row("CVE-2023-0286", "openssl", Action::Stop),
                    vuln_row("CVE-2022-48174", "busybox", Action::Stop),
                    vuln_row("CVE-2023-0464", "openssl", Action::Stop),
                    vuln_row("CVE-2023-0465", "openssl", Action::Stop),
                    vuln_row("CVE-2023-0466", "openssl", Action::Stop),
                ],
                vec![
                    finding(
                        "CVE-2023-0286",
                        "openssl",
                        "3.0.7-1",
                        Some("3.0.8-1"),
                        Severity::High,
                    ),
                    finding(
                        "CVE-2022-48174",
                        "busybox",
                        "1.36.0-r0",
                        None,
                        Severity::Critical,
                    ),
                    finding(
                        "CVE-2023-0464",
                        "openssl",
                        "3.0.7-1",
                        Some("3.0.8-1"),
                        Severity::Medium,
                    ),
                    finding(
                        "CVE-2023-0465",
                        "openssl",
                        "3.0.7-1",
                        Some("3.0.8-1"),
                        Severity::Low,
                    ),
                    finding(
                        "CVE-2023-0466",
                        "openssl",
                        "3.0.7-1",
                        Some("3.0.8-1"),
                        Severity::Low,
                    ),
                ],
            ),
            "nginx" => (
                vec![vuln_row("CVE-2024-0001", "zlib", Action::Warn)],
                vec![finding(
                    "CVE-2024-0001",
                    "zlib",
                    "1.2.13",
                    Some("1.3"),
                    Severity::Medium,
                )],
            ),
            _ => (vec![], vec![]),
        };
        let digest = match img.split_once('@') {
            Some((_, d)) => d.to_string(),
            None => digest_for(img),
        };
        images.push(VerdictEntry {
            image: img.to_string(),
            digest: Some(digest),
            state: "analyzed".into(),
            reason: None,
            analysed_at: None,
            verdicts: HashMap::from([(policy.to_string(), verdict(policy, rows))]),
            findings,
            signatures: None,
        });
    }
    VerdictsFile { images }
}
