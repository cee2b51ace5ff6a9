//! Distro detection, package catalogers and SBOM formats.
//!
//! Input: a squashed [`portcullis_image::FsView`] (plus image metadata). Output: an [`Sbom`].

use std::collections::BTreeMap;

pub mod apk;
pub mod distro;
pub mod dpkg;
pub mod format;
mod fsutil;
pub mod lang;
pub mod metadata;
mod purl;
pub mod rpm;

pub use distro::detect_distro;
pub use format::{OutputFormat, read_sbom, render};

use serde::{Deserialize, Serialize};

/// Version of the native SBOM JSON schema this crate writes.
pub const SBOM_SCHEMA_VERSION: &str = "1";

/// The package ecosystem (and so the version scheme and the vulnerability namespace) of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PackageType {
    /// Debian package (dpkg).
    Deb,
    /// Alpine package (apk).
    Apk,
    /// RPM package.
    Rpm,
    /// Python distribution (PyPI).
    Python,
    /// npm package.
    Npm,
    /// Java archive (Maven).
    Java,
    /// Go module compiled into a binary.
    GoModule,
    /// Rust crate compiled into a binary (cargo-auditable) or listed in Cargo.lock.
    RustCrate,
    /// Ruby gem.
    Gem,
    /// PHP composer package.
    Php,
    /// .NET NuGet package.
    Dotnet,
}

impl PackageType {
    /// Every package type, in declaration order.
    pub const ALL: [PackageType; 11] = [
        PackageType::Deb,
        PackageType::Apk,
        PackageType::Rpm,
        PackageType::Python,
        PackageType::Npm,
        PackageType::Java,
        PackageType::GoModule,
        PackageType::RustCrate,
        PackageType::Gem,
        PackageType::Php,
        PackageType::Dotnet,
    ];

    /// The kebab-case name the native JSON uses (`deb`, `go-module`).
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Deb => "deb",
            PackageType::Apk => "apk",
            PackageType::Rpm => "rpm",
            PackageType::Python => "python",
            PackageType::Npm => "npm",
            PackageType::Java => "java",
            PackageType::GoModule => "go-module",
            PackageType::RustCrate => "rust-crate",
            PackageType::Gem => "gem",
            PackageType::Php => "php",
            PackageType::Dotnet => "dotnet",
        }
    }

    /// Whether this is an operating-system package (dpkg, apk, rpm): Anchore's "os" package class, matched
    /// against the distribution's advisories rather than an ecosystem's.
    pub fn is_os_package(self) -> bool {
        matches!(self, PackageType::Deb | PackageType::Apk | PackageType::Rpm)
    }
}

impl std::fmt::Display for PackageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A package type name that is not one of [`PackageType::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown package type {given:?}; use one of deb, apk, rpm, python, npm, java, go-module, rust-crate, gem, php, dotnet"
)]
pub struct UnknownPackageType {
    /// The name given.
    pub given: String,
}

impl std::str::FromStr for PackageType {
    type Err = UnknownPackageType;

    /// Parses the name [`PackageType::as_str`] writes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownPackageType {
                given: s.to_string(),
            })
    }
}

/// One catalogued package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Package name as its ecosystem spells it (`openssl`, `requests`, `org.apache.commons:commons-text`).
    pub name: String,
    /// Version exactly as recorded (for dpkg including epoch, e.g. `1:2.3-4`).
    pub version: String,
    /// Ecosystem.
    #[serde(rename = "type")]
    pub package_type: PackageType,
    /// Package URL.
    pub purl: String,
    /// Source package name (dpkg `Source`, apk `origin`, rpm source rpm name), when it differs or is known.
    pub source_name: Option<String>,
    /// Source package version, when it differs from `version`.
    pub source_version: Option<String>,
    /// Architecture, when recorded.
    pub arch: Option<String>,
    /// Licence expressions or names.
    pub licenses: Vec<String>,
    /// Where the package record was found (the database or manifest path).
    pub location: String,
    /// Files the package owns, when its database lists them.
    pub files: Vec<String>,
    /// Digest of the layer the package record came from.
    pub layer: Option<String>,
}

/// The operating-system distribution, from `os-release` or its fallbacks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Distro {
    /// `ID`, e.g. `debian`, `alpine`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`, `3.19.1`.
    pub version_id: Option<String>,
    /// `VERSION_CODENAME`, e.g. `bookworm`.
    pub codename: Option<String>,
    /// `ID_LIKE`, split.
    pub id_like: Vec<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

/// Image metadata recorded in the SBOM (what policy gates on besides packages).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMetadata {
    /// Manifest digest (`sha256:…`), when the image came from a registry or layout.
    pub manifest_digest: Option<String>,
    /// Image id (config digest).
    pub image_id: Option<String>,
    /// Reference the image was analysed by, fully normalised.
    pub reference: Option<String>,
    /// Operating system.
    pub os: Option<String>,
    /// Architecture.
    pub architecture: Option<String>,
    /// Architecture variant.
    pub variant: Option<String>,
    /// Sum of layer blob sizes.
    pub size: u64,
    /// Number of layers.
    pub layer_count: usize,
    /// Layer digests, base first.
    pub layers: Vec<String>,
    /// Creation time (RFC 3339).
    pub created: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Environment (`KEY=value`).
    pub env: Vec<String>,
    /// Configured user.
    pub user: Option<String>,
    /// Exposed ports (`80/tcp`).
    pub exposed_ports: Vec<String>,
    /// Entrypoint.
    pub entrypoint: Vec<String>,
    /// Cmd.
    pub cmd: Vec<String>,
    /// History instructions, oldest first (`created_by`).
    pub history: Vec<String>,
    /// A Dockerfile guessed from the history.
    pub dockerfile: Option<String>,
}

/// A file of the image that policy gates may inspect (setuid bits, names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Absolute path.
    pub path: String,
    /// Unix mode.
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
}

/// A software bill of materials for one image or directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sbom {
    /// Native schema version ([`SBOM_SCHEMA_VERSION`]).
    pub schema_version: String,
    /// Version of the analyser that produced it.
    pub analyser_version: String,
    /// What was analysed (reference, path).
    pub source: String,
    /// The distro, when one was detected.
    pub distro: Option<Distro>,
    /// Image metadata.
    pub metadata: ImageMetadata,
    /// Catalogued packages, sorted by (type, name, version, location).
    pub packages: Vec<Package>,
    /// Files with setuid/setgid bits (policy `files` gate).
    pub special_files: Vec<FileRecord>,
    /// Total number of paths in the squashed filesystem.
    pub file_count: u64,
    /// Language-package manifests that could not be used (see [`Problem`]); empty in documents written before
    /// this field existed.
    #[serde(default)]
    pub problems: Vec<Problem>,
}

/// A language-package manifest a cataloger found but could not use (a broken `package.json`, a `METADATA`
/// without a name, a Go binary with unreadable build info). The file is left out and cataloguing goes on, so
/// nothing else is lost; the SBOM lists it so that its readers know what the package list may be missing.
///
/// OS package databases (dpkg, apk, rpm) never become problems: a malformed one fails the analysis with an
/// [`Error::Catalog`], because an SBOM silently missing the distribution's packages would make a vulnerability
/// scan of the image look clean.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Path in the image; inside an archive `outer.war:WEB-INF/lib/inner.jar`.
    pub path: String,
    /// Digest of the layer that last wrote the file (`None` for directory sources).
    pub layer: Option<String>,
    /// Index of that layer, base = 0 (`None` for directory sources).
    pub layer_index: Option<usize>,
    /// The cataloger that met it: `dpkg`, `python`, `npm`, `java`, `binary`, `gem`, `php`, `dotnet`.
    pub cataloger: String,
    /// What is wrong with the file.
    pub message: String,
}

impl Problem {
    /// A problem with the file at `path` of `fs` (the layer is looked up); `shown` replaces the path in the
    /// report when the file is inside an archive.
    pub(crate) fn new(
        fs: &portcullis_image::FsView,
        cataloger: &str,
        path: &str,
        shown: Option<&str>,
        message: impl std::fmt::Display,
    ) -> Problem {
        let at = fsutil::layer_at(fs, path);
        Problem {
            path: shown.unwrap_or(path).to_string(),
            layer: at.as_ref().map(|(_, d)| d.clone()),
            layer_index: at.map(|(i, _)| i),
            cataloger: cataloger.to_string(),
            message: message.to_string(),
        }
    }
}

impl std::fmt::Display for Problem {
    /// `PATH (layer #I DIGEST): CATALOGER: MESSAGE`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path)?;
        match (self.layer_index, &self.layer) {
            (Some(i), Some(d)) => write!(f, " (layer #{i} {d})")?,
            (None, Some(d)) => write!(f, " (layer {d})")?,
            _ => {}
        }
        write!(f, ": {} cataloger: {}", self.cataloger, self.message)
    }
}

/// Errors of the SBOM stage. Every message names the file (and, from [`catalog`], the image) it is about.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file the catalogers need could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// Path in the image (or on disk).
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A package database or manifest is malformed.
    #[error("{path}: malformed {what}: {detail}")]
    Malformed {
        /// Path in the image.
        path: String,
        /// What kind of file it should have been (`dpkg status file`, `rpm header`).
        what: &'static str,
        /// What is wrong, and where in the file.
        detail: String,
    },
    /// An SBOM document could not be read or written.
    #[error("SBOM format: {0}")]
    Format(String),
    /// The image could not be opened, pulled or squashed.
    #[error(transparent)]
    Image(#[from] portcullis_image::Error),
    /// An error while cataloguing one image or directory, naming the layer that last wrote the file concerned.
    /// The message includes the underlying error's, which is therefore not chained as `source()` (that would
    /// print it twice in `{:#}` error chains).
    #[error("cataloguing {image}{}: {cause}", layer.as_ref().map(|l| format!(", layer {l}")).unwrap_or_default())]
    Catalog {
        /// What was analysed (reference or path).
        image: String,
        /// The layer that last wrote the file the error is about (`#INDEX sha256:…`), when there is one.
        layer: Option<String>,
        /// The underlying error.
        cause: Box<Error>,
    },
}

impl Error {
    /// The path in the image this error is about, when it is about one file.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::Read { path, .. } | Error::Malformed { path, .. } => Some(path),
            Error::Catalog { cause, .. } => cause.path(),
            _ => None,
        }
    }

    pub(crate) fn malformed(path: &str, what: &'static str, detail: impl Into<String>) -> Error {
        Error::Malformed {
            path: path.to_string(),
            what,
            detail: detail.into(),
        }
    }
}

/// The files catalogers need the content of: pass this to [`portcullis_image::open`] as its `wanted` predicate.
pub fn wanted(path: &str, size: u64, mode: u32) -> bool {
    distro::wanted(path)
        || dpkg::wanted(path)
        || apk::wanted(path)
        || rpm::wanted(path)
        || lang::wanted(path, size, mode)
}

/// Catalogues a squashed filesystem into an SBOM (`metadata` comes from the image, when there is one).
pub fn catalog(
    fs: &portcullis_image::FsView,
    source: &str,
    metadata: ImageMetadata,
) -> Result<Sbom, Error> {
    catalog_inner(fs, source, metadata).map_err(|e| Error::Catalog {
        image: source.to_string(),
        layer: e
            .path()
            .and_then(|p| fsutil::layer_at(fs, p))
            .map(|(i, d)| format!("#{i} {d}")),
        cause: Box::new(e),
    })
}

fn catalog_inner(
    fs: &portcullis_image::FsView,
    source: &str,
    metadata: ImageMetadata,
) -> Result<Sbom, Error> {
    let distro = distro::detect_distro(fs)?;
    let mut packages = Vec::new();
    let mut problems = Vec::new();
    packages.extend(dpkg::catalog(fs, distro.as_ref(), &mut problems)?);
    packages.extend(apk::catalog(fs, distro.as_ref())?);
    packages.extend(rpm::catalog(fs, distro.as_ref())?);
    packages.extend(lang::catalog(fs, &mut problems)?);
    sort_packages(&mut packages);
    let special_files = fs
        .entries
        .iter()
        .filter(|(_, e)| e.kind == portcullis_image::EntryKind::File && e.mode & 0o6000 != 0)
        .map(|(p, e)| FileRecord {
            path: p.clone(),
            mode: e.mode,
            size: e.size,
        })
        .collect();
    Ok(Sbom {
        schema_version: SBOM_SCHEMA_VERSION.to_string(),
        analyser_version: ANALYSER_VERSION.to_string(),
        source: source.to_string(),
        distro,
        metadata,
        packages,
        special_files,
        file_count: fs.entries.len() as u64,
        problems,
    })
}

/// Version of this analyser, recorded in every SBOM.
pub const ANALYSER_VERSION: &str = concat!("portcullis-sbom/", env!("CARGO_PKG_VERSION"));

/// Sorts packages into the SBOM's canonical order: (type, name, version, location).
pub fn sort_packages(packages: &mut [Package]) {
    packages.sort_by(|a, b| {
        (a.package_type, &a.name, &a.version, &a.location).cmp(&(
            b.package_type,
            &b.name,
            &b.version,
            &b.location,
        ))
    });
}

/// A printable name of a source (`docker.io/library/nginx:latest`, `oci-dir:/path`, `dir:/path`).
pub fn source_name(source: &portcullis_image::Source) -> String {
    use portcullis_image::Source;
    match source {
        Source::Registry(r) => r.to_string(),
        Source::OciLayout(p, n) => match n {
            Some(n) => format!("oci-dir:{}:{n}", p.display()),
            None => format!("oci-dir:{}", p.display()),
        },
        Source::DockerArchive(p, t) => match t {
            Some(t) => format!("docker-archive:{}:{t}", p.display()),
            None => format!("docker-archive:{}", p.display()),
        },
        Source::Dir(p) => format!("dir:{}", p.display()),
    }
}

/// Opens (pulls) an image from any source, squashes it under `work_dir` keeping only what [`wanted`] selects,
/// and catalogues it. Squashing and cataloguing are blocking file work: call this from a blocking-friendly
/// context (`spawn_blocking`, a current-thread runtime) in servers.
pub async fn analyse(
    source: &portcullis_image::Source,
    opts: &portcullis_image::PullOptions,
    work_dir: &std::path::Path,
) -> Result<Sbom, Error> {
    let image = portcullis_image::open(source, opts, work_dir, &wanted).await?;
    let name = source_name(source);
    catalog(&image.fs, &name, metadata::image_metadata(&image))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_type_names_are_the_serde_names_and_parse_back() {
        for t in PackageType::ALL {
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json.as_str(), Some(t.as_str()), "{t:?}");
            assert_eq!(t.to_string(), t.as_str());
            assert_eq!(t.as_str().parse::<PackageType>(), Ok(t));
        }
        let os: Vec<_> = PackageType::ALL
            .into_iter()
            .filter(|t| t.is_os_package())
            .collect();
        assert_eq!(os, [PackageType::Deb, PackageType::Apk, PackageType::Rpm]);
        let e = "golang".parse::<PackageType>().unwrap_err();
        assert!(e.to_string().contains("\"golang\"") && e.to_string().contains("go-module"));
    }

    #[test]
    fn wanted_selects_catalogued_files_only() {
        for p in [
            "/etc/os-release",
            "/usr/lib/os-release",
            "/var/lib/dpkg/status",
            "/var/lib/dpkg/status.d/libc6",
            "/var/lib/dpkg/info/libc6:amd64.list",
            "/lib/apk/db/installed",
            "/var/lib/rpm/Packages",
            "/usr/lib/sysimage/rpm/rpmdb.sqlite",
            "/usr/lib/python3/site-packages/six-1.16.0.dist-info/METADATA",
            "/srv/app/node_modules/@scope/x/package.json",
            "/opt/app.war",
            "/usr/local/bundle/specifications/rack-3.0.0.gemspec",
            "/app/vendor/composer/installed.json",
            "/app/MyApp.deps.json",
        ] {
            assert!(wanted(p, 1000, 0o644), "{p}");
        }
        for p in [
            "/usr/share/doc/x/README",
            "/etc/passwd",
            "/var/lib/dpkg/info/libc6.postinst",
        ] {
            assert!(!wanted(p, 1000, 0o644), "{p}");
        }
        // Executables: kept when big enough to be a Go/Rust binary, but not beyond the size bound.
        assert!(wanted("/usr/local/bin/app", 2 << 20, 0o755));
        assert!(!wanted("/usr/local/bin/app", 2 << 20, 0o644));
        assert!(!wanted("/usr/bin/true", 30 << 10, 0o755));
        assert!(!wanted(
            "/usr/local/bin/huge",
            lang::MAX_BINARY_SIZE + 1,
            0o755
        ));
        assert!(!wanted("/opt/huge.jar", lang::MAX_BINARY_SIZE + 1, 0o644));
    }
}
