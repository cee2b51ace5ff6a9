//! Test support for this and other crates (feature `testing`): in-memory layers, OCI image layouts written from
//! them, and a real `docker-registry` started on loopback.

mod layer;
mod oci;

pub use layer::{LayerBuilder, gzip, zstd};
pub use oci::{OciWriter, TestImage, Written};
