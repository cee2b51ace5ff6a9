//! `db update`/`db import` from URLs: a local HTTP mirror (a real HTTP server on 127.0.0.1, random port) and
//! `file://`; KEV and EPSS data (the real CISA KEV JSON and FIRST EPSS CSV from `../shared/vulndata`) attached
//! to findings.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use portcullis_sbom::{PackageType, Sbom};
use portcullis_testkit::{package, shared};
use portcullis_vuln::VulnDb;

/// Serves files of `root` over HTTP/1.1 until the test ends (one thread, connection: close).
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut line = String::new();
            let mut r = BufReader::new(s.try_clone().unwrap());
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/');
            match std::fs::read(root.join(path)) {
                Ok(body) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(&body);
                }
                Err(_) => {
                    let _ = s.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    format!("http://{addr}")
}

fn osv_tar_gz(path: &Path) {
    let f = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let body = r#"{"schema_version":"1.6.0","id":"GHSA-test-0001","modified":"2024-01-01T00:00:00Z",
      "aliases":["CVE-1999-0001"],"database_specific":{"severity":"HIGH"},
      "affected":[{"package":{"ecosystem":"npm","name":"mirror-pkg"},
      "ranges":[{"type":"SEMVER","events":[{"introduced":"1.0.0"},{"fixed":"1.4.2"}]}]}]}"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    tar.append_data(&mut h, "advisories/GHSA-test-0001.json", body.as_bytes())
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap();
}

fn npm(name: &str, v: &str) -> Sbom {
    Sbom {
        packages: vec![
            package(PackageType::Npm, name, v)
                .location("package-lock.json")
                .build(),
        ],
        ..Default::default()
    }
}

#[test]
fn imports_from_a_local_http_mirror_and_file_urls() {
    let mirror = tempfile::tempdir().unwrap();
    osv_tar_gz(&mirror.path().join("osv.tar.gz"));
    std::fs::copy(
        shared().join("vulndata/vunnel/tests/unit/providers/epss/test-fixtures/example-1.csv"),
        mirror.path().join("epss.csv"),
    )
    .unwrap();
    let base = serve(mirror.path().to_path_buf());
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    let r = db.import(&format!("{base}/osv.tar.gz")).unwrap();
    assert_eq!(r.provenance.records.get("osv"), Some(&1));
    db.import(&format!("{base}/epss.csv")).unwrap();
    let kev = shared().join("vulndata/cisa-kev/known_exploited_vulnerabilities.json");
    let r = db.import(&format!("file://{}", kev.display())).unwrap();
    assert_eq!(r.provenance.records.get("kev"), Some(&1404));
    // a missing file on the mirror is an error and changes nothing
    let before = db.db_version().unwrap();
    let err = db
        .import(&format!("{base}/missing.zip"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("404"), "{err}");
    assert_eq!(db.db_version().unwrap(), before);

    let status = db.status().unwrap();
    assert_eq!(status.sources.len(), 3);
    assert_eq!(status.kev, 1404);

    let report = db.match_sbom(&npm("mirror-pkg", "1.4.1")).unwrap();
    let f = &report.findings[0];
    assert_eq!(f.id, "GHSA-test-0001");
    assert_eq!(f.fixed_in.as_deref(), Some("1.4.2"));
    assert_eq!(f.severity, portcullis_vuln::Severity::High);
    // EPSS example-1.csv: CVE-1999-0001,0.00383,0.73075 — attached through the alias
    assert_eq!(f.epss, Some(0.00383));
    assert!(!f.kev);
    assert!(
        db.match_sbom(&npm("mirror-pkg", "1.4.2"))
            .unwrap()
            .findings
            .is_empty()
    );
    assert!(
        db.match_sbom(&npm("mirror-pkg", "0.9.0"))
            .unwrap()
            .findings
            .is_empty()
    );
}

#[test]
fn nvd_cvss_is_the_severity_fallback() {
    // NVD single-entry.json: CVE-2022-1576, CVSS 3.1 base 6.5 (MEDIUM), Primary. The OSV record (generated here)
    // aliases it and gives no severity of its own.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(
        shared().join("vulndata/vunnel/tests/unit/providers/nvd/test-fixtures/single-entry.json"),
        src.join("nvd.json"),
    )
    .unwrap();
    std::fs::write(
        src.join("osv.json"),
        r#"{"schema_version":"1.6.0","id":"GHSA-test-0002","modified":"2024-01-01T00:00:00Z","aliases":["CVE-2022-1576"],
        "affected":[{"package":{"ecosystem":"npm","name":"no-sev"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"2.4.5"}]}]}]}"#,
    )
    .unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    db.import(src.to_str().unwrap()).unwrap();
    let f = &db.match_sbom(&npm("no-sev", "2.4.4")).unwrap().findings[0];
    assert_eq!(f.severity, portcullis_vuln::Severity::Medium);
    assert!(
        f.cvss
            .iter()
            .any(|c| c.version == "3.1" && c.base_score == 6.5)
    );
    assert!(
        f.description
            .as_deref()
            .unwrap_or("")
            .contains("WP Maintenance Mode")
    );
}

#[test]
fn amazon_updateinfo_through_mirror_list_and_repomd() {
    // the layout of cdn.amazonlinux.com: mirror.list → <mirror>/repodata/repomd.xml → its updateinfo location
    let mirror = tempfile::tempdir().unwrap();
    let base = serve(mirror.path().to_path_buf());
    let repo = mirror.path().join("al2023/repodata");
    std::fs::create_dir_all(&repo).unwrap();
    let fixtures = shared().join("vulndata/vuln-list-update/amazon/testdata/fixtures");
    // repomd_valid.xml: <data type="updateinfo"><location href="repodata/updateinfo.xml.gz"/>
    std::fs::copy(fixtures.join("repomd_valid.xml"), repo.join("repomd.xml")).unwrap();
    std::fs::copy(
        fixtures.join("updateinfo_AL2023.xml.gz"),
        repo.join("updateinfo.xml.gz"),
    )
    .unwrap();
    std::fs::write(
        mirror.path().join("mirror.list"),
        format!("{base}/al2023\n"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    let r = db.import(&format!("{base}/mirror.list")).unwrap();
    assert_eq!(r.provenance.records.get("amazon-updateinfo"), Some(&1));

    // a repomd whose updateinfo points off the mirror is refused, naming the location
    let evil = std::fs::read_to_string(repo.join("repomd.xml"))
        .unwrap()
        .replace(
            "repodata/updateinfo.xml.gz",
            "http://elsewhere.invalid/u.xml.gz",
        );
    std::fs::write(repo.join("repomd.xml"), evil).unwrap();
    let err = db
        .import(&format!("{base}/mirror.list"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not inside the mirror"), "{err}");
}

#[test]
fn red_hat_csaf_vex_archive_through_archive_latest() {
    // the layout of security.access.redhat.com/data/csaf/v2/vex/: archive_latest.txt names the current
    // csaf_vex_<date>.tar.zst in the same directory; the archive here holds real VEX documents
    let site = tempfile::tempdir().unwrap();
    let base = serve(site.path().to_path_buf());
    let vex = site.path().join("data/csaf/v2/vex");
    std::fs::create_dir_all(&vex).unwrap();
    let members = shared().join(
        "vulndata/vuls-data-update/pkg/fetch/redhat/vex/v1/testdata/fixtures/csaf_vex_2024-08-04.tar.zst.members",
    );
    let f = std::fs::File::create(vex.join("csaf_vex_2024-08-04.tar.zst")).unwrap();
    let mut tar = tar::Builder::new(
        zstd::stream::write::Encoder::new(f, 3)
            .unwrap()
            .auto_finish(),
    );
    for name in [
        "cve-2023-6212.json",
        "cve-2023-6237.json",
        "cve-2023-6238.json",
    ] {
        tar.append_path_with_name(members.join("2023").join(name), format!("2023/{name}"))
            .unwrap();
    }
    tar.into_inner().unwrap();
    std::fs::write(
        vex.join("archive_latest.txt"),
        "csaf_vex_2024-08-04.tar.zst\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut db = VulnDb::open(dir.path().join("v.db")).unwrap();
    let url = format!("{base}/data/csaf/v2/vex/archive_latest.txt");
    let r = db.import(&url).unwrap();
    assert_eq!(r.provenance.records.get("redhat-csaf"), Some(&3), "{r:?}");
    assert!(r.bad_records.is_empty(), "{:?}", r.bad_records);

    // a name that leaves the directory is refused, naming it
    std::fs::write(vex.join("archive_latest.txt"), "../../../../etc/passwd\n").unwrap();
    let err = db.import(&url).unwrap_err().to_string();
    assert!(
        err.contains("not a file name in the same directory"),
        "{err}"
    );
}
