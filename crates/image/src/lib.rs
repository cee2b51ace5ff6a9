//! Image references, registry access, image sources and layer squashing.
//!
//! Data flows one way: [`ImageRef`] → manifest → layers → [`FsView`]. Consumers (catalogers) tell the squasher
//! which paths they want through a [`Wanted`] predicate; only those files' contents are kept (on disk, under the
//! view's work directory), so memory stays bounded whatever the image size.
//!
//! ```no_run
//! # async fn demo() -> Result<(), portcullis_image::Error> {
//! use portcullis_image::{PullOptions, Source};
//! let source = Source::parse("127.0.0.1:5000/app:v1")?; // or an OCI layout dir, a `docker save` tar, a rootfs dir
//! let opts = PullOptions {
//!     credentials: portcullis_image::credentials_from_default_docker_config()?,
//!     cache_dir: Some("/var/cache/portcullis".into()),
//!     ..PullOptions::default()
//! };
//! let wanted = |path: &str, _size: u64, _mode: u32| path == "/var/lib/dpkg/status";
//! let image = portcullis_image::open(&source, &opts, std::path::Path::new("/tmp/work"), &wanted).await?;
//! let status = image.fs.read("/var/lib/dpkg/status").map_err(|e| portcullis_image::Error::Setup(e.to_string()))?;
//! # let _ = status; Ok(()) }
//! ```
//!
//! Modules: [`reference`](mod@reference) (Docker normalisation), [`registry`] (client: auth, HTTPS/HTTP choice, retries, blob
//! cache), [`auth`] (docker config and pull secrets), [`manifest`] (OCI / Docker schema 2 documents),
//! [`squash`] (OCI layer rules, limits), [`fsview`] (the result). The test registry and image builders live
//! in the dev-only `portcullis-testkit` crate.

mod archive;
pub mod auth;
pub mod budget;
mod cache;
mod digest;
mod error;
mod fetch;
pub mod fsview;
pub mod manifest;
pub mod netpolicy;
pub mod reference;
pub mod registry;
mod source;
pub mod squash;
mod transport;

pub use auth::{
    credential_for, credentials_from_default_docker_config, credentials_from_docker_config,
    credentials_from_docker_config_file, credentials_from_dockerconfigjson,
};
pub use digest::{Digest, DigestError};
pub use error::Error;
pub use fetch::{Referrer, Referrers};
pub use fsview::{Entry, EntryKind, FsView};
pub use netpolicy::NetworkPolicy;
pub use reference::ImageRef;
pub use registry::{Client, PullStats};
pub use squash::Limits;

use serde::{Deserialize, Serialize};

/// Decides, for one regular file met while squashing, whether its content must be kept for cataloguing.
/// Arguments: the absolute, normalised path (`/usr/lib/os-release`), the file size and its Unix mode.
pub type Wanted<'a> = dyn Fn(&str, u64, u32) -> bool + Send + Sync + 'a;

/// One layer as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// Digest of the (possibly compressed) blob, `sha256:…`.
    pub digest: String,
    /// Digest of the uncompressed tar (`rootfs.diff_ids` in the config), when known.
    pub diff_id: Option<String>,
    /// Blob size in bytes.
    pub size: u64,
    /// Media type of the blob.
    pub media_type: String,
}

/// One `history` entry of the image configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// RFC 3339 creation time.
    pub created: Option<String>,
    /// The instruction that produced this step (`/bin/sh -c #(nop) CMD ["sh"]`).
    pub created_by: Option<String>,
    /// Free-form comment.
    pub comment: Option<String>,
    /// True when the step produced no layer.
    pub empty_layer: bool,
}

/// The parts of the OCI image configuration that analysis and policy use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// Architecture variant, e.g. `v8`.
    pub variant: Option<String>,
    /// RFC 3339 creation time.
    pub created: Option<String>,
    /// `Config.Labels`.
    pub labels: std::collections::BTreeMap<String, String>,
    /// `Config.Env` (`KEY=value`).
    pub env: Vec<String>,
    /// `Config.User`.
    pub user: Option<String>,
    /// `Config.ExposedPorts` keys, e.g. `80/tcp`.
    pub exposed_ports: Vec<String>,
    /// `Config.Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Config.Cmd`.
    pub cmd: Vec<String>,
    /// `Config.WorkingDir`.
    pub working_dir: Option<String>,
    /// Build history, oldest first.
    pub history: Vec<HistoryEntry>,
}

/// An image that has been fetched (or opened) and squashed.
#[derive(Debug)]
pub struct Image {
    /// The reference it was pulled by, when it came from a registry.
    pub reference: Option<ImageRef>,
    /// Digest of the manifest that was used (`sha256:…`); for a multi-platform image the platform manifest.
    pub manifest_digest: Option<String>,
    /// Digest of the index/manifest list the reference resolved to, when there was one.
    pub index_digest: Option<String>,
    /// Image id: digest of the config blob.
    pub image_id: String,
    /// The image configuration.
    pub config: ImageConfig,
    /// Layers, base first.
    pub layers: Vec<LayerInfo>,
    /// The squashed filesystem.
    pub fs: FsView,
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A registry reference.
    Registry(ImageRef),
    /// An OCI image layout directory, optionally with a reference name (`org.opencontainers.image.ref.name`).
    OciLayout(std::path::PathBuf, Option<String>),
    /// A `docker save` archive, optionally naming one of its tags.
    DockerArchive(std::path::PathBuf, Option<String>),
    /// A plain root-filesystem directory.
    Dir(std::path::PathBuf),
}

/// The platform to select from a multi-platform index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// OS, e.g. `linux`.
    pub os: String,
    /// Architecture, e.g. `amd64`.
    pub architecture: String,
    /// Variant, e.g. `v8`.
    pub variant: Option<String>,
}

impl Default for PullOptions {
    /// linux/amd64, no extra CAs or credentials, no cache, 60 s read timeout, 3 retries, documents up to
    /// 4 MiB, the default [`NetworkPolicy`] (loopback allowed, link-local and metadata refused).
    fn default() -> Self {
        Self {
            platform: Platform::default(),
            insecure_registries: Vec::new(),
            ca_certs: Vec::new(),
            credentials: Vec::new(),
            cache_dir: None,
            timeout: Some(std::time::Duration::from_secs(60)),
            retries: 3,
            max_document_bytes: 4 << 20,
            max_cache_bytes: 4 << 30,
            network: NetworkPolicy::default(),
            limits: Limits::default(),
        }
    }
}

impl Platform {
    /// Parses `os/arch[/variant]` (`linux/arm64/v8`).
    pub fn parse(s: &str) -> Result<Platform, Error> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(Error::InvalidSource {
                input: s.to_string(),
                reason: "a platform is `os/arch` or `os/arch/variant`, e.g. `linux/arm64/v8`"
                    .into(),
            }),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

impl Default for Platform {
    fn default() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

/// Username/password (or identity token) for one registry. Serialisable so the analysis worker process can be
/// handed it over a pipe; its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// Registry host this credential is for.
    pub registry: String,
    /// Username.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("registry", &self.registry)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How to reach registries (serialisable: the analysis worker process receives it as JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PullOptions {
    /// Platform to select from an index (default linux/amd64).
    pub platform: Platform,
    /// Registries (`host[:port]`) allowed over plain HTTP. Loopback registries are always allowed, as Docker does.
    pub insecure_registries: Vec<String>,
    /// Extra CA certificates (PEM files) to trust.
    pub ca_certs: Vec<std::path::PathBuf>,
    /// Credentials, tried by registry host.
    pub credentials: Vec<Credential>,
    /// Content-addressed blob cache directory; `None` disables caching.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Per-request timeout.
    pub timeout: Option<std::time::Duration>,
    /// Retries for transient failures (with exponential backoff).
    pub retries: u32,
    /// Largest manifest, index, config, token or error answer read from a registry.
    pub max_document_bytes: u64,
    /// Size bound of the blob cache (`cache_dir`): after each pull the least recently used blobs are removed.
    pub max_cache_bytes: u64,
    /// Which registries, token realms and redirect targets may be contacted.
    pub network: NetworkPolicy,
    /// Budgets of squashing (entries, paths, headers, kept files, layer and image sizes); see
    /// [`PullOptions::set_budget`] to set them by name.
    #[serde(default)]
    pub limits: Limits,
}

/// Opens (pulls) an image and squashes its layers into a [`FsView`] under `work_dir`, keeping the content of the
/// files `wanted` selects, within the budgets of `opts.limits`.
pub async fn open(
    source: &Source,
    opts: &PullOptions,
    work_dir: &std::path::Path,
    wanted: &Wanted<'_>,
) -> Result<Image, Error> {
    open_with_limits(source, opts, work_dir, wanted, &opts.limits).await
}

/// Runs synchronous file work (squashing) from async code: through `block_in_place` on a multi-threaded tokio
/// runtime, so other tasks move to other workers meanwhile; inline otherwise.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// [`open`] with explicit [`Limits`] on paths and kept content.
///
/// Squashing is synchronous file work; on a multi-threaded tokio runtime it runs through `block_in_place`, on a
/// current-thread runtime inline.
pub async fn open_with_limits(
    source: &Source,
    opts: &PullOptions,
    work_dir: &std::path::Path,
    wanted: &Wanted<'_>,
    limits: &Limits,
) -> Result<Image, Error> {
    match source {
        Source::Dir(root) => {
            let fs = blocking(|| FsView::from_dir(root, wanted))?;
            Ok(Image {
                reference: None,
                manifest_digest: None,
                index_digest: None,
                image_id: String::new(),
                config: ImageConfig::default(),
                layers: Vec::new(),
                fs,
            })
        }
        Source::OciLayout(dir, name) => blocking(|| {
            archive::open_oci_layout(dir, name.as_deref(), opts, work_dir, wanted, limits)
        }),
        Source::DockerArchive(path, tag) => blocking(|| {
            archive::open_docker_archive(path, tag.as_deref(), work_dir, wanted, limits)
        }),
        Source::Registry(r) => Client::new(opts)?.pull(r, work_dir, wanted, limits).await,
    }
}

/// Resolves a reference to the digest of the manifest (or index) the registry serves for it.
pub async fn resolve_digest(reference: &ImageRef, opts: &PullOptions) -> Result<String, Error> {
    Client::new(opts)?.resolve_digest(reference).await
}

/// For a reference that resolves to a multi-platform index: the platform manifests of it to analyse, one per
/// platform of `wanted` the index offers (`(platform, manifest digest)`), [`Error::NoPlatform`] when it offers
/// none of them. `None` for a reference to a single-platform manifest.
pub async fn index_platforms(
    reference: &ImageRef,
    opts: &PullOptions,
    wanted: &[Platform],
) -> Result<Option<Vec<(Platform, String)>>, Error> {
    Client::new(opts)?.index_platforms(reference, wanted).await
}

/// Asks the registry for the manifest of `reference` even when it is pinned by digest (a cheap HEAD) and
/// returns the digest served: checks that `opts` may pull the image without pulling it.
pub async fn check_manifest(reference: &ImageRef, opts: &PullOptions) -> Result<String, Error> {
    Client::new(opts)?.head_manifest(reference).await
}

#[cfg(test)]
mod send_tests {
    /// The engine runs `open` inside spawned tasks: its future must stay `Send`.
    #[test]
    fn open_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let wanted = |_: &str, _: u64, _: u32| false;
        let source = super::Source::Dir(std::path::PathBuf::from("/nonexistent"));
        let opts = super::PullOptions::default();
        let fut = super::open(&source, &opts, std::path::Path::new("/tmp"), &wanted);
        assert_send(&fut);
    }
}
