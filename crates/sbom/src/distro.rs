//! Distro detection: `os-release` first (`/etc/os-release`, then `/usr/lib/os-release`), then the older release
//! files (`/etc/system-release-cpe`, `/etc/redhat-release` and friends, `/etc/alpine-release`,
//! `/etc/debian_version`, `/etc/lsb-release`) and finally BusyBox's version string.

use portcullis_image::FsView;
use regex::Regex;

use crate::{Distro, Error, fsutil};

const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];
const RELEASE_FILES: [&str; 7] = [
    "/etc/system-release-cpe",
    "/etc/redhat-release",
    "/etc/centos-release",
    "/etc/rocky-release",
    "/etc/almalinux-release",
    "/etc/fedora-release",
    "/etc/system-release",
];
const BUSYBOX: &str = "/bin/busybox";

/// True for the files distro detection reads.
pub fn wanted(path: &str) -> bool {
    OS_RELEASE.contains(&path)
        || RELEASE_FILES.contains(&path)
        || matches!(
            path,
            "/etc/alpine-release" | "/etc/debian_version" | "/etc/lsb-release" | "/usr/bin/busybox"
        )
        || path == BUSYBOX
}

/// Parses `os-release` text (systemd's format: `KEY=value`, shell-style quoting). Unknown lines are ignored, as
/// systemd does. Returns `None` when the file names neither an `ID` nor a `NAME` nor a `VERSION_ID`.
pub fn parse_os_release(text: &str) -> Option<Distro> {
    let mut fields = std::collections::HashMap::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        fields.insert(k.trim().to_string(), unquote(v.trim()));
    }
    let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
    if get("ID").is_none() && get("NAME").is_none() && get("VERSION_ID").is_none() {
        return None;
    }
    Some(Distro {
        // os-release(5): "If not set, a default of ID=linux may be used."
        id: get("ID").unwrap_or_else(|| "linux".into()).to_lowercase(),
        version_id: get("VERSION_ID"),
        codename: get("VERSION_CODENAME").or_else(|| get("UBUNTU_CODENAME")),
        id_like: get("ID_LIKE")
            .map(|s| s.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        pretty_name: get("PRETTY_NAME").or_else(|| get("NAME")),
    })
}

fn unquote(v: &str) -> String {
    let quoted = v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')));
    if !quoted {
        return v.to_string();
    }
    let inner = &v[1..v.len() - 1];
    if v.starts_with('\'') {
        return inner.to_string();
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses a `redhat-release`-style line (`CentOS release 5.7 (Final)`,
/// `Red Hat Enterprise Linux release 8.10 (Ootpa)`) or a `system-release-cpe` (`cpe:/o:centos:linux:6:GA`).
pub fn parse_release_line(text: &str) -> Option<Distro> {
    let line = text.lines().next()?.trim();
    if let Some(cpe) = line
        .strip_prefix("cpe:/o:")
        .or_else(|| line.strip_prefix("cpe:2.3:o:"))
    {
        let parts: Vec<&str> = cpe.split(':').collect();
        let vendor = parts.first().copied().filter(|s| !s.is_empty())?;
        let id = match vendor {
            "redhat" => "rhel",
            "fedoraproject" => "fedora",
            "rocky" => "rocky",
            v => v,
        };
        return Some(Distro {
            id: id.to_string(),
            // `cpe:/o:centos:linux:6:GA`; tolerate a missing product part (`cpe:/o:centos:6:GA`).
            version_id: parts
                .iter()
                .skip(1)
                .find(|s| s.starts_with(|c: char| c.is_ascii_digit()))
                .map(|s| s.to_string()),
            pretty_name: Some(line.to_string()),
            ..Distro::default()
        });
    }
    let re = Regex::new(r"^(?P<name>.+?)\s+release\s+(?P<version>[0-9][0-9.]*)").ok()?;
    let caps = re.captures(line)?;
    let name = caps["name"].to_lowercase();
    let id = if name.starts_with("red hat") {
        "rhel"
    } else if name.starts_with("centos") {
        "centos"
    } else if name.starts_with("rocky") {
        "rocky"
    } else if name.starts_with("almalinux") {
        "almalinux"
    } else if name.starts_with("scientific") {
        "scientific"
    } else if name.starts_with("fedora") {
        "fedora"
    } else if name.starts_with("oracle") {
        "ol"
    } else if name.starts_with("amazon") {
        "amzn"
    } else {
        return Some(Distro {
            id: name
                .split_whitespace()
                .next()
                .unwrap_or("linux")
                .to_string(),
            version_id: Some(caps["version"].to_string()),
            pretty_name: Some(line.to_string()),
            ..Distro::default()
        });
    };
    Some(Distro {
        id: id.to_string(),
        version_id: Some(caps["version"].to_string()),
        pretty_name: Some(line.to_string()),
        id_like: if id == "rhel" || id == "fedora" {
            vec![]
        } else {
            vec!["rhel".into()]
        },
        ..Distro::default()
    })
}

/// Finds `BusyBox v1.31.1` in a busybox binary.
fn busybox_version(bytes: &[u8]) -> Option<String> {
    let needle = b"BusyBox v";
    let pos = bytes.windows(needle.len()).position(|w| w == needle)?;
    let rest = &bytes[pos + needle.len()..];
    let end = rest
        .iter()
        .position(|b| !(b.is_ascii_digit() || *b == b'.'))
        .unwrap_or(rest.len());
    let v = std::str::from_utf8(&rest[..end])
        .ok()?
        .trim_end_matches('.');
    (!v.is_empty()).then(|| v.to_string())
}

fn read_opt(fs: &FsView, path: &str) -> Result<Option<String>, Error> {
    if fsutil::is_kept_file(fs, path) {
        fsutil::read_text(fs, path).map(Some)
    } else {
        Ok(None)
    }
}

/// Detects the distro of a filesystem view; `None` when nothing identifies one (e.g. `scratch` images).
pub fn detect_distro(fs: &FsView) -> Result<Option<Distro>, Error> {
    let mut found = None;
    for p in OS_RELEASE {
        if let Some(text) = read_opt(fs, p)?
            && let Some(d) = parse_os_release(&text)
        {
            found = Some(d);
            break;
        }
    }
    if let Some(d) = found.as_mut() {
        // Distroless Debian images ship an os-release without VERSION_ID; debian_version has it. Debian itself
        // keeps the point release there (`13.5` where os-release says `13`): report it, matching still uses the
        // major release (`debian:13`).
        if ((d.version_id.is_none() && d.id_like.iter().any(|l| l == "debian")) || d.id == "debian")
            && let Some(v) = read_opt(fs, "/etc/debian_version")?
        {
            let v = v.trim();
            let same_release = d.version_id.as_deref().is_none_or(|major| {
                v == major || v.strip_prefix(major).is_some_and(|r| r.starts_with('.'))
            });
            if v.starts_with(|c: char| c.is_ascii_digit())
                && same_release
                && v.bytes().all(|c| c.is_ascii_digit() || c == b'.')
            {
                d.version_id = Some(v.to_string());
            }
        }
        if d.version_id.is_none()
            && d.id == "alpine"
            && let Some(v) = read_opt(fs, "/etc/alpine-release")?
        {
            d.version_id = Some(v.trim().to_string());
        }
        return Ok(found);
    }
    for p in RELEASE_FILES {
        if let Some(text) = read_opt(fs, p)?
            && let Some(d) = parse_release_line(&text)
        {
            return Ok(Some(d));
        }
    }
    if let Some(v) = read_opt(fs, "/etc/alpine-release")? {
        return Ok(Some(Distro {
            id: "alpine".into(),
            version_id: Some(v.trim().to_string()),
            ..Distro::default()
        }));
    }
    if let Some(v) = read_opt(fs, "/etc/debian_version")? {
        let v = v.trim();
        return Ok(Some(Distro {
            id: "debian".into(),
            version_id: v
                .starts_with(|c: char| c.is_ascii_digit())
                .then(|| v.to_string()),
            codename: (!v.starts_with(|c: char| c.is_ascii_digit()))
                .then(|| v.split('/').next().unwrap_or(v).to_string()),
            ..Distro::default()
        }));
    }
    if let Some(text) = read_opt(fs, "/etc/lsb-release")? {
        let mut d = Distro::default();
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=') {
                let v = unquote(v.trim());
                match k.trim() {
                    "DISTRIB_ID" => d.id = v.to_lowercase(),
                    "DISTRIB_RELEASE" => d.version_id = Some(v),
                    "DISTRIB_CODENAME" => d.codename = Some(v),
                    "DISTRIB_DESCRIPTION" => d.pretty_name = Some(v),
                    _ => {}
                }
            }
        }
        if !d.id.is_empty() {
            return Ok(Some(d));
        }
    }
    for p in [BUSYBOX, "/usr/bin/busybox"] {
        if fsutil::is_kept_file(fs, p)
            && let Some(v) = busybox_version(&fsutil::read(fs, p)?)
        {
            return Ok(Some(Distro {
                id: "busybox".into(),
                version_id: Some(v.clone()),
                pretty_name: Some(format!("BusyBox v{v}")),
                ..Distro::default()
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{syft, view_of};

    fn detect(rel: &str) -> Option<Distro> {
        let root = syft("linux/testdata").join(rel);
        assert!(root.is_dir(), "fixture {} missing", root.display());
        detect_distro(&view_of(&root)).expect("detection must not fail")
    }

    fn idv(d: &Option<Distro>) -> (String, Option<String>) {
        let d = d.as_ref().expect("a distro");
        (d.id.clone(), d.version_id.clone())
    }

    #[test]
    fn every_syft_os_fixture() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("os/almalinux/from-os-release", "almalinux", Some("8.4")),
            (
                "os/almalinux/from-redhat-release",
                "almalinux",
                Some("8.10"),
            ),
            ("os/alpine", "alpine", Some("3.11.6")),
            ("os/amazon", "amzn", Some("2")),
            ("os/arch", "arch", None),
            ("os/busybox", "busybox", Some("1.31.1")),
            ("os/centos", "centos", Some("8")),
            ("os/centos5", "centos", Some("5.7")),
            ("os/centos6", "centos", Some("6")),
            ("os/custom", "scientific", Some("8")),
            ("os/debian/from-debian_version", "debian", Some("10.8")),
            ("os/debian/from-os-release", "debian", Some("8")),
            ("os/debian/with-point-release", "debian", Some("13.5")),
            ("os/fedora", "fedora", Some("36")),
            ("os/mariner", "mariner", Some("1.0")),
            ("os/opensuse-leap", "opensuse-leap", Some("15.2")),
            ("os/oraclelinux", "ol", Some("8.3")),
            ("os/photon", "photon", Some("2.0")),
            ("os/redhat/from-os-release", "rhel", Some("7.3")),
            ("os/redhat/from-redhat-release", "rhel", Some("8.10")),
            ("os/rockylinux/from-os-release", "rocky", Some("8.4")),
            ("os/rockylinux/from-redhat-release", "rocky", Some("8.10")),
            ("os/scientific/from-os-release", "scientific", Some("7.5")),
            (
                "os/scientific/from-redhat-release",
                "scientific",
                Some("7.9"),
            ),
            ("os/sles", "sles", Some("15.2")),
            ("os/ubuntu", "ubuntu", Some("20.04")),
            ("os/wolfi", "wolfi", Some("20220914")),
            ("partial-fields/missing-id", "linux", Some("8")),
            ("partial-fields/missing-version", "linux", None),
            ("partial-fields/unknown-id", "my-awesome-distro", Some("8")),
        ];
        for (dir, id, ver) in cases {
            let d = detect(dir);
            assert_eq!(
                idv(&d),
                (id.to_string(), ver.map(str::to_string)),
                "fixture {dir}"
            );
        }
        assert_eq!(
            detect("os/empty"),
            None,
            "empty os-release identifies nothing"
        );
        let ubuntu = detect("os/ubuntu").unwrap();
        assert_eq!(ubuntu.codename.as_deref(), Some("focal"));
        assert_eq!(ubuntu.id_like, vec!["debian".to_string()]);
        assert_eq!(
            detect("os/debian/with-point-release")
                .unwrap()
                .codename
                .as_deref(),
            Some("trixie")
        );
    }

    #[test]
    fn single_file_fixtures() {
        let dir = syft("linux/testdata");
        let text = |f: &str| std::fs::read_to_string(dir.join(f)).expect("fixture");
        let d = parse_os_release(&text("centos-8")).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("centos", Some("8"))
        );
        assert_eq!(d.id_like, vec!["rhel", "fedora"]);
        let d = parse_os_release(&text("debian-8")).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("debian", Some("8"))
        );
        let d = parse_os_release(&text("ubuntu-20.04")).unwrap();
        assert_eq!(
            (d.id.as_str(), d.codename.as_deref()),
            ("ubuntu", Some("focal"))
        );
        // CRLF line endings must not leak into values.
        let d = parse_os_release(&text("unprintable")).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("debian", Some("8"))
        );
        let d = parse_release_line(&text("bad-redhat-release")).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("centos", Some("5"))
        );
        let d = parse_release_line(&text("bad-system-release-cpe")).unwrap();
        assert_eq!(
            (d.id.as_str(), d.version_id.as_deref()),
            ("centos", Some("6"))
        );
        assert_eq!(parse_release_line("garbage"), None);
        assert_eq!(parse_os_release("no equals here\n# comment\n"), None);
    }
}
