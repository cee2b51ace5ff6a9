//! Done-when: analysing an image with 200,000 files keeps the process's peak RSS under 200 MB.
//!
//! This file holds one test so the process's high-water mark (`VmHWM` in /proc/self/status) is this analysis's.
//! The image (two gzip layers written streaming to disk, cached under ~/.cache/portcullis) has 200,000 paths
//! with real package metadata among them: a dpkg status with 2,000 packages, 1,000 Python dist-infos,
//! 1,000 npm packages; the top layer deletes 1,000 files and replaces a directory opaquely.

mod common;

use std::path::{Path, PathBuf};

use portcullis_image::squash::Compression;
use portcullis_image::{PullOptions, Source};
use portcullis_sbom::PackageType;
use portcullis_testkit::{OciWriter, TestImage, write_layer_file};

const DPKG: usize = 2_000;
const PY: usize = 1_000;
const NPM: usize = 1_000;

fn append(
    b: &mut tar::Builder<&mut dyn std::io::Write>,
    path: &str,
    data: &[u8],
) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    b.append_data(&mut h, path, data)
}

fn layout() -> PathBuf {
    common::build_once(
        "oci-200k-files-v1",
        |d| d.join("index.json").is_file(),
        |tmp| {
            let mut w = OciWriter::new(tmp).unwrap();
            let base = write_layer_file(&tmp.join("l1"), Compression::Gzip, |b| {
            let mut n = 0usize;
            let mut status = String::new();
            for i in 0..DPKG {
                status.push_str(&format!(
                    "Package: pkg{i}\nStatus: install ok installed\nArchitecture: amd64\nSource: src{}\nVersion: 1.{i}-1\nDescription: x\n\n",
                    i / 10
                ));
            }
            append(b, "etc/os-release", b"ID=debian\nVERSION_ID=\"12\"\n")?;
            append(b, "var/lib/dpkg/status", status.as_bytes())?;
            n += 2;
            for i in 0..DPKG {
                let list: String = (0..20).map(|k| format!("/usr/share/pkg{i}/f{k}\n")).collect();
                append(b, &format!("var/lib/dpkg/info/pkg{i}.list"), list.as_bytes())?;
                n += 1;
            }
            for i in 0..PY {
                let d = format!("usr/lib/python3/dist-packages/mod{i}-0.{i}.dist-info");
                append(b, &format!("{d}/METADATA"), format!("Metadata-Version: 2.1\nName: mod{i}\nVersion: 0.{i}\n").as_bytes())?;
                append(b, &format!("{d}/RECORD"), format!("mod{i}/__init__.py,,\n").as_bytes())?;
                n += 2;
            }
            for i in 0..NPM {
                append(
                    b,
                    &format!("srv/app/node_modules/npm{i}/package.json"),
                    format!("{{\"name\":\"npm{i}\",\"version\":\"2.{i}.0\",\"license\":\"MIT\"}}").as_bytes(),
                )?;
                n += 1;
            }
            // Filler: plain files nobody catalogues, as in any real image.
            let mut i = 0;
            while n < 150_000 {
                append(b, &format!("usr/share/pkg{}/f{}", i % DPKG, i / DPKG), b"data")?;
                i += 1;
                n += 1;
            }
            Ok(())
        })
        .unwrap();
            let top = write_layer_file(&tmp.join("l2"), Compression::Gzip, |b| {
                for i in 0..1_000 {
                    append(b, &format!("usr/share/pkg{i}/.wh.f0"), b"")?;
                }
                append(b, "usr/share/pkg1999/.wh..wh..opq", b"")?;
                for i in 0..49_000 {
                    append(b, &format!("opt/data/d{}/f{i}", i % 100), b"more")?;
                }
                Ok(())
            })
            .unwrap();
            let written = w
                .image_from_files(&[base, top], &TestImage::new(vec![]))
                .unwrap();
            w.tag("t", &written);
            w.finish().unwrap();
        },
    )
}

fn vm_hwm_kb() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn analyse(dir: &Path) -> portcullis_sbom::Sbom {
    let work = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(portcullis_sbom::analyse(
        &Source::OciLayout(dir.to_path_buf(), Some("t".into())),
        &PullOptions::default(),
        work.path(),
    ))
    .unwrap()
}

#[test]
fn two_hundred_thousand_files_under_200_mb() {
    let dir = layout();
    let before = vm_hwm_kb();
    let sbom = analyse(&dir);
    let peak = vm_hwm_kb();
    eprintln!(
        "peak RSS {} MB (before analysis {} MB), {} paths",
        peak / 1024,
        before / 1024,
        sbom.file_count
    );
    assert!(sbom.file_count >= 195_000, "{}", sbom.file_count);
    let count = |t| sbom.packages.iter().filter(|p| p.package_type == t).count();
    assert_eq!(count(PackageType::Deb), DPKG);
    assert_eq!(count(PackageType::Python), PY);
    assert_eq!(count(PackageType::Npm), NPM);
    let p0 = sbom.packages.iter().find(|p| p.name == "pkg0").unwrap();
    assert_eq!(p0.files.len(), 20);
    assert!(peak < 200 * 1024, "peak RSS {} MB ≥ 200 MB", peak / 1024);
}
