//! The errors of signature verification that stop a whole run (a per-signature refusal is an
//! [`Outcome`](crate::Outcome), not an error).

use std::path::PathBuf;

/// Errors that prevent deciding whether an image is signed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A public key file that cannot be read or used.
    #[error("public key {}: {reason}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The image (or its registry) could not be reached or resolved.
    #[error(transparent)]
    Image(#[from] portcullis_image::Error),
    /// The verification did not finish in time (a registry that stalls).
    #[error(
        "image {image}: signature verification did not finish within {deadline:?} (registry too slow or stalling)"
    )]
    Deadline {
        /// The image concerned.
        image: String,
        /// The time allowed.
        deadline: std::time::Duration,
    },
    /// No key was given.
    #[error(
        "no public key given: pass at least one --key FILE (PEM `PUBLIC KEY`), or a keyless signer (--trust-root with --certificate-identity and --certificate-oidc-issuer)"
    )]
    NoKeys,
    /// A trust root (CA bundle) file that cannot be read or used.
    #[error("trust root {}: {reason}", path.display())]
    TrustRoot {
        /// The bundle file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Inconsistent or invalid verification options.
    #[error("verification options: {reason}")]
    Config {
        /// What is wrong and what to do.
        reason: String,
    },
}
