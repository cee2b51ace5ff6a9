//! Hostile layers stop at their budgets with an error naming image, layer, path and limit, and peak memory stays
//! small: each bomb is opened by a child process (this test binary, one ignored test) whose peak RSS (VmHWM) is
//! checked. Every bomb is built by `portcullis_testkit::bombs`, small on disk.

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_image::{EntryKind, Limits, PullOptions, Source};
use portcullis_testkit::{LayerBuilder, bombs};

const ENV_DIR: &str = "PORTCULLIS_BOMB_LAYOUT";
const ENV_LIMITS: &str = "PORTCULLIS_BOMB_LIMITS";
/// Peak RSS allowed for opening one bomb (the budget for one analysis).
const MAX_RSS_KB: u64 = 256 * 1024;

fn vm_hwm_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn layout(dir: &Path, layers: Vec<Vec<u8>>) -> PathBuf {
    bombs::layout(dir, layers).unwrap()
}

/// Runs the child test on the layout with `limits` (`name=value,…` over the defaults); returns its output.
fn open_in_child(dir: &Path, limits: &str) -> (String, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_opens_bomb",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir)
        .env(ENV_LIMITS, limits)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = stdout
        .lines()
        .find_map(|l| l.split_once("ERROR=").map(|(_, e)| e))
        .unwrap_or_else(|| panic!("the bomb opened without an error: {stdout}"))
        .to_string();
    let hwm = stdout
        .lines()
        .find_map(|l| l.split_once("VMHWM_KB=").map(|(_, v)| v))
        .and_then(|v| v.trim().parse().ok())
        .expect("VMHWM_KB");
    (err, hwm)
}

fn check(name: &str, build: bombs::Build, limits: &str, want: &[&str]) {
    let t = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let oci = build(t.path()).unwrap();
    let built = started.elapsed();
    let started = std::time::Instant::now();
    let (err, hwm) = open_in_child(&oci, limits);
    eprintln!(
        "bomb {name}: peak RSS {} MB (limit {} MB), opened in {:?} (built in {built:?}): {err}",
        hwm / 1024,
        MAX_RSS_KB / 1024,
        started.elapsed()
    );
    for w in want {
        assert!(err.contains(w), "{name}: `{w}` missing from: {err}");
    }
    assert!(
        err.contains("image oci-dir:") && err.contains("layer sha256:"),
        "{name}: {err}"
    );
    assert!(
        hwm < MAX_RSS_KB,
        "{name}: peak RSS {hwm} kB exceeds {MAX_RSS_KB} kB"
    );
}

#[test]
fn a_40000_deep_path_stops_at_the_path_length_limit() {
    check(
        "deep path",
        bombs::deep_path,
        "",
        &[
            "longer than 4096 bytes (limit max_path_len)",
            "path `a/a/a/",
        ],
    );
}

#[test]
fn too_many_components_stop_at_the_depth_limit() {
    check(
        "many components",
        bombs::many_components,
        "",
        &["301 components", "more than 256 (limit max_path_depth)"],
    );
}

#[test]
fn a_300_mb_pax_record_stops_at_the_header_limit() {
    check(
        "pax",
        bombs::pax_record,
        "",
        &["exceed 1048576 bytes (limit max_header_bytes)"],
    );
}

#[test]
fn a_gzip_bomb_stops_at_the_uncompressed_layer_limit() {
    check(
        "gzip 4 GiB",
        bombs::gzip_bomb,
        "max_layer_bytes=268435456",
        &[
            "larger than 268435456 bytes (limit max_layer_bytes)",
            "decompression bomb",
        ],
    );
    check(
        "gzip 4 GiB, image budget",
        bombs::gzip_bomb,
        "max_image_bytes=134217728",
        &["larger than 134217728 bytes (limit max_image_bytes)"],
    );
}

#[test]
fn a_zstd_bomb_stops_at_the_uncompressed_layer_limit() {
    check(
        "zstd 4 GiB",
        bombs::zstd_bomb,
        "max_layer_bytes=268435456",
        &[
            "larger than 268435456 bytes (limit max_layer_bytes)",
            "decompression bomb",
        ],
    );
}

#[test]
#[ignore = "child process of the bomb tests"]
fn child_opens_bomb() {
    let dir = std::env::var(ENV_DIR).expect("run through the bomb tests");
    let mut limits = Limits::default();
    for kv in std::env::var(ENV_LIMITS)
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let (k, v) = kv.split_once('=').unwrap();
        let v: u64 = v.parse().unwrap();
        match k {
            "max_layer_bytes" => limits.max_layer_bytes = v,
            "max_image_bytes" => limits.max_image_bytes = v,
            other => panic!("unknown limit {other}"),
        }
    }
    let work = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = rt.block_on(portcullis_image::open_with_limits(
        &Source::OciLayout(PathBuf::from(dir), None),
        &PullOptions::default(),
        work.path(),
        &|_, _, _| false,
        &limits,
    ));
    match r {
        Ok(img) => println!("OPENED={}", img.fs.entries.len()),
        Err(e) => println!("ERROR={e}"),
    }
    println!("VMHWM_KB={}", vm_hwm_kb());
}

/// Hard links name content as of the link: a wanted link to an unwanted file gets the content the target had
/// when the link was written, in the same layer or from a lower one, and nothing else is kept.
#[test]
fn wanted_hard_links_to_unwanted_files_get_the_content_of_their_time() {
    let base = LayerBuilder::new()
        .file("tmp/status", "STATUS v1")
        .hardlink("var/lib/dpkg/status", "tmp/status")
        .file("tmp/status", "rewritten after the link")
        .file("tmp/lower", "LOWER")
        .tar();
    let top = LayerBuilder::new()
        .hardlink("lib/apk/db/installed", "tmp/lower")
        .hardlink("etc/unwanted-link", "tmp/lower")
        .tar();
    let t = tempfile::tempdir().unwrap();
    let oci = layout(t.path(), vec![base, top]);
    let wanted =
        |p: &str, _: u64, _: u32| p == "/var/lib/dpkg/status" || p == "/lib/apk/db/installed";
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let img = rt
        .block_on(portcullis_image::open(
            &Source::OciLayout(oci, None),
            &PullOptions::default(),
            &t.path().join("work"),
            &wanted,
        ))
        .unwrap();
    assert_eq!(img.fs.read("/var/lib/dpkg/status").unwrap(), b"STATUS v1");
    assert_eq!(img.fs.read("/lib/apk/db/installed").unwrap(), b"LOWER");
    let e = img.fs.get("/lib/apk/db/installed").unwrap();
    assert_eq!(
        (e.kind.clone(), e.size, e.layer),
        (EntryKind::Hardlink("/tmp/lower".into()), 5, 1)
    );
    assert!(!img.fs.get("/etc/unwanted-link").unwrap().kept);
    assert!(
        !img.fs.get("/tmp/lower").unwrap().kept,
        "the unwanted target itself is not kept"
    );
}

/// A layer that fails half-way leaves nothing in the work directory: kept contents are removed with the squash.
#[test]
fn a_failed_squash_leaves_no_work_files() {
    let bad = LayerBuilder::new()
        .file("var/lib/dpkg/status", "kept before the failure")
        .file(&format!("{}f", "a/".repeat(300)), "x")
        .tar();
    let t = tempfile::tempdir().unwrap();
    let oci = layout(t.path(), vec![bad]);
    let work = t.path().join("work");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let e = rt
        .block_on(portcullis_image::open(
            &Source::OciLayout(oci, None),
            &PullOptions::default(),
            &work,
            &|_, _, _| true,
        ))
        .unwrap_err();
    assert!(e.to_string().contains("max_path_depth"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&work).unwrap().collect();
    assert!(left.is_empty(), "work directory not cleaned: {left:?}");
}
