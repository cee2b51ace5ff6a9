//! SPDX 2.3 JSON writer.

use serde_json::{Value, json};

use crate::{ANALYSER_VERSION, Sbom};

/// Debian `copyright-format` short names (and a few common spellings) whose SPDX id differs; the GNU families
/// (`GPL-2+`, `LGPL-2.1`, `AGPL-3+`, `GFDL-1.3`) are mapped by rule in [`gnu`].
const DEBIAN_NAMES: [(&str, &str); 24] = [
    ("expat", "MIT"),
    ("mit/x11", "MIT"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("bsd-4-clause", "BSD-4-Clause"),
    ("apache-2", "Apache-2.0"),
    ("apache-2.0", "Apache-2.0"),
    ("apache-1.1", "Apache-1.1"),
    ("artistic", "Artistic-1.0"),
    ("artistic-1", "Artistic-1.0"),
    ("artistic-2", "Artistic-2.0"),
    ("zope-2.1", "ZPL-2.1"),
    ("psf-2", "PSF-2.0"),
    ("python", "Python-2.0"),
    ("cc0", "CC0-1.0"),
    ("mpl-1.1", "MPL-1.1"),
    ("mpl-2", "MPL-2.0"),
    ("mpl-2.0", "MPL-2.0"),
    ("zlib", "Zlib"),
    ("isc", "ISC"),
    ("openssl", "OpenSSL"),
    ("curl", "curl"),
    ("x11", "X11"),
    ("bsl-1.0", "BSL-1.0"),
];

/// A GNU licence in Debian's or SPDX's deprecated spelling (`GPL-2`, `GPL-2+`, `LGPL-2.1+`, `GPL-2.0+`,
/// `AGPL-3`, `GFDL-1.3`) as its SPDX `-only`/`-or-later` id.
fn gnu(name: &str) -> Option<String> {
    let (base, plus) = match name.strip_suffix('+') {
        Some(b) => (b, true),
        None => (
            name.strip_suffix("-or-later").unwrap_or(name),
            name.ends_with("-or-later"),
        ),
    };
    let base = base.strip_suffix("-only").unwrap_or(base);
    let (family, version) = base.split_once('-')?;
    let family = family.to_ascii_uppercase();
    if !["GPL", "LGPL", "AGPL", "GFDL"].contains(&family.as_str())
        || version.is_empty()
        || !version.bytes().all(|c| c.is_ascii_digit() || c == b'.')
    {
        return None;
    }
    let version = if version.contains('.') {
        version.to_string()
    } else {
        format!("{version}.0")
    };
    spdx::gnu_license_id(&format!("{family}-{version}"), plus).map(|l| l.name.to_string())
}

/// The SPDX form of one licence name: an SPDX id (`GPL-2+` → `GPL-2.0-or-later`, `Expat` → `MIT`), a valid
/// SPDX expression in parentheses, or `Err(LicenseRef-…)` for a name SPDX has no id for (`public-domain`).
fn spdx_license(name: &str) -> Result<String, String> {
    let n = name.trim();
    if let Some(id) = gnu(n) {
        return Ok(id);
    }
    if let Some(l) = spdx::license_id(n).filter(|l| l.name == n && !l.is_deprecated()) {
        return Ok(l.name.to_string());
    }
    let lower = n.to_ascii_lowercase();
    if let Some((_, id)) = DEBIAN_NAMES.iter().find(|(k, _)| *k == lower) {
        return Ok((*id).to_string());
    }
    if n.contains(' ')
        && let Ok(e) = spdx::Expression::parse(n)
        && e.requirements()
            .all(|r| !matches!(&r.req.license, spdx::LicenseItem::Other { .. }))
    {
        return Ok(format!("({n})"));
    }
    let s: String = n
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Err(format!("LicenseRef-{s}"))
}

/// An SPDX licence expression for a list of licence names (each mapped by [`spdx_license`]), joined with `AND`,
/// and the `LicenseRef-…` ids it uses.
fn license_expression(ls: &[String]) -> (String, Vec<String>) {
    let mut terms: Vec<String> = Vec::new();
    let mut refs = Vec::new();
    for l in ls.iter().filter(|l| !l.trim().is_empty()) {
        let t = match spdx_license(l) {
            Ok(t) => t,
            Err(r) => {
                refs.push(r.clone());
                r
            }
        };
        if !terms.contains(&t) {
            terms.push(t);
        }
    }
    if terms.is_empty() {
        return ("NOASSERTION".into(), refs);
    }
    (terms.join(" AND "), refs)
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
        let (expr, refs) = license_expression(&p.licenses);
        extracted.extend(refs);
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
        let e =
            |ls: &[&str]| license_expression(&ls.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(e(&[]).0, "NOASSERTION");
        assert_eq!(
            e(&["MIT", "GPL-2+"]),
            ("MIT AND GPL-2.0-or-later".to_string(), vec![])
        );
        assert_eq!(
            e(&["BSD License"]),
            (
                "LicenseRef-BSD-License".to_string(),
                vec!["LicenseRef-BSD-License".to_string()]
            )
        );
        // Debian short names
        for (debian, id) in [
            ("GPL-2", "GPL-2.0-only"),
            ("GPL-2+", "GPL-2.0-or-later"),
            ("GPL-3+", "GPL-3.0-or-later"),
            ("LGPL-2.1", "LGPL-2.1-only"),
            ("LGPL-2+", "LGPL-2.0-or-later"),
            ("AGPL-3", "AGPL-3.0-only"),
            ("GFDL-1.3+", "GFDL-1.3-or-later"),
            ("GPL-2.0+", "GPL-2.0-or-later"),
            ("Expat", "MIT"),
            ("BSD-3-clause", "BSD-3-Clause"),
            ("Apache-2.0", "Apache-2.0"),
            ("Zlib", "Zlib"),
            ("Artistic", "Artistic-1.0"),
            ("CC0-1.0", "CC0-1.0"),
        ] {
            assert_eq!(spdx_license(debian), Ok(id.to_string()), "{debian}");
        }
        assert_eq!(
            spdx_license("public-domain"),
            Err("LicenseRef-public-domain".into())
        );
        assert_eq!(
            spdx_license("GPL-2+ with OpenSSL exception"),
            Err("LicenseRef-GPL-2--with-OpenSSL-exception".into())
        );
        assert_eq!(
            spdx_license("MIT OR Apache-2.0"),
            Ok("(MIT OR Apache-2.0)".into())
        );
        // duplicates collapse
        assert_eq!(e(&["GPL-2", "GPL-2.0-only"]).0, "GPL-2.0-only");
    }
}
