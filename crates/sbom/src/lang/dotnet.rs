//! .NET cataloger: `*.deps.json` (`libraries` entries of type `package`).

use portcullis_image::FsView;

use super::read_parsed;
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    path.ends_with(".deps.json")
}

/// `(name, version)` of each NuGet package a deps.json lists.
pub fn parse_deps(text: &str) -> Result<Vec<(String, String)>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let mut out = Vec::new();
    if let Some(libs) = v.get("libraries").and_then(|l| l.as_object()) {
        for (key, lib) in libs {
            if lib.get("type").and_then(|t| t.as_str()) != Some("package") {
                continue;
            }
            if let Some((n, ver)) = key.rsplit_once('/') {
                out.push((n.to_string(), ver.to_string()));
            }
        }
    }
    Ok(out)
}

/// Catalogues .NET packages.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let files: Vec<&str> = fsutil::kept_files(fs, wanted).collect();
    for path in files {
        let Some(list) = read_parsed(fs, problems, "dotnet", path, ".deps.json", parse_deps) else {
            continue;
        };
        for (name, version) in list {
            out.push(Package {
                purl: purl("nuget", None, &name, &version, &[]),
                name,
                version,
                package_type: PackageType::Dotnet,
                source_name: None,
                source_version: None,
                arch: None,
                licenses: Vec::new(),
                location: path.to_string(),
                files: Vec::new(),
                layer: fsutil::layer_of(fs, path),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::syft;

    #[test]
    fn deps_json_fixtures() {
        let p = syft("pkg/cataloger/dotnet/testdata/dir-example-1/TestLibrary.deps.json");
        let pkgs = parse_deps(&std::fs::read_to_string(p).unwrap()).unwrap();
        assert!(!pkgs.is_empty());
        assert!(pkgs.iter().all(|(n, v)| !n.is_empty() && v.chars().next().is_some_and(|c| c.is_ascii_digit())));
        let p = syft("pkg/cataloger/dotnet/testdata/deps-with-referenceassembly/MyApp.deps.json");
        let _ = parse_deps(&std::fs::read_to_string(p).unwrap()).unwrap();
    }
}
