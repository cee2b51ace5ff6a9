//! The `verify` block of a selector (or the default): which signatures and attestations an image must carry.
//!
//! ```yaml
//! verify:
//!   keys:                                   # signed by any one of these keys (one requirement)
//!     - /etc/portcullis/keys/ci.pub         # a PEM public key file
//!     - { secret: portcullis/ci-key/cosign.pub }   # a Kubernetes Secret's key: namespace/name/key
//!   keyless:                                # each entry is one requirement
//!     - { trustRoot: /etc/portcullis/fulcio.pem, issuer: "https://token.actions.githubusercontent.com",
//!         subjectRegex: "https://github.com/example/.*" }
//!   attestations:                           # each entry is one requirement
//!     - { type: slsaprovenance, builderId: "https://github.com/example/.*" }
//!   require: all                            # all (default) or any of the requirements above
//! ```
//!
//! This module only parses and validates (precise errors naming the selector and the entry); loading the keys
//! and verifying is the engine's (`portcullis-verify`). An entry the verifier cannot check yet fails closed
//! with a message naming it, never passes.

use serde::{Deserialize, Serialize};

/// Where a public key comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeySource {
    /// A PEM file path, written as a plain string.
    File(String),
    /// `{file: PATH}` or `{secret: NS/NAME/KEY}`.
    Ref(KeyRef),
}

/// A key written as a map.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum KeyRef {
    /// A PEM file path.
    File(String),
    /// A Kubernetes Secret's data key, `namespace/name/key`.
    Secret(String),
}

/// A validated key reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// A PEM public key file.
    File(std::path::PathBuf),
    /// The data key `key` of Secret `namespace/name`.
    Secret {
        /// Namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// Data key holding the PEM public key.
        key: String,
    },
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::File(p) => write!(f, "{}", p.display()),
            Key::Secret {
                namespace,
                name,
                key,
            } => write!(f, "secret {namespace}/{name}/{key}"),
        }
    }
}

/// A Secret's data key named by a `verify` block: (namespace, name, key).
pub type SecretRef = (String, String, String);

/// Largest Secret value taken as a public key (a PEM public key is well under 4 KiB).
pub const MAX_KEY_SECRET_BYTES: usize = 64 * 1024;

impl Key {
    /// The Secret data key this key is read from, when it is one.
    pub fn secret_ref(&self) -> Option<SecretRef> {
        match self {
            Key::Secret {
                namespace,
                name,
                key,
            } => Some((namespace.clone(), name.clone(), key.clone())),
            Key::File(_) => None,
        }
    }
}

/// A keyless (Fulcio certificate) requirement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeylessSpec {
    /// PEM file of the trusted certificate authority chain (Fulcio root and intermediates).
    pub trust_root: String,
    /// OIDC issuer the certificate must name, exactly.
    #[serde(default)]
    pub issuer: Option<String>,
    /// OIDC issuer, an anchored regex.
    #[serde(default)]
    pub issuer_regex: Option<String>,
    /// Identity (certificate subject alternative name), exactly.
    #[serde(default)]
    pub subject: Option<String>,
    /// Identity, an anchored regex.
    #[serde(default)]
    pub subject_regex: Option<String>,
    /// Require a Rekor signed entry timestamp, verified against this PEM public key file.
    #[serde(default)]
    pub rekor_key: Option<String>,
}

/// An attestation requirement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttestationSpec {
    /// Predicate type, as cosign's `--type` names it (one of [`portcullis_verify::PREDICATE_TYPES`]), or a
    /// predicate type URI.
    #[serde(rename = "type")]
    pub predicate_type: String,
    /// For SLSA provenance: the builder id must match this anchored regex.
    #[serde(default)]
    pub builder_id: Option<String>,
    /// For SLSA provenance: the source repository must match this anchored regex.
    #[serde(default)]
    pub source_repository: Option<String>,
    /// For SLSA provenance: the build type must match this anchored regex.
    #[serde(default)]
    pub build_type: Option<String>,
}

/// How the requirements combine.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    /// Every requirement must be met (the default).
    #[default]
    All,
    /// At least one requirement must be met.
    Any,
}

/// The `verify` block as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifySpec {
    /// Public keys: signed by any one of them is one requirement.
    #[serde(default)]
    pub keys: Vec<KeySource>,
    /// Keyless requirements, one each.
    #[serde(default)]
    pub keyless: Vec<KeylessSpec>,
    /// Attestation requirements, one each.
    #[serde(default)]
    pub attestations: Vec<AttestationSpec>,
    /// `all` (default) or `any`.
    #[serde(default)]
    pub require: Require,
    /// When true, a verified CycloneDX or SPDX attestation by a signer this block trusts is the image's
    /// analysis (matched and evaluated as usual) instead of pulling its layers; layers are pulled when there is
    /// none.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sbom_from_attestation: bool,
}

impl VerifySpec {
    /// Checks the block; `Err` names the entry (`keys[1]`, `keyless[0].subjectRegex`, …) and what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys.is_empty() && self.keyless.is_empty() && self.attestations.is_empty() {
            return Err(
                "`verify` lists no requirement: give at least one of `keys`, `keyless`, `attestations`, \
                 or remove the block"
                    .into(),
            );
        }
        for (i, k) in self.keys.iter().enumerate() {
            key(k).map_err(|e| format!("keys[{i}]: {e}"))?;
        }
        for (i, k) in self.keyless.iter().enumerate() {
            if k.trust_root.trim().is_empty() {
                return Err(format!(
                    "keyless[{i}].trustRoot is empty: give the PEM file of the Fulcio CA chain"
                ));
            }
            if k.subject.is_none() && k.subject_regex.is_none() {
                return Err(format!(
                    "keyless[{i}] constrains no identity: give `subject` or `subjectRegex` (any identity a CA \
                     certifies would otherwise be accepted)"
                ));
            }
            if k.issuer.is_none() && k.issuer_regex.is_none() {
                return Err(format!(
                    "keyless[{i}] constrains no OIDC issuer: give `issuer` or `issuerRegex`"
                ));
            }
            if k.subject.is_some() && k.subject_regex.is_some() {
                return Err(format!(
                    "keyless[{i}] gives both `subject` and `subjectRegex`: keep one"
                ));
            }
            if k.issuer.is_some() && k.issuer_regex.is_some() {
                return Err(format!(
                    "keyless[{i}] gives both `issuer` and `issuerRegex`: keep one"
                ));
            }
            for (field, re) in [
                ("subjectRegex", &k.subject_regex),
                ("issuerRegex", &k.issuer_regex),
            ] {
                if let Some(re) = re {
                    anchored(re).map_err(|e| format!("keyless[{i}].{field}: {e}"))?;
                }
            }
            if k.rekor_key.as_deref().is_some_and(|p| p.trim().is_empty()) {
                return Err(format!(
                    "keyless[{i}].rekorKey is empty: give the Rekor public key PEM file or remove the field"
                ));
            }
        }
        if self.sbom_from_attestation && self.keys.is_empty() && self.keyless.is_empty() {
            return Err(
                "`sbomFromAttestation` needs a signer to trust: give `keys` or `keyless` (an SBOM attestation \
                 nobody trusted signed is never used)"
                    .into(),
            );
        }
        for (i, a) in self.attestations.iter().enumerate() {
            let t = a.predicate_type.as_str();
            if portcullis_verify::predicate_type_uri(t).is_none() {
                let names: Vec<&str> = portcullis_verify::PREDICATE_TYPES
                    .iter()
                    .map(|(n, _)| *n)
                    .collect();
                return Err(format!(
                    "attestations[{i}].type {t:?} is not one of {} nor a predicate type URI",
                    names.join(", ")
                ));
            }
            let provenance = t.starts_with("slsaprovenance") || t.contains("slsa.dev/provenance");
            for (field, re) in [
                ("builderId", &a.builder_id),
                ("sourceRepository", &a.source_repository),
                ("buildType", &a.build_type),
            ] {
                if let Some(re) = re {
                    if !provenance {
                        return Err(format!(
                            "attestations[{i}].{field} applies to SLSA provenance only, not type {t:?}"
                        ));
                    }
                    anchored(re).map_err(|e| format!("attestations[{i}].{field}: {e}"))?;
                }
            }
        }
        Ok(())
    }

    /// The keys, validated (see [`VerifySpec::validate`]); each with its place in the list.
    pub fn key_refs(&self) -> Result<Vec<Key>, String> {
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| key(k).map_err(|e| format!("keys[{i}]: {e}")))
            .collect()
    }

    /// Whether this block requires at least what `other` requires (the same block, or `other` requires
    /// nothing). Used so a selector the workload's author controls can never drop a requirement.
    pub fn at_least_as_strict_as(this: Option<&VerifySpec>, other: Option<&VerifySpec>) -> bool {
        match (this, other) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(a), Some(b)) => a == b,
        }
    }
}

fn key(k: &KeySource) -> Result<Key, String> {
    match k {
        KeySource::File(p) | KeySource::Ref(KeyRef::File(p)) => {
            if p.trim().is_empty() {
                Err("empty key file path: give a PEM public key file (`cosign.pub`)".into())
            } else {
                Ok(Key::File(p.into()))
            }
        }
        KeySource::Ref(KeyRef::Secret(s)) => {
            let parts: Vec<&str> = s.split('/').collect();
            match parts.as_slice() {
                [ns, name, key] if !ns.is_empty() && !name.is_empty() && !key.is_empty() => {
                    Ok(Key::Secret {
                        namespace: ns.to_string(),
                        name: name.to_string(),
                        key: key.to_string(),
                    })
                }
                _ => Err(format!(
                    "secret {s:?} is not `namespace/name/key` (e.g. `portcullis/ci-key/cosign.pub`)"
                )),
            }
        }
    }
}

fn anchored(re: &str) -> Result<(), String> {
    regex::Regex::new(&format!("^(?:{re})$"))
        .map(|_| ())
        .map_err(|e| format!("invalid regex {re:?}: {e}"))
}
