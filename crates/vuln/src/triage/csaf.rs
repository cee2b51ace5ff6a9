//! CSAF 2.0 VEX (`document.category` `csaf_vex`, as Red Hat publishes one per CVE): `vulnerabilities[]` with
//! `cve`, `product_status.{fixed, known_not_affected, known_affected, under_investigation}` lists of product
//! ids, `flags[]` (the not-affected justification) and `remediations[]`. A product id is resolved through the
//! `product_tree`: a relationship (`<platform>:<package>`) names a package (its `purl`, else its name) as a
//! component of a platform, whose CPE gives the distro release the statement is limited to
//! (`cpe:/o:redhat:enterprise_linux:9` → `rhel:9`).

use std::collections::HashMap;

use serde_json::Value;

use super::{MAX_DEPTH, TriageError, VexProduct, VexStatement, VexStatus, clip};

/// Most product ids read from one document.
const MAX_PRODUCTS: usize = 1_000_000;

/// True when `v` is a CSAF document.
pub fn is_csaf(v: &Value) -> bool {
    v["document"]["csaf_version"].is_string()
}

/// A product of the tree: its purl, name and CPE.
#[derive(Default)]
struct Product<'a> {
    purl: Option<&'a str>,
    name: Option<&'a str>,
    cpe: Option<&'a str>,
}

fn walk<'a>(branches: &'a Value, out: &mut HashMap<&'a str, Product<'a>>, depth: usize) {
    if depth > MAX_DEPTH || out.len() > MAX_PRODUCTS {
        return;
    }
    for b in branches.as_array().into_iter().flatten() {
        let p = &b["product"];
        if let Some(id) = p["product_id"].as_str() {
            let helper = &p["product_identification_helper"];
            out.insert(
                id,
                Product {
                    purl: helper["purl"].as_str(),
                    name: p["name"].as_str(),
                    cpe: helper["cpe"].as_str(),
                },
            );
        }
        walk(&b["branches"], out, depth + 1);
    }
}

/// The distro namespace of a Red Hat platform CPE (`cpe:/a:redhat:enterprise_linux:9::appstream`,
/// `cpe:/a:redhat:rhel_eus:9.2::baseos` → `rhel:9`).
fn namespace_of_cpe(cpe: &str) -> Option<String> {
    let parts: Vec<&str> = cpe.split(':').collect();
    let (vendor, product, version) = (parts.get(2)?, parts.get(3)?, parts.get(4)?);
    let rhel =
        *vendor == "redhat" && (*product == "enterprise_linux" || product.starts_with("rhel_"));
    let major = version.split('.').next().filter(|m| !m.is_empty())?;
    (rhel && major.chars().all(|c| c.is_ascii_digit())).then(|| format!("rhel:{major}"))
}

/// The statements of a CSAF VEX document.
pub fn statements(path: &str, v: &Value) -> Result<Vec<VexStatement>, TriageError> {
    let mut products = HashMap::new();
    walk(&v["product_tree"]["branches"], &mut products, 0);
    // full product id → (package product id, platform product id)
    let mut rel: HashMap<&str, (&str, &str)> = HashMap::new();
    for r in v["product_tree"]["relationships"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let (Some(full), Some(pkg), Some(platform)) = (
            r["full_product_name"]["product_id"].as_str(),
            r["product_reference"].as_str(),
            r["relates_to_product_reference"].as_str(),
        ) {
            rel.insert(full, (pkg, platform));
        }
    }
    let resolve = |id: &str| -> VexProduct {
        let (pkg, platform) = match rel.get(id) {
            Some((pkg, platform)) => (*pkg, Some(*platform)),
            None => (id, None),
        };
        let p = products.get(pkg);
        let package = p.and_then(|p| p.purl.or(p.name)).unwrap_or(pkg).to_string();
        // a platform that is no RHEL release (or has no CPE) limits the statement to a namespace no finding has
        let namespace = platform.map(|pl| {
            products
                .get(pl)
                .and_then(|p| p.cpe)
                .and_then(namespace_of_cpe)
                .unwrap_or_else(|| format!("csaf-platform:{pl}"))
        });
        VexProduct { package, namespace }
    };
    let list = v["vulnerabilities"]
        .as_array()
        .ok_or_else(|| TriageError::Invalid {
            path: path.into(),
            what: "CSAF document without `vulnerabilities`: not a VEX document".into(),
        })?;
    let mut out = Vec::new();
    for (i, x) in list.iter().enumerate() {
        let Some(cve) = x["cve"].as_str() else {
            return Err(TriageError::Invalid {
                path: path.into(),
                what: format!("vulnerabilities[{i}] has no `cve`"),
            });
        };
        // product id → the flag (not-affected justification) and remediation that name it
        let mut notes: HashMap<&str, Vec<String>> = HashMap::new();
        for f in x["flags"].as_array().into_iter().flatten() {
            if let Some(label) = f["label"].as_str() {
                for id in f["product_ids"].as_array().into_iter().flatten() {
                    if let Some(id) = id.as_str() {
                        notes.entry(id).or_default().push(label.to_string());
                    }
                }
            }
        }
        for r in x["remediations"].as_array().into_iter().flatten() {
            let text = match (r["category"].as_str(), r["details"].as_str()) {
                (Some(c), Some(d)) => format!("{c}: {}", clip(d, 120)),
                (Some(c), None) => c.to_string(),
                _ => continue,
            };
            for id in r["product_ids"].as_array().into_iter().flatten() {
                if let Some(id) = id.as_str() {
                    notes.entry(id).or_default().push(text.clone());
                }
            }
        }
        let status = &x["product_status"];
        for (key, st) in [
            ("fixed", VexStatus::Fixed),
            ("known_not_affected", VexStatus::NotAffected),
            ("known_affected", VexStatus::Affected),
            ("under_investigation", VexStatus::UnderInvestigation),
        ] {
            for id in status[key].as_array().into_iter().flatten() {
                let Some(id) = id.as_str() else { continue };
                let detail = notes.get(id).map(|n| n.join("; "));
                out.push(VexStatement {
                    vulnerability: cve.to_string(),
                    products: vec![resolve(id)],
                    status: st,
                    detail,
                });
                if out.len() > MAX_PRODUCTS {
                    return Err(TriageError::Invalid {
                        path: path.into(),
                        what: format!(
                            "more than {MAX_PRODUCTS} product statements; split the document"
                        ),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn red_hat_platform_cpes() {
        assert_eq!(
            namespace_of_cpe("cpe:/a:redhat:enterprise_linux:9::appstream").as_deref(),
            Some("rhel:9")
        );
        assert_eq!(
            namespace_of_cpe("cpe:/a:redhat:rhel_eus:8.8::baseos").as_deref(),
            Some("rhel:8")
        );
        assert_eq!(
            namespace_of_cpe("cpe:/o:redhat:enterprise_linux:6").as_deref(),
            Some("rhel:6")
        );
        assert_eq!(namespace_of_cpe("cpe:/a:redhat:openshift:4.12::el9"), None);
    }
}
