//! Shared helpers of the binary's end-to-end tests: the real `portcullis` executable, started and stopped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

/// `<repo>/../shared`, or `PORTCULLIS_SHARED`.
#[allow(unused_imports)] // not every test target of this crate reads the shared data
pub use portcullis_testkit::shared;

/// A captured AdmissionReview from `../shared/fixtures/admission-review`.
pub fn fixture(name: &str) -> PathBuf {
    shared().join("fixtures/admission-review").join(name)
}

/// Kills `portcullis serve` when the test ends, whatever happens.
pub struct Serve(pub Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Serve {
    /// Starts `portcullis serve` on `127.0.0.1:port` with `args`, data in `data`, stderr to `log`.
    pub fn start(port: u16, data: &Path, log: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(BIN);
        // The test registries listen on loopback, which `serve` refuses by default.
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--allow-loopback-registries")
            .args(args)
            .env("PORTCULLIS_DATA_DIR", data)
            // Offline: no sync from the public upstream sources unless a test asks for one.
            .env("PORTCULLIS_VULN_SYNC_INTERVAL", "0")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).expect("log file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        Serve(cmd.spawn().expect("start portcullis serve"))
    }
}

/// Runs the CLI; returns (exit code, stdout, stderr).
pub fn cli(env: &[(&str, String)], args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run portcullis");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// An HTTPS client trusting the CA `serve` generated in `data`, waiting (up to 60 s) for it to appear.
pub fn https_client(data: &Path) -> reqwest::blocking::Client {
    let ca = data.join("tls/ca.crt");
    let t = Instant::now();
    while !ca.exists() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            ca.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Waits (up to 60 s) until `GET /readyz` answers 200; the panic shows `log`.
pub fn wait_ready(http: &reqwest::blocking::Client, port: u16, log: &Path) {
    let t = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("https://localhost:{port}/readyz")).send()
            && r.status() == 200
        {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "serve never became ready:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// POSTs a review to `/validate`; returns the AdmissionReview answer.
pub fn validate(
    http: &reqwest::blocking::Client,
    port: u16,
    review: &serde_json::Value,
) -> serde_json::Value {
    http.post(format!("https://localhost:{port}/validate?timeout=10s"))
        .json(review)
        .send()
        .and_then(|r| r.json())
        .expect("validate")
}

/// A small Debian image; returns its manifest digest.
pub fn small_image(dir: &Path) -> String {
    let os_release =
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n";
    let status = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n\
                  Source: zlib\nVersion: 1:1.2.13.dfsg-1\nDescription: compression library\n\n";
    let mut w = portcullis_testkit::OciWriter::new(dir).expect("OCI layout");
    let m = w
        .image(&portcullis_testkit::TestImage::new(vec![
            portcullis_testkit::LayerBuilder::new()
                .file("etc/os-release", os_release)
                .file("var/lib/dpkg/status", status)
                .tar(),
        ]))
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
    m.digest
}

const BOOKWORM: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                        VERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n";
const BASE_FILES: &str = "Package: base-files\nStatus: install ok installed\nPriority: optional\n\
                          Section: libs\nInstalled-Size: 100\nMaintainer: Someone <someone@example.org>\n\
                          Architecture: amd64\nSource: base-files\nVersion: 12.4+deb12u5\n\
                          Description: test package\n\n";

/// Writes a one-layer bookworm image tagged `v1` to an OCI layout, with lodash `lodash` in `/app` when given.
pub fn write_bookworm_image(dir: &Path, lodash: Option<&str>) {
    use portcullis_testkit::{LayerBuilder, OciWriter, TestImage};
    let mut w = OciWriter::new(dir).expect("OCI layout");
    let mut layer = LayerBuilder::new();
    layer
        .file("etc/os-release", BOOKWORM)
        .file("var/lib/dpkg/status", BASE_FILES);
    if let Some(v) = lodash {
        layer.file(
            "app/node_modules/lodash/package.json",
            format!(r#"{{"name": "lodash", "version": "{v}"}}"#),
        );
    }
    let m = w
        .image(&TestImage::new(vec![layer.tar()]))
        .expect("write image");
    w.tag("v1", &m).finish().expect("index.json");
}

/// A log line without its terminal colour codes.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `addr/repo@digest` of `repo:1` as pushed to `reg` (the registry's `Docker-Content-Digest` for the manifest).
pub fn pinned(reg: &portcullis_testkit::Registry, repo: &str) -> String {
    let r = reqwest::blocking::Client::new()
        .head(format!("http://{}/v2/{repo}/manifests/1", reg.addr))
        .header(
            "accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .expect("HEAD the pushed manifest");
    let digest = r.headers()["docker-content-digest"]
        .to_str()
        .expect("a digest header")
        .to_string();
    format!("{}/{repo}@{digest}", reg.addr)
}

/// A vulnerability database with Debian's tracker records and GitHub's reviewed advisories from `../shared`.
pub fn debian_and_ghsa_db(path: &Path) {
    for source in ["vulndata/debian", "vulndata/osv/ghsa"] {
        let dir = shared().join(source);
        let (code, _, err) = cli(
            &[],
            &[
                "db",
                "import",
                dir.to_str().unwrap(),
                "--db",
                path.to_str().unwrap(),
            ],
        );
        assert_eq!(code, 0, "db import {source} failed: {err}");
    }
}

/// A review of Pod `name` in `namespace` running `images` (captured from a real kube-apiserver, rewritten).
pub fn pod_review(images: &[&str], namespace: &str, name: &str) -> serde_json::Value {
    let mut review: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixture("014-validate-create-pod-main-solo.json")).unwrap(),
    )
    .unwrap();
    let template = review["request"]["object"]["spec"]["containers"][0].clone();
    let containers: Vec<serde_json::Value> = images
        .iter()
        .enumerate()
        .map(|(n, image)| {
            let mut c = template.clone();
            c["name"] = serde_json::Value::String(format!("c{n}"));
            c["image"] = serde_json::Value::String(image.to_string());
            c
        })
        .collect();
    let req = &mut review["request"];
    req["namespace"] = serde_json::Value::String(namespace.into());
    req["name"] = serde_json::Value::String(name.into());
    req["uid"] = serde_json::Value::String(format!("uid-{namespace}-{name}"));
    req["object"]["metadata"]["namespace"] = serde_json::Value::String(namespace.into());
    req["object"]["metadata"]["name"] = serde_json::Value::String(name.into());
    req["object"]["spec"]["containers"] = serde_json::Value::Array(containers);
    review
}
