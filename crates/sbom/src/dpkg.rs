//! dpkg cataloger: `/var/lib/dpkg/status`, distroless `/var/lib/dpkg/status.d/*`, owned files from
//! `info/*.list` (or distroless `status.d/*.md5sums`), licences from DEP-5 `/usr/share/doc/*/copyright`.

use std::collections::BTreeSet;

use portcullis_image::{EntryKind, FsView};

use crate::{Distro, Error, Package, PackageType, fsutil, purl::purl};

const STATUS_FILES: [&str; 2] = ["/var/lib/dpkg/status", "/usr/lib/dpkg/status"];
const STATUS_DIRS: [&str; 2] = ["/var/lib/dpkg/status.d/", "/usr/lib/dpkg/status.d/"];
const INFO_DIR: &str = "/var/lib/dpkg/info/";

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    STATUS_FILES.contains(&path)
        || STATUS_DIRS.iter().any(|d| path.starts_with(d))
        || (path.starts_with(INFO_DIR) && path.ends_with(".list"))
        || (path.starts_with("/usr/share/doc/")
            && path.ends_with("/copyright")
            && path.matches('/').count() == 5)
}

/// One stanza of a deb822 control file: fields in order, continuation lines joined with `\n`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stanza {
    /// `(field, value)` pairs in file order; field names as written.
    pub fields: Vec<(String, String)>,
    /// 1-based line where the stanza starts.
    pub line: usize,
}

impl Stanza {
    /// The value of a field (case-insensitive name, as dpkg treats them).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses deb822 control text (`status`, `status.d/*`) into stanzas. A line that is neither `Field: value` nor
/// a continuation is an error naming its line number.
pub fn parse_control(path: &str, text: &str) -> Result<Vec<Stanza>, Error> {
    let mut out = Vec::new();
    let mut cur: Option<Stanza> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i + 1;
        if line.trim().is_empty() {
            if let Some(s) = cur.take() {
                out.push(s);
            }
            continue;
        }
        if line.starts_with('#') && cur.is_none() {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            let Some(s) = cur.as_mut().and_then(|s| s.fields.last_mut()) else {
                return Err(Error::malformed(
                    path,
                    "dpkg control file",
                    format!("line {lineno}: continuation line before any field"),
                ));
            };
            s.1.push('\n');
            s.1.push_str(line.trim());
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(Error::malformed(
                path,
                "dpkg control file",
                format!(
                    "line {lineno}: expected `Field: value`, found {:?}",
                    truncate(line)
                ),
            ));
        };
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(Error::malformed(
                path,
                "dpkg control file",
                format!("line {lineno}: invalid field name {:?}", truncate(k)),
            ));
        }
        cur.get_or_insert_with(|| Stanza {
            fields: Vec::new(),
            line: lineno,
        })
        .fields
        .push((k.to_string(), v.trim().to_string()));
    }
    if let Some(s) = cur.take() {
        out.push(s);
    }
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// True when a `Status:` value (`want flag state`) means the package's files are on disk.
fn is_present(status: Option<&str>) -> bool {
    match status {
        None => true,
        Some(s) => !matches!(
            s.split_whitespace().nth(2),
            Some("not-installed") | Some("config-files")
        ),
    }
}

/// Splits `Source: name (version)` into its parts.
pub fn parse_source(source: &str) -> (String, Option<String>) {
    let source = source.trim();
    match source.split_once('(') {
        Some((name, rest)) => (
            name.trim().to_string(),
            Some(rest.trim_end_matches(')').trim().to_string()).filter(|v| !v.is_empty()),
        ),
        None => (source.to_string(), None),
    }
}

/// Licences named by a DEP-5 copyright file (`License:` lines, first line only; duplicates removed).
pub fn copyright_licenses(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("License:") {
            let v = v.trim();
            if !v.is_empty() && seen.insert(v.to_string()) {
                out.push(v.to_string());
            }
        }
    }
    out
}

/// Catalogues every dpkg database in the view.
pub fn catalog(
    fs: &FsView,
    distro: Option<&Distro>,
    problems: &mut Vec<crate::Problem>,
) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    for status in STATUS_FILES {
        if !fsutil::is_kept_file(fs, status) {
            continue;
        }
        let text = fsutil::read_text(fs, status)?;
        let status_layer = fsutil::layer_of(fs, status);
        for st in parse_control(status, &text)? {
            if let Some(p) = package(
                fs,
                distro,
                status,
                &st,
                status_layer.clone(),
                false,
                problems,
            )? {
                out.push(p);
            }
        }
    }
    for dir in STATUS_DIRS {
        let files: Vec<&str> = fsutil::kept_files(fs, |p| {
            p.starts_with(dir) && !p[dir.len()..].contains('/') && !p.ends_with(".md5sums")
        })
        .collect();
        for f in files {
            let text = fsutil::read_text(fs, f)?;
            let layer = fsutil::layer_of(fs, f);
            for st in parse_control(f, &text)? {
                if let Some(p) = package(fs, distro, f, &st, layer.clone(), true, problems)? {
                    out.push(p);
                }
            }
        }
    }
    Ok(out)
}

fn package(
    fs: &FsView,
    distro: Option<&Distro>,
    path: &str,
    st: &Stanza,
    layer: Option<String>,
    distroless: bool,
    problems: &mut Vec<crate::Problem>,
) -> Result<Option<Package>, Error> {
    if !is_present(st.get("Status")) {
        return Ok(None);
    }
    // A stanza without a package name identifies nothing (syft's fixtures have one); report it and go on.
    let Some(name) = st.get("Package").filter(|s| !s.is_empty()) else {
        problems.push(crate::Problem::new(
            fs,
            "dpkg",
            path,
            None,
            format!("stanza at line {} has no Package name; skipped", st.line),
        ));
        return Ok(None);
    };
    // A package without a version is kept (with an empty version) rather than lost, and reported.
    let version = st.get("Version").unwrap_or_default();
    if version.is_empty() {
        problems.push(crate::Problem::new(
            fs,
            "dpkg",
            path,
            None,
            format!(
                "package {name} (line {}) has no Version; kept with an empty version",
                st.line
            ),
        ));
    }
    let arch = st.get("Architecture").map(str::to_string);
    let (source_name, source_version) = match st.get("Source") {
        Some(s) if !s.is_empty() => {
            let (n, v) = parse_source(s);
            (Some(n), v)
        }
        _ => (None, None),
    };
    // Owned files: info/<name>[:arch].list (full dpkg) or status.d/<name>.md5sums (distroless).
    let mut files = Vec::new();
    let mut file_layer = None;
    let candidates: Vec<String> = if distroless {
        let dir = &path[..path.rfind('/').map(|i| i + 1).unwrap_or(0)];
        vec![format!("{dir}{name}.md5sums")]
    } else {
        let mut c = Vec::new();
        if let Some(a) = &arch {
            c.push(format!("{INFO_DIR}{name}:{a}.list"));
        }
        c.push(format!("{INFO_DIR}{name}.list"));
        c
    };
    for c in candidates {
        if fsutil::is_kept_file(fs, &c) {
            let text = fsutil::read_text(fs, &c)?;
            for line in text.lines() {
                let f = if c.ends_with(".md5sums") {
                    match line.split_once(char::is_whitespace) {
                        Some((_, p)) => format!("/{}", p.trim().trim_start_matches('/')),
                        None => continue,
                    }
                } else {
                    line.trim().to_string()
                };
                if f.is_empty() || f == "/." {
                    continue;
                }
                if matches!(fs.get(&f).map(|e| &e.kind), Some(EntryKind::Dir)) {
                    continue;
                }
                files.push(f);
            }
            file_layer = fsutil::layer_of(fs, &c);
            break;
        }
    }
    let copyright = format!("/usr/share/doc/{name}/copyright");
    let licenses = if fsutil::is_kept_file(fs, &copyright) {
        copyright_licenses(&fsutil::read_text(fs, &copyright)?)
    } else {
        Vec::new()
    };
    let namespace = distro.map(|d| d.id.as_str()).unwrap_or("debian");
    let distro_q = distro
        .map(|d| match &d.version_id {
            Some(v) => format!("{}-{v}", d.id),
            None => d.id.clone(),
        })
        .unwrap_or_default();
    let upstream = match (&source_name, &source_version) {
        (Some(n), Some(v)) => format!("{n}@{v}"),
        (Some(n), None) if n != name => n.clone(),
        _ => String::new(),
    };
    let purl = purl(
        "deb",
        Some(namespace),
        name,
        version,
        &[
            ("arch", arch.as_deref().unwrap_or("")),
            ("distro", &distro_q),
            ("upstream", &upstream),
        ],
    );
    Ok(Some(Package {
        name: name.to_string(),
        version: version.to_string(),
        package_type: PackageType::Deb,
        purl,
        source_name,
        source_version,
        arch,
        licenses,
        location: path.to_string(),
        files,
        layer: file_layer.or(layer),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{syft, view_of};

    fn debian12() -> Distro {
        Distro {
            id: "debian".into(),
            version_id: Some("12".into()),
            ..Distro::default()
        }
    }

    #[test]
    fn full_status_with_source_version_and_purl() {
        let fs = view_of(&syft("pkg/cataloger/debian/testdata/image-dpkg"));
        let mut problems = Vec::new();
        let pkgs = catalog(&fs, Some(&debian12()), &mut problems).unwrap();
        assert_eq!(pkgs.len(), 1, "{pkgs:#?}");
        // The fixture also has a stanza without a name: reported, not guessed.
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "/var/lib/dpkg/status");
        assert_eq!(
            problems[0].message,
            "stanza at line 1 has no Package name; skipped"
        );
        let p = &pkgs[0];
        assert_eq!(p.name, "libpam-runtime");
        assert_eq!(p.version, "1.1.8-3.6");
        assert_eq!(p.source_name.as_deref(), Some("pam"));
        assert_eq!(p.arch.as_deref(), Some("all"));
        assert_eq!(
            p.purl,
            "pkg:deb/debian/libpam-runtime@1.1.8-3.6?arch=all&distro=debian-12&upstream=pam"
        );
        assert!(!p.licenses.is_empty(), "licences from the copyright file");
        assert_eq!(p.location, "/var/lib/dpkg/status");
    }

    #[test]
    fn distroless_status_d_with_md5sums_files() {
        let fs = view_of(&syft("pkg/cataloger/debian/testdata/image-distroless-deb"));
        let pkgs = catalog(&fs, Some(&debian12()), &mut Vec::new()).unwrap();
        assert_eq!(pkgs.len(), 1);
        let p = &pkgs[0];
        assert_eq!(p.name, "libsqlite3-0");
        assert_eq!(p.source_name.as_deref(), Some("sqlite3"));
        assert!(
            !p.files.is_empty(),
            "files from status.d/libsqlite3-0.md5sums"
        );
        assert!(p.files.iter().all(|f| f.starts_with('/')));
    }

    #[test]
    fn status_d_fixtures_and_corrupt_file() {
        let dir = syft("pkg/cataloger/debian/testdata/var/lib/dpkg/status.d");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        let single = parse_control("single", &read("single")).unwrap();
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].get("Package"), Some("apt"));
        assert_eq!(
            parse_source(single[0].get("Source").unwrap()),
            ("apt-dev".into(), None)
        );
        assert!(single[0].get("Description").unwrap().contains('\n'));
        let multiple = parse_control("multiple", &read("multiple")).unwrap();
        assert!(multiple.len() >= 2, "{}", multiple.len());
        let err = parse_control("/var/lib/dpkg/status.d/corrupt", &read("corrupt"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/var/lib/dpkg/status.d/corrupt") && err.contains("line"),
            "{err}"
        );
        // `Package:` with no value: parsed, then skipped by `package` and reported as a problem.
        let empty = parse_control("empty", &read("empty")).unwrap();
        assert_eq!(empty.len(), 1);
        let mut problems = Vec::new();
        assert!(
            package(
                &FsView::default(),
                None,
                "empty",
                &empty[0],
                None,
                true,
                &mut problems
            )
            .unwrap()
            .is_none()
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].cataloger, "dpkg");
        assert_eq!(problems[0].path, "empty");
        assert!(
            problems[0].message.contains("has no Package name"),
            "{}",
            problems[0].message
        );
        // A removed package (deinstall / config-files) is not reported.
        let deinstall = parse_control("deinstall", &read("deinstall")).unwrap();
        assert!(deinstall.iter().any(|s| !is_present(s.get("Status"))));
    }

    #[test]
    fn source_with_version() {
        assert_eq!(
            parse_source("glibc (2.36-9+deb12u4)"),
            ("glibc".into(), Some("2.36-9+deb12u4".into()))
        );
    }

    #[test]
    fn nameless_stanzas_skipped_versionless_kept() {
        let dir = syft("pkg/cataloger/debian/testdata/var/lib/dpkg/status.d");
        let text = std::fs::read_to_string(dir.join("multiple")).unwrap();
        let fs = FsView::default();
        let pkgs: Vec<Package> = parse_control("m", &text)
            .unwrap()
            .iter()
            .filter_map(|st| package(&fs, None, "m", st, None, true, &mut Vec::new()).unwrap())
            .collect();
        let names: Vec<(&str, &str)> = pkgs
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&("no-version", "")), "{names:?}");
        assert!(names.iter().any(|(n, _)| *n == "tzdata"));
    }
}
