//! Typed in-toto predicates: SLSA provenance v0.2 and v1 ([`slsa`]), CycloneDX and SPDX SBOMs (read into the
//! project's [`portcullis_sbom::Sbom`]) and OpenVEX (read into the vulnerability crate's
//! [`portcullis_vuln::triage::VexDocument`], ready for `apply_vex`).

pub mod slsa;

use portcullis_sbom::Sbom;
use portcullis_vuln::triage::VexDocument;
use serde_json::Value;

pub use slsa::Provenance;

/// SLSA provenance v0.2.
pub const SLSA_V02: &str = "https://slsa.dev/provenance/v0.2";
/// SLSA provenance v1.
pub const SLSA_V1: &str = "https://slsa.dev/provenance/v1";
/// CycloneDX SBOM.
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// SPDX SBOM.
pub const SPDX: &str = "https://spdx.dev/Document";
/// OpenVEX.
pub const OPENVEX: &str = "https://openvex.dev/ns";

/// The predicate type URI of a cosign `--type` name (`slsaprovenance`, `slsaprovenance1`, `cyclonedx`,
/// `spdxjson`, `openvex`, …); any other value is taken as a URI.
pub fn type_uri(name: &str) -> String {
    match name {
        "slsaprovenance" | "slsaprovenance02" => SLSA_V02.into(),
        "slsaprovenance1" => SLSA_V1.into(),
        "cyclonedx" => CYCLONEDX.into(),
        "spdx" | "spdxjson" => SPDX.into(),
        "openvex" => OPENVEX.into(),
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1".into(),
        "custom" => "https://cosign.sigstore.dev/attestation/v1".into(),
        other => other.into(),
    }
}

/// A decoded predicate.
#[derive(Debug, Clone)]
pub enum Predicate {
    /// SLSA provenance (v0.2 or v1).
    Provenance(Provenance),
    /// A CycloneDX or SPDX SBOM, in the project's SBOM type.
    Sbom(Box<Sbom>),
    /// An OpenVEX document, as the vulnerability crate's VEX statements.
    Vex(VexDocument),
    /// A predicate type this crate does not interpret.
    Other,
}

impl Predicate {
    /// One line saying what it holds.
    pub fn summary(&self) -> String {
        match self {
            Predicate::Provenance(p) => p.to_string(),
            Predicate::Sbom(s) => format!("SBOM with {} packages", s.packages.len()),
            Predicate::Vex(v) => format!("OpenVEX with {} statements", v.statements.len()),
            Predicate::Other => "predicate not interpreted".into(),
        }
    }
}

/// Decodes `predicate` of type `predicate_type`; `source` names it in errors.
pub fn parse(source: &str, predicate_type: &str, predicate: &Value) -> Result<Predicate, String> {
    // Prefix match: SPDX statements carry versioned types (`https://spdx.dev/Document/v2.3`).
    if predicate_type == SLSA_V02 || predicate_type == SLSA_V1 {
        slsa::parse(predicate_type, predicate).map(Predicate::Provenance)
    } else if predicate_type.starts_with(CYCLONEDX) || predicate_type.starts_with(SPDX) {
        let bytes = serde_json::to_vec(predicate).map_err(|e| e.to_string())?;
        portcullis_sbom::read_sbom(&bytes)
            .map(|s| Predicate::Sbom(Box::new(s)))
            .map_err(|e| format!("SBOM predicate cannot be read: {e}"))
    } else if predicate_type.starts_with(OPENVEX) {
        portcullis_vuln::triage::openvex::statements(source, predicate)
            .map(|statements| {
                Predicate::Vex(VexDocument {
                    source: source.to_string(),
                    statements,
                })
            })
            .map_err(|e| format!("OpenVEX predicate cannot be read: {e}"))
    } else {
        Ok(Predicate::Other)
    }
}
