//! The errors of the image stage.

use std::path::PathBuf;

/// Errors of the image stage. Every message names the image and, where it applies, the layer and path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An image reference that does not follow Docker's grammar.
    #[error("invalid image reference `{input}`: {reason}")]
    InvalidReference {
        /// What was given.
        input: String,
        /// What is wrong with it and how to fix it.
        reason: String,
    },
    /// A source string (`oci-dir:…`, `docker-archive:…`, `dir:…`) that cannot be used.
    #[error("invalid image source `{input}`: {reason}")]
    InvalidSource {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A filesystem operation failed.
    #[error("{what} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        what: String,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A layer could not be read or applied (corrupt, truncated, unsafe entry, too large).
    #[error("image {image}: layer {layer}{}: {reason}", path.as_ref().map(|p| format!(", path `{p}`")).unwrap_or_default())]
    Layer {
        /// The image being squashed.
        image: String,
        /// Digest (or archive path) of the layer.
        layer: String,
        /// The tar entry concerned, when there is one.
        path: Option<String>,
        /// What went wrong.
        reason: String,
    },
    /// A manifest, index or configuration that is malformed or not supported.
    #[error("image {image}: {reason}")]
    Manifest {
        /// The image concerned.
        image: String,
        /// What is wrong.
        reason: String,
    },
    /// The registry has no such manifest or blob.
    #[error(
        "image {image}: {what} not found in registry {registry} (check the repository name and tag)"
    )]
    NotFound {
        /// The image concerned.
        image: String,
        /// The registry host.
        registry: String,
        /// What was missing (`manifest latest`, `blob sha256:…`).
        what: String,
    },
    /// The registry refused the credentials (401) or the access (403).
    #[error("image {image}: registry {registry} answered {status}: {hint}")]
    Auth {
        /// The image concerned.
        image: String,
        /// The registry host.
        registry: String,
        /// HTTP status.
        status: u16,
        /// What to do about it.
        hint: String,
    },
    /// The registry could not be reached (connection refused, DNS, TLS, timeout) after all retries.
    #[error("image {image}: registry {registry} unreachable: {reason}")]
    Unreachable {
        /// The image concerned.
        image: String,
        /// The registry host.
        registry: String,
        /// The last transport error.
        reason: String,
    },
    /// Any other registry answer we cannot use.
    #[error("image {image}: registry {registry}: {reason}")]
    Registry {
        /// The image concerned.
        image: String,
        /// The registry host.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// Content whose digest does not match the digest it was asked for.
    #[error(
        "image {image}: {what} digest mismatch: expected {expected}, got {actual} (corrupt registry storage, cache or transfer)"
    )]
    DigestMismatch {
        /// The image concerned.
        image: String,
        /// Which content (`manifest`, `config`, `layer`).
        what: String,
        /// The digest that was asked for.
        expected: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// No manifest of an index matches the wanted platform.
    #[error(
        "image {image}: no manifest for platform {wanted} in the index (available: {available})"
    )]
    NoPlatform {
        /// The image concerned.
        image: String,
        /// The platform asked for.
        wanted: String,
        /// The platforms the index offers.
        available: String,
    },
    /// A credentials file (docker `config.json`, `.dockerconfigjson`) that cannot be used.
    #[error("credentials in {origin}: {reason}")]
    Credentials {
        /// The file or secret concerned.
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The client could not be set up (bad CA file, TLS configuration).
    #[error("registry client setup: {0}")]
    Setup(String),
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(
        what: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Error {
        Error::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }
}
