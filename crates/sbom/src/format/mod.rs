//! SBOM formats: writers (native JSON, table, CycloneDX 1.6 JSON, SPDX 2.3 JSON) and a reader that
//! auto-detects native, CycloneDX, SPDX and Syft JSON ([`read_sbom`]).

mod cyclonedx;
mod read;
mod spdx;
mod table;

pub use read::read_sbom;

use crate::{Error, PackageType, Sbom};

/// An output format of `portcullis sbom -o`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Human-readable table (name, version, type, source).
    Table,
    /// The native, documented JSON schema (`crates/sbom/SCHEMA.md`).
    Json,
    /// CycloneDX 1.6 JSON.
    CycloneDxJson,
    /// SPDX 2.3 JSON.
    SpdxJson,
}

impl std::str::FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "table" => Ok(Self::Table),
            "json" => Ok(Self::Json),
            "cyclonedx-json" | "cyclonedx" => Ok(Self::CycloneDxJson),
            "spdx-json" | "spdx" => Ok(Self::SpdxJson),
            other => Err(Error::Format(format!(
                "unknown output format {other:?}: use table, json, cyclonedx-json or spdx-json"
            ))),
        }
    }
}

/// Renders an SBOM in the given format.
pub fn render(sbom: &Sbom, format: OutputFormat) -> Result<Vec<u8>, Error> {
    let json = |v: &serde_json::Value| {
        let mut out = serde_json::to_vec_pretty(v).map_err(|e| Error::Format(e.to_string()))?;
        out.push(b'\n');
        Ok(out)
    };
    match format {
        OutputFormat::Table => Ok(table::render(sbom).into_bytes()),
        OutputFormat::Json => {
            json(&serde_json::to_value(sbom).map_err(|e| Error::Format(e.to_string()))?)
        }
        OutputFormat::CycloneDxJson => json(&cyclonedx::render(sbom)),
        OutputFormat::SpdxJson => json(&spdx::render(sbom)),
    }
}

/// The purl type of a package type.
pub fn purl_type(t: PackageType) -> &'static str {
    match t {
        PackageType::Deb => "deb",
        PackageType::Apk => "apk",
        PackageType::Rpm => "rpm",
        PackageType::Python => "pypi",
        PackageType::Npm => "npm",
        PackageType::Java => "maven",
        PackageType::GoModule => "golang",
        PackageType::RustCrate => "cargo",
        PackageType::Gem => "gem",
        PackageType::Php => "composer",
        PackageType::Dotnet => "nuget",
    }
}

/// The package type of a purl type, when it is one this crate models.
pub fn package_type_of_purl(ty: &str) -> Option<PackageType> {
    Some(match ty {
        "deb" => PackageType::Deb,
        "apk" | "alpine" => PackageType::Apk,
        "rpm" => PackageType::Rpm,
        "pypi" => PackageType::Python,
        "npm" => PackageType::Npm,
        "maven" => PackageType::Java,
        "golang" => PackageType::GoModule,
        "cargo" => PackageType::RustCrate,
        "gem" => PackageType::Gem,
        "composer" => PackageType::Php,
        "nuget" => PackageType::Dotnet,
        _ => return None,
    })
}

/// The kebab-case name of a package type, as the native JSON spells it (`go-module`).
pub fn type_name(t: PackageType) -> String {
    t.as_str().to_string()
}

/// A deterministic UUID-shaped identifier derived from the SBOM's content (so the same input renders the same
/// document, which keeps outputs diffable and cacheable).
pub(crate) fn content_uuid(sbom: &Sbom) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(sbom.source.as_bytes());
    h.update(
        sbom.metadata
            .manifest_digest
            .as_deref()
            .unwrap_or("")
            .as_bytes(),
    );
    for p in &sbom.packages {
        h.update(p.purl.as_bytes());
        h.update(p.location.as_bytes());
    }
    let d = h.finalize();
    let x = hex::encode(&d[..16]);
    format!(
        "{}-{}-4{}-a{}-{}",
        &x[0..8],
        &x[8..12],
        &x[13..16],
        &x[17..20],
        &x[20..32]
    )
}

/// Creation time recorded in generated documents: the image's, else now.
pub(crate) fn timestamp(sbom: &Sbom) -> String {
    let _ = sbom;
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
