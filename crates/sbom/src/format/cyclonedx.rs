//! CycloneDX 1.6 JSON writer.

use serde_json::{Value, json};

use crate::{ANALYSER_VERSION, Sbom};

/// Property names carrying what CycloneDX has no field for (read back by [`super::read_sbom`]).
pub(crate) const P_TYPE: &str = "portcullis:package:type";
pub(crate) const P_LOCATION: &str = "portcullis:package:location";
pub(crate) const P_LAYER: &str = "portcullis:package:layer";
pub(crate) const P_SOURCE_NAME: &str = "portcullis:package:sourceName";
pub(crate) const P_SOURCE_VERSION: &str = "portcullis:package:sourceVersion";
pub(crate) const P_ARCH: &str = "portcullis:package:arch";

pub(crate) fn render(sbom: &Sbom) -> Value {
    let mut components = Vec::new();
    if let Some(d) = &sbom.distro {
        components.push(json!({
            "bom-ref": format!("os:{}@{}", d.id, d.version_id.as_deref().unwrap_or("")),
            "type": "operating-system",
            "name": d.id,
            "version": d.version_id.clone().unwrap_or_default(),
            "description": d.pretty_name.clone().unwrap_or_default(),
            "properties": [
                {"name": "portcullis:distro:codename", "value": d.codename.clone().unwrap_or_default()},
                {"name": "portcullis:distro:idLike", "value": d.id_like.join(" ")},
            ],
        }));
    }
    for (i, p) in sbom.packages.iter().enumerate() {
        let mut props = vec![
            json!({"name": P_TYPE, "value": super::type_name(p.package_type)}),
            json!({"name": P_LOCATION, "value": p.location}),
        ];
        for (k, v) in [
            (P_LAYER, &p.layer),
            (P_SOURCE_NAME, &p.source_name),
            (P_SOURCE_VERSION, &p.source_version),
            (P_ARCH, &p.arch),
        ] {
            if let Some(v) = v {
                props.push(json!({"name": k, "value": v}));
            }
        }
        let licenses: Vec<Value> = p
            .licenses
            .iter()
            .map(|l| json!({"license": {"name": l}}))
            .collect();
        let mut c = json!({
            "bom-ref": format!("pkg-{i}"),
            "type": "library",
            "name": p.name,
            "version": p.version,
            "purl": p.purl,
            "properties": props,
        });
        if !licenses.is_empty() {
            c["licenses"] = Value::Array(licenses);
        }
        components.push(c);
    }
    let m = &sbom.metadata;
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", super::content_uuid(sbom)),
        "version": 1,
        "metadata": {
            "timestamp": super::timestamp(sbom),
            "tools": {"components": [{"type": "application", "author": "portcullis", "name": "portcullis-sbom", "version": ANALYSER_VERSION}]},
            "component": {
                "bom-ref": "subject",
                "type": "container",
                "name": sbom.source,
                "version": m.manifest_digest.clone().or_else(|| m.image_id.clone()).unwrap_or_default(),
            },
        },
        "components": components,
    })
}
