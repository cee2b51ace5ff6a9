//! `db update` from the NVD CVE API 2.0: paging with `startIndex`, the incremental pull with
//! `lastModStartDate`/`lastModEndDate` after the first one, and `NVD_API_KEY` sent as the `apiKey` header.
//! NVD is not reachable from the tests, so a local HTTP server (127.0.0.1, random port) stands in for it and
//! serves the real API pages of `../shared/vulndata` (vuln-list-update's `respPage1`/`respPage2`, a two-page
//! answer of 3 CVEs; osv.dev's single-CVE page of CVE-2024-3094 for the incremental pull); it logs each request's
//! target and `apiKey` header.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use portcullis_testkit::shared;
use portcullis_vuln::VulnDb;

type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

fn page(name: &str) -> PathBuf {
    let p = shared().join("vulndata").join(name);
    assert!(p.is_file(), "{} missing", p.display());
    p
}

/// A stand-in for services.nvd.nist.gov: `/rest/json/cves/2.0` answers by `startIndex` and `lastModStartDate`.
fn nvd_server() -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    let seen = log.clone();
    let first = page("vuln-list-update/nvd/testdata/fixtures/respPage1.json");
    let second = page("vuln-list-update/nvd/testdata/fixtures/respPage2.json");
    let changed = page("osv.dev/vulnfeeds/test_data/nvdcve-2.0/CVE-2024-3094.json");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let mut key = None;
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((n, v)) = h.split_once(':')
                    && n.eq_ignore_ascii_case("apikey")
                {
                    key = Some(v.trim().to_string());
                }
            }
            let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            seen.lock().unwrap().push((target.clone(), key));
            let file = if !target.starts_with("/rest/json/cves/2.0?") {
                None
            } else if target.contains("lastModStartDate=") {
                Some(&changed)
            } else if target.contains("startIndex=0") {
                Some(&first)
            } else if target.contains("startIndex=2") {
                Some(&second)
            } else {
                None
            };
            match file.map(std::fs::read) {
                Some(Ok(body)) => {
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(&body);
                }
                _ => {
                    let _ = s.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    (format!("http://{addr}/rest/json/cves/2.0"), log)
}

fn nvd_rows(db: &Path) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT id FROM vulns WHERE origin = 'nvd' ORDER BY id")
        .unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn pages_then_an_incremental_pull_since_the_last_one() {
    let (url, log) = nvd_server();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    let mut db = VulnDb::open(&path).unwrap();

    // first pull: every CVE, page by page
    let r = db.import(&url).unwrap();
    assert_eq!(r.provenance.records.get("nvd"), Some(&3), "{r:?}");
    let reqs = log.lock().unwrap().clone();
    let targets: Vec<&str> = reqs.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/rest/json/cves/2.0?resultsPerPage=2000&startIndex=0",
            "/rest/json/cves/2.0?resultsPerPage=2000&startIndex=2"
        ]
    );
    assert!(
        reqs.iter().all(|(_, k)| k.is_none()),
        "no key, no header: {reqs:?}"
    );
    assert_eq!(
        nvd_rows(&path),
        ["CVE-2020-8167", "CVE-2021-22903", "CVE-2024-5732"]
    );

    // second pull: only what changed since the first (an hour of overlap), the rest kept
    log.lock().unwrap().clear();
    let r = db.import(&url).unwrap();
    assert_eq!(r.provenance.records.get("nvd"), Some(&1), "{r:?}");
    let reqs = log.lock().unwrap().clone();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let t = &reqs[0].0;
    assert!(
        t.contains("startIndex=0")
            && t.contains("&lastModStartDate=")
            && t.contains("&lastModEndDate=")
            && t.contains("%2B00:00"),
        "{t}"
    );
    assert_eq!(
        nvd_rows(&path),
        [
            "CVE-2020-8167",
            "CVE-2021-22903",
            "CVE-2024-3094",
            "CVE-2024-5732"
        ]
    );
}

#[test]
fn the_api_key_from_the_environment_is_sent_as_the_apikey_header() {
    let (url, log) = nvd_server();
    let dir = tempfile::tempdir().unwrap();
    // the key is read from the environment: the import runs in a child process of this test binary with it set
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_imports_from_nvd_test_url",
            "--nocapture",
        ])
        .env("NVD_API_KEY", "test-key-123")
        .env("NVD_TEST_URL", &url)
        .env("NVD_TEST_DB", dir.path().join("v.db"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let reqs = log.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(
        reqs.iter()
            .all(|(_, k)| k.as_deref() == Some("test-key-123")),
        "{reqs:?}"
    );
}

/// Run by `the_api_key_from_the_environment_is_sent_as_the_apikey_header` in a child process.
#[test]
#[ignore = "run by the_api_key_from_the_environment_is_sent_as_the_apikey_header with its environment"]
fn child_imports_from_nvd_test_url() {
    let url = std::env::var("NVD_TEST_URL").expect("NVD_TEST_URL is set by the parent test");
    let db = std::env::var("NVD_TEST_DB").expect("NVD_TEST_DB is set by the parent test");
    let r = VulnDb::open(db).unwrap().import(&url).unwrap();
    assert_eq!(r.provenance.records.get("nvd"), Some(&3));
}
