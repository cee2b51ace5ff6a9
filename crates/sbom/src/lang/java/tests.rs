//! Tests of the Java cataloger: Syft's jar-metadata fixtures, jars built in the test, Debian's maven-repo layout.

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
fn debian_system_jar_from_the_maven_repo() {
    // the layout of Debian's liblog4j1.2-java: the jar has no pom, its manifest says
    // Bundle-SymbolicName org.apache.log4j; /usr/share/maven-repo links log4j:log4j:1.2.17 to it
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path();
    let java = r.join("usr/share/java");
    std::fs::create_dir_all(&java).unwrap();
    std::fs::write(
        java.join("log4j-1.2-1.2.17.jar"),
        jar(&[(
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\nBundle-SymbolicName: org.apache.log4j\nBundle-Version: 1.2.17\n\n",
        )]),
    )
    .unwrap();
    std::os::unix::fs::symlink("log4j-1.2-1.2.17.jar", java.join("log4j-1.2.jar")).unwrap();
    for v in ["1.2.17", "1.2.x"] {
        let d = r.join(format!("usr/share/maven-repo/log4j/log4j/{v}"));
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::symlink(
            "../../../../java/log4j-1.2-1.2.17.jar",
            d.join(format!("log4j-{v}.jar")),
        )
        .unwrap();
    }
    let pkgs = catalog(&crate::fsutil::testutil::view_of(r), &mut Vec::new()).unwrap();
    let got: Vec<(&str, &str, &str, &str)> = pkgs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.location.as_str(),
                p.purl.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(
            "log4j:log4j",
            "1.2.17",
            "/usr/share/java/log4j-1.2-1.2.17.jar",
            "pkg:maven/log4j/log4j@1.2.17"
        )]
    );
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

/// Nested archives share one inflation budget across every depth: a war of many nested jars stops reading them
/// once the budget is spent, and each jar left unread is a problem naming the limit (issue #13 item 2).
#[test]
fn nested_archives_share_one_byte_budget() {
    let filler = vec![0u8; 100_000];
    let one = jar(&[
        (
            "META-INF/maven/org.example/lib/pom.properties",
            b"groupId=org.example\nartifactId=lib\nversion=1.0\n",
        ),
        ("filler.bin", &filler),
    ]);
    let names: Vec<String> = (0..5).map(|n| format!("WEB-INF/lib/lib-{n}.jar")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), one.as_slice())).collect();
    let war = jar(&entries);
    let mut out = Vec::new();
    let mut problems = Vec::new();
    // Room for two nested jars and a bit: the third and later are not read.
    let mut budget = one.len() as u64 * 2 + 10;
    archive_packages_within(
        std::io::Cursor::new(war),
        "/app.war",
        0,
        &mut budget,
        &mut out,
        &mut problems,
    )
    .unwrap();
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(problems.len(), 3, "{problems:?}");
    for (at, e) in &problems {
        assert!(at.starts_with("/app.war:WEB-INF/lib/lib-"), "{at}");
        assert!(e.contains("limit nested_total"), "{e}");
    }
}
