//! Test support for the Portcullis crates (a dev-dependency only; never compiled into the binary).
//!
//! Real parts, not mocks: a Debian `docker-registry` ([`Registry`]), a throwaway PostgreSQL server
//! ([`PgServer`]) and a Kubernetes control plane of etcd, kube-apiserver and kube-controller-manager
//! ([`Cluster`]), each started on free loopback ports in a temporary directory and stopped on drop; images built
//! in the test ([`LayerBuilder`], [`OciWriter`]); and the small helpers every test crate needs: the shared data
//! directory ([`shared`]), the repository root ([`repo_root`]), a free port ([`free_port`]) and a [`Package`]
//! builder ([`package`]); and the hostile images of [`bombs`].
//!
//! [`Package`]: portcullis_sbom::Package

pub mod bombs;
pub mod cluster;
pub mod files;
pub mod image;
pub mod package;
pub mod postgres;
pub mod registry;
pub mod tarpit;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

pub use cluster::{CertPair, Cluster, ClusterOptions, HarnessError, TestCa, bin_dir, tool};
pub use files::FileServer;
pub use image::{
    HashWriter, LayerBuilder, LayerFile, OciWriter, TestImage, Written, gzip, layer_file_from_dir,
    sha256, write_layer_file, zstd,
};
pub use package::{PackageBuilder, package};
pub use postgres::{PgServer, pg_bin_dir};
pub use registry::{Mode, Registry, non_loopback_ip, tls_material};
pub use tarpit::{silent_tarpit, trickling_tarpit};

/// The shared test data (`PORTCULLIS_SHARED`, else `shared/` beside the repository root).
pub fn shared() -> PathBuf {
    std::env::var_os("PORTCULLIS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared"))
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A free TCP port on 127.0.0.1 (bound then released; the race with other processes is negligible in tests,
/// and the control-plane harness retries on fresh ports when it happens).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_can_be_bound_and_the_roots_are_where_the_tests_expect() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).expect("the free port is bindable");
        assert!(repo_root().join("Cargo.toml").is_file());
        assert!(repo_root().join("crates/testkit").is_dir());
    }
}
