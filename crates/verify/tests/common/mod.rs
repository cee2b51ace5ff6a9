//! Shared set-up of the signature tests: a real docker-registry, images pushed over the distribution API, and
//! the real `cosign` CLI (built by scripts/setup.d/40-cosign.sh).

#![allow(dead_code)]

pub mod pki;

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_image::{Client, ImageRef, PullOptions};
use portcullis_testkit::{Mode, Registry};
use sha2::Digest;

/// The cosign binary cached by scripts/setup.d/40-cosign.sh; panics (the test fails) when it is missing.
pub fn cosign() -> PathBuf {
    let cache = dirs_home().join(".cache/portcullis");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&cache)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cosign-"))
        })
        .map(|p| p.join("cosign"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "cosign is missing under {}/cosign-*/: run scripts/setup.d/40-cosign.sh",
            cache.display()
        )
    })
}

fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var("HOME").expect("HOME is set"))
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A running registry and an HTTP client to push to it.
pub struct Reg {
    /// The registry (kept alive).
    pub reg: Registry,
    http: reqwest::Client,
}

impl Reg {
    /// Starts a plain-HTTP registry.
    pub fn start() -> Reg {
        Reg {
            reg: Registry::start(Mode::Plain)
                .expect("the registry harness needs docker-registry (scripts/setup.d/20-image.sh)"),
            http: reqwest::Client::new(),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        &self.reg.addr
    }

    /// Uploads a blob; returns its digest.
    pub async fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let r = self
            .http
            .post(format!("http://{}/v2/{repo}/blobs/uploads/", self.addr()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "upload start");
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        let url = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{}{loc}", self.addr())
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let r = self
            .http
            .put(format!("{url}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            201,
            "blob upload: {:?}",
            r.text().await
        );
        digest
    }

    /// Puts a manifest under `reference` (tag or digest); returns its digest.
    pub async fn manifest(&self, repo: &str, reference: &str, body: &[u8]) -> String {
        let media = serde_json::from_slice::<serde_json::Value>(body).unwrap()["mediaType"]
            .as_str()
            .unwrap_or("application/vnd.oci.image.manifest.v1+json")
            .to_string();
        let r = self
            .http
            .put(format!(
                "http://{}/v2/{repo}/manifests/{reference}",
                self.addr()
            ))
            .header("content-type", media)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status().as_u16(),
            201,
            "manifest put: {:?}",
            r.text().await
        );
        sha256(body)
    }

    /// Gets a manifest or blob as bytes.
    pub async fn get(&self, path: &str) -> Vec<u8> {
        let r = self
            .http
            .get(format!("http://{}/v2/{path}", self.addr()))
            .header(
                "accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }

    /// Pushes a one-layer image whose layer holds `marker`; returns its manifest digest.
    pub async fn image(&self, repo: &str, tag: &str, marker: &str) -> String {
        let layer = self.blob(repo, marker.as_bytes()).await;
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
        );
        let config_digest = self.blob(repo, config.as_bytes()).await;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": marker.len()}],
        });
        self.manifest(repo, tag, manifest.to_string().as_bytes())
            .await
    }

    /// A client for this registry.
    pub fn client(&self) -> Client {
        Client::new(&PullOptions {
            retries: 0,
            timeout: Some(std::time::Duration::from_secs(5)),
            ..PullOptions::default()
        })
        .unwrap()
    }

    /// The reference `repo@digest` on this registry.
    pub fn reference(&self, repo: &str, digest: &str) -> ImageRef {
        ImageRef::parse(&format!("{}/{repo}@{digest}", self.addr())).unwrap()
    }
}

/// Runs cosign in `dir` with an empty key password; panics with its output on failure.
pub fn run_cosign(dir: &Path, args: &[&str]) {
    run_cosign_env(dir, &[], args)
}

/// [`run_cosign`] with extra environment variables.
pub fn run_cosign_env(dir: &Path, env: &[(&str, &str)], args: &[&str]) {
    let out = Command::new(cosign())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "")
        .env("COSIGN_YES", "true")
        .env("HOME", dir)
        .output()
        .expect("cosign runs");
    assert!(
        out.status.success(),
        "cosign {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Generates a cosign key pair in `dir` (cosign.key, cosign.pub); returns the public key path.
pub fn key_pair(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    run_cosign(dir, &["generate-key-pair"]);
    dir.join("cosign.pub")
}

/// Signs `image` (`reg/repo@sha256:…`) with the key pair in `key_dir`, without a transparency log.
pub fn sign(key_dir: &Path, image: &str) {
    run_cosign(
        key_dir,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "--allow-insecure-registry",
            image,
        ],
    );
}
