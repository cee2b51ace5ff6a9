//! `portcullis serve` with its real parts down at start: the webhook must start, answer by each mode's rule,
//! and recover without a restart (issue #5, "never the outage").

mod common;

use std::time::{Duration, Instant};

use common::{Serve, cli, fixture, https_client, validate, wait_ready};
use portcullis_testkit::PgServer;
use portcullis_testkit::free_port;

const TOKEN: &str = "failures-admin-token";
/// nginx by digest, so queueing it needs no registry.
const PINNED: &str = "docker.io/library/nginx@sha256:4cb2b9019f1757be8482419002cb7afe028fdba35d47958829e4cfeaf6246d80";

/// The captured Pod review 014 with one container running `image`.
fn review_with(image: &str, uid: &str) -> serde_json::Value {
    let mut review: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("014-validate-create-pod-main-solo.json")).unwrap(),
    )
    .unwrap();
    review["request"]["uid"] = uid.into();
    let spec = &mut review["request"]["object"]["spec"];
    spec["containers"] = serde_json::json!([{"name": "app", "image": image}]);
    if let Some(o) = spec.as_object_mut() {
        o.remove("initContainers");
        o.remove("ephemeralContainers");
    }
    review
}

/// `portcullis serve` in a temp dir with an admission config of `mode` and `args`, ready to answer.
struct Started {
    _serve: Serve,
    http: reqwest::blocking::Client,
    port: u16,
    log: std::path::PathBuf,
    /// Environment for the engine client commands.
    env: [(&'static str, String); 3],
}

impl Started {
    fn new(tmp: &std::path::Path, mode: &str, args: &[&str]) -> Started {
        let data = tmp.join("data");
        let log = tmp.join("serve.log");
        let config = tmp.join("admission.yaml");
        std::fs::write(
            &config,
            format!("default: {{ mode: {mode}, policy: default }}\n"),
        )
        .unwrap();
        let port = free_port().unwrap();
        let mut all = args.to_vec();
        all.extend(["-c", config.to_str().unwrap()]);
        let serve = Serve::start(
            port,
            &data,
            &log,
            &all,
            &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
        );
        let http = https_client(&data);
        wait_ready(&http, port, &log);
        Started {
            _serve: serve,
            http,
            port,
            env: [
                ("PORTCULLIS_URL", format!("https://127.0.0.1:{port}")),
                ("PORTCULLIS_TOKEN", TOKEN.to_string()),
                ("PORTCULLIS_DATA_DIR", data.display().to_string()),
            ],
            log,
        }
    }

    fn validate(&self, image: &str, uid: &str) -> serde_json::Value {
        validate(&self.http, self.port, &review_with(image, uid))
    }

    /// `portcullis system status`: (exit code, stdout, stderr).
    fn status(&self, json: bool) -> (i32, String, String) {
        let args: &[&str] = if json {
            &["system", "status", "--json"]
        } else {
            &["system", "status"]
        };
        cli(&self.env, args)
    }

    /// Waits (60 s) until `system status --json` succeeds, i.e. the store is open; returns its output.
    fn wait_store_open(&self) -> String {
        let t = Instant::now();
        loop {
            let (code, out, _) = self.status(true);
            if code == 0 {
                return out;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the store never opened:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[test]
fn serve_starts_with_postgresql_down_and_catches_up_when_it_returns() {
    let pg = PgServer::start().expect("PostgreSQL (scripts/setup.d/60-store.sh)");
    let url = pg.create_database("failures").unwrap();
    pg.stop().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let s = Started::new(tmp.path(), "policy", &["--store", &url]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "serve must not wait for the database"
    );

    // The webhook answers by the mode's unknown-image rule, fast, and says why.
    let t = Instant::now();
    let answer = s.validate(PINNED, "uid-down-1");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let resp = &answer["response"];
    assert_eq!(resp["uid"], "uid-down-1");
    assert_eq!(resp["allowed"], false, "{answer}");
    let msg = resp["status"]["message"].as_str().unwrap();
    assert!(
        msg.contains("nginx@sha256:4cb2b90") && msg.contains("not analysed yet"),
        "{msg}"
    );
    // The engine API says the store is unavailable (503), naming it without the password.
    let (code, out, err) = s.status(false);
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("unavailable") && err.contains("127.0.0.1"),
        "{err}"
    );

    // PostgreSQL comes back: the store opens, and the queued image and the recorded decision are not lost.
    pg.resume().unwrap();
    assert!(s.wait_store_open().contains("postgres"));
    let get = |path: &str| -> serde_json::Value {
        s.http
            .get(format!("https://localhost:{}{path}", s.port))
            .bearer_auth(TOKEN)
            .send()
            .and_then(|r| r.json())
            .unwrap()
    };
    let t = Instant::now();
    loop {
        let (images, decisions) = (get("/v1/images"), get("/v1/decisions"));
        let queued = images.to_string().contains("4cb2b9019f1757be");
        let recorded = decisions.to_string().contains("uid-down-1");
        if queued && recorded {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "queued {queued} recorded {recorded}: {images} {decisions}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn serve_starts_with_an_unusable_vulnerability_database() {
    let tmp = tempfile::tempdir().unwrap();
    let vuln_db = tmp.path().join("vuln.db");
    std::fs::write(
        &vuln_db,
        b"this is not a SQLite database, it was truncated by a bad copy\n",
    )
    .unwrap();
    let s = Started::new(
        tmp.path(),
        "passive",
        &["--vuln-db", vuln_db.to_str().unwrap()],
    );
    let stderr = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        stderr.contains("WARNING: vulnerability database")
            && stderr.contains(vuln_db.to_str().unwrap())
            && stderr.contains("serving without vulnerability matching"),
        "{stderr}"
    );
    // Passive mode admits and queues; the engine reports it runs without a matcher.
    let answer = s.validate(PINNED, "uid-novuln");
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    let (code, out, err) = s.status(true);
    assert_eq!(code, 0, "{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["stages"]["matcher"], false, "{status}");
    // The file was left as it was for the operator to inspect.
    assert!(
        std::fs::read(&vuln_db)
            .unwrap()
            .starts_with(b"this is not a SQLite")
    );
}

#[test]
fn serve_starts_with_its_sqlite_file_locked_and_opens_it_when_released() {
    use std::process::{Command, Stdio};
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store.db");
    // Another process holds an exclusive lock on the store file (a backup tool, a stuck sqlite3 shell) until
    // its standard input closes.
    let mut locker = Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('PRAGMA locking_mode=EXCLUSIVE')\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             c.execute('CREATE TABLE IF NOT EXISTS held(a)')\n\
             print('locked', flush=True)\n\
             sys.stdin.read()\n\
             c.execute('COMMIT')\n\
             c.close()\n",
        )
        .arg(&store)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 holds the SQLite lock");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(locker.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");

    let s = Started::new(tmp.path(), "policy", &["--store", store.to_str().unwrap()]);
    let answer = s.validate(PINNED, "uid-locked");
    assert_eq!(answer["response"]["allowed"], false, "{answer}");
    let (code, _, err) = s.status(false);
    assert_ne!(code, 0);
    assert!(
        err.contains("unavailable") && err.contains("locked"),
        "{err}"
    );

    // The lock is released: the store opens (and is migrated) without a restart.
    drop(locker.stdin.take());
    locker.wait().unwrap();
    assert!(s.wait_store_open().contains("sqlite"));
}
