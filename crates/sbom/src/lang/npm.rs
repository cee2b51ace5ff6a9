//! npm cataloger: installed packages (`node_modules/**/package.json`) and lockfiles (`package-lock.json` v1–v3)
//! of projects whose `node_modules` is not present (installed packages are the truth when they are).

use portcullis_image::FsView;

use super::{json_licenses, parent, problem, read_parsed};
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    (path.contains("/node_modules/") && path.ends_with("/package.json"))
        || path.ends_with("/package-lock.json")
}

/// npm purl: `@scope/name` → namespace `@scope`.
pub fn npm_purl(name: &str, version: &str) -> String {
    match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => purl("npm", Some(scope), n, version, &[]),
        _ => purl("npm", None, name, version, &[]),
    }
}

fn package(name: &str, version: &str, licenses: Vec<String>, path: &str, fs: &FsView) -> Package {
    Package {
        purl: npm_purl(name, version),
        name: name.to_string(),
        version: version.to_string(),
        package_type: PackageType::Npm,
        source_name: None,
        source_version: None,
        arch: None,
        licenses,
        location: path.to_string(),
        files: Vec::new(),
        layer: fsutil::layer_of(fs, path),
    }
}

/// The packages a `package-lock.json` lists (v2/v3 `packages`, else v1 `dependencies`, recursively).
pub fn parse_lock(text: &str) -> Result<Vec<(String, String, Vec<String>)>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let mut out = Vec::new();
    if let Some(pkgs) = v.get("packages").and_then(|p| p.as_object()) {
        for (key, p) in pkgs {
            if key.is_empty() || p.get("link").and_then(|l| l.as_bool()) == Some(true) {
                continue;
            }
            let name = p
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    key.rsplit_once("node_modules/")
                        .map(|(_, n)| n.to_string())
                        .unwrap_or_else(|| key.clone())
                });
            let Some(version) = p.get("version").and_then(|v| v.as_str()) else {
                continue;
            };
            out.push((name, version.to_string(), json_licenses(p.get("license"))));
        }
    } else if let Some(deps) = v.get("dependencies").and_then(|d| d.as_object()) {
        fn walk(
            deps: &serde_json::Map<String, serde_json::Value>,
            out: &mut Vec<(String, String, Vec<String>)>,
        ) {
            for (name, d) in deps {
                if let Some(version) = d.get("version").and_then(|v| v.as_str()) {
                    out.push((name.clone(), version.to_string(), Vec::new()));
                }
                if let Some(nested) = d.get("dependencies").and_then(|n| n.as_object()) {
                    walk(nested, out);
                }
            }
        }
        walk(deps, &mut out);
    }
    Ok(out)
}

/// Catalogues npm packages.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let manifests: Vec<&str> = fsutil::kept_files(fs, |p| {
        p.ends_with("/package.json") && {
            // Only a package's own manifest: …/node_modules/<name>/package.json or …/node_modules/@s/<n>/….
            let dir = parent(p);
            let up = parent(dir);
            up.ends_with("/node_modules")
                || parent(up).ends_with("/node_modules") && {
                    let scope = &up[up.rfind('/').map(|i| i + 1).unwrap_or(0)..];
                    scope.starts_with('@')
                }
        }
    })
    .collect();
    for path in manifests {
        let parsed = fsutil::read(fs, path).and_then(|b| {
            serde_json::from_slice::<serde_json::Value>(&b)
                .map_err(|e| Error::malformed(path, "package.json", e.to_string()))
        });
        let v = match parsed {
            Ok(v) => v,
            Err(e) => {
                problem(problems, fs, "npm", path, None, e);
                continue;
            }
        };
        let (Some(name), Some(version)) = (
            v.get("name").and_then(|n| n.as_str()),
            v.get("version").and_then(|n| n.as_str()),
        ) else {
            continue;
        };
        let mut lic = json_licenses(v.get("license"));
        if lic.is_empty() {
            lic = json_licenses(v.get("licenses"));
        }
        out.push(package(name, version, lic, path, fs));
    }
    let locks: Vec<&str> = fsutil::kept_files(fs, |p| {
        p.ends_with("/package-lock.json") && !p.contains("/node_modules/")
    })
    .collect();
    for path in locks {
        if fs.exists(&format!(
            "{}/node_modules",
            parent(path).trim_end_matches('/')
        )) {
            continue;
        }
        if let Some(list) = read_parsed(fs, problems, "npm", path, "package-lock.json", parse_lock)
        {
            for (n, v, l) in list {
                out.push(package(&n, &v, l, path, fs));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{syft, view_of};

    #[test]
    fn lockfiles_v1_v2_v3() {
        let dir = syft("pkg/cataloger/javascript/testdata/pkg-lock");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        for f in [
            "package-lock.json",
            "package-lock-2.json",
            "package-lock-3.json",
            "nested-package-lock-1.json",
        ] {
            let pkgs = parse_lock(&read(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!pkgs.is_empty(), "{f}");
            assert!(
                pkgs.iter().all(|(n, v, _)| !n.is_empty() && !v.is_empty()),
                "{f}"
            );
        }
        let corrupt = syft("pkg/cataloger/javascript/testdata/corrupt/package-lock.json");
        assert!(parse_lock(&std::fs::read_to_string(corrupt).unwrap()).is_err());
    }

    #[test]
    fn installed_node_modules_with_scopes() {
        let fs = view_of(&syft("pkg/cataloger/javascript/testdata/pkg-lock"));
        let pkgs = catalog(&fs, &mut Vec::new()).unwrap();
        let core = pkgs
            .iter()
            .find(|p| p.name == "@actions/core")
            .expect("@actions/core");
        assert!(
            core.purl.starts_with("pkg:npm/%40actions/core@"),
            "{}",
            core.purl
        );
        assert!(pkgs.iter().any(|p| p.name == "cowsay"));
        // node_modules exists beside the lockfiles: the installed packages win, lockfiles are not double-counted.
        assert!(
            pkgs.iter().all(|p| p.location.contains("/node_modules/")),
            "{pkgs:#?}"
        );
    }
}
