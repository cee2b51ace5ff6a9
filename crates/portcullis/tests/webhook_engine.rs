//! `bench/webhook-engine`: the real `portcullis serve` (release) answering a captured Pod review from the
//! engine's verdict snapshot (SQLite store with the images analysed, the default bundle active), against the
//! do-nothing HTTPS baseline (`webhook_bench_server baseline`: parse, answer allowed) in the same run, rounds
//! alternating A B A B with the same clients. A measurement, not a CI check (ignored).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Serve, cli, https_client, pod_review, shared, wait_ready, write_bookworm_image};
use portcullis_testkit::{Mode, Registry, free_port};

const TOKEN: &str = "bench-token";

/// Reviews answered by `clients` clients in `secs` seconds, and every answer's latency (µs).
fn drive(
    http: &reqwest::blocking::Client,
    port: u16,
    body: &[u8],
    clients: usize,
    secs: u64,
) -> (usize, Vec<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (http, body, stop) = (http.clone(), body.to_vec(), stop.clone());
            std::thread::spawn(move || {
                let mut lat = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let t = Instant::now();
                    let ok = http
                        .post(format!("https://localhost:{port}/validate?timeout=10s"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .and_then(|r| r.bytes())
                        .is_ok();
                    if ok {
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                }
                lat
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::SeqCst);
    let mut all: Vec<u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    (all.len(), all)
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

#[test]
#[ignore = "a benchmark (release binaries): run bench/webhook-engine"]
fn serve_with_the_engine_snapshot_vs_a_do_nothing_server() {
    let bin = PathBuf::from(std::env::var_os("PORTCULLIS_MEASURE_BIN").expect(
        "PORTCULLIS_MEASURE_BIN: the release portcullis binary (bench/webhook-engine sets it)",
    ));
    let baseline = PathBuf::from(std::env::var_os("PORTCULLIS_BASELINE_BIN").expect(
        "PORTCULLIS_BASELINE_BIN: the release webhook_bench_server example (bench/webhook-engine sets it)",
    ));
    let reg = Registry::start(Mode::Plain).expect("docker-registry for the benchmark");
    let tmp = tempfile::tempdir().unwrap();
    let vuln_db = tmp.path().join("vuln.db");
    for s in ["vulndata/debian", "vulndata/osv/ghsa"] {
        let dir = shared().join(s);
        let (code, _, err) = cli(
            &[],
            &[
                "db",
                "import",
                dir.to_str().unwrap(),
                "--db",
                vuln_db.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "db import {s}: {err}");
    }
    // Five images as in a web Pod: four clean, one with lodash 4.17.11 (GHSA-jf85-cpcp-j695, fixable).
    let mut refs = Vec::new();
    for i in 0..5 {
        let dir = tmp.path().join(format!("img{i}"));
        write_bookworm_image(&dir, (i == 4).then_some("4.17.11"));
        reg.push(&dir, "v1", &format!("bench/app{i}:1"), false)
            .expect("push");
        refs.push(format!("{}/bench/app{i}:1", reg.addr));
    }
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let data = tmp.path().join("data");
    let port = free_port().unwrap();
    let _serve = Serve(
        std::process::Command::new(&bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--insecure-registry", &reg.addr, "--vuln-db"])
            .arg(&vuln_db)
            .arg("-c")
            .arg(&config)
            .env("PORTCULLIS_DATA_DIR", &data)
            .env("PORTCULLIS_ADMIN_TOKEN", TOKEN)
            .env("PORTCULLIS_VULN_SYNC_INTERVAL", "0")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(tmp.path().join("serve.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let http = https_client(&data);
    wait_ready(&http, port, &tmp.path().join("serve.log"));
    let env = [
        ("PORTCULLIS_URL", format!("https://127.0.0.1:{port}")),
        ("PORTCULLIS_TOKEN", TOKEN.to_string()),
        ("PORTCULLIS_DATA_DIR", data.display().to_string()),
    ];
    for r in &refs {
        let (code, out, err) = cli(&env, &["image", "add", r]);
        assert_eq!(code, 0, "{out}{err}");
    }
    for r in &refs {
        let (code, out, err) = cli(
            &env,
            &["image", "wait", r, "--timeout", "300", "--interval", "1"],
        );
        assert_eq!(code, 0, "{out}{err}");
    }
    // The baseline serves with the same certificate, so one client trusts both.
    let base_port = free_port().unwrap();
    let _base = Serve(
        std::process::Command::new(&baseline)
            .args(["baseline", &format!("127.0.0.1:{base_port}")])
            .arg(data.join("tls/tls.crt"))
            .arg(data.join("tls/tls.key"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let review = pod_review(
        &refs.iter().map(String::as_str).collect::<Vec<_>>(),
        "default",
        "web",
    );
    let body = serde_json::to_vec(&review).unwrap();
    // Portcullis really decides from its snapshot: the lodash image is denied, naming its advisory.
    let t = Instant::now();
    loop {
        let r: serde_json::Value = http
            .post(format!("https://localhost:{port}/validate?timeout=10s"))
            .body(body.clone())
            .header("content-type", "application/json")
            .send()
            .and_then(|r| r.json())
            .unwrap();
        let m = r["response"]["status"]["message"].as_str().unwrap_or("");
        if r["response"]["allowed"] == false && m.contains("GHSA-jf85-cpcp-j695") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no engine verdict: {r}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", base_port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "baseline never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (clients, secs, rounds) = (8, 5, 3);
    let (mut a_rate, mut b_rate, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let (mut a_lat, mut b_lat) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (a, la) = drive(&http, port, &body, clients, secs);
        let (b, lb) = drive(&http, base_port, &body, clients, secs);
        assert!(a > 0 && b > 0, "a server answered nothing");
        a_rate.push(a as f64 / secs as f64);
        b_rate.push(b as f64 / secs as f64);
        ratio.push(a as f64 / b as f64);
        a_lat.extend(la);
        b_lat.extend(lb);
    }
    a_lat.sort_unstable();
    b_lat.sort_unstable();
    println!(
        "{} rounds × {secs} s each, {clients} clients (reqwest, same process for both), {} bytes review of 5 images",
        rounds,
        body.len()
    );
    println!("| server | reviews/s (median of rounds) | p50 | p99 |");
    println!("|---|---|---|---|");
    println!(
        "| portcullis serve (engine snapshot, SQLite, default bundle) | {:.0} | {} µs | {} µs |",
        median(a_rate),
        pct(&a_lat, 0.5),
        pct(&a_lat, 0.99)
    );
    println!(
        "| do-nothing axum + rustls | {:.0} | {} µs | {} µs |",
        median(b_rate),
        pct(&b_lat, 0.5),
        pct(&b_lat, 0.99)
    );
    println!(
        "ratio serve / baseline (median of the paired rounds): {:.2}",
        median(ratio)
    );
}
