//! Test inputs built as values (the producers of SBOMs and findings are other crates).
#![allow(dead_code)]

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use portcullis_policy::Bundle;
use portcullis_sbom::{Distro, FileRecord, ImageMetadata, Package, PackageType, Sbom};
use portcullis_vuln::{Cvss, Finding, FixState, MatchReport, Severity};

/// `<repo>/../shared`, or `PORTCULLIS_SHARED`.
#[allow(unused_imports)] // not every test target of this crate reads the shared data
pub use portcullis_testkit::shared;

/// A bundle from `shared/policies/anchore-engine/`.
pub fn bundle_path(name: &str) -> PathBuf {
    let p = shared().join("policies/anchore-engine").join(name);
    assert!(
        p.exists(),
        "shared policy bundle {} is missing: set PORTCULLIS_SHARED to the shared data directory",
        p.display()
    );
    p
}

/// Loads a shared bundle, panicking with the loader's message if it fails.
pub fn load(name: &str) -> Bundle {
    Bundle::from_path(&bundle_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Loads a bundle given as JSON text.
pub fn bundle(json: &str) -> Bundle {
    Bundle::from_slice(json.as_bytes(), "test bundle").unwrap_or_else(|e| panic!("{e}"))
}

/// Fixed evaluation time.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap()
}

pub fn pkg(name: &str, version: &str, t: PackageType) -> Package {
    portcullis_testkit::package(t, name, version)
        .purl(format!("pkg:generic/{name}@{version}"))
        .location("/var/lib/dpkg/status")
        .build()
}

/// A small Debian image: openssl, libc6, an npm package, a gem, a setuid binary, a guessed history.
pub fn sbom() -> Sbom {
    let mut openssl = pkg("openssl", "3.0.11-1~deb12u2", PackageType::Deb);
    openssl.licenses = vec!["Apache-2.0".into()];
    openssl.files = vec!["/usr/bin/openssl".into(), "/etc/ssl/certs/ca.pem".into()];
    let mut libc = pkg("libc6", "2.36-9+deb12u1", PackageType::Deb);
    libc.licenses = vec!["LGPL-2.1".into(), "BSD-2".into()];
    let mut lodash = pkg("lodash", "4.17.20", PackageType::Npm);
    lodash.location = "/app/node_modules/lodash/package.json".into();
    lodash.licenses = vec!["MIT".into()];
    let rack = pkg("rack", "2.2.3", PackageType::Gem);
    Sbom {
        schema_version: "1".into(),
        analyser_version: "test".into(),
        source: "docker.io/library/debian:12".into(),
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: Some("bookworm".into()),
            id_like: vec![],
            pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
        }),
        metadata: ImageMetadata {
            manifest_digest: Some("sha256:1111".into()),
            image_id: Some("sha256:2222".into()),
            reference: Some("docker.io/library/debian:12".into()),
            os: Some("linux".into()),
            architecture: Some("amd64".into()),
            size: 50_000_000,
            layer_count: 2,
            exposed_ports: vec!["443/tcp".into(), "22/tcp".into()],
            user: None,
            cmd: vec!["bash".into()],
            history: vec![
                "/bin/sh -c #(nop) ADD file:abc in / ".into(),
                "/bin/sh -c #(nop)  CMD [\"bash\"]".into(),
                "/bin/sh -c #(nop)  EXPOSE 443 22".into(),
            ],
            ..Default::default()
        },
        packages: vec![libc, openssl, lodash, rack],
        special_files: vec![FileRecord {
            path: "/usr/bin/passwd".into(),
            mode: 0o104755,
            size: 1000,
        }],
        file_count: 1000,
        problems: Vec::new(),
    }
}

pub fn finding(id: &str, pkg: &str, sev: Severity, t: PackageType) -> Finding {
    Finding {
        id: id.into(),
        aliases: vec![],
        package_name: pkg.into(),
        package_version: "1".into(),
        package_type: t,
        package_location: "/var/lib/dpkg/status".into(),
        namespace: "debian:12".into(),
        severity: sev,
        cvss: vec![],
        fix_state: FixState::NotFixed,
        fixed_in: None,
        fix_date: None,
        published: None,
        url: Some(format!("https://security-tracker.debian.org/tracker/{id}")),
        description: None,
        kev: false,
        epss: None,
        suppressed: None,
        vex: None,
    }
}

/// True when CISA's KEV catalogue in the shared data lists `cve`.
pub fn in_kev(cve: &str) -> bool {
    let p = shared().join("vulndata/cisa-kev/known_exploited_vulnerabilities.json");
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("cannot read the KEV catalogue {}: {e}", p.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("KEV catalogue is JSON");
    v["vulnerabilities"]
        .as_array()
        .expect("KEV vulnerabilities array")
        .iter()
        .any(|e| e["cveID"] == cve)
}

/// Findings for [`sbom`]: a high openssl CVE (fixed), a critical glibc CVE on the KEV list, a medium npm one.
pub fn report() -> MatchReport {
    let mut ossl = finding("CVE-2023-0286", "openssl", Severity::High, PackageType::Deb);
    ossl.fix_state = FixState::Fixed;
    ossl.fixed_in = Some("3.0.8-1".into());
    ossl.published = Some("2023-02-08".into());
    ossl.cvss = vec![Cvss {
        source: "nvd".into(),
        version: "3.1".into(),
        vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:H".into(),
        base_score: 7.4,
        exploitability_score: Some(2.2),
        impact_score: Some(5.2),
    }];
    ossl.epss = Some(0.02);
    let mut glibc = finding(
        "CVE-2023-4911",
        "libc6",
        Severity::Critical,
        PackageType::Deb,
    );
    glibc.kev = in_kev("CVE-2023-4911");
    glibc.epss = Some(0.7);
    glibc.published = Some("2023-10-03".into());
    let mut lodash = finding(
        "CVE-2021-23337",
        "lodash",
        Severity::Medium,
        PackageType::Npm,
    );
    lodash.package_location = "/app/node_modules/lodash/package.json".into();
    lodash.fix_state = FixState::Fixed;
    lodash.fixed_in = Some("4.17.21".into());
    let mut wontfix = finding("CVE-2010-4756", "libc6", Severity::Low, PackageType::Deb);
    wontfix.fix_state = FixState::WontFix;
    MatchReport {
        findings: vec![glibc, ossl, lodash, wontfix],
        db_version: "test".into(),
        ..Default::default()
    }
}
