//! SLSA provenance v0.2 (`builder.id`, `buildType`, `invocation.configSource.uri`) and v1
//! (`runDetails.builder.id`, `buildDefinition.buildType`, the source from `externalParameters` or the first
//! resolved dependency).

use serde_json::Value;

use super::SLSA_V1;

/// What policy can use from a provenance predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// `v0.2` or `v1`.
    pub version: String,
    /// The builder's id (URI).
    pub builder_id: String,
    /// The build type (URI).
    pub build_type: String,
    /// The source repository (URI, possibly with `@ref`), when recorded.
    pub source_repository: Option<String>,
}

impl std::fmt::Display for Provenance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SLSA provenance {}: builder {}, build type {}, source {}",
            self.version,
            self.builder_id,
            self.build_type,
            self.source_repository
                .as_deref()
                .unwrap_or("(not recorded)")
        )
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(|s| s.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads a provenance predicate of `predicate_type`.
pub fn parse(predicate_type: &str, p: &Value) -> Result<Provenance, String> {
    if predicate_type == SLSA_V1 {
        let builder_id = text(p, "/runDetails/builder/id")
            .ok_or("SLSA v1 provenance without `runDetails.builder.id`")?;
        let build_type = text(p, "/buildDefinition/buildType")
            .ok_or("SLSA v1 provenance without `buildDefinition.buildType`")?;
        let ext = "/buildDefinition/externalParameters";
        let source_repository = text(p, &format!("{ext}/source"))
            .or_else(|| text(p, &format!("{ext}/source/uri")))
            .or_else(|| text(p, &format!("{ext}/workflow/repository")))
            .or_else(|| text(p, &format!("{ext}/repository")))
            .or_else(|| text(p, "/buildDefinition/resolvedDependencies/0/uri"));
        Ok(Provenance {
            version: "v1".into(),
            builder_id,
            build_type,
            source_repository,
        })
    } else {
        let builder_id =
            text(p, "/builder/id").ok_or("SLSA v0.2 provenance without `builder.id`")?;
        let build_type = text(p, "/buildType").ok_or("SLSA v0.2 provenance without `buildType`")?;
        let source_repository =
            text(p, "/invocation/configSource/uri").or_else(|| text(p, "/materials/0/uri"));
        Ok(Provenance {
            version: "v0.2".into(),
            builder_id,
            build_type,
            source_repository,
        })
    }
}
