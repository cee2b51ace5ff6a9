//! apk cataloger: `/lib/apk/db/installed` (Alpine, Wolfi, Chainguard): name, version, origin, licence, files.

use portcullis_image::FsView;

use crate::{Distro, Error, Package, PackageType, fsutil, purl::purl};

const DBS: [&str; 2] = ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"];

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    DBS.contains(&path)
}

/// One package record of the installed database.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ApkRecord {
    /// `P:`
    pub name: String,
    /// `V:`
    pub version: String,
    /// `A:`
    pub arch: Option<String>,
    /// `L:`
    pub license: Option<String>,
    /// `o:`
    pub origin: Option<String>,
    /// Files from `F:` (directory) + `R:` (file) pairs, absolute.
    pub files: Vec<String>,
    /// 1-based line where the record starts.
    pub line: usize,
}

/// Parses an apk installed database. A line that is not `X:value` is an error naming the line.
pub fn parse_installed(path: &str, text: &str) -> Result<Vec<ApkRecord>, Error> {
    let mut out = Vec::new();
    let mut cur: Option<ApkRecord> = None;
    let mut dir = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let lineno = i + 1;
        if line.is_empty() {
            if let Some(r) = cur.take() {
                out.push(r);
            }
            dir.clear();
            continue;
        }
        let b = line.as_bytes();
        if b.len() < 2 || b[1] != b':' {
            return Err(Error::malformed(
                path,
                "apk installed database",
                format!(
                    "line {lineno}: expected `X:value`, found {:?}",
                    line.chars().take(60).collect::<String>()
                ),
            ));
        }
        let v = &line[2..];
        let r = cur.get_or_insert_with(|| ApkRecord {
            line: lineno,
            ..ApkRecord::default()
        });
        match b[0] {
            b'P' => r.name = v.to_string(),
            b'V' => r.version = v.to_string(),
            b'A' => r.arch = Some(v.to_string()),
            b'L' => r.license = Some(v.to_string()),
            b'o' => r.origin = Some(v.to_string()),
            b'F' => dir = v.to_string(),
            b'R' => r.files.push(if dir.is_empty() {
                format!("/{v}")
            } else {
                format!("/{dir}/{v}")
            }),
            _ => {}
        }
    }
    if let Some(r) = cur.take() {
        out.push(r);
    }
    for r in &out {
        if r.name.is_empty() {
            return Err(Error::malformed(
                path,
                "apk installed database",
                format!("record at line {}: no `P:` (package name)", r.line),
            ));
        }
    }
    Ok(out)
}

/// Catalogues the apk database, when there is one.
pub fn catalog(fs: &FsView, distro: Option<&Distro>) -> Result<Vec<Package>, Error> {
    let mut out = Vec::new();
    for db in DBS {
        if !fsutil::is_kept_file(fs, db) {
            continue;
        }
        // /lib may be a symlink to /usr/lib: read each real database once.
        if db != DBS[0] && fsutil::resolve(fs, db) == fsutil::resolve(fs, DBS[0]) {
            continue;
        }
        let text = fsutil::read_text(fs, db)?;
        let layer = fsutil::layer_of(fs, db);
        let namespace = distro.map(|d| d.id.as_str()).unwrap_or("alpine");
        let distro_q = distro
            .map(|d| match &d.version_id {
                Some(v) => format!("{}-{v}", d.id),
                None => d.id.clone(),
            })
            .unwrap_or_default();
        for r in parse_installed(db, &text)? {
            let upstream = r
                .origin
                .clone()
                .filter(|o| *o != r.name)
                .unwrap_or_default();
            out.push(Package {
                purl: purl(
                    "apk",
                    Some(namespace),
                    &r.name,
                    &r.version,
                    &[
                        ("arch", r.arch.as_deref().unwrap_or("")),
                        ("distro", &distro_q),
                        ("upstream", &upstream),
                    ],
                ),
                name: r.name,
                version: r.version,
                package_type: PackageType::Apk,
                source_name: r.origin,
                source_version: None,
                arch: r.arch,
                licenses: r.license.map(|l| vec![l]).unwrap_or_default(),
                location: db.to_string(),
                files: r.files,
                layer: layer.clone(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsutil::testutil::{syft, view_of};

    #[test]
    fn single_record_with_origin_licence_files() {
        let text = std::fs::read_to_string(syft("pkg/cataloger/alpine/testdata/single")).unwrap();
        let recs = parse_installed("single", &text).unwrap();
        assert_eq!(recs.len(), 1);
        let r = &recs[0];
        assert_eq!(
            (r.name.as_str(), r.version.as_str()),
            ("musl-utils", "1.1.24-r2")
        );
        assert_eq!(r.origin.as_deref(), Some("musl"));
        assert_eq!(r.license.as_deref(), Some("MIT BSD GPL2+"));
        assert!(
            r.files.contains(&"/usr/bin/ldd".to_string()),
            "{:?}",
            r.files
        );
        assert!(r.files.contains(&"/sbin/ldconfig".to_string()));
    }

    #[test]
    fn image_db_and_purl() {
        let fs = view_of(&syft("pkg/cataloger/alpine/testdata/multiple-1"));
        let d = Distro {
            id: "alpine".into(),
            version_id: Some("3.16.0".into()),
            ..Distro::default()
        };
        let pkgs = catalog(&fs, Some(&d)).unwrap();
        assert!(pkgs.len() >= 2, "{}", pkgs.len());
        let p = pkgs.iter().find(|p| p.name == "busybox-binsh").unwrap();
        assert_eq!(p.version, "1.36.1-r15");
        assert_eq!(p.source_name.as_deref(), Some("busybox"));
        assert_eq!(
            p.purl,
            "pkg:apk/alpine/busybox-binsh@1.36.1-r15?arch=x86_64&distro=alpine-3.16.0&upstream=busybox"
        );
        assert_eq!(p.layer.as_deref(), Some("sha256:test-layer"));
    }

    #[test]
    fn every_fixture_parses_and_corrupt_one_names_line() {
        for f in [
            "base",
            "empty-deps-and-provides",
            "extra-file-attributes",
            "multiple-2/lib/apk/db/installed",
        ] {
            let text =
                std::fs::read_to_string(syft("pkg/cataloger/alpine/testdata").join(f)).unwrap();
            let recs = parse_installed(f, &text).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(!recs.is_empty(), "{f}");
            assert!(recs.iter().all(|r| !r.version.is_empty()), "{f}");
        }
        let fs = view_of(&syft("pkg/cataloger/alpine/testdata/corrupt"));
        let err = catalog(&fs, None).unwrap_err().to_string();
        assert!(
            err.contains("/lib/apk/db/installed") && err.contains("line 1"),
            "{err}"
        );
    }
}
