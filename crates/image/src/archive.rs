//! Local image sources: OCI image layout directories and `docker save` archives.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use serde::Deserialize;

use crate::manifest::{self, Descriptor, Parsed};
use crate::squash::{HashReader, Limits, Squasher};
use crate::{Error, Image, PullOptions, Wanted};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn read_limited(path: &Path, what: &str, max: u64) -> Result<Vec<u8>, Error> {
    let f = File::open(path).map_err(|e| Error::io(format!("cannot open {what}"), path, e))?;
    let mut buf = Vec::new();
    f.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(format!("cannot read {what}"), path, e))?;
    if buf.len() as u64 > max {
        return Err(Error::io(
            format!("{what} is larger than {max} bytes"),
            path,
            std::io::Error::from(std::io::ErrorKind::InvalidData),
        ));
    }
    Ok(buf)
}

/// Largest manifest, index or config document we read into memory.
pub(crate) const MAX_DOC: u64 = 16 << 20;

/// Opens an image from an OCI image layout directory.
pub(crate) fn open_oci_layout(
    dir: &Path,
    name: Option<&str>,
    opts: &PullOptions,
    work_dir: &Path,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<Image, Error> {
    let image = match name {
        Some(n) => format!("oci-dir:{}:{n}", dir.display()),
        None => format!("oci-dir:{}", dir.display()),
    };
    let blob_path = |digest: &str| -> Result<std::path::PathBuf, Error> {
        let hex = manifest::check_digest(&image, digest)?;
        Ok(dir.join("blobs/sha256").join(hex))
    };
    let read_doc = |digest: &str| -> Result<Vec<u8>, Error> {
        let bytes = read_limited(&blob_path(digest)?, "blob", MAX_DOC)?;
        let actual = manifest::sha256(&bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                image: image.clone(),
                what: "blob".into(),
                expected: digest.into(),
                actual,
            });
        }
        Ok(bytes)
    };
    let index_bytes = read_limited(&dir.join("index.json"), "OCI layout index", MAX_DOC)?;
    let top = match manifest::parse(&image, &index_bytes, None)? {
        Parsed::Index(m) => m,
        Parsed::Manifest { .. } => {
            return Err(Error::Manifest {
                image,
                reason: "index.json is a manifest, not an index".into(),
            });
        }
    };
    let chosen: Descriptor = match name {
        Some(n) => top
            .iter()
            .find(|d| d.annotations.get(REF_NAME).is_some_and(|r| r == n))
            .cloned()
            .ok_or_else(|| Error::Manifest {
                image: image.clone(),
                reason: format!(
                    "no manifest named `{n}` in index.json (names: {})",
                    ref_names(&top)
                ),
            })?,
        None if top.len() == 1 => top[0].clone(),
        None if top.iter().any(|d| d.platform.is_some()) => {
            manifest::select_platform(&image, &top, &opts.platform)?.clone()
        }
        None => {
            return Err(Error::Manifest {
                image,
                reason: format!(
                    "index.json lists {} manifests; name one as `oci-dir:DIR:NAME` (names: {})",
                    top.len(),
                    ref_names(&top)
                ),
            });
        }
    };
    let mut digest = chosen.digest;
    let mut index_digest = None;
    for _ in 0..4 {
        let bytes = read_doc(&digest)?;
        match manifest::parse(&image, &bytes, None)? {
            Parsed::Index(m) => {
                index_digest.get_or_insert(digest.clone());
                digest = manifest::select_platform(&image, &m, &opts.platform)?
                    .digest
                    .clone();
            }
            Parsed::Manifest { config, layers } => {
                let cfg_bytes = read_doc(&config.digest)?;
                let (cfg, diff_ids) = manifest::parse_config(&image, &cfg_bytes)?;
                let infos = manifest::layer_infos(&image, &layers, &diff_ids)?;
                let mut sq = Squasher::new(&image, work_dir, wanted, limits.clone())?;
                for l in &infos {
                    let p = blob_path(&l.digest)?;
                    let f = File::open(&p).map_err(|e| Error::Layer {
                        image: image.clone(),
                        layer: l.digest.clone(),
                        path: None,
                        reason: format!("cannot open blob {}: {e}", p.display()),
                    })?;
                    let mut hr = HashReader::new(f);
                    let applied = match sq.apply_layer(&l.digest, &mut hr, l.diff_id.as_deref()) {
                        Err(e) if !matches!(e, Error::DigestMismatch { .. }) => return Err(e),
                        other => other,
                    };
                    // A corrupt blob is reported as such (the cause) before the diff_id mismatch it leads to.
                    let (actual, _) = hr
                        .finish()
                        .map_err(|e| Error::io("cannot read blob", &p, e))?;
                    if actual != l.digest {
                        return Err(Error::DigestMismatch {
                            image,
                            what: "layer".into(),
                            expected: l.digest.clone(),
                            actual,
                        });
                    }
                    applied?;
                    let again = File::open(&p).map_err(|e| Error::io("cannot open blob", &p, e))?;
                    sq.keep_source(again, 0, None)?;
                }
                return Ok(Image {
                    reference: None,
                    manifest_digest: Some(digest),
                    index_digest,
                    image_id: config.digest,
                    config: cfg,
                    layers: infos,
                    fs: sq.finish(),
                });
            }
        }
    }
    Err(Error::Manifest {
        image,
        reason: "indexes nested more than 4 deep".into(),
    })
}

fn ref_names(d: &[Descriptor]) -> String {
    let names: Vec<&str> = d
        .iter()
        .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveManifest {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Opens an image from a `docker save` archive (an uncompressed tar), reading members in place by offset.
pub(crate) fn open_docker_archive(
    path: &Path,
    tag: Option<&str>,
    work_dir: &Path,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<Image, Error> {
    let image = match tag {
        Some(t) => format!("docker-archive:{}:{t}", path.display()),
        None => format!("docker-archive:{}", path.display()),
    };
    let bad = |reason: String| Error::Manifest {
        image: image.clone(),
        reason,
    };
    let mut f = File::open(path).map_err(|e| Error::io("cannot open docker archive", path, e))?;
    let mut magic = [0u8; 4];
    let n = f
        .read(&mut magic)
        .map_err(|e| Error::io("cannot read docker archive", path, e))?;
    if magic[..n].starts_with(&[0x1f, 0x8b]) || magic[..n].starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(bad(
            "the archive is compressed; decompress it first (`docker save` writes a plain tar)"
                .into(),
        ));
    }
    f.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("cannot read docker archive", path, e))?;
    // One pass over the headers: member name → (offset, size). Data is skipped with seeks, not read.
    let mut members: HashMap<String, (u64, u64)> = HashMap::new();
    {
        let mut ar = tar::Archive::new(&f);
        let entries = ar
            .entries_with_seek()
            .map_err(|e| bad(format!("not a tar archive: {e}")))?;
        for e in entries {
            let e = e.map_err(|e| bad(format!("corrupt or truncated archive: {e}")))?;
            let name = String::from_utf8_lossy(&e.path_bytes())
                .trim_start_matches("./")
                .to_string();
            members.insert(name, (e.raw_file_position(), e.size()));
        }
    }
    let mut read_member = |name: &str, max: u64| -> Result<Vec<u8>, Error> {
        let &(off, size) = members
            .get(name.trim_start_matches("./"))
            .ok_or_else(|| bad(format!("the archive has no member `{name}`")))?;
        if size > max {
            return Err(bad(format!("member `{name}` is larger than {max} bytes")));
        }
        f.seek(SeekFrom::Start(off))
            .map_err(|e| Error::io("cannot read docker archive", path, e))?;
        let mut buf = vec![0u8; size as usize];
        f.read_exact(&mut buf).map_err(|e| {
            Error::io(
                format!("cannot read member `{name}` of docker archive"),
                path,
                e,
            )
        })?;
        Ok(buf)
    };
    let mbytes = read_member("manifest.json", MAX_DOC)?;
    let list: Vec<ArchiveManifest> = serde_json::from_slice(&mbytes).map_err(|e| {
        bad(format!(
            "manifest.json is not a docker archive manifest: {e}"
        ))
    })?;
    let chosen = match tag {
        Some(t) => {
            let want = crate::ImageRef::parse(t).ok().map(|r| r.to_string());
            list.iter()
                .find(|m| {
                    m.repo_tags.iter().flatten().any(|rt| {
                        rt == t || crate::ImageRef::parse(rt).ok().map(|r| r.to_string()) == want
                    })
                })
                .ok_or_else(|| bad(format!("the archive has no image tagged `{t}`")))?
        }
        None if list.len() == 1 => &list[0],
        None => {
            let tags: Vec<&str> = list
                .iter()
                .flat_map(|m| m.repo_tags.iter().flatten().map(String::as_str))
                .collect();
            return Err(bad(format!(
                "the archive holds {} images; name one as `docker-archive:FILE:TAG` (tags: {})",
                list.len(),
                tags.join(", ")
            )));
        }
    };
    let cfg_bytes = read_member(&chosen.config, MAX_DOC)?;
    let image_id = manifest::sha256(&cfg_bytes);
    let (cfg, diff_ids) = manifest::parse_config(&image, &cfg_bytes)?;
    if diff_ids.len() != chosen.layers.len() {
        return Err(bad(format!(
            "the config lists {} layers but manifest.json {}",
            diff_ids.len(),
            chosen.layers.len()
        )));
    }
    let mut sq = Squasher::new(&image, work_dir, wanted, limits.clone())?;
    let mut infos = Vec::new();
    for (layer, diff_id) in chosen.layers.iter().zip(&diff_ids) {
        let &(off, size) = members
            .get(layer.trim_start_matches("./"))
            .ok_or_else(|| bad(format!("the archive has no layer member `{layer}`")))?;
        let mut lf =
            File::open(path).map_err(|e| Error::io("cannot open docker archive", path, e))?;
        lf.seek(SeekFrom::Start(off))
            .map_err(|e| Error::io("cannot read docker archive", path, e))?;
        // The layer is named by its diff id, which the squasher verifies against the uncompressed stream.
        sq.apply_layer(diff_id, (&mut lf).take(size), Some(diff_id))?;
        sq.keep_source(lf, off, Some(size))?;
        infos.push(crate::LayerInfo {
            digest: diff_id.clone(),
            diff_id: Some(diff_id.clone()),
            size,
            media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
        });
    }
    Ok(Image {
        reference: None,
        manifest_digest: None,
        index_digest: None,
        image_id,
        config: cfg,
        layers: infos,
        fs: sq.finish(),
    })
}
