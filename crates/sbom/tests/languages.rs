//! Language catalogers against real content: a Go binary built with `go build`, packages installed with pip and
//! npm, a jar fetched from Maven Central with `mvn dependency:get`, Debian's own log4j 1.2 package. Each result
//! is compared with what the ecosystem's own tool reports (`go version -m`, `pip list`, `npm ls`). Built
//! artefacts are cached under `$HOME/.cache/portcullis/` (built in a temp dir, then renamed).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_sbom::PackageType;

use common::run;

/// Builds `name` once into the cache with `build(tmp_dir)` (see `common::build_once`).
fn cached(name: &str, build: impl FnOnce(&Path)) -> PathBuf {
    common::build_once(name, |d| d.is_dir(), build)
}

fn catalog(root: &Path) -> portcullis_sbom::Sbom {
    portcullis_sbom::catalog(&common::view_of(root), "dir:test", Default::default()).unwrap()
}

#[test]
fn go_binary_build_info_matches_go_version_m() {
    let gover = run(Command::new("go").arg("env").arg("GOVERSION"))
        .trim()
        .to_string();
    let root = cached(&format!("go-buildinfo-{gover}"), |tmp| {
        let src = tmp.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("main.go"),
            "package main\n\nimport (\n\t\"fmt\"\n\t\"golang.org/x/text/language\"\n)\n\nfunc main() { fmt.Println(language.English) }\n",
        )
        .unwrap();
        std::fs::write(src.join("go.mod"), "module example.com/portcullis/gotest\n\ngo 1.21\n\nrequire golang.org/x/text v0.23.0\n").unwrap();
        run(Command::new("go").args(["mod", "tidy"]).current_dir(&src));
        std::fs::create_dir_all(tmp.join("root/usr/local/bin")).unwrap();
        run(Command::new("go")
            .args(["build", "-o"])
            .arg(tmp.join("root/usr/local/bin/gotest"))
            .arg(".")
            .current_dir(&src));
    });
    let bin = root.join("root/usr/local/bin/gotest");
    // Reference: the Go toolchain's own reading of the build info.
    let mut want = BTreeSet::new();
    for line in run(Command::new("go").args(["version", "-m"]).arg(&bin)).lines() {
        let f: Vec<&str> = line.trim().split('\t').collect();
        match f.as_slice() {
            [go] if go.ends_with(gover.as_str()) => {
                want.insert(("stdlib".to_string(), gover.clone()));
            }
            ["mod" | "dep", p, v, ..] => {
                want.insert((p.to_string(), v.to_string()));
            }
            _ => {}
        }
    }
    want.insert(("stdlib".to_string(), gover.clone()));
    let sbom = catalog(&root.join("root"));
    let got: BTreeSet<(String, String)> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == PackageType::GoModule)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    let text = sbom
        .packages
        .iter()
        .find(|p| p.name == "golang.org/x/text")
        .unwrap();
    assert_eq!(text.purl, "pkg:golang/golang.org/x/text@v0.23.0");
    assert_eq!(text.location, "/usr/local/bin/gotest");
}

#[test]
fn pip_installed_packages_match_pip_list() {
    let root = cached("pip-site-packages-v1", |tmp| {
        run(Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "--no-deps", "--target"])
            .arg(tmp.join("usr/lib/python3/site-packages"))
            .args(["six==1.16.0", "attrs==23.2.0", "idna==3.6"]));
    });
    let site = root.join("usr/lib/python3/site-packages");
    let list: serde_json::Value = serde_json::from_str(&run(Command::new("python3")
        .args(["-m", "pip", "list", "--format", "json", "--path"])
        .arg(&site)))
    .unwrap();
    let want: BTreeSet<(String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_lowercase(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(want.len(), 3, "{want:?}");
    let sbom = catalog(&root);
    let got: BTreeSet<(String, String)> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == PackageType::Python)
        .map(|p| (p.name.to_lowercase(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    let six = sbom.packages.iter().find(|p| p.name == "six").unwrap();
    assert_eq!(six.purl, "pkg:pypi/six@1.16.0");
    assert!(
        six.files
            .iter()
            .any(|f| f == "/usr/lib/python3/site-packages/six.py"),
        "{:?}",
        six.files
    );
    assert_eq!(six.licenses, vec!["MIT".to_string()]);
}

#[test]
fn npm_installed_packages_match_npm_ls() {
    let root = cached("npm-node-modules-v1", |tmp| {
        let app = tmp.join("srv/app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(
            app.join("package.json"),
            r#"{"name":"portcullis-test-app","version":"1.0.0","private":true}"#,
        )
        .unwrap();
        run(Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "left-pad@1.3.0",
                "@sindresorhus/is@4.6.0",
                "debug@4.3.4",
            ])
            .current_dir(&app));
    });
    let app = root.join("srv/app");
    let ls: serde_json::Value = serde_json::from_str(&run(Command::new("npm")
        .args(["ls", "--all", "--json"])
        .current_dir(&app)))
    .unwrap();
    fn walk(v: &serde_json::Value, out: &mut BTreeSet<(String, String)>) {
        if let Some(deps) = v.get("dependencies").and_then(|d| d.as_object()) {
            for (n, d) in deps {
                if let Some(ver) = d.get("version").and_then(|x| x.as_str()) {
                    out.insert((n.clone(), ver.to_string()));
                }
                walk(d, out);
            }
        }
    }
    let mut want = BTreeSet::new();
    walk(&ls, &mut want);
    assert!(want.len() >= 4, "{want:?}");
    let sbom = catalog(&root);
    let got: BTreeSet<(String, String)> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == PackageType::Npm)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    let is = sbom
        .packages
        .iter()
        .find(|p| p.name == "@sindresorhus/is")
        .unwrap();
    assert_eq!(is.purl, "pkg:npm/%40sindresorhus/is@4.6.0");
}

#[test]
fn maven_central_jar() {
    let root = cached("maven-commons-text-1.10.0", |tmp| {
        run(Command::new("mvn")
            .args([
                "-q",
                "-B",
                "dependency:get",
                "-Dartifact=org.apache.commons:commons-text:1.10.0",
                "-Dtransitive=false",
            ])
            .arg(format!("-Dmaven.repo.local={}", tmp.join("m2").display())));
        let jar = tmp.join("m2/org/apache/commons/commons-text/1.10.0/commons-text-1.10.0.jar");
        std::fs::create_dir_all(tmp.join("root/opt/app/lib")).unwrap();
        std::fs::copy(jar, tmp.join("root/opt/app/lib/commons-text-1.10.0.jar")).unwrap();
    });
    let sbom = catalog(&root.join("root"));
    let java: Vec<_> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == PackageType::Java)
        .collect();
    assert_eq!(java.len(), 1, "{java:#?}");
    assert_eq!(java[0].name, "org.apache.commons:commons-text");
    assert_eq!(java[0].version, "1.10.0");
    assert_eq!(
        java[0].purl,
        "pkg:maven/org.apache.commons/commons-text@1.10.0"
    );
    assert_eq!(java[0].location, "/opt/app/lib/commons-text-1.10.0.jar");
}

#[test]
fn debian_system_jar_is_its_maven_artifact() {
    // Debian's own package: /usr/share/java/log4j-1.2-1.2.17.jar has no pom; /usr/share/maven-repo names it
    let root = cached("debian-liblog4j1.2-java", |tmp| {
        std::fs::create_dir_all(tmp).unwrap();
        run(Command::new("apt-get")
            .args(["download", "liblog4j1.2-java"])
            .current_dir(tmp));
        let deb = std::fs::read_dir(tmp)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .expect("apt-get download wrote no .deb");
        run(Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(tmp.join("root")));
    });
    let sbom = catalog(&root.join("root"));
    let java: Vec<_> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == PackageType::Java)
        .collect();
    assert_eq!(java.len(), 1, "{java:#?}");
    assert_eq!(
        (java[0].name.as_str(), java[0].version.as_str()),
        ("log4j:log4j", "1.2.17")
    );
    assert_eq!(java[0].purl, "pkg:maven/log4j/log4j@1.2.17");
    assert_eq!(java[0].location, "/usr/share/java/log4j-1.2-1.2.17.jar");
}

#[test]
fn cargo_auditable_binary_matches_cargo_lock() {
    let root = common::cargo_auditable_hello();
    // Reference: the crate graph cargo resolved (Cargo.lock `[[package]]` name/version pairs).
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap();
    let mut want = BTreeSet::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            want.insert((n, v.trim_matches('"').to_string()));
        }
    }
    assert!(
        want.contains(&("hex".to_string(), "0.4.3".to_string()))
            || want.iter().any(|(n, _)| n == "hex")
    );
    let sbom = catalog(&root.join("root"));
    let got: BTreeSet<(String, String)> = sbom
        .packages
        .iter()
        .filter(|p| p.package_type == PackageType::RustCrate)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    assert_eq!(got, want);
    let hex = sbom.packages.iter().find(|p| p.name == "hex").unwrap();
    assert!(hex.purl.starts_with("pkg:cargo/hex@0.4."), "{}", hex.purl);
    assert_eq!(hex.location, "/usr/local/bin/auditable-hello");
}
