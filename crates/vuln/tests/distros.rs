//! rpm and apk distributions end to end: real advisories (AlmaLinux, Rocky, Red Hat and SUSE OSV; Red Hat CSAF
//! advisories and CSAF VEX; Amazon Linux
//! updateinfo; Wolfi and Chainguard OSV/secdb/advisories) imported into a real SQLite database, matched against root filesystems whose
//! package databases were written by the real `rpm` (packages built with `rpmbuild`, names and versions taken
//! from the advisories) or in the apk `installed` format, catalogued by the real sbom code with their os-release.
//! Expected fixed versions are quoted from the records next to each assertion.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use portcullis_image::FsView;
use portcullis_sbom::{ImageMetadata, Sbom};
use portcullis_vuln::report::{Format, render};
use portcullis_vuln::{Finding, FixState, MatchReport, VulnDb};

fn shared() -> PathBuf {
    std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
}

/// The advisory sources of these distributions (not all of vulndata: these tests are about them).
const SOURCES: [&str; 13] = [
    "vuls-data-update/pkg/fetch/amazon/testdata/fixtures",
    "vuln-list-update/amazon/testdata/fixtures",
    "almalinux-osv-database",
    "vunnel/tests/unit/providers/rocky/test-fixtures/osv",
    "osv-schema/tools/redhat/testdata/OSV",
    "vuls-data-update/pkg/fetch/suse/osv",
    "vunnel/tests/unit/providers/chainguard/test-fixtures/input",
    "vunnel/tests/unit/providers/wolfi/test-fixtures/input",
    "vuls-data-update/pkg/fetch/chainguard/osv",
    "wolfi-advisories",
    // Red Hat CSAF VEX per CVE and CSAF advisories
    "vuls-data-update/pkg/fetch/redhat/vex/v1/testdata/fixtures",
    "claircore/rhel/vex/testdata",
    "vunnel/tests/unit/providers/rhel/test-fixtures/csaf",
];

fn db_path() -> &'static PathBuf {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vuln.db");
        let mut db = VulnDb::open(&path).unwrap();
        for src in SOURCES {
            let p = shared().join("vulndata").join(src);
            assert!(p.is_dir(), "{} missing", p.display());
            db.import(p.to_str().unwrap()).unwrap();
        }
        (dir, path)
    })
    .1
}

/// Builds an empty noarch rpm `name-[epoch:]version-release` with the real `rpmbuild` into `out`.
fn build_rpm(out: &Path, name: &str, evr: &str) -> PathBuf {
    let (epoch, vr) = match evr.split_once(':') {
        Some((e, vr)) => (Some(e), vr),
        None => (None, evr),
    };
    let (version, release) = vr.rsplit_once('-').unwrap();
    let top = out.join(format!("top-{name}-{}", evr.replace(':', "_")));
    std::fs::create_dir_all(&top).unwrap();
    let spec = top.join("p.spec");
    let epoch_line = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    std::fs::write(
        &spec,
        format!(
            "Name: {name}\n{epoch_line}Version: {version}\nRelease: {release}\nSummary: test\n\
             License: MIT\nBuildArch: noarch\n%description\ntest\n%files\n"
        ),
    )
    .unwrap();
    let st = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg(&spec)
        .output()
        .expect("rpmbuild (Debian package `rpm`, scripts/setup.d/30-vuln.sh) must be installed");
    assert!(
        st.status.success(),
        "rpmbuild: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    top.join("RPMS/noarch")
        .join(format!("{name}-{vr}.noarch.rpm"))
}

/// A root filesystem with `os_release` and an rpm SQLite database holding `packages` (name, evr), installed by
/// the real `rpm`.
fn rpm_root(tmp: &Path, os_release: &str, packages: &[(&str, &str)]) -> PathBuf {
    let root = tmp.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/os-release"), os_release).unwrap();
    let rpm = |args: &[&str]| {
        let st = Command::new("rpm")
            .arg("--root")
            .arg(&root)
            .args(["--dbpath", "/var/lib/rpm", "--define", "_db_backend sqlite"])
            .args(args)
            .output()
            .expect("rpm must be installed");
        assert!(
            st.status.success(),
            "rpm {args:?}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
    };
    rpm(&["--initdb"]);
    let files: Vec<PathBuf> = packages
        .iter()
        .map(|(n, evr)| build_rpm(tmp, n, evr))
        .collect();
    let mut args = vec!["-i", "--nodeps", "--justdb", "--noscripts"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    rpm(&args);
    root
}

fn scan(root: &Path) -> (Sbom, MatchReport) {
    let mut fs = FsView::from_dir(root, &portcullis_sbom::wanted).unwrap();
    fs.layer_digests = vec!["sha256:dir".into()];
    let sbom = portcullis_sbom::catalog(&fs, "dir", ImageMetadata::default()).unwrap();
    let report = VulnDb::open(db_path()).unwrap().match_sbom(&sbom).unwrap();
    (sbom, report)
}

fn find<'a>(r: &'a MatchReport, id: &str, pkg: &str, version: &str) -> Option<&'a Finding> {
    r.findings
        .iter()
        .find(|f| f.id == id && f.package_name == pkg && f.package_version == version)
}

fn fixed<'a>(r: &'a MatchReport, id: &str, pkg: &str, version: &str) -> &'a str {
    let f = find(r, id, pkg, version)
        .unwrap_or_else(|| panic!("{id} on {pkg} {version} not found: {:#?}", r.findings));
    assert_eq!(f.fix_state, FixState::Fixed, "{f:?}");
    f.fixed_in.as_deref().unwrap()
}

#[test]
fn almalinux_9_epoch_and_fixed_version() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rpm_root(
        tmp.path(),
        "NAME=\"AlmaLinux\"\nVERSION=\"9.0 (Emerald Puma)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\n\
         VERSION_ID=\"9.0\"\n",
        &[
            // ALSA-2022:4587: pcs fixed 0.11.1-10.el9
            ("pcs", "0.11.1-9.el9"),
            ("pcs-snmp", "0.11.1-10.el9"),
            // ALSA-2022:5099: grub2-tools fixed 1:2.06-27.el9_0.7.alma; epoch 0 sorts below epoch 1 whatever
            // the version
            ("grub2-tools", "1:2.06-27.el9_0.6"),
            ("grub2-tools-minimal", "2.07-1.el9"),
            ("grub2-tools-extra", "1:2.06-27.el9_0.7.alma"),
        ],
    );
    let (sbom, r) = scan(&root);
    assert_eq!(sbom.packages.len(), 5, "{:?}", sbom.packages);
    assert!(r.unmatched.is_empty(), "{:?}", r.unmatched);
    assert_eq!(
        fixed(&r, "ALSA-2022:4587", "pcs", "0.11.1-9.el9"),
        "0.11.1-10.el9"
    );
    let f = find(&r, "ALSA-2022:4587", "pcs", "0.11.1-9.el9").unwrap();
    assert_eq!(f.namespace, "almalinux:9");
    assert!(f.aliases.contains(&"CVE-2022-29970".to_string()), "{f:?}");
    assert!(find(&r, "ALSA-2022:4587", "pcs-snmp", "0.11.1-10.el9").is_none());
    assert_eq!(
        fixed(&r, "ALSA-2022:5099", "grub2-tools", "1:2.06-27.el9_0.6"),
        "1:2.06-27.el9_0.7.alma"
    );
    assert_eq!(
        fixed(&r, "ALSA-2022:5099", "grub2-tools-minimal", "2.07-1.el9"),
        "1:2.06-27.el9_0.7.alma"
    );
    assert!(
        find(
            &r,
            "ALSA-2022:5099",
            "grub2-tools-extra",
            "1:2.06-27.el9_0.7.alma"
        )
        .is_none()
    );
}

#[test]
fn rocky_9_module_stream_fix_applies_to_module_builds_only() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rpm_root(
        tmp.path(),
        "NAME=\"Rocky Linux\"\nVERSION=\"9.4 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n\
         VERSION_ID=\"9.4\"\n",
        &[
            // RLSA-2024:3671: ruby (module ruby:3.3) fixed 0:3.3.1-2.module+el9.4.0+20787+4c237fd3
            ("ruby", "3.3.0-1.module+el9.3.0+20000+aaaaaaaa"),
            // the non-module ruby 3.0 of the base OS is another build: that advisory is not about it
            ("rubygem-pg", "1.2.3-7.el9"),
        ],
    );
    let (_, r) = scan(&root);
    assert_eq!(
        fixed(
            &r,
            "RLSA-2024:3671",
            "ruby",
            "3.3.0-1.module+el9.3.0+20000+aaaaaaaa"
        ),
        "0:3.3.1-2.module+el9.4.0+20787+4c237fd3"
    );
    assert_eq!(
        find(
            &r,
            "RLSA-2024:3671",
            "ruby",
            "3.3.0-1.module+el9.3.0+20000+aaaaaaaa"
        )
        .unwrap()
        .namespace,
        "rocky:9"
    );
    assert!(
        find(&r, "RLSA-2024:3671", "rubygem-pg", "1.2.3-7.el9").is_none(),
        "{:#?}",
        r.findings
    );
}

#[test]
fn ubi_8_uses_red_hat_data() {
    let tmp = tempfile::tempdir().unwrap();
    // os-release of registry.access.redhat.com/ubi8/ubi-minimal
    let root = rpm_root(
        tmp.path(),
        "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"8.6 (Ootpa)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\n\
         VERSION_ID=\"8.6\"\nPLATFORM_ID=\"platform:el8\"\n",
        &[
            // RHSA-2024:4546 (rhel_aus/e4s/tus 8.6 appstream): git-lfs fixed 0:2.13.3-3.el8_6.1
            ("git-lfs", "2.13.3-3.el8_6"),
            ("git-lfs-debugsource", "2.13.3-3.el8_6.1"),
        ],
    );
    let (_, r) = scan(&root);
    assert_eq!(
        fixed(&r, "RHSA-2024:4546", "git-lfs", "2.13.3-3.el8_6"),
        "0:2.13.3-3.el8_6.1"
    );
    assert!(
        find(
            &r,
            "RHSA-2024:4546",
            "git-lfs-debugsource",
            "2.13.3-3.el8_6.1"
        )
        .is_none()
    );
}

#[test]
fn sles_12_uses_suse_data() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rpm_root(
        tmp.path(),
        "NAME=\"SLES\"\nVERSION=\"12-SP5\"\nVERSION_ID=\"12.5\"\nID=\"sles\"\nID_LIKE=\"suse\"\n",
        &[
            // openSUSE-SU-2016:1623-1 (SUSE:Package Hub 12): imlib2 fixed 1.4.5-5.1, mosh fixed 1.2.5-8.1
            ("imlib2", "1.4.5-4.1"),
            ("mosh", "1.2.5-8.1"),
        ],
    );
    let (_, r) = scan(&root);
    let f = find(&r, "openSUSE-SU-2016:1623-1", "imlib2", "1.4.5-4.1").expect("imlib2 finding");
    assert_eq!(f.namespace, "sles:12");
    assert_eq!(f.fixed_in.as_deref(), Some("1.4.5-5.1"));
    assert!(f.aliases.contains(&"CVE-2016-1704".to_string()), "{f:?}");
    assert!(find(&r, "openSUSE-SU-2016:1623-1", "mosh", "1.2.5-8.1").is_none());
    // Coverage looks where matching looked: the service pack's packages were matched against sles:12.
    let cov = r.coverage.as_ref().expect("coverage recorded");
    assert_eq!(cov.distro_namespace.as_deref(), Some("sles:12.5"));
    assert!(cov.distro_covered, "{cov:?}");
    assert_eq!(cov.packages_without_data_count, 0, "{cov:?}");
    assert!(r.unmatched.is_empty(), "{:?}", r.unmatched);
}

#[test]
fn amazon_linux_2023_and_2_from_updateinfo() {
    let tmp = tempfile::tempdir().unwrap();
    let root = rpm_root(
        tmp.path(),
        "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n",
        &[
            // updateinfo_2023: ALAS2023-2023-001 rsyslog fixed 8.2204.0-3.amzn2023.0.2 (epoch 0)
            ("rsyslog", "8.2204.0-3.amzn2023"),
            ("rsyslog-mmaudit", "8.2204.0-3.amzn2023.0.2"),
        ],
    );
    let (_, r) = scan(&root);
    assert_eq!(
        fixed(&r, "ALAS2023-2023-001", "rsyslog", "8.2204.0-3.amzn2023"),
        "8.2204.0-3.amzn2023.0.2"
    );
    let f = find(&r, "ALAS2023-2023-001", "rsyslog", "8.2204.0-3.amzn2023").unwrap();
    assert_eq!(f.namespace, "amazon:2023");
    assert!(f.aliases.contains(&"CVE-2022-24903".to_string()), "{f:?}");
    assert!(
        find(
            &r,
            "ALAS2023-2023-001",
            "rsyslog-mmaudit",
            "8.2204.0-3.amzn2023.0.2"
        )
        .is_none()
    );

    let tmp2 = tempfile::tempdir().unwrap();
    let root = rpm_root(
        tmp2.path(),
        "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n",
        // updateinfo_2: ALAS2-2018-939 kernel fixed 4.9.76-38.79.amzn2; the 2023 rsyslog fix is not for AL2
        &[
            ("kernel", "4.9.75-1.56.amzn2"),
            ("rsyslog", "8.24.0-57.amzn2"),
        ],
    );
    let (_, r) = scan(&root);
    assert_eq!(
        fixed(&r, "ALAS2-2018-939", "kernel", "4.9.75-1.56.amzn2"),
        "4.9.76-38.79.amzn2"
    );
    assert!(
        r.findings.iter().all(|f| f.id != "ALAS2023-2023-001"),
        "{:#?}",
        r.findings
    );
}

#[test]
fn ubi_9_uses_red_hat_csaf_vex() {
    let tmp = tempfile::tempdir().unwrap();
    // os-release of registry.access.redhat.com/ubi9/ubi-minimal
    let root = rpm_root(
        tmp.path(),
        "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\n\
         VERSION_ID=\"9.4\"\nPLATFORM_ID=\"platform:el9\"\nVARIANT=\"Red Hat Enterprise Linux Minimal\"\n",
        &[
            // CVE-2023-6237 VEX: fixed in AppStream-9.4.0.GA:openssl-libs-1:3.0.7-27.el9 (epoch 1)
            ("openssl-libs", "1:3.0.7-24.el9"),
            // CVE-2023-6212 VEX: fixed in 9.0 EUS 115.5.0-1.el9_0, 9.2 EUS …el9_2, main AppStream-9.3.0.Z.MAIN
            // 115.5.0-1.el9_3: the main stream's fix is the one an image follows
            ("firefox", "115.4.0-1.el9_2"),
            // CVE-2023-4154 VEX: known_not_affected red_hat_enterprise_linux_9:samba
            ("samba", "4.18.6-100.el9"),
            // CVE-2023-6237 VEX: known_not_affected BaseOS-9.4.0.GA:openssl-fips-provider-0:3.0.7-2.el9
            ("openssl-fips-provider", "3.0.7-2.el9"),
        ],
    );
    let (_, r) = scan(&root);
    assert!(r.unmatched.is_empty(), "{:?}", r.unmatched);
    assert_eq!(
        fixed(&r, "CVE-2023-6237", "openssl-libs", "1:3.0.7-24.el9"),
        "1:3.0.7-27.el9"
    );
    assert_eq!(
        fixed(&r, "CVE-2023-6212", "firefox", "115.4.0-1.el9_2"),
        "115.5.0-1.el9_3"
    );
    // the VEX document's impact ("important") is the finding's severity
    let f = find(&r, "CVE-2023-6212", "firefox", "115.4.0-1.el9_2").unwrap();
    assert_eq!(f.severity, portcullis_vuln::Severity::High);
    assert!(
        find(&r, "CVE-2023-4154", "samba", "4.18.6-100.el9").is_none(),
        "{:#?}",
        r.findings
    );
    assert!(
        find(&r, "CVE-2023-6237", "openssl-fips-provider", "3.0.7-2.el9").is_none(),
        "{:#?}",
        r.findings
    );
    // an installed fixed version is not reported
    let tmp = tempfile::tempdir().unwrap();
    let root = rpm_root(
        tmp.path(),
        "ID=\"rhel\"\nVERSION_ID=\"9.4\"\n",
        &[("openssl-libs", "1:3.0.7-27.el9")],
    );
    let (_, r) = scan(&root);
    assert!(
        find(&r, "CVE-2023-6237", "openssl-libs", "1:3.0.7-27.el9").is_none(),
        "{:#?}",
        r.findings
    );
}

#[test]
fn a_release_without_data_is_reported_not_checked() {
    let tmp = tempfile::tempdir().unwrap();
    // the database has Red Hat, AlmaLinux, Rocky, SUSE and Amazon data but none for Oracle Linux (its OVAL is not
    // imported): an Oracle Linux 9 image is not covered
    let root = rpm_root(
        tmp.path(),
        "NAME=\"Oracle Linux Server\"\nVERSION=\"9.4\"\nID=\"ol\"\nID_LIKE=\"fedora\"\n\
         VERSION_ID=\"9.4\"\n",
        &[("git-lfs", "2.13.3-3.el8_6"), ("bash", "5.1.8-9.el9")],
    );
    let (sbom, r) = scan(&root);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.unmatched.len(), 1, "{:?}", r.unmatched);
    let u = &r.unmatched[0];
    assert_eq!((u.namespace.as_str(), u.packages), ("ol:9", 2));
    assert!(
        u.reason.contains("no vulnerability data for `ol:9`"),
        "{}",
        u.reason
    );
    let table = render(&r, &sbom, Format::Table);
    assert!(
        table.contains("NOT CHECKED: 2 rpm package(s): no vulnerability data for `ol:9`"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&render(&r, &sbom, Format::Json)).unwrap();
    assert_eq!(json["unmatched"][0]["namespace"], "ol:9");
    assert_eq!(json["unmatched"][0]["packages"], 2);
    let sarif: serde_json::Value = serde_json::from_str(&render(&r, &sbom, Format::Sarif)).unwrap();
    let note = &sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"][0];
    assert_eq!(note["level"], "warning");
    assert!(
        note["message"]["text"].as_str().unwrap().contains("ol:9"),
        "{note}"
    );

    // an unrecognised distribution is said too
    let tmp = tempfile::tempdir().unwrap();
    let root = rpm_root(
        tmp.path(),
        "ID=madeup\nVERSION_ID=1\n",
        &[("bash", "5.1.8-9")],
    );
    let (_, r) = scan(&root);
    assert_eq!(r.unmatched.len(), 1, "{:?}", r.unmatched);
    assert!(
        r.unmatched[0].reason.contains("madeup:1"),
        "{:?}",
        r.unmatched
    );
}

/// A root filesystem with `os_release` and an apk `installed` database (the format of Alpine's, which Wolfi and
/// Chainguard share) listing `packages` (name, version).
fn apk_root(tmp: &Path, os_release: &str, packages: &[(&str, &str)]) -> PathBuf {
    let root = tmp.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("lib/apk/db")).unwrap();
    std::fs::write(root.join("etc/os-release"), os_release).unwrap();
    let db: String = packages
        .iter()
        .map(|(n, v)| format!("C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:{n}\nV:{v}\nA:x86_64\nS:1000\nI:4096\nT:{n}\nL:Apache-2.0\no:{n}\n\n"))
        .collect();
    std::fs::write(root.join("lib/apk/db/installed"), db).unwrap();
    root
}

#[test]
fn wolfi_advisories_fixed_and_not_affected() {
    let tmp = tempfile::tempdir().unwrap();
    let root = apk_root(
        tmp.path(),
        "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\n",
        &[
            // aactl.advisories.yaml CGA-296v-fx37-w4p4 (CVE-2024-45341): fixed-version 0.4.12-r22;
            // CGA-7ggg-m3hv-6chj (CVE-2023-45283): false-positive-determination
            ("aactl", "0.4.12-r21"),
        ],
    );
    let (sbom, r) = scan(&root);
    assert_eq!(sbom.packages.len(), 1, "{:?}", sbom.packages);
    assert_eq!(
        fixed(&r, "CGA-296v-fx37-w4p4", "aactl", "0.4.12-r21"),
        "0.4.12-r22"
    );
    let f = find(&r, "CGA-296v-fx37-w4p4", "aactl", "0.4.12-r21").unwrap();
    assert_eq!(f.namespace, "wolfi");
    assert!(f.aliases.contains(&"CVE-2024-45341".to_string()), "{f:?}");
    assert!(find(&r, "CGA-7ggg-m3hv-6chj", "aactl", "0.4.12-r21").is_none());
    assert!(
        r.findings.iter().all(|f| f.id != "CVE-2023-45283"),
        "{:#?}",
        r.findings
    );
}

#[test]
fn chainguard_osv_fixed_and_not_affected() {
    let tmp = tempfile::tempdir().unwrap();
    let root = apk_root(
        tmp.path(),
        "ID=chainguard\nNAME=\"Chainguard\"\nPRETTY_NAME=\"Chainguard\"\n",
        &[
            // CGA-xcpc-gm23-prj9 (Chainguard): syncthing fixed 2.0.14-r1, syncthing-compat `fixed: 0`
            ("syncthing", "2.0.13-r0"),
            ("syncthing-compat", "2.0.13-r0"),
        ],
    );
    let (_, r) = scan(&root);
    assert_eq!(
        fixed(&r, "CGA-xcpc-gm23-prj9", "syncthing", "2.0.13-r0"),
        "2.0.14-r1"
    );
    assert_eq!(
        find(&r, "CGA-xcpc-gm23-prj9", "syncthing", "2.0.13-r0")
            .unwrap()
            .namespace,
        "chainguard"
    );
    assert!(find(&r, "CGA-xcpc-gm23-prj9", "syncthing-compat", "2.0.13-r0").is_none());
}

#[test]
fn namespaces_from_real_os_release_files() {
    // syft's os-release fixtures (real files of those distributions)
    let os = shared().join("vulndata/syft/syft/linux/testdata/os");
    let cases = [
        (
            "almalinux/from-os-release/etc/os-release",
            Some("almalinux:8"),
        ),
        ("rockylinux/from-os-release/etc/os-release", Some("rocky:8")),
        ("redhat/from-os-release/usr/lib/os-release", Some("rhel:7")),
        ("centos/usr/lib/os-release", Some("rhel:8")),
        ("amazon/etc/os-release", Some("amazon:2")),
        ("sles/etc/os-release", Some("sles:15.2")),
        ("opensuse-leap/etc/os-release", Some("opensuse-leap:15.2")),
        ("wolfi/etc/os-release", Some("wolfi")),
    ];
    for (file, want) in cases {
        let text = std::fs::read_to_string(os.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let d = portcullis_sbom::distro::parse_os_release(&text).expect(file);
        assert_eq!(
            portcullis_vuln::distro_namespace(&d).as_deref(),
            want,
            "{file}"
        );
    }
    // variants as their images write them
    for (text, want) in [
        // UBI 9 minimal / micro: ID=rhel
        (
            "ID=\"rhel\"\nVERSION_ID=\"9.4\"\nVARIANT=\"Red Hat Enterprise Linux Minimal\"\n",
            "rhel:9",
        ),
        // CentOS Stream 9
        (
            "ID=\"centos\"\nVERSION_ID=\"9\"\nNAME=\"CentOS Stream\"\n",
            "rhel:9",
        ),
        ("ID=\"amzn\"\nVERSION_ID=\"2023\"\n", "amazon:2023"),
        ("ID=\"amzn\"\nVERSION_ID=\"2018.03\"\n", "amazon:1"),
        ("ID=\"sle-micro\"\nVERSION_ID=\"5.5\"\n", "sle-micro:5.5"),
        (
            "ID=\"opensuse-tumbleweed\"\nVERSION_ID=\"20240101\"\n",
            "opensuse-tumbleweed",
        ),
        ("ID=chainguard\nNAME=\"Chainguard\"\n", "chainguard"),
    ] {
        let d = portcullis_sbom::distro::parse_os_release(text).unwrap();
        assert_eq!(
            portcullis_vuln::distro_namespace(&d).as_deref(),
            Some(want),
            "{text}"
        );
    }
}
