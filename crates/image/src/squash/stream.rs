//! Readers under the squasher: hashing, decompression detection, and byte budgets (uncompressed layer and image
//! size, tar header/extension bytes per member).

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use sha2::{Digest, Sha256};

/// A reader that hashes what passes through it.
pub(crate) struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left and returns `sha256:…` of everything read, and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Compression of a layer stream, detected from its first bytes (media types lie in `docker save` archives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain tar.
    None,
    /// gzip.
    Gzip,
    /// zstd.
    Zstd,
}

/// Wraps `r` in the decompressor its magic bytes call for.
pub fn decompress<'a, R: Read + 'a>(r: R) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut br = BufReader::with_capacity(256 * 1024, r);
    let head = br.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok((
            Compression::Gzip,
            Box::new(flate2::bufread::MultiGzDecoder::new(br)),
        ))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok((
            Compression::Zstd,
            Box::new(zstd::stream::read::Decoder::with_buffer(br)?),
        ))
    } else {
        Ok((Compression::None, Box::new(br)))
    }
}

/// Which budget a [`Budget`] reader exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// The uncompressed layer.
    Layer,
    /// The uncompressed image (all layers so far).
    Image,
    /// The bytes read between two members: headers and their PAX / GNU long-name records.
    Header,
}

/// Shared counters of a [`Budget`] reader, read and reset by the squasher between members.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Bytes read since the last [`Counters::member_done`].
    pub(crate) since_member: Cell<u64>,
    /// True while a member's own data is read (the header budget does not apply to it).
    pub(crate) in_member: Cell<bool>,
    /// Bytes read from this layer.
    pub(crate) layer: Cell<u64>,
    /// The budget that stopped reading, if any.
    pub(crate) exceeded: Cell<Option<Exceeded>>,
}

impl Counters {
    /// Marks the start of a member's data (its headers are read).
    pub(crate) fn member_start(&self) {
        self.in_member.set(true);
    }

    /// Marks the end of a member's data: what is read next is the next member's headers.
    pub(crate) fn member_done(&self) {
        self.in_member.set(false);
        self.since_member.set(0);
    }
}

/// A reader that fails once the uncompressed layer, the image, or the bytes between two members (headers plus
/// PAX / long-name records, which the tar crate buffers in memory) exceed their budgets: a decompression bomb or
/// a 300 MB PAX record stops at the limit, before it is allocated.
pub(crate) struct Budget<R> {
    inner: R,
    counters: Rc<Counters>,
    max_layer: u64,
    image_left: u64,
    max_header: u64,
}

impl<R: Read> Budget<R> {
    /// Wraps `inner`: at most `max_layer` bytes, `image_left` bytes, and `max_header` bytes between members.
    pub(crate) fn new(
        inner: R,
        counters: Rc<Counters>,
        max_layer: u64,
        image_left: u64,
        max_header: u64,
    ) -> Self {
        Self {
            inner,
            counters,
            max_layer,
            image_left,
            max_header,
        }
    }
}

impl<R: Read> Read for Budget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let c = &self.counters;
        let layer = c.layer.get();
        let room = [
            (self.max_layer.saturating_sub(layer), Exceeded::Layer),
            (self.image_left.saturating_sub(layer), Exceeded::Image),
            if c.in_member.get() {
                (u64::MAX, Exceeded::Header)
            } else {
                (
                    self.max_header.saturating_sub(c.since_member.get()),
                    Exceeded::Header,
                )
            },
        ];
        let (left, which) = room
            .iter()
            .min_by_key(|(n, _)| *n)
            .copied()
            .unwrap_or((0, Exceeded::Layer));
        if left == 0 {
            // One byte beyond the budget tells a stream that ends exactly at it from one that goes on.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            c.exceeded.set(Some(which));
            return Err(io::Error::other("budget exceeded"));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        c.layer.set(layer + n as u64);
        c.since_member.set(c.since_member.get() + n as u64);
        Ok(n)
    }
}
