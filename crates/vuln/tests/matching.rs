//! End-to-end: import everything in `../shared/vulndata` into a real SQLite database and match SBOMs against it.
//! The expected results come from the records themselves (quoted next to each assertion).

use std::path::PathBuf;
use std::sync::OnceLock;

use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_testkit::{package, shared};
use portcullis_vuln::{Finding, FixState, MatchReport, Severity, VulnDb};

/// One database with all of vulndata, imported once for every test of this file.
fn db_path() -> &'static PathBuf {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vuln.db");
        let mut db = VulnDb::open(&path).unwrap();
        let src = shared().join("vulndata");
        assert!(src.is_dir(), "{} missing", src.display());
        let report = db.import(src.to_str().unwrap()).unwrap();
        assert!(
            report.provenance.affected > 10_000,
            "{:?}",
            report.provenance
        );
        (dir, path)
    })
    .1
}

fn pkg(t: PackageType, name: &str, version: &str, source: Option<&str>) -> Package {
    let mut p = package(t, name, version)
        .location("/var/lib/dpkg/status")
        .build();
    p.source_name = source.map(str::to_string);
    p
}

fn bookworm(packages: Vec<Package>) -> Sbom {
    Sbom {
        distro: Some(Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            codename: Some("bookworm".into()),
            ..Default::default()
        }),
        packages,
        ..Default::default()
    }
}

fn run(sbom: &Sbom) -> MatchReport {
    VulnDb::open(db_path()).unwrap().match_sbom(sbom).unwrap()
}

/// The finding of `pkg` whose id or one of whose aliases is `id` (findings of one vulnerability are merged).
fn find<'a>(r: &'a MatchReport, id: &str, pkg: &str) -> Option<&'a Finding> {
    r.findings
        .iter()
        .find(|f| (f.id == id || f.aliases.iter().any(|a| a == id)) && f.package_name == pkg)
}

#[test]
fn dsa_fix_below_reported_with_fixed_in_and_at_fix_not() {
    // CVE-2023-4911 (glibc): the CVE record has `{DSA-5514-1}`; DSA-5514-1 says `[bookworm] - glibc 2.36-9+deb12u3`
    let r = run(&bookworm(vec![pkg(
        PackageType::Deb,
        "libc6",
        "2.36-9+deb12u2",
        Some("glibc"),
    )]));
    let f = find(&r, "CVE-2023-4911", "libc6").expect("CVE-2023-4911 not reported below the fix");
    assert_eq!(f.fix_state, FixState::Fixed);
    assert_eq!(f.fixed_in.as_deref(), Some("2.36-9+deb12u3"));
    assert_eq!(f.namespace, "debian:12");
    assert!(f.kev, "CVE-2023-4911 is on the CISA KEV list");
    assert!(!r.db_version.is_empty());

    let r = run(&bookworm(vec![pkg(
        PackageType::Deb,
        "libc6",
        "2.36-9+deb12u3",
        Some("glibc"),
    )]));
    assert!(
        find(&r, "CVE-2023-4911", "libc6").is_none(),
        "reported at the fixed version"
    );
}

#[test]
fn point_release_fix_in_cve_record() {
    // CVE-2023-5981: `[bookworm] - gnutls28 3.7.9-2+deb12u1` (binary libgnutls30, source gnutls28)
    let p = |v| pkg(PackageType::Deb, "libgnutls30", v, Some("gnutls28"));
    let r = run(&bookworm(vec![p("3.7.9-2")]));
    let f = find(&r, "CVE-2023-5981", "libgnutls30").expect("CVE-2023-5981 not reported");
    assert_eq!(f.fixed_in.as_deref(), Some("3.7.9-2+deb12u1"));
    assert_eq!(f.fix_state, FixState::Fixed);
    let r = run(&bookworm(vec![p("3.7.9-2+deb12u1")]));
    assert!(find(&r, "CVE-2023-5981", "libgnutls30").is_none());
}

#[test]
fn debian_point_release_matches_on_the_major_release() {
    // the SBOM reports /etc/debian_version's point release (12.5); the advisories are per major release
    let mut sbom = bookworm(vec![pkg(
        PackageType::Deb,
        "libgnutls30",
        "3.7.9-2",
        Some("gnutls28"),
    )]);
    if let Some(d) = sbom.distro.as_mut() {
        d.version_id = Some("12.5".into());
    }
    assert_eq!(
        portcullis_vuln::distro_namespace(sbom.distro.as_ref().unwrap()).as_deref(),
        Some("debian:12")
    );
    let r = run(&sbom);
    assert!(find(&r, "CVE-2023-5981", "libgnutls30").is_some());
}

#[test]
fn unfixed_debian_cve_is_not_fixed_and_negligible() {
    // CVE-2011-3374: `- apt <unfixed> (unimportant; bug #642480)`, no bookworm line → inherited
    let r = run(&bookworm(vec![pkg(PackageType::Deb, "apt", "2.6.1", None)]));
    let f = find(&r, "CVE-2011-3374", "apt").expect("CVE-2011-3374 not reported");
    assert_eq!(f.fix_state, FixState::NotFixed);
    assert_eq!(f.fixed_in, None);
    assert_eq!(f.severity, Severity::Negligible);
}

#[test]
fn wont_fix_is_marked() {
    // CVE-2023-29383: `[bookworm] - shadow <no-dsa> (Minor issue)` although unstable is fixed in 1:4.13+dfsg1-2;
    // CVE-2023-4016: `[bookworm] - procps <no-dsa>`
    let r = run(&bookworm(vec![
        pkg(PackageType::Deb, "passwd", "1:4.13+dfsg1-1", Some("shadow")),
        pkg(PackageType::Deb, "procps", "2:4.0.2-3", None),
    ]));
    let f = find(&r, "CVE-2023-29383", "passwd").expect("CVE-2023-29383 not reported");
    assert_eq!(f.fix_state, FixState::WontFix);
    assert_eq!(f.fixed_in, None);
    let f = find(&r, "CVE-2023-4016", "procps").expect("CVE-2023-4016 not reported");
    assert_eq!(f.fix_state, FixState::WontFix);
}

#[test]
fn not_affected_release_line_wins_over_unstable() {
    // CVE-2023-4911: `[buster] - glibc <not-affected>` while unstable is fixed in 2.37-12
    let mut s = bookworm(vec![pkg(
        PackageType::Deb,
        "libc6",
        "2.28-10",
        Some("glibc"),
    )]);
    s.distro.as_mut().unwrap().version_id = Some("10".into());
    let r = run(&s);
    assert!(find(&r, "CVE-2023-4911", "libc6").is_none());
}

#[test]
fn language_packages_by_ecosystem() {
    // PYSEC-2023-74: requests introduced 2.3.0, fixed 2.31.0
    // node security-wg 1.json: bassmaster <=1.5.1, patched >=1.5.2 (CVE-2014-7205)
    // GO-2020-0014: golang.org/x/net fixed 0.0.0-20190125091013-d26f9f9a57f3
    let sbom = |req: &str, bm: &str, net: &str| Sbom {
        packages: vec![
            pkg(PackageType::Python, "Requests", req, None),
            pkg(PackageType::Npm, "bassmaster", bm, None),
            pkg(PackageType::GoModule, "golang.org/x/net", net, None),
        ],
        ..Default::default()
    };
    let r = run(&sbom(
        "2.30.0",
        "1.5.1",
        "v0.0.0-20180724234803-3673e40ba225",
    ));
    let f = find(&r, "PYSEC-2023-74", "Requests").expect("PYSEC-2023-74 not reported");
    assert_eq!(f.fixed_in.as_deref(), Some("2.31.0"));
    assert_eq!(f.namespace, "pypi");
    let f = find(&r, "CVE-2014-7205", "bassmaster").expect("bassmaster not reported");
    assert_eq!(f.fixed_in.as_deref(), Some("1.5.2"));
    assert_eq!(f.severity, Severity::Medium, "cvss_score 6.5");
    let f = find(&r, "GO-2020-0014", "golang.org/x/net").expect("GO-2020-0014 not reported");
    assert_eq!(
        f.fixed_in.as_deref(),
        Some("0.0.0-20190125091013-d26f9f9a57f3")
    );
    assert!(f.aliases.iter().any(|a| a == "CVE-2018-17846"));

    let r = run(&sbom(
        "2.31.0",
        "1.5.2",
        "v0.0.0-20190125091013-d26f9f9a57f3",
    ));
    assert!(find(&r, "PYSEC-2023-74", "Requests").is_none());
    assert!(find(&r, "CVE-2014-7205", "bassmaster").is_none());
    assert!(find(&r, "GO-2020-0014", "golang.org/x/net").is_none());
}

#[test]
fn matching_is_a_pure_function_of_sbom_and_db() {
    let s = bookworm(vec![
        pkg(PackageType::Deb, "libc6", "2.36-9+deb12u2", Some("glibc")),
        pkg(PackageType::Deb, "apt", "2.6.1", None),
    ]);
    let db = VulnDb::open(db_path()).unwrap();
    let a = db.match_sbom(&s).unwrap();
    let b = db.match_sbom(&s).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.db_version, db.db_version().unwrap());
}

#[test]
fn owned_index_is_shareable_across_threads() {
    let idx = std::sync::Arc::new(VulnDb::open(db_path()).unwrap().load_index().unwrap());
    let s = bookworm(vec![pkg(PackageType::Deb, "apt", "2.6.1", None)]);
    let t = {
        let idx = idx.clone();
        let s = s.clone();
        std::thread::spawn(move || idx.match_sbom(&s))
    };
    assert_eq!(t.join().unwrap(), idx.match_sbom(&s));
    assert!(find(&idx.match_sbom(&s), "CVE-2011-3374", "apt").is_some());
}

fn distro(id: &str, version: &str, packages: Vec<Package>) -> Sbom {
    Sbom {
        distro: Some(Distro {
            id: id.into(),
            version_id: Some(version.into()),
            ..Default::default()
        }),
        packages,
        ..Default::default()
    }
}

#[test]
fn alpine_secdb_by_origin_name() {
    // alpine-secdb v3.11 main: openssl secfixes `1.1.1d-r3: [CVE-2019-1551]`; binary libssl1.1, origin openssl
    let p = |v| {
        let mut p = pkg(PackageType::Apk, "libssl1.1", v, Some("openssl"));
        p.location = "/lib/apk/db/installed".into();
        p
    };
    let r = run(&distro("alpine", "3.11.6", vec![p("1.1.1d-r2")]));
    let f = find(&r, "CVE-2019-1551", "libssl1.1").expect("CVE-2019-1551 not reported");
    assert_eq!(f.fixed_in.as_deref(), Some("1.1.1d-r3"));
    assert_eq!(f.namespace, "alpine:3.11");
    let r = run(&distro("alpine", "3.11.6", vec![p("1.1.1d-r3")]));
    assert!(find(&r, "CVE-2019-1551", "libssl1.1").is_none());
}

#[test]
fn debian_tracker_json_dump() {
    // vunnel debian.json: prototypejs CVE-2008-7220 stretch resolved, fixed_version 1.6.0.2-1, urgency high**;
    // chromium CVE-2022-0456 buster open, urgency end-of-life
    let r = run(&distro(
        "debian",
        "9",
        vec![pkg(
            PackageType::Deb,
            "libjs-prototype",
            "1.6.0.1-1",
            Some("prototypejs"),
        )],
    ));
    let f = find(&r, "CVE-2008-7220", "libjs-prototype").expect("CVE-2008-7220 not reported");
    assert_eq!(f.fixed_in.as_deref(), Some("1.6.0.2-1"));
    assert_eq!(f.severity, Severity::High);
    let r = run(&distro(
        "debian",
        "10",
        vec![pkg(
            PackageType::Deb,
            "chromium",
            "90.0.4430.212-1~deb10u1",
            None,
        )],
    ));
    let f = find(&r, "CVE-2022-0456", "chromium").expect("CVE-2022-0456 not reported");
    assert_eq!(f.fix_state, FixState::WontFix);
}

#[test]
fn rubygems_patched_versions() {
    // rubysec rack CVE-2013-0183: patched_versions `~> 1.3.8`, `>= 1.4.3`
    let r = run(&Sbom {
        packages: vec![
            pkg(PackageType::Gem, "rack", "1.4.2", None),
            pkg(PackageType::Gem, "rack", "1.3.9", None),
        ],
        ..Default::default()
    });
    let hits: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.id == "CVE-2013-0183")
        .collect();
    assert_eq!(hits.len(), 1, "only 1.4.2 is vulnerable: {hits:?}");
    assert_eq!(hits[0].package_version, "1.4.2");
    assert_eq!(hits[0].fixed_in.as_deref(), Some("1.4.3"));
}

/// `portcullis scan -o cyclonedx-json` output (CycloneDX 1.6 with vulnerabilities) passes cyclonedx-python-lib's
/// strict JSON-schema validation (venv from `scripts/setup.d/21-sbom.sh`).
#[test]
fn scan_cyclonedx_passes_strict_schema_validation() {
    let venv = PathBuf::from(std::env::var_os("HOME").expect("HOME"))
        .join(".cache/portcullis/sbom-validators");
    assert!(
        venv.join(".complete").is_file(),
        "{} missing: run scripts/setup.d/21-sbom.sh",
        venv.display()
    );
    let sbom = bookworm(vec![pkg(
        PackageType::Deb,
        "libgnutls30",
        "3.7.9-2",
        Some("gnutls28"),
    )]);
    let r = run(&sbom);
    assert!(!r.findings.is_empty());
    let doc =
        portcullis_vuln::report::render(&r, &sbom, portcullis_vuln::report::Format::CycloneDxJson);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scan.cdx.json");
    std::fs::write(&file, doc).unwrap();
    let script = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
with open(sys.argv[1]) as f:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(f.read())
print(error if error else "valid")
sys.exit(1 if error else 0)
"#;
    let out = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", script])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
