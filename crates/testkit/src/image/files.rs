//! Layers written streaming to files, for images too large to build in memory (a debootstrap root
//! filesystem, hundreds of thousands of files).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use portcullis_image::squash::Compression;

/// A layer blob on disk.
#[derive(Debug, Clone)]
pub struct LayerFile {
    /// Where the blob is.
    pub path: PathBuf,
    /// `sha256:…` of the uncompressed tar.
    pub diff_id: String,
    /// `sha256:…` of the blob.
    pub digest: String,
    /// Blob size.
    pub size: u64,
    /// OCI media type matching the compression.
    pub media_type: String,
}

/// `sha256:…` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A writer that hashes and counts what passes through it.
pub struct HashWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// `sha256:…`, the byte count and the inner writer.
    pub fn finish(self) -> (String, u64, W) {
        (
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
            self.inner,
        )
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a layer to `out`, streaming: `fill` appends the tar members.
pub fn write_layer_file(
    out: &Path,
    compression: Compression,
    fill: impl FnOnce(&mut tar::Builder<&mut dyn Write>) -> io::Result<()>,
) -> io::Result<LayerFile> {
    let file = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    let mut blob = HashWriter::new(file);
    let (diff_id, media_type) = {
        match compression {
            Compression::None => {
                let mut diff = HashWriter::new(&mut blob);
                run_fill(&mut diff, fill)?;
                (diff.finish().0, "application/vnd.oci.image.layer.v1.tar")
            }
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(&mut blob, flate2::Compression::fast());
                let mut diff = HashWriter::new(&mut enc);
                run_fill(&mut diff, fill)?;
                let d = diff.finish().0;
                enc.finish()?;
                (d, "application/vnd.oci.image.layer.v1.tar+gzip")
            }
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(&mut blob, 3)?;
                let mut diff = HashWriter::new(&mut enc);
                run_fill(&mut diff, fill)?;
                let d = diff.finish().0;
                enc.finish()?;
                (d, "application/vnd.oci.image.layer.v1.tar+zstd")
            }
        }
    };
    let (digest, size, mut file) = blob.finish();
    file.flush()?;
    Ok(LayerFile {
        path: out.to_path_buf(),
        diff_id,
        digest,
        size,
        media_type: media_type.into(),
    })
}

fn run_fill(
    w: &mut dyn Write,
    fill: impl FnOnce(&mut tar::Builder<&mut dyn Write>) -> io::Result<()>,
) -> io::Result<()> {
    let mut b = tar::Builder::new(w);
    b.follow_symlinks(false);
    fill(&mut b)?;
    b.finish()
}

/// Writes the whole tree under `root` (a root filesystem) as one layer at `out`; symlinks are stored as links.
pub fn layer_file_from_dir(
    root: &Path,
    out: &Path,
    compression: Compression,
) -> io::Result<LayerFile> {
    write_layer_file(out, compression, |b| b.append_dir_all(".", root))
}

impl LayerFile {
    /// Describes an existing uncompressed layer tar (written by another tool, e.g. GNU tar): its digest is its
    /// diff id.
    pub fn from_tar(path: &Path) -> io::Result<LayerFile> {
        let mut h = HashWriter::new(io::sink());
        io::copy(&mut std::fs::File::open(path)?, &mut h)?;
        let (digest, size, _) = h.finish();
        Ok(LayerFile {
            path: path.to_path_buf(),
            diff_id: digest.clone(),
            digest,
            size,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        })
    }
}
