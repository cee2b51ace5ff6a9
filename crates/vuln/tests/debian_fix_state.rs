//! Issue #15 part 1: the Debian tracker's per-CVE records and its JSON dump give the same fix state for the same
//! CVE in every release. A release without a line of its own whose version is below the unstable fix is *open*
//! (not fixed, no fixed-in version), as the tracker itself says; DSA/point-release lines keep applying.

use std::path::{Path, PathBuf};

use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_vuln::{Finding, FixState, Severity, VulnDb};

fn shared() -> PathBuf {
    std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

/// The real `vuln-list-debian` record of CVE-2023-31486 (HTTP::Tiny in perl): `- perl 5.38.2-2 (unimportant)`,
/// an `[experimental]` line and no line for any stable release.
fn record() -> PathBuf {
    let p = shared().join("vulndata/debian/vuln-list-debian/tracker/CVE/2023/CVE-2023-31486.json");
    assert!(p.is_file(), "{} missing", p.display());
    p
}

/// The perl version each release ships (the tracker JSON's `repositories`), and the codename.
const RELEASES: [(&str, &str, &str); 5] = [
    ("buster", "10", "5.28.1-6+deb10u1"),
    ("bullseye", "11", "5.32.1-4+deb11u2"),
    ("bookworm", "12", "5.36.0-7+deb12u1"),
    ("trixie", "13", "5.40.1-6"),
    ("sid", "", "5.40.1-6"),
];

/// The same CVE as the tracker's JSON dump (`/tracker/data/json`) states it. The dump itself is not in the shared
/// data; this entry is what the tracker derives from the record above and the versions in [`RELEASES`]: a release
/// whose version is below the unstable fix 5.38.2-2 is `open` with no `fixed_version`, one at or above it is
/// `resolved` with `fixed_version` 5.38.2-2; `unimportant` is the urgency everywhere.
fn tracker_json() -> String {
    let releases: Vec<String> = RELEASES
        .iter()
        .map(|(codename, _, version)| {
            let open = portcullis_vuln::compare(portcullis_vuln::Scheme::Dpkg, version, "5.38.2-2")
                .unwrap()
                .is_lt();
            let status = if open {
                r#""status": "open""#.to_string()
            } else {
                r#""status": "resolved", "fixed_version": "5.38.2-2""#.to_string()
            };
            format!(
                r#""{codename}": {{{status}, "repositories": {{"{codename}": "{version}"}}, "urgency": "unimportant"}}"#
            )
        })
        .collect();
    format!(
        r#"{{"perl": {{"CVE-2023-31486": {{"description": "HTTP::Tiny before 0.083 ...", "scope": "local",
        "releases": {{{}}}}}}}}}"#,
        releases.join(", ")
    )
}

fn import(dir: &Path, name: &str, source: &Path) -> VulnDb {
    let mut db = VulnDb::open(dir.join(format!("{name}.db"))).unwrap();
    let report = db.import(source.to_str().unwrap()).unwrap();
    assert!(report.bad_records.is_empty(), "{:?}", report.bad_records);
    db
}

fn perl_image(release: &str, version: &str) -> Sbom {
    Sbom {
        distro: Some(Distro {
            id: "debian".into(),
            version_id: (!release.is_empty()).then(|| release.to_string()),
            codename: Some(if release.is_empty() { "sid" } else { "x" }.into()),
            ..Default::default()
        }),
        packages: vec![Package {
            name: "perl-base".into(),
            version: version.into(),
            package_type: PackageType::Deb,
            purl: String::new(),
            source_name: Some("perl".into()),
            source_version: None,
            arch: None,
            licenses: vec![],
            location: "/var/lib/dpkg/status".into(),
            files: vec![],
            layer: None,
        }],
        ..Default::default()
    }
}

/// What a user sees of the finding: (fix state, fixed-in, severity), `None` when not reported.
fn answer(db: &VulnDb, sbom: &Sbom) -> Option<(FixState, Option<String>, Severity)> {
    let findings: Vec<Finding> = db.match_sbom(sbom).unwrap().findings;
    let f = findings.iter().find(|f| f.id == "CVE-2023-31486")?;
    Some((f.fix_state, f.fixed_in.clone(), f.severity))
}

#[test]
fn per_cve_record_and_tracker_json_agree_in_every_release() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("json");
    std::fs::write(&json, tracker_json()).unwrap();
    let by_record = import(dir.path(), "record", &record());
    let by_json = import(dir.path(), "json", &json);
    for (codename, release, version) in RELEASES {
        let image = perl_image(release, version);
        let (a, b) = (answer(&by_record, &image), answer(&by_json, &image));
        assert_eq!(
            a, b,
            "{codename} (perl {version}): per-CVE record vs tracker JSON"
        );
        if ["buster", "bullseye", "bookworm"].contains(&codename) {
            // below the unstable fix, which the release cannot install: open, no fixed-in version
            assert_eq!(
                a,
                Some((FixState::NotFixed, None, Severity::Negligible)),
                "{codename}"
            );
        } else {
            assert_eq!(a, None, "{codename} ships the fix");
        }
    }
}

#[test]
fn point_release_and_dsa_fixes_still_name_their_version() {
    // CVE-2023-31484 (CPAN.pm): `[bookworm] - perl 5.36.0-7+deb12u3` — a release line of its own
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let cves = shared().join("vulndata/debian/vuln-list-debian/tracker");
    for rel in [
        "CVE/2023/CVE-2023-31484.json",
        "CVE/2023/CVE-2023-4911.json",
        "DSA/DSA-5514-1.json",
    ] {
        let to = src.join(rel.rsplit('/').next().unwrap());
        std::fs::copy(cves.join(rel), to).unwrap();
    }
    let db = import(dir.path(), "db", &src);
    let findings = db
        .match_sbom(&perl_image("12", "5.36.0-7+deb12u1"))
        .unwrap()
        .findings;
    let f = findings
        .iter()
        .find(|f| f.id == "CVE-2023-31484")
        .expect("CVE-2023-31484");
    assert_eq!(
        (f.fix_state, f.fixed_in.as_deref()),
        (FixState::Fixed, Some("5.36.0-7+deb12u3"))
    );
    // glibc CVE-2023-4911: `- glibc 2.37-12` in the record, bookworm fixed by DSA-5514-1 in 2.36-9+deb12u3
    let mut glibc = perl_image("12", "2.36-9+deb12u2");
    glibc.packages[0].name = "libc6".into();
    glibc.packages[0].source_name = Some("glibc".into());
    let findings = db.match_sbom(&glibc).unwrap().findings;
    let f = findings
        .iter()
        .find(|f| f.id == "CVE-2023-4911")
        .expect("CVE-2023-4911");
    assert_eq!(
        (f.fix_state, f.fixed_in.as_deref()),
        (FixState::Fixed, Some("2.36-9+deb12u3"))
    );
}
