//! Bad input met while cataloguing real image layers: a malformed language-package manifest of every cataloger
//! family becomes a `Problem` naming the path, the layer that wrote it and the cataloger, and nothing else is lost;
//! a malformed OS package database fails the analysis with an error naming the image, the layer and the path.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use portcullis_image::{ImageRef, PullOptions, Source};
use portcullis_sbom::{Error, OutputFormat, PackageType, Sbom};
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage, Written};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn analyse(source: &Source, work: &Path) -> Result<Sbom, Error> {
    rt().block_on(portcullis_sbom::analyse(
        source,
        &PullOptions::default(),
        work,
    ))
}

/// A zip archive (jar/war) with the given members.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
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

/// The real Go binary with the magic of its `.go.buildinfo` section overwritten (build info unreadable).
fn go_with_broken_build_info() -> Vec<u8> {
    let mut b = std::fs::read(common::go_hello_binary()).unwrap();
    let magic = b"\xff Go buildinf:";
    let at = b
        .windows(magic.len())
        .position(|w| w == magic)
        .expect("a Go binary carries the build info magic");
    b[at..at + magic.len()].fill(0);
    b
}

/// The real cargo-auditable binary with its `.dep-v0` section (zlib-compressed JSON) overwritten.
fn rust_with_broken_audit_data() -> Vec<u8> {
    use object::{Object, ObjectSection};
    let path = common::cargo_auditable_hello().join("root/usr/local/bin/auditable-hello");
    let mut b = std::fs::read(path).unwrap();
    let (off, len) = {
        let obj = object::File::parse(&*b).unwrap();
        let sec = obj
            .section_by_name(".dep-v0")
            .expect("a cargo-auditable binary has a .dep-v0 section");
        sec.file_range().expect(".dep-v0 is stored in the file")
    };
    b[off as usize..(off + len) as usize].fill(0x55);
    b
}

const LANG_PROBLEMS: [(&str, &str); 10] = [
    (
        "/usr/lib/python3/site-packages/broken-1.0.dist-info/METADATA",
        "python",
    ),
    ("/app/node_modules/broken/package.json", "npm"),
    ("/opt/not-a-zip.jar", "java"),
    (
        "/opt/app.war:META-INF/maven/org.example/app/pom.properties",
        "java",
    ),
    ("/opt/app.war:WEB-INF/lib/bad.jar", "java"),
    ("/usr/local/bin/go-broken", "binary"),
    ("/usr/local/bin/rust-broken", "binary"),
    ("/usr/local/bundle/specifications/broken-1.0.gemspec", "gem"),
    ("/app/vendor/composer/installed.json", "php"),
    ("/app/App.deps.json", "dotnet"),
];

/// Layer 0: good packages of several families; layer 1: one malformed manifest per cataloger family (and a war
/// holding a malformed pom.properties, a corrupt nested jar and a good nested jar).
fn language_layout(dir: &Path) -> Written {
    let good_pom = b"groupId=org.example\nartifactId=good\nversion=2.0.0\n";
    let base = LayerBuilder::new()
        .file("etc/os-release", "ID=debian\nVERSION_ID=12\n")
        .file(
            "usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n",
        )
        .file(
            "app/node_modules/left-pad/package.json",
            r#"{"name": "left-pad", "version": "1.3.0", "license": "WTFPL"}"#,
        )
        .file(
            "opt/good.jar",
            zip(&[("META-INF/maven/org.example/good/pom.properties", good_pom)]),
        )
        .file(
            "usr/local/bundle/specifications/rack-3.0.0.gemspec",
            "Gem::Specification.new do |s|\n  s.name = \"rack\"\n  s.version = \"3.0.0\"\nend\n",
        )
        .file_mode(
            "usr/local/bin/hello",
            std::fs::read(common::go_hello_binary()).unwrap(),
            0o755,
        )
        .tar();
    let ok_jar = zip(&[(
        "META-INF/maven/org.example/ok/pom.properties",
        b"groupId=org.example\nartifactId=ok\nversion=1.0\n",
    )]);
    let war = zip(&[
        (
            "META-INF/maven/org.example/app/pom.properties",
            b"groupId=org.example\nartifactId=app\n",
        ),
        ("WEB-INF/lib/ok-1.0.jar", &ok_jar),
        ("WEB-INF/lib/bad.jar", b"PK\x03\x04 truncated, not a zip"),
    ]);
    let top = LayerBuilder::new()
        .file(
            "usr/lib/python3/site-packages/broken-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nVersion: 1.0\n",
        )
        .file(
            "app/node_modules/broken/package.json",
            r#"{"name": "broken", "version": "#,
        )
        .file("opt/not-a-zip.jar", "this is not a zip archive")
        .file("opt/app.war", war)
        .file_mode(
            "usr/local/bin/go-broken",
            go_with_broken_build_info(),
            0o755,
        )
        .file_mode(
            "usr/local/bin/rust-broken",
            rust_with_broken_audit_data(),
            0o755,
        )
        .file(
            "usr/local/bundle/specifications/broken-1.0.gemspec",
            "Gem::Specification.new do |s|\nend\n",
        )
        .file("app/vendor/composer/installed.json", "{ not json")
        .file("app/App.deps.json", "[1,")
        .tar();
    let mut w = OciWriter::new(dir).unwrap();
    let m = w.image(&TestImage::new(vec![base, top])).unwrap();
    w.tag("v1", &m).finish().unwrap();
    m
}

fn check_language_problems(sbom: &Sbom, written: &Written) {
    let got: BTreeSet<(&str, &str)> = sbom
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.cataloger.as_str()))
        .collect();
    let want: BTreeSet<(&str, &str)> = LANG_PROBLEMS.into_iter().collect();
    assert_eq!(got, want, "{:#?}", sbom.problems);
    for p in &sbom.problems {
        assert_eq!(
            p.layer.as_deref(),
            Some(written.layer_digests[1].as_str()),
            "{p}"
        );
        assert_eq!(p.layer_index, Some(1), "{p}");
        assert!(!p.message.is_empty(), "{p}");
        let shown = p.to_string();
        assert!(
            shown.contains(&p.path)
                && shown.contains("layer #1")
                && shown.contains(&written.layer_digests[1]),
            "{shown}"
        );
    }
    let msg = |path: &str| {
        sbom.problems
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.message.clone())
            .unwrap_or_default()
    };
    assert!(msg("/app/node_modules/broken/package.json").contains("malformed package.json"));
    assert!(msg("/usr/lib/python3/site-packages/broken-1.0.dist-info/METADATA").contains("Name"));
    assert!(msg("/opt/app.war:META-INF/maven/org.example/app/pom.properties").contains("version"));
    assert!(msg("/usr/local/bin/go-broken").contains("magic"));
    assert!(msg("/usr/local/bin/rust-broken").contains("zlib"));

    // Nothing else is lost: every good package of both layers is catalogued, the good jar nested in the war too.
    let have = |t: PackageType, n: &str| {
        sbom.packages
            .iter()
            .any(|p| p.package_type == t && p.name == n)
    };
    for (t, n) in [
        (PackageType::Python, "six"),
        (PackageType::Npm, "left-pad"),
        (PackageType::Java, "org.example:good"),
        (PackageType::Java, "org.example:ok"),
        (PackageType::Gem, "rack"),
        (PackageType::GoModule, "example.com/hello"),
    ] {
        assert!(have(t, n), "{t:?} {n} missing: {:#?}", sbom.packages);
    }
}

#[test]
fn malformed_language_manifests_are_recorded_problems_and_lose_nothing() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("oci");
    let written = language_layout(&dir);

    let sbom = analyse(
        &Source::OciLayout(dir.clone(), Some("v1".into())),
        &t.path().join("w1"),
    )
    .unwrap();
    check_language_problems(&sbom, &written);

    // The same image pushed to a real registry and pulled.
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    reg.push(&dir, "v1", "problems/app:v1", false).unwrap();
    let r = ImageRef::parse(&format!("{}/problems/app:v1", reg.addr)).unwrap();
    let pulled = analyse(&Source::Registry(r), &t.path().join("w2")).unwrap();
    check_language_problems(&pulled, &written);

    // The native JSON carries the problems and reads back; a document written before the field existed (no
    // `problems` key) still reads, with none.
    let json = portcullis_sbom::render(&sbom, OutputFormat::Json).unwrap();
    let back = portcullis_sbom::read_sbom(&json).unwrap();
    assert_eq!(back.problems, sbom.problems);
    let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        v["problems"].as_array().map(Vec::len),
        Some(LANG_PROBLEMS.len())
    );
    v.as_object_mut().unwrap().remove("problems");
    let old = portcullis_sbom::read_sbom(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert!(old.problems.is_empty());
    assert_eq!(old.packages, sbom.packages);
}

/// One image per OS package database: layer 0 writes a valid database, layer 1 overwrites it with a malformed
/// one. The analysis fails, naming the image, layer #1 (not #0, which wrote the valid one) and the path.
#[test]
fn malformed_os_package_databases_fail_naming_image_layer_and_path() {
    let rpmdb = common::shared().join("vulndata/go-rpmdb/pkg/testdata/libuuid/Packages");
    let rpm_good = std::fs::read(&rpmdb).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared vulnerability data is needed, see ../shared/README.md)",
            rpmdb.display()
        )
    });
    let rpm_bad = rpm_good[..rpm_good.len() / 2].to_vec();
    // (name, path, valid content, malformed content, what the error's detail says)
    type Case<'a> = (&'a str, &'a str, Vec<u8>, Vec<u8>, &'a str);
    let cases: [Case; 3] = [
        (
            "dpkg",
            "/var/lib/dpkg/status",
            b"Package: base-files\nStatus: install ok installed\nVersion: 12.4\n\n".to_vec(),
            b"Package: base-files\nStatus: install ok installed\nthis line has no colon\n".to_vec(),
            "line 3",
        ),
        (
            "apk",
            "/lib/apk/db/installed",
            b"P:musl\nV:1.2.4-r2\n\n".to_vec(),
            b"P:musl\nV:1.2.4-r2\nbroken line\n".to_vec(),
            "line 3",
        ),
        ("rpm", "/var/lib/rpm/Packages", rpm_good, rpm_bad, "rpm"),
    ];
    let t = tempfile::tempdir().unwrap();
    for (name, path, good, bad, detail) in cases {
        let dir = t.path().join(name);
        let rel = path.trim_start_matches('/');
        let mut w = OciWriter::new(&dir).unwrap();
        let m = w
            .image(&TestImage::new(vec![
                LayerBuilder::new()
                    .file("etc/os-release", "ID=linux\n")
                    .file(rel, &good)
                    .tar(),
                LayerBuilder::new().file(rel, &bad).tar(),
            ]))
            .unwrap();
        w.tag("v1", &m).finish().unwrap();
        let source = Source::OciLayout(dir.clone(), Some("v1".into()));
        let e = analyse(&source, &t.path().join("work")).unwrap_err();
        let msg = e.to_string();
        match &e {
            Error::Catalog { image, layer, .. } => {
                assert_eq!(image, &portcullis_sbom::source_name(&source), "{msg}");
                assert_eq!(
                    layer.as_deref(),
                    Some(format!("#1 {}", m.layer_digests[1]).as_str()),
                    "{msg}"
                );
            }
            other => panic!("{name}: expected a cataloguing error, got {other:?}"),
        }
        assert_eq!(e.path(), Some(path), "{msg}");
        for part in [
            &dir.display().to_string(),
            &m.layer_digests[1],
            path,
            detail,
        ] {
            assert!(msg.contains(part), "{name}: `{part}` missing from: {msg}");
        }
        // The valid database alone (layer 0 only) catalogues fine: the error is about layer 1's file.
        let ok_dir = t.path().join(format!("{name}-ok"));
        let mut w = OciWriter::new(&ok_dir).unwrap();
        let m = w
            .image(&TestImage::new(vec![
                LayerBuilder::new()
                    .file("etc/os-release", "ID=linux\n")
                    .file(rel, &good)
                    .tar(),
            ]))
            .unwrap();
        w.tag("v1", &m).finish().unwrap();
        let sbom = analyse(
            &Source::OciLayout(ok_dir, Some("v1".into())),
            &t.path().join("work"),
        )
        .unwrap_or_else(|e| panic!("{name}: the valid database must catalogue: {e}"));
        assert!(!sbom.packages.is_empty(), "{name}");
    }
}
