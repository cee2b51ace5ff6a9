//! Image references with Docker's normalisation.

use serde::{Deserialize, Serialize};

/// A fully normalised image reference: `docker.io/library/nginx:latest`, `host:5000/repo@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// Registry host (and port), e.g. `docker.io`, `127.0.0.1:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/nginx`.
    pub repository: String,
    /// Tag, when given (defaults to `latest` when neither tag nor digest is given).
    pub tag: Option<String>,
    /// Digest, `sha256:…`, when given.
    pub digest: Option<String>,
}
