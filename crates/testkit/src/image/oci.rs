//! Writes OCI image layouts (single images and multi-platform indexes) from in-memory layers.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use portcullis_image::manifest::{OCI_INDEX, OCI_MANIFEST};

use super::files::sha256;
use portcullis_image::squash::Compression;

/// An image to write: platform, layers (uncompressed tars, base first) and configuration extras.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// OS.
    pub os: String,
    /// Architecture.
    pub architecture: String,
    /// Variant.
    pub variant: Option<String>,
    /// Uncompressed layer tars, base first.
    pub layers: Vec<Vec<u8>>,
    /// How every layer is compressed in the blob store.
    pub compression: Compression,
    /// Merged into the configuration's `config` object (`Labels`, `Env`, `Cmd`, …).
    pub config: Value,
    /// `rootfs.diff_ids` to write instead of the layers' real uncompressed digests (for integrity tests).
    pub diff_ids: Option<Vec<String>>,
}

impl TestImage {
    /// A linux/amd64 image with gzip layers.
    pub fn new(layers: Vec<Vec<u8>>) -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            layers,
            compression: Compression::Gzip,
            config: json!({}),
            diff_ids: None,
        }
    }

    /// Sets the platform.
    pub fn platform(mut self, os: &str, arch: &str, variant: Option<&str>) -> Self {
        self.os = os.into();
        self.architecture = arch.into();
        self.variant = variant.map(str::to_string);
        self
    }

    /// Sets the layer compression.
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = c;
        self
    }

    /// Sets the configuration's `config` object.
    pub fn config(mut self, c: Value) -> Self {
        self.config = c;
        self
    }

    /// Writes these `rootfs.diff_ids` into the configuration instead of the real ones (a wrong or missing
    /// diff id makes an image whose config does not describe its layers).
    pub fn diff_ids(mut self, ids: Vec<String>) -> Self {
        self.diff_ids = Some(ids);
        self
    }
}

/// A descriptor of something written.
#[derive(Debug, Clone)]
pub struct Written {
    /// `sha256:…` of the manifest or index.
    pub digest: String,
    /// Its size.
    pub size: u64,
    /// Its media type.
    pub media_type: String,
    /// Config digest (image id) for a manifest; empty for an index.
    pub config_digest: String,
    /// Layer blob digests, base first (empty for an index).
    pub layer_digests: Vec<String>,
    /// Platform of a manifest.
    pub platform: Option<Value>,
}

/// Writes an OCI image layout directory.
pub struct OciWriter {
    dir: PathBuf,
    index: Vec<Value>,
}

impl OciWriter {
    /// Starts a layout in `dir` (created).
    pub fn new(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir.join("blobs/sha256"))?;
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        })
    }

    /// The layout directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores a blob; returns its digest and size.
    pub fn blob(&self, bytes: &[u8]) -> io::Result<(String, u64)> {
        let d = sha256(bytes);
        std::fs::write(
            self.dir.join("blobs/sha256").join(&d["sha256:".len()..]),
            bytes,
        )?;
        Ok((d, bytes.len() as u64))
    }

    /// The path of a stored blob.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.dir
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// Writes an image's layers, config and manifest.
    pub fn image(&mut self, img: &TestImage) -> io::Result<Written> {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for l in &img.layers {
            diff_ids.push(sha256(l));
            let (blob, mt) = match img.compression {
                Compression::None => (l.clone(), "application/vnd.oci.image.layer.v1.tar"),
                Compression::Gzip => (
                    super::gzip(l),
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                ),
                Compression::Zstd => (
                    super::zstd(l),
                    "application/vnd.oci.image.layer.v1.tar+zstd",
                ),
            };
            let (d, size) = self.blob(&blob)?;
            layers.push(json!({"mediaType": mt, "digest": d, "size": size}));
        }
        self.finish_image(img, layers, diff_ids)
    }

    /// Writes an image whose layers are already on disk (moved into the blob store); `template` gives the
    /// platform and configuration (its `layers` are ignored).
    pub fn image_from_files(
        &mut self,
        layers: &[super::LayerFile],
        template: &TestImage,
    ) -> io::Result<Written> {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for l in layers {
            let dest = self.blob_path(&l.digest);
            if std::fs::rename(&l.path, &dest).is_err() {
                std::fs::copy(&l.path, &dest)?;
            }
            descs.push(json!({"mediaType": l.media_type, "digest": l.digest, "size": l.size}));
            diff_ids.push(l.diff_id.clone());
        }
        self.finish_image(template, descs, diff_ids)
    }

    fn finish_image(
        &mut self,
        img: &TestImage,
        layers: Vec<Value>,
        diff_ids: Vec<String>,
    ) -> io::Result<Written> {
        let diff_ids = img.diff_ids.clone().unwrap_or(diff_ids);
        let history: Vec<Value> = layers
            .iter()
            .map(|_| json!({"created": "2024-01-01T00:00:00Z", "created_by": "portcullis test layer"}))
            .collect();
        let mut config = json!({
            "created": "2024-01-01T00:00:00Z",
            "architecture": img.architecture,
            "os": img.os,
            "config": img.config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Some(v) = &img.variant {
            config["variant"] = json!(v);
        }
        let (cd, cs) = self.blob(&serde_json::to_vec(&config)?)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": layers,
        });
        let (md, ms) = self.blob(&serde_json::to_vec(&manifest)?)?;
        let mut platform = json!({"os": img.os, "architecture": img.architecture});
        if let Some(v) = &img.variant {
            platform["variant"] = json!(v);
        }
        Ok(Written {
            digest: md,
            size: ms,
            media_type: OCI_MANIFEST.into(),
            config_digest: cd,
            layer_digests: layers
                .iter()
                .map(|l| l["digest"].as_str().unwrap_or_default().to_string())
                .collect(),
            platform: Some(platform),
        })
    }

    /// Writes a multi-platform index over images already written.
    pub fn index(&mut self, manifests: &[Written]) -> io::Result<Written> {
        let entries: Vec<Value> = manifests
            .iter()
            .map(|w| {
                json!({"mediaType": w.media_type, "digest": w.digest, "size": w.size, "platform": w.platform})
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        let (d, s) = self.blob(&serde_json::to_vec(&index)?)?;
        Ok(Written {
            digest: d,
            size: s,
            media_type: OCI_INDEX.into(),
            config_digest: String::new(),
            layer_digests: Vec::new(),
            platform: None,
        })
    }

    /// Names `w` in the layout's `index.json` (`org.opencontainers.image.ref.name`).
    pub fn tag(&mut self, name: &str, w: &Written) -> &mut Self {
        self.index.push(json!({
            "mediaType": w.media_type, "digest": w.digest, "size": w.size,
            "annotations": {"org.opencontainers.image.ref.name": name},
        }));
        self
    }

    /// Writes `index.json`; returns the layout directory.
    pub fn finish(&self) -> io::Result<PathBuf> {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index)?)?;
        Ok(self.dir.clone())
    }
}
