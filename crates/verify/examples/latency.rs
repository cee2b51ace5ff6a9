//! Measures cold verification latency per image: keyed signature, keyless signature (certificate chain to a
//! trust root) and keyed CycloneDX attestation, each with a new client (new connections, nothing cached) against
//! a local docker-registry, images signed by the real cosign.
//!
//! `cargo run --release -p portcullis-verify --example latency [IMAGES]` (default 10 images); needs
//! /usr/bin/docker-registry and the cosign built by scripts/setup.d/40-cosign.sh.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis_image::{Client, ImageRef, PullOptions};
use portcullis_verify::attest::verify_attestations;
use portcullis_verify::{Keyless, Limits, Match, PublicKey, Trust, TrustRoot, verify_trust};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use sha2::Digest as _;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cosign() -> Result<PathBuf> {
    let cache = PathBuf::from(std::env::var("HOME")?).join(".cache/portcullis");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&cache)?
        .flatten()
        .map(|e| e.path().join("cosign"))
        .filter(|p| p.is_file() && p.to_string_lossy().contains("cosign-"))
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "cosign missing: run scripts/setup.d/40-cosign.sh".into())
}

fn run_cosign(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new(cosign()?)
        .args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "")
        .env("COSIGN_YES", "true")
        .env("HOME", dir)
        .output()?;
    if !out.status.success() {
        return Err(format!("cosign {args:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(())
}

fn push(http: &reqwest::blocking::Client, addr: &str, repo: &str, i: usize) -> Result<String> {
    let blob = |bytes: &[u8]| -> Result<String> {
        let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
        let r = http
            .post(format!("http://{addr}/v2/{repo}/blobs/uploads/"))
            .send()?;
        let loc = r.headers()["location"].to_str()?.to_string();
        let url = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{addr}{loc}")
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        http.put(format!("{url}{sep}digest={digest}"))
            .body(bytes.to_vec())
            .send()?
            .error_for_status()?;
        Ok(digest)
    };
    let marker = format!("image {i}");
    let layer = blob(marker.as_bytes())?;
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
    );
    let config_digest = blob(config.as_bytes())?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": marker.len()}],
    })
    .to_string();
    http.put(format!("http://{addr}/v2/{repo}/manifests/v{i}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()?
        .error_for_status()?;
    Ok(format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(manifest.as_bytes()))
    ))
}

fn pki(dir: &Path) -> Result<()> {
    let ca = |name: &str| -> Result<CertificateParams> {
        let mut p = CertificateParams::new(Vec::<String>::new())?;
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        Ok(p)
    };
    let root_key = KeyPair::generate()?;
    let root = ca("Root")?.self_signed(&root_key)?;
    let inter_key = KeyPair::generate()?;
    let inter = ca("Intermediate")?.signed_by(&inter_key, &root, &root_key)?;
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.subject_alt_names = vec![SanType::Rfc822Name("ci@acme.example".try_into()?)];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let issuer = "https://issuer.example";
    let mut v2 = vec![0x0c, issuer.len() as u8];
    v2.extend_from_slice(issuer.as_bytes());
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
        v2,
    )];
    let leaf = p.signed_by(&key, &inter, &inter_key)?;
    std::fs::write(dir.join("leaf.crt"), leaf.pem())?;
    std::fs::write(dir.join("leaf-pkcs8.pem"), key.serialize_pem())?;
    std::fs::write(dir.join("chain.pem"), inter.pem() + &root.pem())?;
    std::fs::write(dir.join("roots.pem"), root.pem())?;
    run_cosign(
        dir,
        &[
            "import-key-pair",
            "--key",
            "leaf-pkcs8.pem",
            "--output-key-prefix",
            "leaf",
        ],
    )
}

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<28} n={:<3} median {:>7.2} ms   min {:>7.2} ms   max {:>7.2} ms",
        v.len(),
        ms(v[v.len() / 2]),
        ms(v[0]),
        ms(v[v.len() - 1])
    );
}

fn main() -> Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    std::fs::write(
        dir.path().join("config.yml"),
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        ),
    )?;
    let _registry = Registry(
        Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let t = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        if t.elapsed() > Duration::from_secs(15) {
            return Err("docker-registry did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = reqwest::blocking::Client::new();
    run_cosign(dir.path(), &["generate-key-pair"])?;
    pki(dir.path())?;
    std::fs::write(
        dir.path().join("bom.json"),
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[{"type":"library","name":"requests","version":"2.31.0","purl":"pkg:pypi/requests@2.31.0"}]}"#,
    )?;
    let mut digests = Vec::new();
    for i in 0..n {
        let d = push(&http, &addr, "bench/app", i)?;
        let image = format!("{addr}/bench/app@{d}");
        let base = ["--tlog-upload=false", "--allow-insecure-registry"];
        let mut keyed = vec!["sign", "--key", "cosign.key"];
        keyed.extend(base);
        keyed.push(&image);
        run_cosign(dir.path(), &keyed)?;
        let mut cert = vec![
            "sign",
            "--key",
            "leaf.key",
            "--certificate",
            "leaf.crt",
            "--certificate-chain",
            "chain.pem",
        ];
        cert.extend(base);
        cert.push(&image);
        run_cosign(dir.path(), &cert)?;
        let mut att = vec![
            "attest",
            "--key",
            "cosign.key",
            "--type",
            "cyclonedx",
            "--predicate",
            "bom.json",
        ];
        att.extend(base);
        att.push(&image);
        run_cosign(dir.path(), &att)?;
        digests.push(d);
    }
    let keyed = Trust::keys(&[PublicKey::from_pem_file(&dir.path().join("cosign.pub"))?]);
    let keyless = Trust {
        keyless: vec![Keyless {
            root: TrustRoot::from_pem_file(&dir.path().join("roots.pem"))?,
            identity: Match::exact("ci@acme.example"),
            issuer: Match::exact("https://issuer.example"),
        }],
        ..Trust::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let limits = Limits::default();
    let (mut k, mut kl, mut a) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..digests.len() {
        let image = ImageRef::parse(&format!("{addr}/bench/app:v{i}"))?;
        let fresh = || {
            Client::new(&PullOptions {
                retries: 0,
                timeout: Some(Duration::from_secs(10)),
                ..PullOptions::default()
            })
        };
        let c = fresh()?;
        let t = Instant::now();
        let r = rt.block_on(verify_trust(&c, &image, &keyed, &limits))?;
        k.push(t.elapsed());
        assert!(r.verified(), "{r:?}");
        let c = fresh()?;
        let t = Instant::now();
        let r = rt.block_on(verify_trust(&c, &image, &keyless, &limits))?;
        kl.push(t.elapsed());
        assert!(r.verified(), "{r:?}");
        let c = fresh()?;
        let t = Instant::now();
        let r = rt.block_on(verify_attestations(
            &c,
            &image,
            &keyed,
            &["cyclonedx".to_string()],
            &limits,
        ))?;
        a.push(t.elapsed());
        assert!(r.verified(), "{r:?}");
    }
    println!("cold verification per image (tag resolved, new client each time), {n} images:");
    stats("keyed signature", k);
    stats("keyless signature", kl);
    stats("keyed CycloneDX attestation", a);
    Ok(())
}
