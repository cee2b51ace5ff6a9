//! Fairness through the real binary (issue #13 item 5). Reproduction: "a tarpit registry delayed an unrelated
//! namespace's image by 724 s, and policy mode denied every new image meanwhile". Here a namespace runs Pods
//! whose images live on two tarpits on loopback (one accepts and never answers, one answers byte by byte); then
//! another namespace runs an image from a real docker-registry. That image is analysed and admitted within
//! seconds, and the tarpit namespace's reviews are still answered within the webhook deadline.

mod common;

use std::time::{Duration, Instant};

use common::{
    Serve, debian_and_ghsa_db, https_client, pod_review, validate, wait_ready, write_bookworm_image,
};
use portcullis_testkit::{Mode, Registry, free_port, silent_tarpit, trickling_tarpit};

#[test]
fn a_tarpit_registry_delays_no_other_namespaces_image() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("clean");
    write_bookworm_image(&layout, None);
    reg.push(&layout, "v1", "quiet/app:1", false).unwrap();
    let real = format!("{}/quiet/app:1", reg.addr);
    let vuln_db = tmp.path().join("vuln.db");
    debian_and_ghsa_db(&vuln_db);
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            vuln_db.to_str().unwrap(),
            "-c",
            config.to_str().unwrap(),
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", "fairness-admin-token")],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    // The busy namespace's Pods, all at once: each review waits at most its lookup budget, is denied (the
    // images are unknown) and queues its images.
    let (silent, trickle) = (silent_tarpit(), trickling_tarpit());
    let t = Instant::now();
    let busy: Vec<_> = (0..10)
        .map(|n| {
            let (http, silent, trickle) = (http.clone(), silent.clone(), trickle.clone());
            std::thread::spawn(move || {
                let a = format!("{silent}/slow/img{n}:1");
                let b = format!("{trickle}/slow/img{n}:1");
                validate(
                    &http,
                    port,
                    &pod_review(&[&a, &b], "busy", &format!("pod-{n}")),
                )
            })
        })
        .collect();
    for h in busy {
        let r = h.join().unwrap();
        assert_eq!(r["response"]["allowed"], false, "{r}");
    }
    let busy_took = t.elapsed();
    assert!(
        busy_took < Duration::from_secs(10),
        "the tarpit namespace's reviews are answered within the deadline: {busy_took:?}"
    );

    // The quiet namespace's image from a working registry: admitted within seconds.
    let t = Instant::now();
    loop {
        let r = validate(&http, port, &pod_review(&[&real], "quiet", "web"));
        if r["response"]["allowed"] == true {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the quiet namespace's image was held up behind the tarpits: {r}\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "busy namespace's 10 reviews answered in {busy_took:?}; quiet namespace's image admitted after {:?}",
        t.elapsed()
    );
    // The breaker opened for the tarpits (the log says so once per registry).
    let t = Instant::now();
    while !log_text().contains("failing its lookups at once") {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no breaker opened:\n{}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pool and breaker settings are `serve` flags: with `--registry-breaker-failures 1` and a 1 s
/// `--resolve-timeout`, one lookup of a silent tarpit opens its breaker (the defaults need three failures of
/// 10 s each); a zero pool is refused at start.
#[test]
fn serve_flags_set_the_lookup_deadline_and_the_breaker() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "-c",
            config.to_str().unwrap(),
            "--resolve-timeout",
            "1",
            "--registry-breaker-failures",
            "1",
            "--registry-breaker-cool-down",
            "600",
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", "fairness-admin-token")],
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let silent = silent_tarpit();
    let image = format!("{silent}/slow/one:1");
    let r = validate(&http, port, &pod_review(&[&image], "busy", "pod"));
    assert_eq!(r["response"]["allowed"], false, "{r}");
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("failing its lookups at once") {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "one failed lookup did not open the breaker with --registry-breaker-failures 1:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--resolve-concurrency", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--resolve-concurrency"), "{err}");
}
