//! Java cataloger: jar/war/ear/jpi/hpi archives — `META-INF/maven/**/pom.properties` (or `pom.xml` where a
//! directory has no `pom.properties`), else `META-INF/MANIFEST.MF`; nested archives (`WEB-INF/lib/*.jar`,
//! `BOOT-INF/lib/*.jar`, …) recursively.
//!
//! As Syft does: an archive is one package (the pom whose artifact the file is named after, the only pom, or the
//! manifest); the poms of shaded content are packages nested in it (`/app.jar:META-INF/maven/g/a/pom.properties`).
//! A group comes from a pom or the manifest (`Bundle-SymbolicName`, `Implementation-Vendor-Id`,
//! `Automatic-Module-Name`; Jenkins plugins' `Group-Id`), never from the file name. Debian's system jars
//! (`/usr/share/java/log4j-1.2-1.2.17.jar`) take the coordinates Debian's `/usr/share/maven-repo` gives them.

use std::io::{Read, Seek};

use portcullis_image::FsView;

use super::problem;
use crate::{Error, Package, PackageType, Problem, fsutil, purl::purl};

const EXTS: [&str; 5] = [".jar", ".war", ".ear", ".jpi", ".hpi"];
/// Nesting depth limit (a jar in a jar in a war is common; deeper is suspicious).
const MAX_DEPTH: usize = 4;
/// Largest nested archive read into memory.
const MAX_NESTED: u64 = 64 << 20;
/// Most bytes of nested archives inflated for one top-level archive, all depths together (a jar of many
/// compressed nested jars inflates each in turn; past this, the rest are reported as problems, not read).
pub const MAX_NESTED_TOTAL: u64 = 256 << 20;
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
    let mut budget = MAX_NESTED_TOTAL;
    archive_packages_within(reader, location, depth, &mut budget, out, problems)
}

/// [`archive_packages`] with `budget` bytes left for inflating nested archives (shared by every depth).
fn archive_packages_within<R: Read + Seek>(
    reader: R,
    location: &str,
    depth: usize,
    budget: &mut u64,
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
        let size = z.by_index(i).map(|f| f.size()).unwrap_or(0);
        if size > *budget {
            problems.push((
                loc,
                format!(
                    "nested archive of {size} bytes not read: the nested archives of this file may inflate to \
                     {MAX_NESTED_TOTAL} bytes in total (limit nested_total), {} left",
                    *budget
                ),
            ));
            continue;
        }
        let bytes = match read_entry(&mut z, i, MAX_NESTED.min(*budget)) {
            Ok(b) => b,
            Err(e) => {
                problems.push((loc, e));
                continue;
            }
        };
        *budget = budget.saturating_sub(bytes.len() as u64);
        if let Err(e) = archive_packages_within(
            std::io::Cursor::new(bytes),
            &loc,
            depth + 1,
            budget,
            out,
            problems,
        ) {
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

/// Debian's Maven repository (`/usr/share/maven-repo/<group path>/<artifact>/<version>/<artifact>-<version>.jar`,
/// symbolic links to the system jars in `/usr/share/java`): jar path → (group, artifact, version). Debian's
/// generic versions (`debian`, `1.2.x`) are skipped; the real version names the jar.
fn debian_maven_repo(fs: &FsView) -> std::collections::BTreeMap<String, (String, String, String)> {
    const REPO: &str = "/usr/share/maven-repo/";
    let mut out = std::collections::BTreeMap::new();
    for (path, entry) in fs.children(REPO) {
        if !matches!(entry.kind, portcullis_image::EntryKind::Symlink(_)) || !path.ends_with(".jar")
        {
            continue;
        }
        let rel: Vec<&str> = path[REPO.len()..].split('/').collect();
        let [group @ .., artifact, version, file] = rel.as_slice() else {
            continue;
        };
        if group.is_empty()
            || *version == "debian"
            || version.ends_with(".x")
            || *file != format!("{artifact}-{version}.jar")
        {
            continue;
        }
        if let Some(target) = fs.resolve(path) {
            out.entry(target).or_insert((
                group.join("."),
                artifact.to_string(),
                version.to_string(),
            ));
        }
    }
    out
}

/// Catalogues Java archives.
pub fn catalog(fs: &FsView, problems: &mut Vec<Problem>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    let debian = debian_maven_repo(fs);
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
        if let Some((g, a, v)) = debian.get(path) {
            // a Debian system jar: the coordinates Debian registered for it win over its file name and manifest
            let main = (format!("{g}:{a}"), v.clone(), path.to_string(), Vec::new());
            match found.iter_mut().find(|f| f.2 == path) {
                Some(f) => (f.0, f.1) = (main.0, main.1),
                None => found.insert(0, main),
            }
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
mod tests;
