//! Java cataloger: jar/war/ear/jpi/hpi archives — `META-INF/maven/**/pom.properties`, else
//! `META-INF/MANIFEST.MF`; nested archives (`WEB-INF/lib/*.jar`, `BOOT-INF/lib/*.jar`, …) recursively.

use std::io::{Read, Seek};

use portcullis_image::FsView;

use super::problem;
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

const EXTS: [&str; 5] = [".jar", ".war", ".ear", ".jpi", ".hpi"];
/// Nesting depth limit (a jar in a jar in a war is common; deeper is suspicious).
const MAX_DEPTH: usize = 4;
/// Largest nested archive read into memory.
const MAX_NESTED: u64 = 64 << 20;
/// Largest manifest or properties file read.
const MAX_META: u64 = 1 << 20;

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    let l = path.to_ascii_lowercase();
    EXTS.iter().any(|e| l.ends_with(e))
}

/// Main-section attributes of a `MANIFEST.MF` (continuation lines joined).
pub fn parse_manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            if !out.is_empty() {
                break;
            }
            continue;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(last) = out.last_mut() {
                last.1.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

/// `groupId`, `artifactId`, `version` of a `pom.properties`.
pub fn parse_pom_properties(text: &str) -> Option<(String, String, String)> {
    let (mut g, mut a, mut v) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, val)) = line.split_once(['=', ':']) else {
            continue;
        };
        let val = val.trim().to_string();
        match k.trim() {
            "groupId" => g = Some(val),
            "artifactId" => a = Some(val),
            "version" => v = Some(val),
            _ => {}
        }
    }
    Some((g?, a?, v?))
}

/// The content of member `i`, at most `max` bytes; the error says what is wrong with it.
fn read_entry<R: Read + Seek>(
    z: &mut zip::ZipArchive<R>,
    i: usize,
    max: u64,
) -> Result<Vec<u8>, String> {
    let f = z
        .by_index(i)
        .map_err(|e| format!("unreadable member: {e}"))?;
    if f.size() > max {
        return Err(format!(
            "member is {} bytes, more than the {max} bytes read",
            f.size()
        ));
    }
    let mut buf = Vec::with_capacity(f.size() as usize);
    f.take(max)
        .read_to_end(&mut buf)
        .map_err(|e| format!("corrupt member: {e}"))?;
    Ok(buf)
}

/// Packages of one archive (and its nested archives). `location` is `/app.war` or `/app.war:WEB-INF/lib/x.jar`.
/// An unreadable archive is the error; unusable members (a malformed `pom.properties`, a corrupt nested jar)
/// are added to `problems` as `(location, message)` and the rest of the archive is still read.
pub fn archive_packages<R: Read + Seek>(
    reader: R,
    location: &str,
    depth: usize,
    out: &mut Vec<(String, String, String, Vec<String>)>,
    problems: &mut Vec<(String, String)>,
) -> Result<(), String> {
    let mut z =
        zip::ZipArchive::new(reader).map_err(|e| format!("not a readable zip archive: {e}"))?;
    let mut poms = Vec::new();
    let mut manifest = None;
    let mut nested = Vec::new();
    for i in 0..z.len() {
        let Ok(name) = z.by_index(i).map(|f| f.name().to_string()) else {
            continue;
        };
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            let at = format!("{location}:{name}");
            match read_entry(&mut z, i, MAX_META) {
                Ok(b) => match parse_pom_properties(&String::from_utf8_lossy(&b)) {
                    Some(p) => poms.push(p),
                    None => problems.push((
                        at,
                        "malformed pom.properties: no `groupId`, `artifactId` and `version`".into(),
                    )),
                },
                Err(e) => problems.push((at, e)),
            }
        } else if name.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
            manifest = match read_entry(&mut z, i, MAX_META) {
                Ok(b) => Some(parse_manifest(&String::from_utf8_lossy(&b))),
                Err(e) => {
                    problems.push((format!("{location}:{name}"), e));
                    None
                }
            };
        } else if wanted(&name) && depth < MAX_DEPTH {
            nested.push(i);
        }
    }
    let file_stem = location
        .rsplit(['/', ':'])
        .next()
        .unwrap_or(location)
        .rsplit_once('.')
        .map(|(s, _)| s)
        .unwrap_or(location);
    if poms.is_empty() {
        let get = |k: &str| {
            manifest
                .as_ref()
                .and_then(|m| {
                    m.iter()
                        .find(|(mk, _)| mk.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                })
                .filter(|v| !v.is_empty())
        };
        let version = get("Implementation-Version")
            .or_else(|| get("Specification-Version"))
            .or_else(|| get("Bundle-Version"))
            .or_else(|| {
                // `name-1.2.3.jar`: the version from the file name, as syft does.
                file_stem
                    .rsplit_once('-')
                    .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()))
                    .map(|(_, v)| v.to_string())
            });
        let artifact = file_stem
            .rsplit_once('-')
            .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()))
            .map(|(n, _)| n.to_string())
            .unwrap_or_else(|| file_stem.to_string());
        let group = get("Implementation-Vendor-Id")
            .or_else(|| {
                get("Bundle-SymbolicName").map(|s| s.split(';').next().unwrap_or("").to_string())
            })
            .map(|g| g.trim_end_matches(&format!(".{artifact}")).to_string())
            .unwrap_or_default();
        if let Some(version) = version {
            out.push(
                (group, artifact, version, location.to_string()).into_pkg(get("Bundle-License")),
            );
        }
    } else {
        for (g, a, v) in poms {
            out.push((g, a, v, location.to_string()).into_pkg(None));
        }
    }
    for i in nested {
        let Ok(name) = z.by_index(i).map(|f| f.name().to_string()) else {
            continue;
        };
        let loc = format!("{location}:{name}");
        let bytes = match read_entry(&mut z, i, MAX_NESTED) {
            Ok(b) => b,
            Err(e) => {
                problems.push((loc, e));
                continue;
            }
        };
        if let Err(e) =
            archive_packages(std::io::Cursor::new(bytes), &loc, depth + 1, out, problems)
        {
            problems.push((loc, e));
        }
    }
    Ok(())
}

trait IntoPkg {
    fn into_pkg(self, license: Option<String>) -> (String, String, String, Vec<String>);
}

impl IntoPkg for (String, String, String, String) {
    fn into_pkg(self, license: Option<String>) -> (String, String, String, Vec<String>) {
        let (g, a, v, loc) = self;
        let name = if g.is_empty() { a } else { format!("{g}:{a}") };
        (name, v, loc, license.into_iter().collect())
    }
}

/// Catalogues Java archives.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let files: Vec<&str> = fsutil::kept_files(fs, wanted).collect();
    for path in files {
        let file = match std::fs::File::open(fs.content_path(path)) {
            Ok(f) => std::io::BufReader::new(f),
            Err(e) => {
                problem(problems, fs, "java", path, None, e);
                continue;
            }
        };
        let mut found = Vec::new();
        let mut inner = Vec::new();
        if let Err(e) = archive_packages(file, path, 0, &mut found, &mut inner) {
            problem(problems, fs, "java", path, None, e);
        }
        for (at, e) in inner {
            problem(problems, fs, "java", path, Some(&at), e);
        }
        for (name, version, location, licenses) in found {
            let (g, a) = name.split_once(':').unwrap_or(("", &name));
            out.push(Package {
                purl: purl("maven", Some(g), a, &version, &[]),
                name: name.clone(),
                version,
                package_type: PackageType::Java,
                source_name: None,
                source_version: None,
                arch: None,
                licenses,
                location,
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
    use std::io::Write;

    #[test]
    fn manifest_and_pom_fixtures() {
        let dir = syft("pkg/cataloger/java/testdata");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        let m = parse_manifest(&read("manifest/continuation"));
        assert!(
            m.iter()
                .any(|(_, v)| v.ends_with("plugin-pom/example-jenkins-plugin")),
            "continuation lines joined: {m:?}"
        );
        for f in [
            "small",
            "standard-info",
            "extra-info",
            "extra-empty-lines",
            "leading-space",
            "version-with-date",
        ] {
            assert!(
                !parse_manifest(&read(&format!("manifest/{f}"))).is_empty(),
                "{f}"
            );
        }
        let (g, a, v) = parse_pom_properties(&read("pom/small.pom.properties")).unwrap();
        assert!(!g.is_empty() && !a.is_empty() && !v.is_empty());
        assert!(parse_pom_properties(&read("pom/colon-delimited.pom.properties")).is_some());
        let mut out = Vec::new();
        let corrupt = std::fs::File::open(dir.join("corrupt/example.jar")).unwrap();
        assert!(archive_packages(corrupt, "/corrupt.jar", 0, &mut out, &mut Vec::new()).is_err());
    }

    fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        for (n, b) in entries {
            w.start_file(*n, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(b).unwrap();
        }
        w.finish().unwrap();
        buf.into_inner()
    }

    #[test]
    fn nested_jars_in_a_war() {
        let inner = jar(&[(
            "META-INF/maven/org.apache.commons/commons-text/pom.properties",
            b"groupId=org.apache.commons\nartifactId=commons-text\nversion=1.10.0\n",
        )]);
        let plain = jar(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nImplementation-Version: 2.3\n\n",
        )]);
        let war = jar(&[
            ("WEB-INF/lib/commons-text-1.10.0.jar", &inner),
            ("WEB-INF/lib/thing-2.3.jar", &plain),
        ]);
        let mut out = Vec::new();
        archive_packages(
            std::io::Cursor::new(war),
            "/app.war",
            0,
            &mut out,
            &mut Vec::new(),
        )
        .unwrap();
        assert!(
            out.contains(&(
                "org.apache.commons:commons-text".into(),
                "1.10.0".into(),
                "/app.war:WEB-INF/lib/commons-text-1.10.0.jar".into(),
                vec![]
            )),
            "{out:?}"
        );
        assert!(
            out.iter().any(|(n, v, _, _)| n == "thing" && v == "2.3"),
            "{out:?}"
        );
    }
}
