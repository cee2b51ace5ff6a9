//! Every analysis budget is configurable by name (issue #13 item 2): `sbom --budget` and `serve --budget`
//! (which hands it to each analysis worker process), with a precise refusal naming the limit, and a precise
//! error for a bad budget.

mod common;

use std::time::{Duration, Instant};

use common::{Serve, cli, https_client, small_image, wait_ready};
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage, free_port};

const TOKEN: &str = "budgets-admin-token";

#[test]
fn sbom_budgets_are_set_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let oci = tmp.path().join("oci");
    let layer = LayerBuilder::new()
        .file("a/b/c/d/e/f/file.txt", "deep")
        .tar();
    let mut w = OciWriter::new(&oci).unwrap();
    let m = w.image(&TestImage::new(vec![layer])).unwrap();
    w.tag("latest", &m).finish().unwrap();
    let src = format!("oci-dir:{}", oci.display());

    let (code, _, _) = cli(&[], &["sbom", &src, "-o", "json"]);
    assert_eq!(code, 0, "within the default budgets");
    let (code, _, err) = cli(&[], &["sbom", &src, "--budget", "max_path_depth=4"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("max_path_depth") && err.contains("a/b/c/d/e/f/file.txt"),
        "the refusal names the limit and the path: {err}"
    );
    let (code, _, err) = cli(&[], &["sbom", &src, "--budget", "max_layers=3"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown budget \"max_layers\"") && err.contains("max_layer_bytes"),
        "{err}"
    );
    let (code, _, err) = cli(&[], &["sbom", &src, "--budget", "max_kept_file=12 GB"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown unit"), "{err}");
}

#[test]
fn serve_hands_its_budgets_to_the_analysis_worker() {
    let reg = Registry::start(Mode::Plain).expect(
        "the registry harness needs docker-registry and skopeo (scripts/setup.d/20-image.sh)",
    );
    let tmp = tempfile::tempdir().unwrap();
    let digest = small_image(&tmp.path().join("oci"));
    reg.push(&tmp.path().join("oci"), "v1", "budget/small:1", false)
        .expect("push");
    let image = format!("{}/budget/small@{digest}", reg.addr);
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = free_port().unwrap();
    let _serve = Serve::start(
        port,
        &data,
        &log,
        &[
            "--vuln-db",
            tmp.path().join("vuln.db").to_str().unwrap(),
            "--budget",
            "max_layer_bytes=1KiB",
        ],
        &[("PORTCULLIS_ADMIN_TOKEN", TOKEN)],
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
        if img["status"] == "analysis_failed" {
            let error = img["error"].as_str().unwrap_or_default();
            assert!(error.contains("max_layer_bytes"), "{img}");
            break;
        }
        assert_ne!(
            img["status"], "analyzed",
            "the 1 KiB layer budget was not applied: {img}"
        );
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "{img}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }

    // A bad budget stops the start with a precise message.
    let (code, _, err) = cli(
        &[(
            "PORTCULLIS_DATA_DIR",
            tmp.path().join("d2").display().to_string(),
        )],
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--budget",
            "max_entries=0",
        ],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("max_entries") && err.contains("positive"),
        "{err}"
    );
}
