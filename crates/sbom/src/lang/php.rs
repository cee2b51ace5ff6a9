//! PHP composer cataloger: `vendor/composer/installed.json` (composer 1: an array; composer 2: `{packages: […]}`).

use portcullis_image::FsView;

use super::{json_licenses, read_parsed};
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    path.ends_with("/composer/installed.json")
}

/// `(name, version, licences)` of each installed package.
pub fn parse_installed(
    text: &str,
) -> Result<Vec<(String, String, Vec<String>)>, serde_json::Error> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    let list = match &v {
        serde_json::Value::Array(a) => a.clone(),
        other => other
            .get("packages")
            .and_then(|p| p.as_array())
            .cloned()
            .unwrap_or_default(),
    };
    Ok(list
        .iter()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?;
            let version = p.get("version")?.as_str()?;
            Some((
                name.to_string(),
                version.to_string(),
                json_licenses(p.get("license")),
            ))
        })
        .collect())
}

/// Catalogues composer packages.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let files: Vec<&str> = fsutil::kept_files(fs, wanted).collect();
    for path in files {
        let Some(list) = read_parsed(
            fs,
            problems,
            "php",
            path,
            "composer installed.json",
            parse_installed,
        ) else {
            continue;
        };
        for (name, version, licenses) in list {
            let (ns, n) = name.split_once('/').unwrap_or(("", &name));
            out.push(Package {
                purl: purl("composer", Some(ns), n, &version, &[]),
                name: name.clone(),
                version,
                package_type: PackageType::Php,
                source_name: None,
                source_version: None,
                arch: None,
                licenses,
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
    fn composer_v1_and_v2() {
        for v in ["composer_1", "composer_2"] {
            let p = syft("pkg/cataloger/php/testdata/vendor")
                .join(v)
                .join("installed.json");
            let pkgs = parse_installed(&std::fs::read_to_string(p).unwrap()).unwrap();
            assert!(pkgs.len() >= 2, "{v}: {pkgs:?}");
            let (n, ver, lic) = &pkgs[0];
            assert!(
                n.contains('/') && !ver.is_empty() && !lic.is_empty(),
                "{v}: {n} {ver} {lic:?}"
            );
        }
        assert!(parse_installed("{not json").is_err());
    }
}
