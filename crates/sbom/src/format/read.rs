//! Reading SBOM documents (native, CycloneDX JSON, SPDX JSON, Syft JSON) into [`Sbom`].

use std::str::FromStr;

use packageurl::PackageUrl;
use serde_json::Value;

use super::cyclonedx::{P_ARCH, P_LAYER, P_LOCATION, P_SOURCE_NAME, P_SOURCE_VERSION, P_TYPE};
use super::package_type_of_purl;
use crate::{
    ANALYSER_VERSION, Distro, Error, Package, PackageType, SBOM_SCHEMA_VERSION, Sbom, sort_packages,
};

/// Reads an SBOM document, detecting its format: native JSON (`schema_version`), CycloneDX JSON
/// (`bomFormat: CycloneDX`), SPDX JSON (`spdxVersion`) or Syft JSON (`artifacts` + `descriptor`). Packages of
/// ecosystems this crate does not model (e.g. Syft's `binary`, `github-action`) are left out.
pub fn read_sbom(bytes: &[u8]) -> Result<Sbom, Error> {
    let mut sbom = read_any(bytes)?;
    if sbom.distro.is_none() {
        sbom.distro = distro_from_purls(&sbom.packages);
    }
    Ok(sbom)
}

/// The distro named by the packages' `distro=` purl qualifier (`debian-12`), for documents (such as Syft's
/// SPDX of a directory) that carry no operating-system element.
fn distro_from_purls(packages: &[Package]) -> Option<Distro> {
    packages.iter().find_map(|p| {
        let purl = PackageUrl::from_str(&p.purl).ok()?;
        let d = purl
            .qualifiers()
            .iter()
            .find(|(k, _)| k.as_ref() == "distro")?
            .1
            .to_string();
        Some(match d.rsplit_once('-') {
            Some((id, v)) if v.starts_with(|c: char| c.is_ascii_digit()) => Distro {
                id: id.to_string(),
                version_id: Some(v.to_string()),
                ..Distro::default()
            },
            _ => Distro {
                id: d,
                ..Distro::default()
            },
        })
    })
}

fn read_any(bytes: &[u8]) -> Result<Sbom, Error> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::Format(format!(
            "not a JSON SBOM document ({e}); supported: native JSON, CycloneDX JSON, SPDX JSON, Syft JSON"
        ))
    })?;
    if v.get("schema_version").is_some() && v.get("packages").is_some() {
        return serde_json::from_value(v)
            .map_err(|e| Error::Format(format!("native SBOM JSON: {e}")));
    }
    if v.get("bomFormat").and_then(Value::as_str) == Some("CycloneDX") {
        return Ok(from_cyclonedx(&v));
    }
    if v.get("spdxVersion").is_some() {
        return Ok(from_spdx(&v));
    }
    if v.get("artifacts").is_some() && v.get("descriptor").is_some() {
        return Ok(from_syft(&v));
    }
    Err(Error::Format(
        "JSON document is not a recognised SBOM: expected native (`schema_version`), CycloneDX (`bomFormat`), \
         SPDX (`spdxVersion`) or Syft JSON (`artifacts` + `descriptor`)"
            .into(),
    ))
}

fn empty_sbom(source: String) -> Sbom {
    Sbom {
        schema_version: SBOM_SCHEMA_VERSION.into(),
        analyser_version: ANALYSER_VERSION.into(),
        source,
        ..Sbom::default()
    }
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A package from a purl (and the name/version the document states, which win when present).
fn from_purl(purl: &str, name: Option<String>, version: Option<String>) -> Option<Package> {
    let p = PackageUrl::from_str(purl).ok()?;
    let ty = package_type_of_purl(p.ty())?;
    let q = |k: &str| {
        p.qualifiers()
            .iter()
            .find(|(qk, _)| qk.as_ref() == k)
            .map(|(_, v)| v.to_string())
    };
    let default_name = match (ty, p.namespace()) {
        (PackageType::Java, Some(ns)) => format!("{ns}:{}", p.name()),
        (PackageType::Npm | PackageType::GoModule | PackageType::Php, Some(ns)) => {
            format!("{ns}/{}", p.name())
        }
        _ => p.name().to_string(),
    };
    let mut version = version
        .or_else(|| p.version().map(str::to_string))
        .unwrap_or_default();
    if ty == PackageType::Rpm
        && let Some(e) = q("epoch")
        && !version.contains(':')
    {
        version = format!("{e}:{version}");
    }
    let (source_name, source_version) = match (ty, q("upstream")) {
        (PackageType::Rpm, Some(u)) => match crate::rpm::split_source_rpm(&u) {
            Some((n, v)) => (Some(n), Some(v)),
            None => (Some(u), None),
        },
        (_, Some(u)) => match u.split_once('@') {
            Some((n, v)) => (Some(n.to_string()), Some(v.to_string())),
            None => (Some(u), None),
        },
        _ => (None, None),
    };
    Some(Package {
        name: name.unwrap_or(default_name),
        version,
        package_type: ty,
        purl: purl.to_string(),
        source_name,
        source_version,
        arch: q("arch"),
        licenses: Vec::new(),
        location: String::new(),
        files: Vec::new(),
        layer: None,
    })
}

fn cdx_licenses(c: &Value) -> Vec<String> {
    c.get("licenses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| {
                    s(l.get("expression"))
                        .or_else(|| s(l.pointer("/license/id")))
                        .or_else(|| s(l.pointer("/license/name")))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn from_cyclonedx(v: &Value) -> Sbom {
    let mut sbom = empty_sbom(s(v.pointer("/metadata/component/name")).unwrap_or_default());
    sbom.metadata.manifest_digest =
        s(v.pointer("/metadata/component/version")).filter(|d| d.starts_with("sha256:"));
    let mut stack: Vec<&Value> = v
        .get("components")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    while let Some(c) = stack.pop() {
        if let Some(nested) = c.get("components").and_then(Value::as_array) {
            stack.extend(nested.iter());
        }
        let props: Vec<(String, String)> = c
            .get("properties")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((s(p.get("name"))?, s(p.get("value")).unwrap_or_default()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let prop = |k: &str| {
            props
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        if c.get("type").and_then(Value::as_str) == Some("operating-system") {
            sbom.distro = Some(Distro {
                id: s(c.get("name")).unwrap_or_default(),
                version_id: s(c.get("version")),
                codename: prop("portcullis:distro:codename")
                    .or_else(|| prop("syft:distro:versionCodename")),
                id_like: prop("portcullis:distro:idLike")
                    .or_else(|| prop("syft:distro:idLike"))
                    .map(|l| l.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                pretty_name: s(c.get("description")),
            });
            continue;
        }
        let Some(purl) = s(c.get("purl")) else {
            continue;
        };
        let Some(mut p) = from_purl(&purl, s(c.get("name")), s(c.get("version"))) else {
            continue;
        };
        if let Some(t) = prop(P_TYPE).and_then(|t| serde_json::from_value(Value::String(t)).ok()) {
            p.package_type = t;
        }
        p.licenses = cdx_licenses(c);
        p.location = prop(P_LOCATION)
            .or_else(|| prop("syft:location:0:path"))
            .unwrap_or_default();
        p.layer = prop(P_LAYER);
        if let Some(n) = prop(P_SOURCE_NAME) {
            p.source_name = Some(n);
            p.source_version = prop(P_SOURCE_VERSION);
        }
        if let Some(a) = prop(P_ARCH) {
            p.arch = Some(a);
        }
        sbom.packages.push(p);
    }
    sort_packages(&mut sbom.packages);
    sbom
}

fn from_spdx(v: &Value) -> Sbom {
    let mut sbom = empty_sbom(s(v.get("name")).unwrap_or_default());
    for p in v
        .get("packages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if p.get("primaryPackagePurpose").and_then(Value::as_str) == Some("OPERATING-SYSTEM") {
            sbom.distro = Some(Distro {
                id: s(p.get("name")).unwrap_or_default(),
                version_id: s(p.get("versionInfo")),
                pretty_name: s(p.get("description")),
                ..Distro::default()
            });
            continue;
        }
        let purl = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
            .and_then(|r| s(r.get("referenceLocator")));
        let Some(purl) = purl else { continue };
        let Some(mut pkg) = from_purl(&purl, s(p.get("name")), s(p.get("versionInfo"))) else {
            continue;
        };
        if let Some(l) = s(p.get("licenseDeclared")).filter(|l| l != "NOASSERTION" && l != "NONE") {
            pkg.licenses = l.split(" AND ").map(str::to_string).collect();
        }
        pkg.location = s(p.get("sourceInfo"))
            .map(|si| {
                si.trim_start_matches("acquired package info from ")
                    .rsplit(", ")
                    .next()
                    .unwrap_or("")
                    .rsplit(": ")
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        sbom.packages.push(pkg);
    }
    sort_packages(&mut sbom.packages);
    sbom
}

fn from_syft(v: &Value) -> Sbom {
    let mut sbom = empty_sbom(
        s(v.pointer("/source/name"))
            .or_else(|| s(v.pointer("/source/metadata/userInput")))
            .unwrap_or_default(),
    );
    sbom.metadata.manifest_digest = s(v.pointer("/source/metadata/manifestDigest"));
    sbom.metadata.image_id = s(v.pointer("/source/metadata/imageID"));
    if let Some(d) = v.get("distro").filter(|d| d.get("id").is_some()) {
        sbom.distro = Some(Distro {
            id: s(d.get("id")).unwrap_or_default(),
            version_id: s(d.get("versionID")),
            codename: s(d.get("versionCodename")),
            id_like: d
                .get("idLike")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| s(Some(x))).collect())
                .unwrap_or_default(),
            pretty_name: s(d.get("prettyName")),
        });
    }
    for a in v
        .get("artifacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(purl) = s(a.get("purl")) else {
            continue;
        };
        let Some(mut p) = from_purl(&purl, s(a.get("name")), s(a.get("version"))) else {
            continue;
        };
        let m = a.get("metadata");
        let md = |k: &str| s(m.and_then(|m| m.get(k)));
        match p.package_type {
            PackageType::Deb => {
                if let Some(src) = md("source") {
                    p.source_name = Some(src);
                    p.source_version = md("sourceVersion");
                }
            }
            PackageType::Apk => p.source_name = md("originPackage").or(p.source_name),
            PackageType::Rpm => {
                if let Some((n, ver)) = md("sourceRpm")
                    .as_deref()
                    .and_then(crate::rpm::split_source_rpm)
                {
                    p.source_name = Some(n);
                    p.source_version = Some(ver);
                }
            }
            _ => {}
        }
        p.arch = md("architecture").or(p.arch);
        p.licenses = a
            .get("licenses")
            .and_then(Value::as_array)
            .map(|ls| {
                ls.iter()
                    .filter_map(|l| s(l.get("value")).or_else(|| s(Some(l))))
                    .collect()
            })
            .unwrap_or_default();
        let locs: Vec<&Value> = a
            .get("locations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let primary = locs
            .iter()
            .find(|l| l.pointer("/annotations/evidence").and_then(Value::as_str) == Some("primary"))
            .or(locs.first());
        if let Some(l) = primary {
            p.location = s(l.get("path")).unwrap_or_default();
            p.layer = s(l.get("layerID"));
        }
        sbom.packages.push(p);
    }
    sort_packages(&mut sbom.packages);
    sbom
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_documents_are_clear_errors() {
        let e = read_sbom(b"not json").unwrap_err().to_string();
        assert!(e.contains("not a JSON SBOM"), "{e}");
        let e = read_sbom(b"{\"hello\": 1}").unwrap_err().to_string();
        assert!(e.contains("not a recognised SBOM"), "{e}");
    }

    #[test]
    fn purl_source_qualifiers() {
        let p = from_purl(
            "pkg:deb/debian/libc6@2.36-9?arch=amd64&upstream=glibc&distro=debian-12",
            None,
            None,
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("libc6", "2.36-9"));
        assert_eq!(p.source_name.as_deref(), Some("glibc"));
        assert_eq!(p.arch.as_deref(), Some("amd64"));
        let p = from_purl(
            "pkg:rpm/redhat/bash@4.4-19?epoch=1&upstream=bash-4.4-19.src.rpm",
            None,
            None,
        )
        .unwrap();
        assert_eq!(p.version, "1:4.4-19");
        assert_eq!(p.source_version.as_deref(), Some("4.4-19"));
        let p = from_purl(
            "pkg:maven/org.apache.commons/commons-text@1.10.0",
            None,
            None,
        )
        .unwrap();
        assert_eq!(p.name, "org.apache.commons:commons-text");
        assert!(from_purl("pkg:github/actions/checkout@v4", None, None).is_none());
    }
}
