//! Done-when test of issue 2: the package list catalogued from a debootstrap'd Debian bookworm minbase rootfs
//! equals `dpkg-query -W -f '${Package} ${Version} ${source:Package}\n'` exactly.

mod common;

use std::process::Command;

#[test]
fn bookworm_minbase_matches_dpkg_query_exactly() {
    let root = common::bookworm_minbase();
    let out = Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args(["-W", "-f", "${Package} ${Version} ${source:Package}\\n"])
        .output()
        .expect("dpkg-query must be installed (package dpkg)");
    assert!(
        out.status.success(),
        "dpkg-query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    want.sort();
    assert!(
        want.len() > 50,
        "a minbase rootfs has ~90 packages, got {}",
        want.len()
    );

    let fs = common::view_of(&root);
    let sbom = portcullis_sbom::catalog(&fs, "dir:bookworm-minbase", Default::default()).unwrap();
    let mut got: Vec<String> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == portcullis_sbom::PackageType::Deb)
        .map(|p| {
            format!(
                "{} {} {}",
                p.name,
                p.version,
                p.source_name.as_deref().unwrap_or(&p.name)
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want);

    let distro = sbom.distro.expect("distro detected");
    // the point release of /etc/debian_version (`12.12`), not only os-release's `12`
    let point = std::fs::read_to_string(root.join("etc/debian_version")).unwrap();
    assert!(point.trim().starts_with("12."), "{point}");
    assert_eq!(
        (distro.id.as_str(), distro.version_id.as_deref()),
        ("debian", Some(point.trim()))
    );
    assert_eq!(distro.codename.as_deref(), Some("bookworm"));
    // Every package owns files (from info/*.list), and purls carry the distro.
    let libc = sbom
        .packages
        .iter()
        .find(|p| p.name == "libc6")
        .expect("libc6");
    assert_eq!(libc.source_name.as_deref(), Some("glibc"));
    assert!(
        libc.files.iter().any(|f| f.contains("libc.so.6")),
        "{:?}",
        &libc.files[..5.min(libc.files.len())]
    );
    assert!(
        libc.purl.starts_with("pkg:deb/debian/libc6@"),
        "{}",
        libc.purl
    );
    assert!(libc.purl.contains("distro=debian-12"), "{}", libc.purl);
    assert!(sbom.packages.iter().filter(|p| !p.files.is_empty()).count() > want.len() - 5);
    // setuid binaries (su, passwd…) are recorded for the policy files gate.
    assert!(
        sbom.special_files.iter().any(|f| f.path.ends_with("/su")),
        "{:?}",
        sbom.special_files
    );
}
