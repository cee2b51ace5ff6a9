//! `serve` syncs its vulnerability data at start (the database is empty) and on its schedule from configured
//! sources — here a loopback HTTP server serving the real shared advisory files, offline — and a failing sync
//! keeps the old data, is counted in the metrics and shows in the status (REST API and `system status`).

mod common;

use std::time::{Duration, Instant};

use common::{
    Serve, cli, https_client, pod_review, shared, validate, wait_ready, write_bookworm_image,
};
use portcullis_testkit::{FileServer, Mode, PgServer, Registry, free_port};

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
    let ready = http
        .get(format!("https://localhost:{port}/readyz"))
        .send()
        .and_then(|r| r.text())
        .unwrap();
    assert!(ready.starts_with("ready\n"), "{ready}");
    assert!(ready.contains(&format!("version {version}")), "{ready}");
    assert!(
        ready.contains("coverage: 2 namespace(s): alpine:3.9, pypi"),
        "{ready}"
    );
    assert!(ready.contains("last sync failed"), "{ready}");
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

/// One replica of two over one PostgreSQL store.
struct Replica {
    port: u16,
    data: std::path::PathBuf,
    log: std::path::PathBuf,
    http: reqwest::blocking::Client,
    _serve: Serve,
}

impl Replica {
    fn start(
        dir: &std::path::Path,
        store: &str,
        config: &std::path::Path,
        args: &[&str],
        interval: &str,
    ) -> Replica {
        std::fs::create_dir_all(dir).unwrap();
        let data = dir.join("data");
        let log = dir.join("serve.log");
        let port = free_port().unwrap();
        let vuln_db = dir.join("vuln.db");
        let mut all = vec![
            "--store",
            store,
            "--vuln-db",
            vuln_db.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
            "--analysis-isolation",
            "inline",
        ];
        all.extend_from_slice(args);
        let serve = Serve::start(
            port,
            &data,
            &log,
            &all,
            &[
                ("PORTCULLIS_ADMIN_TOKEN", TOKEN),
                ("PORTCULLIS_VULN_SYNC_INTERVAL", interval),
            ],
        );
        let http = https_client(&data);
        wait_ready(&http, port, &log);
        Replica {
            port,
            data,
            log,
            http,
            _serve: serve,
        }
    }

    fn env(&self) -> [(&'static str, String); 3] {
        [
            ("PORTCULLIS_URL", format!("https://127.0.0.1:{}", self.port)),
            ("PORTCULLIS_TOKEN", TOKEN.to_string()),
            ("PORTCULLIS_DATA_DIR", self.data.display().to_string()),
        ]
    }

    fn status_when(
        &self,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        wait_status(&self.http, self.port, &self.log, what, done)
    }

    fn message(&self, review: &serde_json::Value) -> (bool, String) {
        let r = validate(&self.http, self.port, review);
        (
            r["response"]["allowed"] == true,
            r["response"]["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    }
}

/// Replicas agree after a data sync: replica A syncs (here through `POST /v1/system/feeds`) and publishes the
/// result into the shared PostgreSQL store as a new generation; replica B, which never syncs on its own, installs
/// it within seconds, and both deny the image whose CVE the new data names, with the same message.
#[test]
fn a_sync_on_one_replica_reaches_the_other_through_the_store() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let pg = PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL for the replicas: {e}"));
    let store = pg.create_database("portcullis").expect("create database");
    let tmp = tempfile::tempdir().unwrap();
    // lodash 4.17.11: GHSA-jf85-cpcp-j695 (CVE-2019-10744), critical, fixed in 4.17.12.
    let oci = tmp.path().join("oci");
    write_bookworm_image(&oci, Some("4.17.11"));
    reg.push(&oci, "v1", "sync/app:1", false)
        .expect("push the test image");
    let image = format!("{}/sync/app:1", reg.addr);
    let review = pod_review(&[&image], "default", "app");

    // The feed A syncs from: Debian's tracker records (local) and one advisory file served over HTTP, first
    // one about another package, later the lodash one.
    let ghsa = shared().join("vulndata/osv/ghsa/advisories/github-reviewed");
    let other = ghsa.join("2023/05/GHSA-j8r2-6x86-q33q/GHSA-j8r2-6x86-q33q.json");
    let lodash = ghsa.join("2019/07/GHSA-jf85-cpcp-j695/GHSA-jf85-cpcp-j695.json");
    let debian = shared().join("vulndata/debian");
    for f in [&other, &lodash, &debian] {
        assert!(f.exists(), "{} missing", f.display());
    }
    let feed = tmp.path().join("feed");
    std::fs::create_dir_all(&feed).unwrap();
    std::fs::copy(&other, feed.join("advisory.json")).unwrap();
    let files = FileServer::start(&feed);
    let advisory = format!("{}/advisory.json", files.url);

    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let insecure = ["--insecure-registry", reg.addr.as_str()];
    let mut a_args = vec![
        "--vuln-source",
        debian.to_str().unwrap(),
        "--vuln-source",
        &advisory,
    ];
    a_args.extend_from_slice(&insecure);
    let a = Replica::start(&tmp.path().join("a"), &store, &config, &a_args, "1h");
    let first = a.status_when("A's sync at start", |s| {
        s["vuln_sync"]["generation"] == 1 && s["vuln_data"]["namespaces"].get("debian:12").is_some()
    });
    // B never syncs itself (no schedule, no sources): it installs what A published.
    let b = Replica::start(&tmp.path().join("b"), &store, &config, &insecure, "0");
    let b_first = b.status_when("B installing generation 1", |s| {
        s["vuln_sync"]["generation"] == 1
    });
    assert_eq!(b_first["db_version"], first["db_version"], "{b_first:#}");
    assert!(
        b_first["vuln_sync"]["interval_seconds"].is_null(),
        "{b_first:#}"
    );

    let (code, out, err) = cli(&a.env(), &["image", "add", &image]);
    assert_eq!(code, 0, "image add: {out}{err}");
    let (code, out, err) = cli(
        &a.env(),
        &[
            "image",
            "wait",
            &image,
            "--timeout",
            "120",
            "--interval",
            "1",
        ],
    );
    assert_eq!(code, 0, "image wait: {out}{err}");
    for r in [&a, &b] {
        let (_, m) = r.message(&review);
        assert!(
            !m.contains("GHSA-jf85-cpcp-j695"),
            "no data names it yet: {m}"
        );
    }

    // New data upstream; A syncs it (through the API) and publishes generation 2.
    std::fs::copy(&lodash, feed.join("advisory.json")).unwrap();
    let synced = a
        .http
        .post(format!("https://localhost:{}/v1/system/feeds", a.port))
        .bearer_auth(TOKEN)
        .send()
        .unwrap();
    assert!(synced.status().is_success(), "{:?}", synced.text());
    let t = Instant::now();
    let after = a.status_when("A publishing generation 2", |s| {
        s["vuln_sync"]["generation"] == 2
    });
    let b_after = b.status_when("B installing generation 2", |s| {
        s["vuln_sync"]["generation"] == 2
    });
    assert_eq!(b_after["db_version"], after["db_version"], "{b_after:#}");
    let (denied_a, denied_b) = loop {
        let (ra, rb) = (a.message(&review), b.message(&review));
        if (ra.1.contains("GHSA-jf85-cpcp-j695") && rb.1.contains("GHSA-jf85-cpcp-j695"))
            || t.elapsed() > Duration::from_secs(30)
        {
            break (ra, rb);
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let took = t.elapsed();
    assert!(
        !denied_a.0 && denied_a.1.contains("GHSA-jf85-cpcp-j695"),
        "A: {denied_a:?}"
    );
    assert_eq!(denied_a, denied_b, "the replicas answer identically");
    assert!(
        took < Duration::from_secs(15),
        "B agreed only after {took:?}"
    );
    let ready = b
        .http
        .get(format!("https://localhost:{}/readyz", b.port))
        .send()
        .and_then(|r| r.text())
        .unwrap();
    assert!(ready.contains("shared generation 2"), "{ready}");
    let metrics = b
        .http
        .get(format!("https://localhost:{}/metrics", b.port))
        .send()
        .and_then(|r| r.text())
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "portcullis_vulnerability_data_generation 2"),
        "{metrics}"
    );
    let (code, out, err) = cli(&b.env(), &["system", "status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("generation 2"), "{out}");
    eprintln!("replica B agreed {took:?} after the sync request to A");
}
