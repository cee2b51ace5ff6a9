//! Measures what one `portcullis serve` replica uses — resident memory (its own and its analysis workers') and
//! CPU — idle, while analysing images with process isolation, and under review load; the chart's resource
//! requests and limits come from these figures (deploy/helm/portcullis/README.md). A measurement, not a check
//! run in CI: `bench/resources` runs it against the release binary (`PORTCULLIS_MEASURE_BIN`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{BIN, Serve, cli, https_client, pod_review, shared, wait_ready};
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage, free_port};

const TOKEN: &str = "measure-token";

/// Resident set size (KiB) of `pid`, 0 once it is gone.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The child processes of `pid` (the analysis workers).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(child) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat"))
            && let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r)
            && rest.split_whitespace().nth(1) == Some(&pid.to_string())
        {
            out.push(child);
        }
    }
    out
}

/// CPU seconds used by `pid` and its waited-for children so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // After the command name: state, ppid, …; utime, stime, cutime, cstime are the 12th to 15th (proc(5)).
    let ticks: u64 = fields
        .iter()
        .skip(11)
        .take(4)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// Peak server and worker RSS (KiB) sampled every 50 ms while `f` runs, and the CPU seconds it took.
struct Phase {
    name: &'static str,
    server_peak_kib: u64,
    workers_peak_kib: u64,
    worker_max_kib: u64,
    cpu_seconds: f64,
    seconds: f64,
}

fn measure(name: &'static str, pid: u32, f: impl FnOnce()) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let (server, workers, worker_max) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let sampler = {
        let (stop, server, workers, worker_max) = (
            stop.clone(),
            server.clone(),
            workers.clone(),
            worker_max.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                server.fetch_max(rss_kib(pid), Ordering::SeqCst);
                let each: Vec<u64> = children(pid).into_iter().map(rss_kib).collect();
                workers.fetch_max(each.iter().sum(), Ordering::SeqCst);
                worker_max.fetch_max(each.into_iter().max().unwrap_or(0), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let cpu0 = cpu_seconds(pid);
    let t = Instant::now();
    f();
    let seconds = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    Phase {
        name,
        server_peak_kib: server.load(Ordering::SeqCst),
        workers_peak_kib: workers.load(Ordering::SeqCst),
        worker_max_kib: worker_max.load(Ordering::SeqCst),
        cpu_seconds: cpu,
        seconds,
    }
}

/// A bookworm image with `n` dpkg packages, `n` npm packages and `filler` MiB of incompressible data.
fn big_image(dir: &Path, seed: u64, n: usize, filler: usize) {
    let mut status = String::new();
    for i in 0..n {
        status.push_str(&format!(
            "Package: pkg{i}\nStatus: install ok installed\nArchitecture: amd64\nSource: src{i}\n\
             Version: 1.{i}-{seed}\nDescription: generated\n\n"
        ));
    }
    let mut layer = LayerBuilder::new();
    layer
        .file(
            "etc/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n",
        )
        .file("var/lib/dpkg/status", status);
    for i in 0..n {
        layer.file(
            &format!("app/node_modules/m{i}/package.json"),
            format!(r#"{{"name": "m{i}", "version": "1.0.{seed}"}}"#),
        );
    }
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let filler: Vec<u8> = (0..filler << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    layer.file("app/blob.bin", filler);
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let m = w
        .image(&TestImage::new(vec![layer.tar()]))
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
}

#[test]
#[ignore = "a measurement (minutes, release binary): run bench/resources"]
fn measure_replica_resources() {
    let bin: PathBuf = std::env::var_os("PORTCULLIS_MEASURE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(BIN));
    eprintln!("measuring {}", bin.display());
    let reg = Registry::start(Mode::Plain).expect("docker-registry for the measurement");
    let tmp = tempfile::tempdir().unwrap();

    // The offline advisory data there is (a subset of what `db update` fetches; the index grows with it).
    let vuln_db = tmp.path().join("vuln.db");
    let sources = [
        "debian",
        "osv",
        "pypa",
        "alpine-secdb",
        "wolfi-advisories",
        "rubysec",
        "almalinux-osv-database",
    ];
    for s in sources {
        let dir = shared().join("vulndata").join(s);
        assert!(dir.exists(), "{} missing", dir.display());
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
        assert!(code == 0 || code == 2, "db import {s}: {err}");
    }
    let db_mib = std::fs::metadata(&vuln_db).unwrap().len() >> 20;

    let images = 6;
    let mut refs = Vec::new();
    for i in 0..images {
        let dir = tmp.path().join(format!("img{i}"));
        big_image(&dir, i as u64, 1500, 48);
        reg.push(&dir, "v1", &format!("measure/app{i}:1"), false)
            .expect("push");
        refs.push(format!("{}/measure/app{i}:1", reg.addr));
    }
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let child = std::process::Command::new(&bin)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--insecure-registry", &reg.addr, "--vuln-db"])
        .arg(&vuln_db)
        .arg("-c")
        .arg(&config)
        .args(["--workers", "2"])
        .env("PORTCULLIS_DATA_DIR", &data)
        .env("PORTCULLIS_ADMIN_TOKEN", TOKEN)
        .env("PORTCULLIS_VULN_SYNC_INTERVAL", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _serve = Serve(child);
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let env = [
        ("PORTCULLIS_URL", format!("https://127.0.0.1:{port}")),
        ("PORTCULLIS_TOKEN", TOKEN.to_string()),
        ("PORTCULLIS_DATA_DIR", data.display().to_string()),
    ];

    let idle = measure("idle (10 s after start)", pid, || {
        std::thread::sleep(Duration::from_secs(10))
    });
    let analysing = measure("analysing 6 images, 2 workers", pid, || {
        for r in &refs {
            let (code, out, err) = cli(&env, &["image", "add", r]);
            assert_eq!(code, 0, "{out}{err}");
        }
        for r in &refs {
            let (code, out, err) = cli(
                &env,
                &["image", "wait", r, "--timeout", "600", "--interval", "1"],
            );
            assert_eq!(code, 0, "{out}{err}");
        }
    });
    let review = pod_review(
        &refs.iter().map(String::as_str).collect::<Vec<_>>(),
        "default",
        "app",
    );
    let body = serde_json::to_vec(&review).unwrap();
    let answered = Arc::new(AtomicU64::new(0));
    let load = measure("review load (8 clients, 15 s)", pid, || {
        let until = Instant::now() + Duration::from_secs(15);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (http, body, answered) = (http.clone(), body.clone(), answered.clone());
                std::thread::spawn(move || {
                    while Instant::now() < until {
                        let r = http
                            .post(format!("https://localhost:{port}/validate?timeout=10s"))
                            .header("content-type", "application/json")
                            .body(body.clone())
                            .send();
                        if r.is_ok_and(|r| r.status().is_success()) {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
    let reviews = answered.load(Ordering::SeqCst);
    assert!(reviews > 0, "no review answered");
    println!(
        "vulnerability DB {db_mib} MiB ({}); images: {images} × (1,500 dpkg + 1,500 npm packages + 48 MiB)",
        sources.join(", ")
    );
    println!("| phase | server peak RSS | workers' peak RSS (sum / largest) | CPU (cores) |");
    println!("|---|---|---|---|");
    for p in [&idle, &analysing, &load] {
        assert!(p.server_peak_kib > 0, "{}: no RSS sampled", p.name);
        println!(
            "| {} | {} MiB | {} / {} MiB | {:.2} ({:.1} s CPU in {:.1} s) |",
            p.name,
            p.server_peak_kib >> 10,
            p.workers_peak_kib >> 10,
            p.worker_max_kib >> 10,
            p.cpu_seconds / p.seconds,
            p.cpu_seconds,
            p.seconds
        );
    }
    println!(
        "reviews answered under load: {reviews} ({:.0}/s)",
        reviews as f64 / load.seconds
    );
}
