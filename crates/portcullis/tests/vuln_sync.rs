//! `serve` syncs its vulnerability data at start (the database is empty) and on its schedule from configured
//! sources — here a loopback HTTP server serving the real shared advisory files, offline — and a failing sync
//! keeps the old data, is counted in the metrics and shows in the status (REST API and `system status`).

mod common;

use std::time::{Duration, Instant};

use common::{Serve, cli, https_client, shared, wait_ready};
use portcullis_testkit::{FileServer, free_port};

const TOKEN: &str = "sync-test-token";

fn status(http: &reqwest::blocking::Client, port: u16) -> serde_json::Value {
    http.get(format!("https://localhost:{port}/v1/system/status"))
        .bearer_auth(TOKEN)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .expect("GET /v1/system/status")
}

/// Polls the status until `done` holds (up to 60 s); the panic shows the last status and the log.
fn wait_status(
    http: &reqwest::blocking::Client,
    port: u16,
    log: &std::path::Path,
    what: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let s = status(http, port);
        if done(&s) {
            return s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{what} never happened; status {s:#}\nlog:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn has_ns(s: &serde_json::Value, ns: &str) -> bool {
    s["vuln_data"]["namespaces"].get(ns).is_some()
}

#[test]
fn serve_syncs_at_start_and_on_schedule_and_a_failed_sync_keeps_the_data() {
    let vulndata = shared().join("vulndata");
    let ghsa =
        "osv/ghsa/advisories/github-reviewed/2023/05/GHSA-j8r2-6x86-q33q/GHSA-j8r2-6x86-q33q.json";
    let alpine = "alpine-secdb/v3.9/main.yaml";
    for f in [ghsa, alpine] {
        assert!(
            vulndata.join(f).is_file(),
            "{f} missing under {}",
            vulndata.display()
        );
    }
    let files = FileServer::start(&vulndata);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let vuln_db = tmp.path().join("vuln.db");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let (s1, s2) = (
        format!("{}/{ghsa}", files.url),
        format!("{}/{alpine}", files.url),
    );
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            vuln_db.to_str().unwrap(),
            "--vuln-source",
            &s1,
            "--vuln-source",
            &s2,
            "--analysis-isolation",
            "inline",
        ],
        &[
            ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
            ("PORTCULLIS_VULN_SYNC_INTERVAL", "3s"),
        ],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);

    // At start: the empty database is synced from both sources.
    let first = wait_status(&http, port, &log, "the sync at start", |s| {
        has_ns(s, "pypi") && has_ns(s, "alpine:3.9")
    });
    assert_eq!(first["vuln_sync"]["interval_seconds"], 3, "{first:#}");
    assert_eq!(first["vuln_sync"]["failures"], 0, "{first:#}");
    assert!(
        first["vuln_sync"]["last_success_at"].is_string(),
        "{first:#}"
    );
    let version = first["db_version"].as_str().unwrap().to_string();
    assert!(!version.is_empty());
    let served = files.requests();
    assert!(served >= 2, "{served} requests");

    // On schedule, with the upstream down: the sync fails, the data stays, the failure is visible.
    files.set_failing(true);
    let failed = wait_status(&http, port, &log, "a failed scheduled sync", |s| {
        s["vuln_sync"]["failures"].as_u64() >= Some(1)
    });
    let err = failed["vuln_sync"]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(err.contains(&s1), "the error names the source: {err}");
    assert!(err.contains("503"), "the error says what failed: {err}");
    assert!(err.contains("previous data is kept"), "{err}");
    assert_eq!(failed["db_version"], version.as_str(), "{failed:#}");
    assert!(
        has_ns(&failed, "pypi") && has_ns(&failed, "alpine:3.9"),
        "{failed:#}"
    );
    let metrics = http
        .get(format!("https://localhost:{port}/metrics"))
        .send()
        .and_then(|r| r.text())
        .unwrap();
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("portcullis_vulnerability_sync_failures_total "))
        .unwrap_or_else(|| panic!("no sync failure counter in\n{metrics}"));
    let n: f64 = counted.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1.0, "{counted}");
    let env = [
        ("PORTCULLIS_URL", format!("https://127.0.0.1:{port}")),
        ("PORTCULLIS_TOKEN", TOKEN.to_string()),
        ("PORTCULLIS_DATA_DIR", data.display().to_string()),
    ];
    let (code, out, errout) = cli(&env, &["system", "status"]);
    assert_eq!(code, 0, "{errout}");
    assert!(out.contains("Vulnerability data sync: every 3s"), "{out}");
    assert!(out.contains("last error (previous data kept)"), "{out}");
    assert!(out.contains("alpine:3.9") && out.contains("pypi"), "{out}");

    // The upstream is back: the retry (after min(interval, 15 min)) succeeds and the error clears.
    files.set_failing(false);
    let back = wait_status(
        &http,
        port,
        &log,
        "a sync after the upstream came back",
        |s| s["vuln_sync"]["last_error"].is_null() && s["db_version"] != version.as_str(),
    );
    assert!(
        has_ns(&back, "pypi") && has_ns(&back, "alpine:3.9"),
        "{back:#}"
    );
    let leftovers: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".sync-"))
        .collect();
    assert!(leftovers.is_empty(), "scratch files left: {leftovers:?}");
}
