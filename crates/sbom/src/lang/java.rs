//! Java cataloger: jar/war/ear/jpi/hpi archives — `META-INF/maven/**/pom.properties` (or `pom.xml` where a
//! directory has no `pom.properties`), else `META-INF/MANIFEST.MF`; nested archives (`WEB-INF/lib/*.jar`,
//! `BOOT-INF/lib/*.jar`, …) recursively.
//!
//! As Syft does: an archive is one package (the pom whose artifact the file is named after, the only pom, or the
//! manifest); the poms of shaded content are packages nested in it (`/app.jar:META-INF/maven/g/a/pom.properties`).
//! A group comes from a pom or the manifest (`Bundle-SymbolicName`, `Implementation-Vendor-Id`,
//! `Automatic-Module-Name`; Jenkins plugins' `Group-Id`), never from the file name.

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

/// Maven coordinates read from a pom: group, artifact, version, and the member they were read from.
type Coord = (String, String, String, String);

/// `groupId`, `artifactId`, `version` of a `pom.xml` (`parent`'s group and version when the project has none;
/// `${…}` resolved from `<properties>` and the project/parent versions). `None` when the group or artifact stays
/// unknown; an empty version when only the version does (the manifest then has it).
pub fn parse_pom_xml(text: &str) -> Option<(String, String, String)> {
    let doc = roxmltree::Document::parse(text).ok()?;
    let project = doc.root_element();
    let child = |n: roxmltree::Node, name: &str| {
        n.children()
            .find(|c| c.is_element() && c.tag_name().name() == name)
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    };
    let parent = project
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == "parent");
    let from_parent = |name: &str| parent.and_then(|p| child(p, name));
    let props: Vec<(String, String)> = project
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "properties")
        .flat_map(|p| p.children().filter(|c| c.is_element()))
        .filter_map(|c| {
            Some((
                c.tag_name().name().to_string(),
                c.text()?.trim().to_string(),
            ))
        })
        .collect();
    let version = child(project, "version")
        .or_else(|| from_parent("version"))
        .unwrap_or_default();
    let own_version = version.clone();
    let resolve = |v: String| -> Option<String> {
        let Some(key) = v.strip_prefix("${").and_then(|k| k.strip_suffix('}')) else {
            return (!v.contains("${")).then_some(v);
        };
        match key {
            "project.version" | "pom.version" | "version" => {
                Some(own_version.clone()).filter(|x| !x.contains("${"))
            }
            "project.parent.version" | "parent.version" => from_parent("version"),
            _ => props
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .filter(|x| !x.contains("${")),
        }
    };
    let group = resolve(child(project, "groupId").or_else(|| from_parent("groupId"))?)?;
    let artifact = resolve(child(project, "artifactId")?)?;
    let version = resolve(version).unwrap_or_default();
    Some((group, artifact, version))
}

/// The file name without directories and extension (`/a/jackson-core-2.15.2.jar` → `jackson-core-2.15.2`).
fn file_stem(location: &str) -> &str {
    let name = location.rsplit(['/', ':']).next().unwrap_or(location);
    name.rsplit_once('.').map_or(name, |(s, _)| s)
}

/// Whether an archive named `stem` is the artifact `g:a` (`a-1.0`, `a`, or `g.a-1.0` as Debian and some
/// repositories name them).
fn named_after(stem: &str, g: &str, a: &str) -> bool {
    let stem = stem
        .strip_prefix(g)
        .and_then(|s| s.strip_prefix(['.', '-']))
        .unwrap_or(stem);
    stem == a
        || stem
            .strip_prefix(a)
            .is_some_and(|r| r.starts_with('-') && r[1..].starts_with(|c: char| c.is_ascii_digit()))
}

/// A Maven group from a manifest value such as a bundle or module name (`io.micronaut.aop` for artifact
/// `micronaut-aop` → `io.micronaut`): only a reverse-domain-like name, with the artifact's own tail removed.
fn group_from(value: &str, artifact: &str) -> Option<String> {
    let v = value.split(';').next().unwrap_or("").trim();
    let domain_like = v.contains('.')
        && !v.starts_with('.')
        && !v.ends_with('.')
        && v.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
    if !domain_like {
        return None;
    }
    let dotted = artifact.replace('-', ".");
    let underscored = artifact.replace('-', "_");
    let tail = artifact.rsplit('-').next().unwrap_or(artifact);
    let last = v.rsplit_once('.').filter(|(_, last)| *last == tail);
    let stripped = [
        v.strip_suffix(&format!(".{artifact}")),
        v.strip_suffix(&format!(".{dotted}")),
        v.strip_suffix(&format!(".{underscored}")),
        last.map(|(head, _)| head),
    ];
    if stripped.iter().all(Option::is_none) {
        return Some(v.to_string());
    }
    stripped
        .into_iter()
        .flatten()
        .find(|g| g.contains('.'))
        .map(str::to_string)
}

/// The package an archive without a usable pom is, from its manifest (and its file name for the artifact and,
/// failing the manifest, the version).
fn from_manifest(
    manifest: Option<&[(String, String)]>,
    location: &str,
) -> Option<(String, String, String, Option<String>)> {
    let get = |k: &str| {
        manifest
            .and_then(|m| {
                m.iter()
                    .find(|(mk, _)| mk.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
            })
            .filter(|v| !v.is_empty())
    };
    let license = get("Bundle-License");
    // Jenkins plugins (.hpi/.jpi) name themselves
    if let Some(short) = get("Short-Name") {
        let version = get("Plugin-Version").or_else(|| get("Implementation-Version"))?;
        return Some((get("Group-Id").unwrap_or_default(), short, version, license));
    }
    let stem = file_stem(location);
    let split = stem
        .rsplit_once('-')
        .filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()));
    let version = get("Implementation-Version")
        .or_else(|| get("Specification-Version"))
        .or_else(|| get("Bundle-Version"))
        .or_else(|| split.map(|(_, v)| v.to_string()))?;
    let mut artifact = split.map_or(stem, |(n, _)| n).to_string();
    let mut group = String::new();
    for v in [
        "Bundle-SymbolicName",
        "Implementation-Vendor-Id",
        "Automatic-Module-Name",
    ]
    .iter()
    .filter_map(|k| get(k))
    {
        // a file named `group.artifact-1.0.jar` carries the group in its name: the artifact is the rest
        let split = artifact
            .match_indices('.')
            .map(|(i, _)| (&artifact[..i], &artifact[i + 1..]))
            .find(|(prefix, rest)| group_from(&v, rest).as_deref() == Some(*prefix));
        if let Some((prefix, rest)) = split {
            (group, artifact) = (prefix.to_string(), rest.to_string());
            break;
        }
        if let Some(g) = group_from(&v, &artifact) {
            group = g;
            break;
        }
    }
    Some((group, artifact, version, license))
}

/// Packages of one archive (and its nested archives). `location` is `/app.war` or `/app.war:WEB-INF/lib/x.jar`;
/// the poms of shaded content are at `/app.jar:META-INF/maven/<group>/<artifact>/pom.properties`.
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
    // pom directory (`META-INF/maven/g/a`) → coordinates; pom.properties wins over pom.xml
    let mut props: std::collections::BTreeMap<String, Coord> = Default::default();
    let mut xmls: std::collections::BTreeMap<String, Coord> = Default::default();
    let mut manifest = None;
    let mut nested = Vec::new();
    for i in 0..z.len() {
        let Ok(name) = z.by_index(i).map(|f| f.name().to_string()) else {
            continue;
        };
        let pom = name.strip_prefix("META-INF/maven/").and_then(|rest| {
            rest.strip_suffix("/pom.properties")
                .map(|d| (d, true))
                .or_else(|| rest.strip_suffix("/pom.xml").map(|d| (d, false)))
        });
        if let Some((dir, is_props)) = pom {
            let at = format!("{location}:{name}");
            let parsed = read_entry(&mut z, i, MAX_META).map(|b| {
                let text = String::from_utf8_lossy(&b);
                if is_props {
                    parse_pom_properties(&text)
                } else {
                    parse_pom_xml(&text)
                }
            });
            match parsed {
                Ok(Some((g, a, v))) => {
                    let target = if is_props { &mut props } else { &mut xmls };
                    target.insert(dir.to_string(), (g, a, v, name.clone()));
                }
                Ok(None) if is_props => problems.push((
                    at,
                    "malformed pom.properties: no `groupId`, `artifactId` and `version`".into(),
                )),
                // a pom.xml whose coordinates stay unknown (unresolved properties) is no package
                Ok(None) => {}
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
    for (dir, c) in xmls {
        props.entry(dir).or_insert(c);
    }
    let mut poms: Vec<Coord> = props.into_values().collect();
    let stem = file_stem(location);
    let main = poms
        .iter()
        .position(|(g, a, _, _)| named_after(stem, g, a))
        .or_else(|| (poms.len() == 1).then_some(0));
    let manifest_pkg = from_manifest(manifest.as_deref(), location);
    match main {
        Some(i) => {
            let (g, a, mut v, _) = poms.remove(i);
            if v.is_empty() {
                v = manifest_pkg.map(|m| m.2).unwrap_or_default();
            }
            if !v.is_empty() {
                out.push((g, a, v, location.to_string()).into_pkg(None));
            }
        }
        None => {
            if let Some((g, a, v, license)) = manifest_pkg {
                out.push((g, a, v, location.to_string()).into_pkg(license));
            }
        }
    }
    // shaded content: one nested package per remaining pom
    for (g, a, v, member) in poms.into_iter().filter(|p| !p.2.is_empty()) {
        out.push((g, a, v, format!("{location}:{member}")).into_pkg(None));
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

    /// Zips a Syft `jar-metadata` fixture directory (a jar's metadata, unpacked) into a jar.
    fn fixture_jar(dir: &std::path::Path) -> Vec<u8> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    let name = e.path().strip_prefix(dir).unwrap().display().to_string();
                    files.push((name, std::fs::read(e.path()).unwrap()));
                }
            }
        }
        files.sort();
        let entries: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        jar(&entries)
    }

    fn catalogue(bytes: Vec<u8>, location: &str) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        let mut problems = Vec::new();
        archive_packages(
            std::io::Cursor::new(bytes),
            location,
            0,
            &mut out,
            &mut problems,
        )
        .unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        out.into_iter().map(|(n, v, l, _)| (n, v, l)).collect()
    }

    fn own(name: &str, version: &str, location: &str) -> (String, String, String) {
        (name.into(), version.into(), location.into())
    }

    #[test]
    fn syft_jar_metadata_fixtures() {
        let dir = syft("pkg/cataloger/java/testdata/jar-metadata");
        let run = |fixture: &str, file: &str| {
            catalogue(fixture_jar(&dir.join(fixture)), &format!("/lib/{file}"))
        };
        // pom.xml without pom.properties
        assert_eq!(
            run("jackson-core-2.15.2", "jackson-core-2.15.2.jar"),
            vec![own(
                "com.fasterxml.jackson.core:jackson-core",
                "2.15.2",
                "/lib/jackson-core-2.15.2.jar"
            )]
        );
        assert_eq!(
            run("micronaut-aop-4.9.11", "micronaut-aop-4.9.11.jar"),
            vec![own(
                "io.micronaut:micronaut-aop",
                "4.9.11",
                "/lib/micronaut-aop-4.9.11.jar"
            )]
        );
        assert_eq!(
            run("commons-lang3-3.12.0", "commons-lang3-3.12.0.jar"),
            vec![own(
                "org.apache.commons:commons-lang3",
                "3.12.0",
                "/lib/commons-lang3-3.12.0.jar"
            )]
        );
        // the group is not taken from the file name
        let f = "com.fasterxml.jackson.core.jackson-core-2.15.2.jar";
        assert_eq!(
            run("com.fasterxml.jackson.core.jackson-core-2.15.2", f),
            vec![own(
                "com.fasterxml.jackson.core:jackson-core",
                "2.15.2",
                &format!("/lib/{f}")
            )]
        );
        // pom.properties and pom.xml of one artifact: one package
        assert_eq!(
            run("opensaml-core-3.4.6", "opensaml-core-3.4.6.jar"),
            vec![own(
                "org.opensaml:opensaml-core",
                "3.4.6",
                "/lib/opensaml-core-3.4.6.jar"
            )]
        );
        // Jenkins plugin
        assert_eq!(
            run("jenkins-plugins/gradle/2.11", "gradle.hpi"),
            vec![own(
                "org.jenkins-ci.plugins:gradle",
                "2.11",
                "/lib/gradle.hpi"
            )]
        );
        // several poms: the one the file is named after is the archive, the other one is nested in it
        let f = "api-all-2.0.0-sources.jar";
        let got = run("api-all-2.0.0-sources", f);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0],
            own(
                "org.apache.directory.api:api-all",
                "2.0.0",
                &format!("/lib/{f}")
            )
        );
        assert_eq!(got[1].0, "org.apache.directory.api:api-asn1-api");
        assert_eq!(
            got[1].2,
            format!("/lib/{f}:META-INF/maven/org.apache.directory.api/api-asn1-api/pom.properties")
        );
        let got = run("org.multiple-thename", "org.multiple-thename.jar");
        assert_eq!(got[0].0, "org.multiple:thename");
        assert_eq!(got[0].2, "/lib/org.multiple-thename.jar");
        assert_eq!(got.len(), 2, "{got:?}");
    }

    #[test]
    fn manifest_groups_and_shaded_content() {
        // Gradle-built jar: group from Automatic-Module-Name, never from the file name
        let m = jar(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nAutomatic-Module-Name: io.micronaut.aop\nImplementation-Version: 4.9.11\n\n",
        )]);
        assert_eq!(
            catalogue(m, "/app/micronaut-aop-4.9.11.jar"),
            vec![own(
                "io.micronaut:micronaut-aop",
                "4.9.11",
                "/app/micronaut-aop-4.9.11.jar"
            )]
        );
        let m = jar(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nBundle-SymbolicName: com.example.lib;singleton:=true\nBundle-Version: 2.0\n\n",
        )]);
        assert_eq!(
            catalogue(m, "/app/com.example.lib-2.0.jar"),
            vec![own(
                "com.example:lib",
                "2.0",
                "/app/com.example.lib-2.0.jar"
            )]
        );
        let bare = jar(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\n\n")]);
        assert_eq!(
            catalogue(bare, "/app/org.acme.tool-1.2.jar"),
            vec![own("org.acme.tool", "1.2", "/app/org.acme.tool-1.2.jar")],
            "no group invented from the file name"
        );
        // an uber-jar: one package for the archive (from the manifest), its shaded poms nested in it
        let pp = |g: &str, a: &str, v: &str| format!("groupId={g}\nartifactId={a}\nversion={v}\n");
        let (guava, slf4j) = (
            pp("com.google.guava", "guava", "31.1-jre"),
            pp("org.slf4j", "slf4j-api", "2.0.9"),
        );
        let uber = jar(&[
            (
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\nImplementation-Version: 3.1\nImplementation-Vendor-Id: com.example\n\n",
            ),
            ("META-INF/maven/com.google.guava/guava/pom.properties", guava.as_bytes()),
            ("META-INF/maven/org.slf4j/slf4j-api/pom.properties", slf4j.as_bytes()),
        ]);
        assert_eq!(
            catalogue(uber, "/srv/service-3.1.jar"),
            vec![
                own("com.example:service", "3.1", "/srv/service-3.1.jar"),
                own(
                    "com.google.guava:guava",
                    "31.1-jre",
                    "/srv/service-3.1.jar:META-INF/maven/com.google.guava/guava/pom.properties"
                ),
                own(
                    "org.slf4j:slf4j-api",
                    "2.0.9",
                    "/srv/service-3.1.jar:META-INF/maven/org.slf4j/slf4j-api/pom.properties"
                ),
            ]
        );
        // pom.xml: the parent's group and version, `${project.version}` resolved
        let pom = br#"<project xmlns="http://maven.apache.org/POM/4.0.0"><parent><groupId>org.example</groupId>
            <artifactId>parent</artifactId><version>7.1</version></parent><artifactId>lib</artifactId>
            <name>${project.version}</name></project>"#;
        assert_eq!(
            parse_pom_xml(std::str::from_utf8(pom).unwrap()),
            Some(("org.example".into(), "lib".into(), "7.1".into()))
        );
        assert_eq!(
            parse_pom_xml("<project><artifactId>x</artifactId></project>"),
            None
        );
        assert_eq!(parse_pom_xml("not xml"), None);
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
