//! SPDX 2.3 JSON writer.

use serde_json::{Value, json};

use crate::{ANALYSER_VERSION, Sbom};

/// An SPDX licence expression for a list of licence names: SPDX-id-shaped names as they are, others as
/// `LicenseRef-…`, joined with `AND`.
fn license_expression(ls: &[String]) -> String {
    if ls.is_empty() {
        return "NOASSERTION".into();
    }
    let ids: Vec<String> = ls
        .iter()
        .map(|l| {
            if !l.is_empty()
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
            {
                l.clone()
            } else {
                let s: String = l
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                            c
                        } else {
                            '-'
                        }
                    })
                    .collect();
                format!("LicenseRef-{s}")
            }
        })
        .collect();
    ids.join(" AND ")
}

pub(crate) fn render(sbom: &Sbom) -> Value {
    let mut packages = Vec::new();
    let mut rels = Vec::new();
    if let Some(d) = &sbom.distro {
        packages.push(json!({
            "name": d.id,
            "SPDXID": "SPDXRef-OperatingSystem",
            "versionInfo": d.version_id.clone().unwrap_or_default(),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "description": d.pretty_name.clone().unwrap_or_default(),
        }));
        rels.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-OperatingSystem"}));
    }
    let mut extracted = std::collections::BTreeSet::new();
    for (i, p) in sbom.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{}-{i}", super::purl_type(p.package_type));
        let expr = license_expression(&p.licenses);
        for part in expr.split(" AND ") {
            if part.starts_with("LicenseRef-") {
                extracted.insert(part.to_string());
            }
        }
        let mut pkg = json!({
            "name": p.name,
            "SPDXID": id,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "sourceInfo": format!("acquired package info from {}", p.location),
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": expr,
            "copyrightText": "NOASSERTION",
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": p.purl}],
        });
        if let Some(s) = &p.source_name {
            pkg["comment"] = Value::String(format!(
                "source package: {s}{}",
                p.source_version
                    .as_deref()
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default()
            ));
        }
        packages.push(pkg);
        rels.push(json!({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": id}));
    }
    let name = if sbom.source.is_empty() {
        "portcullis-sbom".to_string()
    } else {
        sbom.source.clone()
    };
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": name,
        "documentNamespace": format!("https://portcullis.invalid/spdx/{}", super::content_uuid(sbom)),
        "creationInfo": {
            "created": super::timestamp(sbom),
            "creators": [format!("Tool: {ANALYSER_VERSION}")],
        },
        "packages": packages,
        "hasExtractedLicensingInfos": extracted.iter().map(|id| json!({
            "licenseId": id,
            "extractedText": id.trim_start_matches("LicenseRef-"),
        })).collect::<Vec<_>>(),
        "relationships": rels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licence_expressions() {
        assert_eq!(license_expression(&[]), "NOASSERTION");
        assert_eq!(
            license_expression(&["MIT".into(), "GPL-2+".into()]),
            "MIT AND GPL-2+"
        );
        assert_eq!(
            license_expression(&["BSD License".into()]),
            "LicenseRef-BSD-License"
        );
    }
}
