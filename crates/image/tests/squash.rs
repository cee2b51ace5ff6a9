//! Layer squashing through the local sources (OCI layout, docker archive): OCI whiteout rules, links,
//! compression, and every bad-input class that lives inside a layer.

use std::path::Path;

use portcullis_image::squash::Compression;
use portcullis_image::{EntryKind, Error, Image, Limits, PullOptions, Source};
use portcullis_testkit::{LayerBuilder, OciWriter, TestImage};

fn all(_: &str, _: u64, _: u32) -> bool {
    true
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn open_layout(
    dir: &Path,
    work: &Path,
    wanted: &portcullis_image::Wanted<'_>,
    limits: &Limits,
) -> Result<Image, Error> {
    rt().block_on(portcullis_image::open_with_limits(
        &Source::OciLayout(dir.to_path_buf(), None),
        &PullOptions::default(),
        work,
        wanted,
        limits,
    ))
}

/// Writes a one-image layout with `layers` and opens it.
fn squash(
    layers: Vec<Vec<u8>>,
    c: Compression,
    wanted: &portcullis_image::Wanted<'_>,
) -> (tempfile::TempDir, Result<Image, Error>) {
    squash_limits(layers, c, wanted, &Limits::default())
}

fn squash_limits(
    layers: Vec<Vec<u8>>,
    c: Compression,
    wanted: &portcullis_image::Wanted<'_>,
    limits: &Limits,
) -> (tempfile::TempDir, Result<Image, Error>) {
    let t = tempfile::tempdir().unwrap();
    let mut w = OciWriter::new(&t.path().join("oci")).unwrap();
    let m = w.image(&TestImage::new(layers).compression(c)).unwrap();
    w.tag("latest", &m).finish().unwrap();
    let r = open_layout(
        &t.path().join("oci"),
        &t.path().join("work"),
        wanted,
        limits,
    );
    (t, r)
}

fn paths(img: &Image) -> Vec<&str> {
    img.fs.entries.keys().map(String::as_str).collect()
}

#[test]
fn whiteouts_opaque_dirs_links_and_replacement_follow_the_oci_rules() {
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let base = LayerBuilder::new()
            .dir("etc/")
            .file("etc/os-release", "ID=debian\n")
            .file("etc/passwd", "root:x:0:0\n")
            .dir("var/lib/dpkg/")
            .file("var/lib/dpkg/status", "Package: a\n")
            .file("var/lib/dpkg/old", "x")
            .dir("opt/app/")
            .file("opt/app/a", "1")
            .file("opt/app/sub/b", "2")
            .file("usr/bin/perl", "PERL")
            .hardlink("usr/bin/perl5", "usr/bin/perl")
            .symlink("bin", "usr/bin")
            .file("data", "was a file")
            .dir("gone/")
            .file("gone/deep/x", "x")
            .tar();
        let top = LayerBuilder::new()
            .whiteout("etc/passwd")
            .opaque("opt/app")
            .file("opt/app/new", "3")
            .file("var/lib/dpkg/status", "Package: b\n")
            .whiteout("gone")
            .dir("data/")
            .file("data/inner", "now a dir")
            // Written through the `bin` symlink: lands in /usr/bin.
            .file("bin/tool", "T")
            .tar();
        let (_t, img) = squash(vec![base, top], c, &all);
        let img = img.unwrap();
        let p = paths(&img);
        assert_eq!(
            p,
            [
                "/bin",
                "/data",
                "/data/inner",
                "/etc",
                "/etc/os-release",
                "/opt",
                "/opt/app",
                "/opt/app/new",
                "/usr",
                "/usr/bin",
                "/usr/bin/perl",
                "/usr/bin/perl5",
                "/usr/bin/tool",
                "/var",
                "/var/lib",
                "/var/lib/dpkg",
                "/var/lib/dpkg/old",
                "/var/lib/dpkg/status",
            ],
            "{c:?}"
        );
        let fs = &img.fs;
        assert_eq!(fs.read("/var/lib/dpkg/status").unwrap(), b"Package: b\n");
        assert_eq!(fs.get("/var/lib/dpkg/status").unwrap().layer, 1);
        assert_eq!(fs.get("/var/lib/dpkg/old").unwrap().layer, 0);
        assert_eq!(fs.read("/usr/bin/tool").unwrap(), b"T");
        assert_eq!(
            fs.get("/bin").unwrap().kind,
            EntryKind::Symlink("usr/bin".into())
        );
        let l = fs.get("/usr/bin/perl5").unwrap();
        assert_eq!(l.kind, EntryKind::Hardlink("/usr/bin/perl".into()));
        assert_eq!(l.size, 4);
        assert_eq!(fs.read("/usr/bin/perl5").unwrap(), b"PERL");
        assert_eq!(fs.get("/data").unwrap().kind, EntryKind::Dir);
        assert!(
            !fs.content_path("/etc/passwd").exists(),
            "whited-out content is removed from disk"
        );
        assert!(fs.content_dir.starts_with(_t.path().join("work")));
        assert_eq!(fs.layer_digests.len(), 2);
        assert_eq!(img.layers.len(), 2);
        assert_eq!(img.layers[0].diff_id.as_deref().map(|d| d.len()), Some(71));
        assert_eq!(img.config.os, "linux");
    }
}

#[test]
fn only_wanted_contents_are_kept() {
    let layer = LayerBuilder::new()
        .file("etc/os-release", "ID=alpine\n")
        .large_file("usr/lib/big.so", 64 << 20)
        .tar();
    let wanted = |p: &str, _: u64, _: u32| p == "/etc/os-release";
    let (_t, img) = squash(vec![layer], Compression::Gzip, &wanted);
    let img = img.unwrap();
    let big = img.fs.get("/usr/lib/big.so").unwrap();
    assert_eq!((big.size, big.kept), (64 << 20, false));
    assert!(!img.fs.content_path("/usr/lib/big.so").exists());
    assert!(img.fs.read("/usr/lib/big.so").is_err());
    assert_eq!(img.fs.read("/etc/os-release").unwrap(), b"ID=alpine\n");
}

#[test]
fn opaque_whiteout_keeps_entries_of_its_own_layer_whatever_the_order() {
    let base = LayerBuilder::new().file("d/old", "o").tar();
    // The opaque marker comes after a sibling from the same layer: that sibling must survive.
    let top = LayerBuilder::new()
        .file("d/new", "n")
        .opaque("d")
        // AUFS metadata is not content.
        .dir(".wh..wh.plnk")
        .file(".wh..wh.plnk/1234.5678", "x")
        .tar();
    let (_t, img) = squash(vec![base, top], Compression::None, &all);
    let img = img.unwrap();
    assert_eq!(paths(&img), ["/d", "/d/new"]);
}

fn err_of(layers: Vec<Vec<u8>>) -> String {
    let (_t, r) = squash(layers, Compression::Gzip, &all);
    let e = r.expect_err("bad layer must be refused").to_string();
    // Every layer error names the image and the layer digest.
    assert!(e.contains("oci-dir:") && e.contains("layer sha256:"), "{e}");
    e
}

#[test]
fn dotdot_absolute_and_escaping_symlink_members_are_refused_and_nothing_escapes() {
    let e = err_of(vec![
        LayerBuilder::new()
            .raw("../../evil", tar::EntryType::Regular, b"x", None)
            .tar(),
    ]);
    assert!(e.contains("path `../../evil`") && e.contains("`..`"), "{e}");
    let e = err_of(vec![
        LayerBuilder::new()
            .raw("/etc/evil", tar::EntryType::Regular, b"x", None)
            .tar(),
    ]);
    assert!(
        e.contains("path `/etc/evil`") && e.contains("absolute path"),
        "{e}"
    );
    let e = err_of(vec![
        LayerBuilder::new()
            .raw("a", tar::EntryType::Link, b"", Some("../../etc/passwd"))
            .tar(),
    ]);
    assert!(e.contains("hard link target"), "{e}");
    let e = err_of(vec![
        LayerBuilder::new()
            .symlink("escape", "../../../../tmp")
            .tar(),
        LayerBuilder::new().file("escape/pwned", "x").tar(),
    ]);
    assert!(
        e.contains("path `escape/pwned`") && e.contains("escapes the image root"),
        "{e}"
    );
    assert!(!Path::new("/tmp/pwned").exists());
    // An absolute symlink is resolved inside the image (chroot semantics), never on the host.
    let (t, img) = squash(
        vec![
            LayerBuilder::new().symlink("etc", "/tmp").tar(),
            LayerBuilder::new().file("etc/host-file", "x").tar(),
        ],
        Compression::Gzip,
        &all,
    );
    let img = img.unwrap();
    assert!(img.fs.exists("/tmp/host-file"));
    assert!(img.fs.content_path("/tmp/host-file").starts_with(t.path()));
    assert!(!Path::new("/tmp/host-file").exists());
}

#[test]
fn truncated_and_corrupt_layers_name_image_layer_and_place() {
    let good = LayerBuilder::new()
        .file("a", vec![7u8; 100_000])
        .file("b", "b")
        .tar();
    // Truncated plain tar: the data of `a` is cut short.
    let t = tempfile::tempdir().unwrap();
    let mut w = OciWriter::new(&t.path().join("oci")).unwrap();
    let m = w
        .image(&TestImage::new(vec![good[..50_000].to_vec()]).compression(Compression::None))
        .unwrap();
    w.tag("x", &m).finish().unwrap();
    let e = open_layout(
        &t.path().join("oci"),
        &t.path().join("work"),
        &all,
        &Limits::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(&m.layer_digests[0]) && e.contains("path `a`"),
        "{e}"
    );
    // Truncated gzip.
    let gz = portcullis_testkit::gzip(&good);
    let mut w = OciWriter::new(&t.path().join("oci2")).unwrap();
    let (d, s) = w.blob(&gz[..gz.len() / 2]).unwrap();
    let _ = s;
    // A config describing the one (intact) layer, and a manifest pointing at the truncated blob, written by hand.
    let m = w
        .image(
            &TestImage::new(vec![])
                .compression(Compression::None)
                .diff_ids(vec![portcullis_image::manifest::sha256(&good)]),
        )
        .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": m.config_digest, "size": 1},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": gz.len() / 2}],
    });
    let (md, ms) = w.blob(&serde_json::to_vec(&manifest).unwrap()).unwrap();
    let mut wm = m.clone();
    wm.digest = md;
    wm.size = ms;
    w.tag("x", &wm).finish().unwrap();
    let e = open_layout(
        &t.path().join("oci2"),
        &t.path().join("work"),
        &all,
        &Limits::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains(&d) && (e.contains("truncated") || e.contains("corrupt")),
        "{e}"
    );
    // Garbage that is not a tar at all.
    let e = err_of(vec![
        b"this is not a tar archive, just text that goes on and on".repeat(20),
    ]);
    assert!(e.contains("corrupt") || e.contains("tar"), "{e}");
}

#[test]
fn corrupted_blob_in_layout_is_a_digest_mismatch() {
    let t = tempfile::tempdir().unwrap();
    let mut w = OciWriter::new(&t.path().join("oci")).unwrap();
    let m = w
        .image(
            &TestImage::new(vec![LayerBuilder::new().file("a", "hello").tar()])
                .compression(Compression::None),
        )
        .unwrap();
    w.tag("x", &m).finish().unwrap();
    let p = w.blob_path(&m.layer_digests[0]);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[513] ^= 1; // flip a bit of the file data, the tar stays well-formed
    std::fs::write(&p, bytes).unwrap();
    match open_layout(
        &t.path().join("oci"),
        &t.path().join("work"),
        &all,
        &Limits::default(),
    ) {
        Err(Error::DigestMismatch { expected, .. }) => assert_eq!(expected, m.layer_digests[0]),
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
}

#[test]
fn huge_wanted_files_and_too_many_entries_hit_clear_limits() {
    let limits = Limits {
        max_kept_file: 1 << 20,
        ..Limits::default()
    };
    let layer = LayerBuilder::new()
        .large_file("var/lib/rpm/Packages", 2 << 20)
        .tar();
    let (_t, r) = squash_limits(vec![layer], Compression::Gzip, &all, &limits);
    let e = r.unwrap_err().to_string();
    assert!(
        e.contains("path `var/lib/rpm/Packages`") && e.contains("larger than"),
        "{e}"
    );

    let limits = Limits {
        max_entries: 100,
        ..Limits::default()
    };
    let mut b = LayerBuilder::new();
    for i in 0..200 {
        b.file(&format!("f/{i}"), "");
    }
    let (_t, r) = squash_limits(vec![b.tar()], Compression::Gzip, &all, &limits);
    let e = r.unwrap_err().to_string();
    assert!(e.contains("more than 100 paths"), "{e}");
}

#[test]
fn multi_platform_layout_selects_the_requested_platform() {
    let t = tempfile::tempdir().unwrap();
    let mut w = OciWriter::new(&t.path().join("oci")).unwrap();
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
    let idx = w.index(&[amd.clone(), arm.clone()]).unwrap();
    w.tag("multi", &idx).finish().unwrap();
    let mut opts = PullOptions::default();
    let open = |opts: &PullOptions| {
        rt().block_on(portcullis_image::open(
            &Source::OciLayout(t.path().join("oci"), Some("multi".into())),
            opts,
            &t.path().join("work"),
            &all,
        ))
    };
    let img = open(&opts).unwrap();
    assert_eq!(img.fs.read("/arch").unwrap(), b"amd64");
    assert_eq!(img.manifest_digest.as_deref(), Some(amd.digest.as_str()));
    assert_eq!(img.index_digest.as_deref(), Some(idx.digest.as_str()));
    opts.platform.architecture = "arm64".into();
    let img = open(&opts).unwrap();
    assert_eq!(img.fs.read("/arch").unwrap(), b"arm64");
    assert_eq!(img.config.variant.as_deref(), Some("v8"));
    assert_eq!(img.image_id, arm.config_digest);
    opts.platform.architecture = "s390x".into();
    let e = open(&opts).unwrap_err().to_string();
    assert!(
        e.contains("linux/s390x") && e.contains("linux/amd64, linux/arm64/v8"),
        "{e}"
    );
}

#[test]
fn docker_archive_written_by_skopeo_opens_like_the_layout() {
    let t = tempfile::tempdir().unwrap();
    let mut w = OciWriter::new(&t.path().join("oci")).unwrap();
    let m = w
        .image(
            &TestImage::new(vec![
                LayerBuilder::new()
                    .file("etc/os-release", "ID=debian\n")
                    .file("x", "1")
                    .tar(),
                LayerBuilder::new().whiteout("x").tar(),
            ])
            .config(serde_json::json!({"Env": ["A=1"], "Labels": {"l": "v"}})),
        )
        .unwrap();
    w.tag("v1", &m).finish().unwrap();
    let archive = t.path().join("img.tar");
    let st = std::process::Command::new("skopeo")
        .args(["copy", "--quiet"])
        .arg(format!("oci:{}:v1", t.path().join("oci").display()))
        .arg(format!("docker-archive:{}:example.com/app:v1", archive.display()))
        .status()
        .expect("skopeo is needed for this test: run scripts/setup.d/20-image.sh (apt-get install skopeo)");
    assert!(st.success());
    let src = Source::parse(&format!(
        "docker-archive:{}:example.com/app:v1",
        archive.display()
    ))
    .unwrap();
    let img = rt()
        .block_on(portcullis_image::open(
            &src,
            &PullOptions::default(),
            &t.path().join("work"),
            &all,
        ))
        .unwrap();
    assert_eq!(paths(&img), ["/etc", "/etc/os-release"]);
    assert_eq!(img.fs.read("/etc/os-release").unwrap(), b"ID=debian\n");
    assert_eq!(img.config.env, ["A=1"]);
    assert_eq!(img.config.labels.get("l").map(String::as_str), Some("v"));
    assert_eq!(
        img.image_id, m.config_digest,
        "skopeo keeps the config byte for byte"
    );
    // A corrupted layer inside the archive is caught by the diff id check: flip a byte of the file data of
    // `etc/os-release` inside the first layer member.
    let layer_member = {
        let f = std::fs::File::open(&archive).unwrap();
        let mut ar = tar::Archive::new(f);
        let mut found = None;
        for e in ar.entries_with_seek().unwrap() {
            let e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            if name != "manifest.json" && e.size() > 1024 && found.is_none() {
                found = Some((e.raw_file_position(), e.size()));
            }
        }
        found.expect("a layer member")
    };
    let mut bytes = std::fs::read(&archive).unwrap();
    let inner = &bytes[layer_member.0 as usize..(layer_member.0 + layer_member.1) as usize];
    let pos = inner
        .windows(9)
        .position(|w| w == b"ID=debian")
        .expect("file data in the layer");
    let corrupted = archive.with_file_name("corrupt.tar");
    bytes[layer_member.0 as usize + pos] = b'X';
    std::fs::write(&corrupted, bytes).unwrap();
    let e = rt()
        .block_on(portcullis_image::open(
            &Source::DockerArchive(corrupted, None),
            &PullOptions::default(),
            &t.path().join("work"),
            &all,
        ))
        .unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains("diff_id"), "{e}");
    let e = rt()
        .block_on(portcullis_image::open(
            &Source::parse(&format!("docker-archive:{}:nope", archive.display())).unwrap(),
            &PullOptions::default(),
            &t.path().join("work"),
            &all,
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no image tagged `nope`"), "{e}");
}

/// Layers written by GNU tar from real directories squash to exactly what the filesystem holds: every path,
/// kind, size and mode, and the bytes of every kept file.
#[test]
fn gnu_tar_layers_of_real_directories_squash_exactly() {
    use portcullis_image::FsView;
    use portcullis_testkit::LayerFile;
    let real = Path::new("/usr/share/doc");
    assert!(
        real.is_dir(),
        "/usr/share/doc is needed (present on every Debian system)"
    );
    let t = tempfile::tempdir().unwrap();
    // Second layer: hard links, symlinks (relative, absolute, dangling), modes, nested dirs.
    let extra = t.path().join("extra");
    let z = extra.join("zz-test");
    std::fs::create_dir_all(z.join("a/b")).unwrap();
    std::fs::write(z.join("a/b/bin"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::hard_link(z.join("a/b/bin"), z.join("a/bin-hardlink")).unwrap();
    std::os::unix::fs::symlink("b/bin", z.join("a/rel")).unwrap();
    std::os::unix::fs::symlink("/usr/share/doc", z.join("abs")).unwrap();
    std::os::unix::fs::symlink("nowhere", z.join("dangling")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(z.join("a/b/bin"), std::fs::Permissions::from_mode(0o4755)).unwrap();
    let tar = |dir: &Path, what: &[String], out: &Path| {
        let st = std::process::Command::new("tar")
            .args(["--numeric-owner", "-C"])
            .arg(dir)
            .arg("-cf")
            .arg(out)
            .args(what)
            .status()
            .expect("GNU tar");
        assert!(st.success());
        LayerFile::from_tar(out).unwrap()
    };
    // The first 150 package doc directories keep the test quick on machines with many packages.
    let mut names: Vec<String> = std::fs::read_dir(real)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.truncate(150);
    let l1 = tar(real, &names, &t.path().join("l1.tar"));
    let l2 = tar(&extra, &["zz-test".to_string()], &t.path().join("l2.tar"));
    let mut w = OciWriter::new(&t.path().join("oci")).unwrap();
    let m = w
        .image_from_files(&[l1, l2], &TestImage::new(vec![]))
        .unwrap();
    w.tag("real", &m).finish().unwrap();
    let wanted = |_: &str, size: u64, _: u32| size <= 4096;
    let img = open_layout(
        &t.path().join("oci"),
        &t.path().join("work"),
        &wanted,
        &Limits::default(),
    )
    .unwrap();

    let mut expected = FsView::from_dir(real, &wanted).unwrap();
    expected.entries.retain(|p, _| {
        names
            .iter()
            .any(|n| p == &format!("/{n}") || p.starts_with(&format!("/{n}/")))
    });
    let extra_view = FsView::from_dir(&extra, &wanted).unwrap();
    let norm = |k: &EntryKind| match k {
        EntryKind::Hardlink(_) => EntryKind::File,
        k => k.clone(),
    };
    let mut compared = 0;
    for (views, root) in [
        (&mut expected, real),
        (&mut FsView { ..extra_view }, extra.as_path()),
    ] {
        for (p, e) in &views.entries {
            let got = img
                .fs
                .get(p)
                .unwrap_or_else(|| panic!("{p} missing from the squashed view"));
            assert_eq!(norm(&got.kind), e.kind, "{p}");
            assert_eq!((got.size, got.mode), (e.size, e.mode), "{p}");
            if e.kept {
                let want = std::fs::read(root.join(p.trim_start_matches('/'))).unwrap();
                let have = if got.kept {
                    img.fs.read(p).unwrap()
                } else {
                    img.fs.read_resolved(p).unwrap()
                };
                assert_eq!(have, want, "{p}");
            }
            compared += 1;
        }
    }
    assert_eq!(
        img.fs.entries.len(),
        compared,
        "no extra paths in the squashed view"
    );
    assert_eq!(
        img.fs.get("/zz-test/a/bin-hardlink").unwrap().kind,
        EntryKind::Hardlink("/zz-test/a/b/bin".into())
    );
    assert_eq!(img.fs.get("/zz-test/a/b/bin").unwrap().mode, 0o4755);
    assert_eq!(
        img.fs.resolve("/zz-test/a/rel").as_deref(),
        Some("/zz-test/a/b/bin")
    );
}

/// `layer_file_from_dir` (what other crates use to turn a debootstrap root filesystem into a layer) keeps
/// special files, symlinks and hard-linked files, and the image opens to the same tree.
#[test]
fn layer_file_from_dir_round_trips_a_root_filesystem() {
    use portcullis_testkit::layer_file_from_dir;
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("rootfs");
    std::fs::create_dir_all(root.join("dev")).unwrap();
    std::fs::create_dir_all(root.join("usr/bin")).unwrap();
    std::fs::write(root.join("usr/bin/perl"), b"PERL").unwrap();
    std::fs::hard_link(root.join("usr/bin/perl"), root.join("usr/bin/perl5.36")).unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(root.join("dev/initctl"))
        .status()
        .expect("mkfifo");
    assert!(st.success());
    for c in [Compression::Gzip, Compression::Zstd, Compression::None] {
        let l = layer_file_from_dir(&root, &t.path().join("layer"), c).unwrap();
        let mut w = OciWriter::new(&t.path().join(format!("oci-{c:?}"))).unwrap();
        let m = w.image_from_files(&[l], &TestImage::new(vec![])).unwrap();
        w.tag("x", &m).finish().unwrap();
        let img = open_layout(
            &t.path().join(format!("oci-{c:?}")),
            &t.path().join("work"),
            &all,
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(
            paths(&img),
            [
                "/bin",
                "/dev",
                "/dev/initctl",
                "/usr",
                "/usr/bin",
                "/usr/bin/perl",
                "/usr/bin/perl5.36"
            ],
            "{c:?}"
        );
        assert_eq!(img.fs.get("/dev/initctl").unwrap().kind, EntryKind::Other);
        assert_eq!(img.fs.read_resolved("/bin/perl5.36").unwrap(), b"PERL");
    }
}

/// A hard link names an inode, not a path: removing or replacing its target in a later layer leaves the link
/// with the old content, as a plain file.
#[test]
fn hard_links_keep_their_content_when_the_target_goes_away() {
    let base = LayerBuilder::new()
        .file("a", "A")
        .hardlink("b", "a")
        .file("c", "C")
        .hardlink("d", "c")
        .file("e", "E")
        .hardlink("f", "e")
        .tar();
    let top = LayerBuilder::new().whiteout("a").file("c", "new C").tar();
    let (_t, img) = squash(vec![base, top], Compression::Gzip, &all);
    let fs = img.unwrap().fs;
    assert!(!fs.exists("/a"));
    assert_eq!(fs.get("/b").unwrap().kind, EntryKind::File);
    assert_eq!(fs.read("/b").unwrap(), b"A");
    assert_eq!(fs.get("/d").unwrap().kind, EntryKind::File);
    assert_eq!(fs.read("/d").unwrap(), b"C");
    assert_eq!(fs.read("/c").unwrap(), b"new C");
    assert_eq!(
        fs.get("/f").unwrap().kind,
        EntryKind::Hardlink("/e".into()),
        "untouched links stay links"
    );
}
