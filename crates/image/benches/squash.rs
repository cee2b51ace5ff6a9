//! Squashing throughput: Portcullis opening an OCI layout (squash, keeping only cataloged files) against GNU
//! tar extracting the same gzip layers (the work a naive analyser does before it can look at files), measured
//! in the same run, alternating, median of N runs. Run: `cargo bench -p portcullis-image --bench squash`.
//! Peak RSS of the Portcullis side is read from /proc/self/status before and after (VmHWM).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use portcullis_image::squash::Compression;
use portcullis_image::{PullOptions, Source};
use portcullis_testkit::{OciWriter, TestImage, write_layer_file};

const RUNS: usize = 7;

fn build(dir: &Path, files: usize) -> Vec<std::path::PathBuf> {
    let mut gz = Vec::new();
    let mut layers = Vec::new();
    for (n, (lo, hi)) in [(0, files / 2), (files / 2, files)].into_iter().enumerate() {
        let l = write_layer_file(&dir.join(format!("l{n}.tmp")), Compression::Gzip, |b| {
            for i in lo..hi {
                // Deterministic pseudo-random sizes, 0..16 KiB, compressible like real binaries/text.
                let size = (i * 7919) % 16384;
                let content: Vec<u8> = (0..size).map(|k| ((k * 31 + i) % 251) as u8).collect();
                let mut h = tar::Header::new_gnu();
                h.set_mode(0o644);
                h.set_size(size as u64);
                b.append_data(
                    &mut h,
                    format!("usr/lib/pkg{:03}/file{i:07}.so", i % 500),
                    &content[..],
                )?;
            }
            let status = "Package: base-files\nVersion: 12.4\n\n".repeat(2000);
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(status.len() as u64);
            b.append_data(&mut h, "var/lib/dpkg/status", status.as_bytes())
        })
        .expect("write layer");
        let copy = dir.join(format!("layer{n}.tar.gz"));
        std::fs::copy(&l.path, &copy).expect("copy layer");
        gz.push(copy);
        layers.push(l);
    }
    let mut w = OciWriter::new(&dir.join("oci")).expect("layout");
    let m = w
        .image_from_files(&layers, &TestImage::new(vec![]))
        .expect("image");
    w.tag("bench", &m).finish().expect("index");
    gz
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let files: usize = std::env::var("SQUASH_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let t = tempfile::tempdir().expect("tempdir");
    let gz = build(t.path(), files);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let wanted =
        |p: &str, _: u64, _: u32| p == "/var/lib/dpkg/status" || p.ends_with("/os-release");
    let (mut ours, mut tar) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let work = t.path().join(format!("work{run}"));
        let start = Instant::now();
        let img = rt
            .block_on(portcullis_image::open(
                &Source::OciLayout(t.path().join("oci"), None),
                &PullOptions::default(),
                &work,
                &wanted,
            ))
            .expect("open");
        ours.push(start.elapsed());
        assert!(img.fs.entries.len() > files);
        std::fs::remove_dir_all(&work).ok();

        let out = t.path().join(format!("tar{run}"));
        std::fs::create_dir_all(&out).expect("mkdir");
        let start = Instant::now();
        for l in &gz {
            let st = Command::new("tar")
                .arg("-xzf")
                .arg(l)
                .arg("-C")
                .arg(&out)
                .status()
                .expect("GNU tar");
            assert!(st.success());
        }
        tar.push(start.elapsed());
        std::fs::remove_dir_all(&out).ok();
    }
    let (o, g) = (median(ours), median(tar));
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_string()))
        })
        .unwrap_or_default();
    println!("squash {files} files in 2 gzip layers, median of {RUNS} alternating runs:");
    println!("  portcullis open (squash, keep dpkg status): {o:?}");
    println!("  GNU tar -xzf (extract everything):          {g:?}");
    println!(
        "  ratio portcullis/tar: {:.2}",
        o.as_secs_f64() / g.as_secs_f64()
    );
    println!("  portcullis process peak RSS (VmHWM, includes building the layers): {hwm}");
}
