//! Pulling from a real registry (Debian's docker-registry): every auth mode, plain HTTP vs TLS, platform
//! selection, the blob cache, and the registry-side bad-input classes.

use std::path::Path;

use portcullis_image::{Client, Credential, Error, Image, ImageRef, Limits, PullOptions};
use portcullis_testkit::{LayerBuilder, Mode, OciWriter, Registry, TestImage, Written};

fn all(_: &str, _: u64, _: u32) -> bool {
    true
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn start(mode: Mode) -> Registry {
    Registry::start(mode).expect("the registry harness needs docker-registry, skopeo, htpasswd (scripts/setup.d/20-image.sh)")
}

/// Writes a two-layer image into a layout under `dir`, named `v1`.
fn layout(dir: &Path, marker: &str) -> Written {
    let mut w = OciWriter::new(dir).unwrap();
    let m = w
        .image(
            &TestImage::new(vec![
                LayerBuilder::new()
                    .file("etc/os-release", "ID=debian\n")
                    .file("old", "x")
                    .tar(),
                LayerBuilder::new()
                    .whiteout("old")
                    .file("marker", marker)
                    .tar(),
            ])
            .config(serde_json::json!({"Labels": {"marker": marker}})),
        )
        .unwrap();
    w.tag("v1", &m).finish().unwrap();
    m
}

fn pull(opts: &PullOptions, r: &str, work: &Path) -> Result<Image, Error> {
    let r = ImageRef::parse(r).unwrap();
    rt().block_on(async {
        Client::new(opts)?
            .pull(&r, work, &all, &Limits::default())
            .await
    })
}

fn creds(reg: &Registry, user: &str, password: &str) -> Credential {
    Credential {
        registry: reg.addr.clone(),
        username: user.into(),
        password: password.into(),
    }
}

#[test]
fn plain_http_loopback_registry_pull_and_resolve() {
    let reg = start(Mode::Plain);
    let t = tempfile::tempdir().unwrap();
    let m = layout(&t.path().join("oci"), "plain");
    reg.push(&t.path().join("oci"), "v1", "team/app:v1", false)
        .unwrap();
    let opts = PullOptions::default();
    let img = pull(
        &opts,
        &format!("{}/team/app:v1", reg.addr),
        &t.path().join("work"),
    )
    .unwrap();
    assert_eq!(img.fs.read("/marker").unwrap(), b"plain");
    assert!(!img.fs.exists("/old"));
    assert_eq!(
        img.config.labels.get("marker").map(String::as_str),
        Some("plain")
    );
    assert_eq!(img.image_id, m.config_digest);
    assert_eq!(img.layers.len(), 2);
    let r = ImageRef::parse(&format!("{}/team/app:v1", reg.addr)).unwrap();
    let d = rt()
        .block_on(portcullis_image::resolve_digest(&r, &opts))
        .unwrap();
    assert_eq!(Some(d.clone()), img.manifest_digest);
    // Pull by digest gives the same image; the pinned digest is verified.
    let img2 = pull(
        &opts,
        &format!("{}/team/app@{d}", reg.addr),
        &t.path().join("work"),
    )
    .unwrap();
    assert_eq!(img2.image_id, img.image_id);
    // On a multi-threaded runtime (the server's) squashing runs through block_in_place.
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let img3 = mt
        .block_on(portcullis_image::open(
            &portcullis_image::Source::Registry(r.clone()),
            &opts,
            &t.path().join("work"),
            &all,
        ))
        .unwrap();
    assert_eq!(img3.fs.read("/marker").unwrap(), b"plain");
}

#[test]
fn tls_registry_with_basic_auth_needs_the_ca_and_the_right_credentials() {
    let reg = start(Mode::TlsBasic {
        user: "alice".into(),
        password: "s3cret".into(),
    });
    let t = tempfile::tempdir().unwrap();
    layout(&t.path().join("oci"), "tls");
    reg.push(&t.path().join("oci"), "v1", "app:v1", false)
        .unwrap();
    let image = format!("{}/app:v1", reg.addr);
    let work = t.path().join("work");

    // Loopback may fall back to plain HTTP, but this registry speaks only TLS with an unknown CA.
    let e = pull(&PullOptions::default(), &image, &work).unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&reg.addr) && msg.to_lowercase().contains("certificate"),
        "{msg}"
    );

    let mut opts = PullOptions {
        ca_certs: vec![reg.ca_pem.clone().unwrap()],
        ..PullOptions::default()
    };
    match pull(&opts, &image, &work) {
        Err(Error::Auth {
            status: 401, hint, ..
        }) => assert!(hint.contains("authentication required"), "{hint}"),
        other => panic!("expected 401 without credentials, got {other:?}"),
    }
    opts.credentials = vec![creds(&reg, "alice", "wrong")];
    match pull(&opts, &image, &work) {
        Err(Error::Auth {
            status: 401, hint, ..
        }) => assert!(hint.contains("rejected"), "{hint}"),
        other => panic!("expected 401 with wrong credentials, got {other:?}"),
    }
    opts.credentials = vec![creds(&reg, "alice", "s3cret")];
    let img = pull(&opts, &image, &work).unwrap();
    assert_eq!(img.fs.read("/marker").unwrap(), b"tls");
}

#[test]
fn bearer_token_registry() {
    let reg = start(Mode::Token {
        user: "bob".into(),
        password: "tok-pw".into(),
    });
    let t = tempfile::tempdir().unwrap();
    layout(&t.path().join("oci"), "token");
    reg.push(&t.path().join("oci"), "v1", "secure/app:v1", false)
        .unwrap();
    let image = format!("{}/secure/app:v1", reg.addr);
    let work = t.path().join("work");
    let e = pull(&PullOptions::default(), &image, &work).unwrap_err();
    assert!(matches!(e, Error::Auth { status: 401, .. }), "{e}");
    let opts = PullOptions {
        credentials: vec![creds(&reg, "bob", "tok-pw")],
        ..PullOptions::default()
    };
    let img = pull(&opts, &image, &work).unwrap();
    assert_eq!(img.fs.read("/marker").unwrap(), b"token");

    // Wrong password: the issuer answers 401, and so do we.
    let wrong = PullOptions {
        credentials: vec![creds(&reg, "bob", "nope")],
        ..PullOptions::default()
    };
    match pull(&wrong, &image, &work) {
        Err(Error::Auth {
            status: 401, hint, ..
        }) => assert!(hint.contains("rejected"), "{hint}"),
        other => panic!("expected 401 with a wrong password, got {other:?}"),
    }
    // A valid account without access to the repository: the issuer answers 403, and the error says who was
    // denied what, where — for a pull and for a digest resolution.
    reg.add_token_user_without_access("carol", "carol-pw")
        .unwrap();
    let carol = PullOptions {
        credentials: vec![creds(&reg, "carol", "carol-pw")],
        ..PullOptions::default()
    };
    let want = format!(
        "access to secure/app denied for user carol at {}: check the credentials' permissions",
        reg.addr
    );
    let resolved = rt().block_on(async {
        Client::new(&carol)?
            .resolve_digest(&ImageRef::parse(&image).unwrap())
            .await
    });
    for e in [
        pull(&carol, &image, &work).unwrap_err(),
        resolved.unwrap_err(),
    ] {
        assert!(matches!(e, Error::Auth { status: 403, .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains(&want) && msg.contains(&image), "{msg}");
    }
    // An account the issuer grants an empty token (Docker Hub's way): the registry answers 401
    // `insufficient_scope`; the error stays a 401 but says access was denied, not that the password is wrong.
    reg.add_token_user_with_empty_grants("dave", "dave-pw")
        .unwrap();
    let dave = PullOptions {
        credentials: vec![creds(&reg, "dave", "dave-pw")],
        ..PullOptions::default()
    };
    match pull(&dave, &image, &work) {
        Err(Error::Auth {
            status: 401, hint, ..
        }) => assert!(
            hint.contains(&format!(
                "access to secure/app denied for user dave at {}",
                reg.addr
            )) && hint.contains("granted no pull access"),
            "{hint}"
        ),
        other => panic!("expected an access-denied 401, got {other:?}"),
    }
}

#[test]
fn index_platform_selection_over_the_registry() {
    let reg = start(Mode::Plain);
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("oci");
    let mut w = OciWriter::new(&dir).unwrap();
    let amd = w
        .image(&TestImage::new(vec![
            LayerBuilder::new().file("arch", "amd64").tar(),
        ]))
        .unwrap();
    let arm = w
        .image(
            &TestImage::new(vec![LayerBuilder::new().file("arch", "arm64").tar()]).platform(
                "linux",
                "arm64",
                Some("v8"),
            ),
        )
        .unwrap();
    let idx = w.index(&[amd, arm]).unwrap();
    w.tag("multi", &idx).finish().unwrap();
    reg.push(&dir, "multi", "multi:1", true).unwrap();
    let image = format!("{}/multi:1", reg.addr);
    let work = t.path().join("work");
    let img = pull(&PullOptions::default(), &image, &work).unwrap();
    assert_eq!(img.fs.read("/arch").unwrap(), b"amd64");
    assert_eq!(img.index_digest.as_deref(), Some(idx.digest.as_str()));
    let mut opts = PullOptions {
        platform: portcullis_image::Platform::parse("linux/arm64/v8").unwrap(),
        ..PullOptions::default()
    };
    let img = pull(&opts, &image, &work).unwrap();
    assert_eq!(img.fs.read("/arch").unwrap(), b"arm64");
    opts.platform = portcullis_image::Platform::parse("windows/amd64").unwrap();
    let e = pull(&opts, &image, &work).unwrap_err().to_string();
    assert!(
        e.contains("no manifest for platform windows/amd64") && e.contains("linux/arm64/v8"),
        "{e}"
    );
}

#[test]
fn shared_base_layer_is_fetched_once_with_the_cache() {
    let reg = start(Mode::Plain);
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("oci");
    let base = LayerBuilder::new()
        .file("etc/os-release", "ID=debian\n")
        .file("usr/lib/libc.so", vec![1u8; 50_000])
        .tar();
    let mut w = OciWriter::new(&dir).unwrap();
    let a = w
        .image(&TestImage::new(vec![
            base.clone(),
            LayerBuilder::new().file("app", "a").tar(),
        ]))
        .unwrap();
    let b = w
        .image(&TestImage::new(vec![
            base,
            LayerBuilder::new().file("app", "b").tar(),
        ]))
        .unwrap();
    assert_eq!(a.layer_digests[0], b.layer_digests[0]);
    w.tag("a", &a).tag("b", &b).finish().unwrap();
    reg.push(&dir, "a", "app-a:1", false).unwrap();
    reg.push(&dir, "b", "app-b:1", false).unwrap();
    let opts = PullOptions {
        cache_dir: Some(t.path().join("cache")),
        ..PullOptions::default()
    };
    let client = Client::new(&opts).unwrap();
    let work = t.path().join("work");
    rt().block_on(async {
        let ia = client
            .pull(
                &ImageRef::parse(&format!("{}/app-a:1", reg.addr)).unwrap(),
                &work,
                &all,
                &Limits::default(),
            )
            .await
            .unwrap();
        assert_eq!(ia.fs.read("/app").unwrap(), b"a");
        let ib = client
            .pull(
                &ImageRef::parse(&format!("{}/app-b:1", reg.addr)).unwrap(),
                &work,
                &all,
                &Limits::default(),
            )
            .await
            .unwrap();
        assert_eq!(ib.fs.read("/app").unwrap(), b"b");
        assert_eq!(ib.fs.read("/etc/os-release").unwrap(), b"ID=debian\n");
    });
    let s = client.stats();
    assert_eq!((s.blobs_downloaded, s.blobs_from_cache), (3, 1), "{s:?}");
    assert_eq!(
        reg.blob_gets(&a.layer_digests[0]),
        1,
        "the registry served the shared base layer once"
    );
    // A fresh client (another process) finds everything in the cache.
    let again = Client::new(&opts).unwrap();
    rt().block_on(again.pull(
        &ImageRef::parse(&format!("{}/app-a:1", reg.addr)).unwrap(),
        &work,
        &all,
        &Limits::default(),
    ))
    .unwrap();
    assert_eq!(again.stats().blobs_downloaded, 0);
    assert_eq!(again.stats().blobs_from_cache, 2);
    // A corrupted cache entry is detected, removed, and the next pull fetches it again.
    let cached = t
        .path()
        .join("cache/blobs/sha256")
        .join(a.layer_digests[1].trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&cached).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 0xff;
    std::fs::write(&cached, bytes).unwrap();
    let e = rt().block_on(again.pull(
        &ImageRef::parse(&format!("{}/app-a:1", reg.addr)).unwrap(),
        &work,
        &all,
        &Limits::default(),
    ));
    assert!(e.is_err(), "corrupt cache entry must not be used");
    assert!(!cached.exists(), "the corrupt entry is removed");
    rt().block_on(again.pull(
        &ImageRef::parse(&format!("{}/app-a:1", reg.addr)).unwrap(),
        &work,
        &all,
        &Limits::default(),
    ))
    .unwrap();
}

#[test]
fn registry_bad_inputs_give_precise_errors() {
    let reg = start(Mode::Plain);
    let t = tempfile::tempdir().unwrap();
    let m = layout(&t.path().join("oci"), "bad");
    reg.push(&t.path().join("oci"), "v1", "app:v1", false)
        .unwrap();
    let work = t.path().join("work");
    let opts = PullOptions {
        retries: 1,
        ..PullOptions::default()
    };

    // Missing tag and missing repository.
    match pull(&opts, &format!("{}/app:nope", reg.addr), &work) {
        Err(e @ Error::NotFound { .. }) => assert!(e.to_string().contains("manifest nope"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        pull(&opts, &format!("{}/nothere:v1", reg.addr), &work),
        Err(Error::NotFound { .. })
    ));

    // Unreachable registry: nothing listens on this port.
    let port = portcullis_testkit::free_port().unwrap();
    let started = std::time::Instant::now();
    match pull(&opts, &format!("127.0.0.1:{port}/app:v1"), &work) {
        Err(e @ Error::Unreachable { .. }) => {
            let s = e.to_string();
            assert!(
                s.contains(&format!("127.0.0.1:{port}")) && s.contains("HTTP"),
                "{s}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed().as_secs() < 20, "retries are bounded");

    // Digest mismatch: corrupt the layer blob in the registry's own storage.
    let data = reg.blob_data_path(&m.layer_digests[1]);
    let mut bytes = std::fs::read(&data).expect("blob in registry storage");
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();
    match pull(&opts, &format!("{}/app:v1", reg.addr), &work) {
        Err(e @ Error::DigestMismatch { .. }) => {
            assert!(e.to_string().contains(&m.layer_digests[1]), "{e}")
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
}

#[test]
fn plain_http_is_refused_for_non_loopback_registries_unless_marked_insecure() {
    let ip = portcullis_testkit::non_loopback_ip()
        .expect("a non-loopback IPv4 address is needed for this test");
    let reg = Registry::start_on(Mode::Plain, &ip.to_string()).expect("registry");
    let t = tempfile::tempdir().unwrap();
    layout(&t.path().join("oci"), "lan");
    reg.push(&t.path().join("oci"), "v1", "app:v1", false)
        .unwrap();
    let image = format!("{}/app:v1", reg.addr);
    let work = t.path().join("work");
    let opts = PullOptions {
        retries: 0,
        ..PullOptions::default()
    };
    let e = pull(&opts, &image, &work).unwrap_err().to_string();
    assert!(e.contains("mark it insecure"), "{e}");
    let opts = PullOptions {
        insecure_registries: vec![reg.addr.clone()],
        ..opts
    };
    let img = pull(&opts, &image, &work).unwrap();
    assert_eq!(img.fs.read("/marker").unwrap(), b"lan");
}

#[test]
fn docker_schema2_manifest_list_and_zstd_oci_layers() {
    let reg = start(Mode::Plain);
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("oci");
    let mut w = OciWriter::new(&dir).unwrap();
    let amd = w
        .image(&TestImage::new(vec![
            LayerBuilder::new().file("arch", "amd64").tar(),
        ]))
        .unwrap();
    let arm = w
        .image(
            &TestImage::new(vec![LayerBuilder::new().file("arch", "arm").tar()]).platform(
                "linux",
                "arm",
                Some("v7"),
            ),
        )
        .unwrap();
    let idx = w.index(&[amd, arm]).unwrap();
    let z = w
        .image(
            &TestImage::new(vec![
                LayerBuilder::new()
                    .file("etc/os-release", "ID=alpine\n")
                    .tar(),
            ])
            .compression(portcullis_image::squash::Compression::Zstd),
        )
        .unwrap();
    w.tag("multi", &idx).tag("zstd", &z).finish().unwrap();
    // skopeo converts to a Docker manifest list of Docker schema 2 manifests.
    reg.push_with(&dir, "multi", "docker-list:1", true, &["--format=v2s2"])
        .unwrap();
    reg.push(&dir, "zstd", "zstd:1", false).unwrap();
    let work = t.path().join("work");
    let opts = PullOptions {
        platform: portcullis_image::Platform::parse("linux/arm/v7").unwrap(),
        ..PullOptions::default()
    };
    let img = pull(&opts, &format!("{}/docker-list:1", reg.addr), &work).unwrap();
    assert_eq!(img.fs.read("/arch").unwrap(), b"arm");
    assert!(
        img.layers[0].media_type.contains("docker"),
        "{:?}",
        img.layers[0]
    );
    let img = pull(
        &PullOptions::default(),
        &format!("{}/zstd:1", reg.addr),
        &work,
    )
    .unwrap();
    assert_eq!(img.fs.read("/etc/os-release").unwrap(), b"ID=alpine\n");
    assert!(img.layers[0].media_type.ends_with("+zstd"));
}

/// A config whose `rootfs.diff_ids` do not describe the layers is caught while the layer streams through the
/// squasher, the same way from the registry, from the OCI layout and from a `docker save` archive: the error names
/// the image, the layer (index and digest) and both diff ids. A config listing too few diff ids is refused.
#[test]
fn wrong_diff_id_in_the_config_is_caught_for_every_source() {
    use portcullis_image::Source;
    use portcullis_image::manifest::sha256;
    let reg = start(Mode::Plain);
    let t = tempfile::tempdir().unwrap();
    let base = LayerBuilder::new()
        .file("etc/os-release", "ID=debian\n")
        .tar();
    let top = LayerBuilder::new().file("app", "payload").tar();
    let wrong = format!("sha256:{}", "0".repeat(64));
    let dir = t.path().join("oci");
    let mut w = OciWriter::new(&dir).unwrap();
    let bad = w
        .image(
            &TestImage::new(vec![base.clone(), top.clone()])
                .diff_ids(vec![sha256(&base), wrong.clone()]),
        )
        .unwrap();
    let short = w
        .image(&TestImage::new(vec![base.clone(), top.clone()]).diff_ids(vec![sha256(&base)]))
        .unwrap();
    w.tag("bad", &bad).tag("short", &short).finish().unwrap();
    let check = |e: Error, image: &str| {
        let msg = e.to_string();
        match &e {
            Error::DigestMismatch {
                expected, actual, ..
            } => {
                assert_eq!(expected, &wrong, "{msg}");
                assert_eq!(actual, &sha256(&top), "{msg}");
            }
            other => panic!("expected a diff_id mismatch, got {other:?}"),
        }
        for part in [image, "layer #1", "diff_ids[1]"] {
            assert!(msg.contains(part), "`{part}` missing from: {msg}");
        }
    };

    reg.push(&dir, "bad", "integrity/app:bad", false).unwrap();
    let image = format!("{}/integrity/app:bad", reg.addr);
    let e = pull(&PullOptions::default(), &image, &t.path().join("w1")).unwrap_err();
    check(e, &image);
    assert!(
        pull(&PullOptions::default(), &image, &t.path().join("w1"))
            .unwrap_err()
            .to_string()
            .contains(&bad.layer_digests[1]),
        "the registry error names the layer blob digest"
    );

    let open = |src: Source| {
        rt().block_on(portcullis_image::open(
            &src,
            &PullOptions::default(),
            &t.path().join("w2"),
            &all,
        ))
    };
    let e = open(Source::OciLayout(dir.clone(), Some("bad".into()))).unwrap_err();
    assert!(e.to_string().contains(&bad.layer_digests[1]), "{e}");
    check(e, "bad");

    // skopeo keeps the config byte for byte, so the archive carries the same wrong diff id.
    let archive = t.path().join("bad.tar");
    let st = std::process::Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:bad", dir.display()))
        .arg(format!(
            "docker-archive:{}:example.com/app:bad",
            archive.display()
        ))
        .output()
        .expect("skopeo is needed: run scripts/setup.d/20-image.sh");
    assert!(
        st.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let e = open(Source::DockerArchive(archive.clone(), None)).unwrap_err();
    check(e, &archive.display().to_string());

    reg.push(&dir, "short", "integrity/app:short", false)
        .unwrap();
    let short_ref = format!("{}/integrity/app:short", reg.addr);
    for e in [
        pull(&PullOptions::default(), &short_ref, &t.path().join("w3")).unwrap_err(),
        open(Source::OciLayout(dir.clone(), Some("short".into()))).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Manifest { .. }), "{e}");
        assert!(e.to_string().contains("1 diff_ids"), "{e}");
    }
}
