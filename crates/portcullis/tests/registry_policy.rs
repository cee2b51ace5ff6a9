//! `portcullis serve` refuses loopback registries unless they are allowed explicitly (issue #13 item 4): an
//! image naming `127.0.0.1:PORT` must not make the webhook reach services on its own host.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Serve, https_client, small_image, wait_ready};
use portcullis_testkit::{Mode, Registry, free_port};

const TOKEN: &str = "registry-policy-admin-token";

#[test]
fn serve_refuses_a_loopback_registry_by_default_and_pulls_from_it_when_allowlisted() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let digest = small_image(&tmp.path().join("oci"));
    reg.push(&tmp.path().join("oci"), "v1", "policy/small:1", false)
        .expect("push");
    let image = format!("{}/policy/small@{digest}", reg.addr);

    for (name, extra) in [
        ("default", vec![]),
        ("allowlisted", vec!["--registry-allow", reg.addr.as_str()]),
    ] {
        let data = tmp.path().join(name);
        let log = tmp.path().join(format!("{name}.log"));
        let port = free_port().unwrap();
        // Not `common::Serve::start`: that one allows loopback registries for the other tests.
        let _serve = Serve(
            Command::new(BIN)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .args(&extra)
                .arg("--vuln-db")
                .arg(tmp.path().join(format!("{name}-vuln.db")))
                .env("PORTCULLIS_DATA_DIR", &data)
                .env("PORTCULLIS_ADMIN_TOKEN", TOKEN)
                // Offline: no sync from the public upstream sources.
                .env("PORTCULLIS_VULN_SYNC_INTERVAL", "0")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start portcullis serve"),
        );
        let http = https_client(&data);
        wait_ready(&http, port, &log);
        let r = http
            .post(format!("https://localhost:{port}/v1/images"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({ "tag": image }))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
        let t = Instant::now();
        loop {
            let img: serde_json::Value = http
                .get(format!("https://localhost:{port}/v1/images/{digest}"))
                .bearer_auth(TOKEN)
                .send()
                .and_then(|r| r.json())
                .unwrap();
            let error = img["error"].as_str().unwrap_or_default();
            let done = match name {
                "default" => {
                    assert_ne!(img["status"], "analyzed", "loopback must be refused: {img}");
                    error.contains("loopback") && error.contains("allow it explicitly")
                }
                _ => img["status"] == "analyzed",
            };
            if done {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "{name}: {img}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// The webhook's own tag lookups (on the request path, before the engine sees the image) obey the same policy:
/// a Pod naming a tag on `127.0.0.1:PORT` makes no connection to that port. Before, the webhook resolved tags
/// with the library's defaults and reached the loopback service (a blind SSRF past `--registry-deny` too).
#[test]
fn the_webhooks_tag_lookups_never_reach_a_refused_registry() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let probe_addr = probe.local_addr().unwrap();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for conn in probe.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let config = tmp.path().join("admission.yaml");
    std::fs::write(&config, "default: { mode: policy, policy: default }\n").unwrap();
    let port = free_port().unwrap();
    let _serve = Serve(
        Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("-c")
            .arg(&config)
            .arg("--vuln-db")
            .arg(tmp.path().join("vuln.db"))
            .env("PORTCULLIS_DATA_DIR", &data)
            .env("PORTCULLIS_VULN_SYNC_INTERVAL", "0")
            .env("PORTCULLIS_ADMIN_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start portcullis serve"),
    );
    let http = https_client(&data);
    wait_ready(&http, port, &log);
    let image = format!("{probe_addr}/probe/app:1");
    let r = common::validate(
        &http,
        port,
        &common::pod_review(&[&image], "tenant", "probe"),
    );
    assert_eq!(r["response"]["allowed"], false, "{r}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "serve connected to the loopback address a Pod named\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
}
