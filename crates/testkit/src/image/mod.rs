//! Images built in the test: in-memory layers ([`LayerBuilder`]), layers streamed to files ([`write_layer_file`])
//! and OCI image layouts written from them ([`OciWriter`]).

mod files;
mod layer;
mod oci;

pub use files::{HashWriter, LayerFile, layer_file_from_dir, sha256, write_layer_file};
pub use layer::{LayerBuilder, gzip, zstd};
pub use oci::{OciWriter, TestImage, Written};
