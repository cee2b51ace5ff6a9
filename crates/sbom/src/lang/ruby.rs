//! Ruby cataloger: installed gem specifications (`specifications/*.gemspec`).
//!
//! Gemspecs are Ruby code; like syft, the assignments RubyGems itself writes (`s.name = "…"`,
//! `s.version = "…"`, `s.licenses = ["…"]`) are read with patterns rather than by evaluating Ruby.

use std::sync::LazyLock;

use portcullis_image::FsView;
use regex::Regex;

use super::problem;
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    path.contains("/specifications/") && path.ends_with(".gemspec")
}

static ASSIGN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*\w+\.(name|version|licenses?)\s*=\s*(.+?)\s*$"#).expect("static regex")
});
static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"["']([^"']+)["']"#).expect("static regex"));

/// `(name, version, licences)` of a gemspec, when it names both.
pub fn parse_gemspec(text: &str) -> Option<(String, String, Vec<String>)> {
    let (mut name, mut version, mut licenses) = (None, None, Vec::new());
    for c in ASSIGN.captures_iter(text) {
        let vals: Vec<String> = QUOTED
            .captures_iter(&c[2])
            .map(|q| q[1].to_string())
            .collect();
        match &c[1] {
            "name" if name.is_none() => name = vals.into_iter().next(),
            "version" if version.is_none() => version = vals.into_iter().next(),
            "license" | "licenses" if licenses.is_empty() => licenses = vals,
            _ => {}
        }
    }
    Some((name?, version?, licenses))
}

/// Catalogues installed gems.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let files: Vec<&str> = fsutil::kept_files(fs, wanted).collect();
    for path in files {
        let text = match fsutil::read_text(fs, path) {
            Ok(t) => t,
            Err(e) => {
                problem(problems, fs, "gem", path, None, e);
                continue;
            }
        };
        let Some((name, version, licenses)) = parse_gemspec(&text) else {
            problem(
                problems,
                fs,
                "gem",
                path,
                None,
                "malformed gemspec: no `name`/`version` assignment found",
            );
            continue;
        };
        out.push(Package {
            purl: purl("gem", None, &name, &version, &[]),
            name,
            version,
            package_type: PackageType::Gem,
            source_name: None,
            source_version: None,
            arch: None,
            licenses,
            location: path.to_string(),
            files: Vec::new(),
            layer: fsutil::layer_of(fs, path),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::syft;

    #[test]
    fn gemspec_fixtures() {
        let read =
            |f: &str| std::fs::read_to_string(syft("pkg/cataloger/ruby/testdata").join(f)).unwrap();
        let (n, v, l) = parse_gemspec(&read("bundler.gemspec")).unwrap();
        assert_eq!((n.as_str(), v.as_str()), ("bundler", "2.1.4"));
        assert_eq!(l, vec!["MIT".to_string()]);
        let (n, v, _) = parse_gemspec(&read("formatador.gemspec")).unwrap();
        assert_eq!((n.as_str(), v.as_str()), ("formatador", "1.1.0"));
        assert_eq!(parse_gemspec("puts 'hello'"), None);
    }
}
