//! Test support for this and other crates (feature `testing`): in-memory layers, OCI image layouts written from
//! them, and a real `docker-registry` started on loopback.

mod files;
mod layer;
mod oci;
mod registry;

pub use files::{HashWriter, LayerFile, layer_file_from_dir, write_layer_file};
pub use layer::{LayerBuilder, gzip, zstd};
pub use oci::{OciWriter, TestImage, Written};
pub use registry::{Mode, Registry, free_port, non_loopback_ip, tls_material};
