//! Python cataloger: installed distributions (`*.dist-info/METADATA` + `RECORD`, `*.egg-info/PKG-INFO` or a
//! single-file `*.egg-info`).

use portcullis_image::FsView;

use super::{parent, problem};
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

fn lower(path: &str) -> String {
    path.to_ascii_lowercase()
}

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    let l = lower(path);
    (l.contains(".dist-info/")
        || l.ends_with("/dist-info/metadata")
        || l.ends_with("/dist-info/record"))
        && (l.ends_with("/metadata") || l.ends_with("/record"))
        || (l.contains("egg-info/") && (l.ends_with("/pkg-info") || l.ends_with("/record")))
        || l.ends_with(".egg-info")
}

/// Fields of a core-metadata file (RFC 822 style headers up to the first blank line).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `Name`.
    pub name: String,
    /// `Version`.
    pub version: String,
    /// `License-Expression`, `License` (first line) or `Classifier: License :: …` names.
    pub licenses: Vec<String>,
}

/// Parses core metadata (`METADATA`, `PKG-INFO`).
pub fn parse_metadata(text: &str) -> Metadata {
    let mut m = Metadata::default();
    let mut license = None;
    let mut expr = None;
    let mut classifiers = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => m.name = v.to_string(),
            "version" => m.version = v.to_string(),
            "license" if !v.is_empty() && v != "UNKNOWN" => license = Some(v.to_string()),
            "license-expression" if !v.is_empty() => expr = Some(v.to_string()),
            "classifier" => {
                if let Some(l) = v.strip_prefix("License :: ") {
                    let name = l.rsplit(" :: ").next().unwrap_or(l).to_string();
                    if name != "OSI Approved" {
                        classifiers.push(name);
                    }
                }
            }
            _ => {}
        }
    }
    m.licenses = match (expr, license) {
        (Some(e), _) => vec![e],
        (None, Some(l)) if l.len() <= 100 && !l.contains('\n') => vec![l],
        _ => classifiers,
    };
    m
}

/// PyPI purl name: lower case, runs of `-_.` → `-` (PEP 503).
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

/// The interpreter's own `Python-X.Y.egg-info` (Debian's `lib-dynload/Python-3.11.egg-info`): metadata of CPython
/// itself, not a PyPI distribution, so it is no Python package (the interpreter is catalogued as a binary/OS
/// package).
fn is_interpreter_egg_info(path: &str, name: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let Some(ver) = file
        .strip_prefix("Python-")
        .and_then(|f| f.strip_suffix(".egg-info"))
    else {
        return false;
    };
    name == "Python"
        && !ver.is_empty()
        && ver
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
}

/// Catalogues every Python distribution.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let metas: Vec<&str> = fsutil::kept_files(fs, |p| {
        let l = lower(p);
        (l.ends_with("/metadata") && parent(&l).ends_with("dist-info"))
            || (l.ends_with("/pkg-info") && parent(&l).ends_with("egg-info"))
            || l.ends_with(".egg-info")
    })
    .collect();
    for path in metas {
        let text = match fsutil::read_text(fs, path) {
            Ok(t) => t,
            Err(e) => {
                problem(problems, fs, "python", path, None, e);
                continue;
            }
        };
        let m = parse_metadata(&text);
        if is_interpreter_egg_info(path, &m.name) {
            continue;
        }
        if m.name.is_empty() {
            problem(
                problems,
                fs,
                "python",
                path,
                None,
                "malformed package metadata: no `Name:` field",
            );
            continue;
        }
        let info_dir = if lower(path).ends_with(".egg-info") {
            None
        } else {
            Some(parent(path))
        };
        let mut files = Vec::new();
        if let Some(dir) = info_dir {
            let record = format!("{dir}/RECORD");
            if fsutil::is_kept_file(fs, &record) {
                match fsutil::read_text(fs, &record) {
                    Ok(r) => {
                        let site = parent(dir);
                        for line in r.lines() {
                            let Some(rel) = record_path(line) else {
                                continue;
                            };
                            files.push(crate::fsutil::normalise(&format!("{site}/{rel}")));
                        }
                    }
                    // The package is kept (from METADATA), without its file list; say why.
                    Err(e) => problem(problems, fs, "python", &record, None, e),
                }
            }
        }
        out.push(Package {
            purl: purl("pypi", None, &normalise(&m.name), &m.version, &[]),
            name: m.name,
            version: m.version,
            package_type: PackageType::Python,
            source_name: None,
            source_version: None,
            arch: None,
            licenses: m.licenses,
            location: path.to_string(),
            files,
            layer: fsutil::layer_of(fs, path),
        });
    }
    Ok(out)
}

/// The path column of a RECORD line (CSV: a quoted path may contain commas).
fn record_path(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    if let Some(rest) = line.strip_prefix('"') {
        let end = rest.find("\",")?;
        return Some(rest[..end].replace("\"\"", "\""));
    }
    line.split(',').next().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{syft, view_of};

    #[test]
    fn an_unreadable_record_is_a_problem_and_the_package_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let info = dir
            .path()
            .join("usr/lib/python3/site-packages/foo-1.0.dist-info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(
            info.join("METADATA"),
            "Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n",
        )
        .unwrap();
        std::fs::write(info.join("RECORD"), "foo/__init__.py,,\n").unwrap();
        let fs = view_of(dir.path());
        // The file disappears between listing and reading (a fault that cannot be caused otherwise here).
        std::fs::remove_file(info.join("RECORD")).unwrap();
        let mut problems = Vec::new();
        let pkgs = catalog(&fs, &mut problems).unwrap();
        assert_eq!(pkgs.len(), 1, "{pkgs:?}");
        assert_eq!(
            (pkgs[0].name.as_str(), pkgs[0].version.as_str()),
            ("foo", "1.0")
        );
        assert!(pkgs[0].files.is_empty());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(
            problems[0].path,
            "/usr/lib/python3/site-packages/foo-1.0.dist-info/RECORD"
        );
        assert_eq!(problems[0].cataloger, "python");
    }

    #[test]
    fn syft_site_packages_fixtures() {
        let fs = view_of(&syft("pkg/cataloger/python/testdata/site-packages"));
        let pkgs = catalog(&fs, &mut Vec::new()).unwrap();
        let find = |loc: &str| {
            pkgs.iter()
                .find(|p| p.location.ends_with(loc))
                .unwrap_or_else(|| panic!("{loc} not catalogued: {pkgs:#?}"))
        };
        let dist = find("nested/dist-name/dist-info/METADATA");
        assert_eq!(
            (dist.name.as_str(), dist.version.as_str()),
            ("Pygments", "2.6.1")
        );
        assert_eq!(dist.purl, "pkg:pypi/pygments@2.6.1");
        assert_eq!(dist.licenses, vec!["BSD License".to_string()]);
        // RECORD paths are relative to site-packages, `..` resolved.
        assert!(
            dist.files.iter().any(|f| f.ends_with("/bin/pygmentize")),
            "{:?}",
            dist.files
        );
        assert!(
            dist.files.iter().all(|f| !f.contains("..")),
            "{:?}",
            dist.files
        );
        let egg = find("nested/egg-name/egg-info/PKG-INFO");
        assert_eq!(
            (egg.name.as_str(), egg.version.as_str()),
            ("requests", "2.22.0")
        );
        assert_eq!(egg.licenses, vec!["Apache 2.0".to_string()]);
        let single = find("test/test.egg-info");
        assert!(!single.name.is_empty() && !single.version.is_empty());
        // A RECORD that is not CSV does not lose the package.
        let malformed = find("malformed-record/dist-info/METADATA");
        assert!(!malformed.name.is_empty());
    }

    #[test]
    fn interpreter_egg_info_is_not_a_pypi_package() {
        let dir = tempfile::tempdir().unwrap();
        let dynload = dir.path().join("usr/lib/python3.11/lib-dynload");
        std::fs::create_dir_all(&dynload).unwrap();
        // Debian's python3.11 ships this file: CPython's own metadata
        std::fs::write(
            dynload.join("Python-3.11.egg-info"),
            "Metadata-Version: 2.1\nName: Python\nVersion: 3.11.2\n",
        )
        .unwrap();
        let site = dir.path().join("usr/lib/python3/dist-packages");
        std::fs::create_dir_all(&site).unwrap();
        std::fs::write(
            site.join("six-1.16.0.egg-info"),
            "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n",
        )
        .unwrap();
        let mut problems = Vec::new();
        let pkgs = catalog(&view_of(dir.path()), &mut problems).unwrap();
        let names: Vec<&str> = pkgs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, vec!["six"], "{pkgs:#?}");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!is_interpreter_egg_info(
            "/x/Python-3.11.egg-info",
            "python-foo"
        ));
        assert!(!is_interpreter_egg_info("/x/Python-foo.egg-info", "Python"));
    }

    #[test]
    fn name_normalisation() {
        assert_eq!(normalise("Foo__Bar.baz"), "foo-bar-baz");
    }
}
