//! OpenVEX (<https://github.com/openvex/spec>): `statements[]` of `{vulnerability, products, status,
//! justification, impact_statement, action_statement}`. Both the v0.2 shapes (`vulnerability: {name,
//! aliases}`, `products: [{"@id", subcomponents: [{"@id"}]}]`) and the v0.0.x ones (strings) are read. A
//! product's subcomponents are the packages a statement is about; a product without subcomponents is itself
//! the package.

use serde_json::Value;

use super::{TriageError, VexProduct, VexStatement, VexStatus, clip};

/// Most statements read from one document.
const MAX_STATEMENTS: usize = 100_000;

/// True when `v` is an OpenVEX document (its `@context` names openvex).
pub fn is_openvex(v: &Value) -> bool {
    v["@context"]
        .as_str()
        .is_some_and(|c| c.contains("openvex"))
}

fn id_of(v: &Value) -> Option<String> {
    v.as_str().or_else(|| v["@id"].as_str()).map(str::to_string)
}

/// The statements of an OpenVEX document.
pub fn statements(path: &str, v: &Value) -> Result<Vec<VexStatement>, TriageError> {
    let bad = |i: usize, what: String| TriageError::Invalid {
        path: path.into(),
        what: format!("statement {i}: {what}"),
    };
    let list = v["statements"]
        .as_array()
        .ok_or_else(|| TriageError::Invalid {
            path: path.into(),
            what: "OpenVEX document without a `statements` array".into(),
        })?;
    if list.len() > MAX_STATEMENTS {
        return Err(TriageError::Invalid {
            path: path.into(),
            what: format!("more than {MAX_STATEMENTS} statements; split the document"),
        });
    }
    let mut out = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let vuln = &s["vulnerability"];
        let ids: Vec<String> = vuln
            .as_str()
            .or_else(|| vuln["name"].as_str())
            .or_else(|| vuln["@id"].as_str())
            .map(str::to_string)
            .into_iter()
            .chain(
                vuln["aliases"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|a| a.as_str().map(str::to_string)),
            )
            .collect();
        if ids.is_empty() {
            return Err(bad(
                i,
                "no `vulnerability` name; give `vulnerability.name`".into(),
            ));
        }
        let status = match s["status"].as_str() {
            Some("not_affected") => VexStatus::NotAffected,
            Some("fixed") => VexStatus::Fixed,
            Some("affected") => VexStatus::Affected,
            Some("under_investigation") => VexStatus::UnderInvestigation,
            other => {
                return Err(bad(
                    i,
                    format!(
                        "status {other:?} is not one of not_affected, fixed, affected, under_investigation"
                    ),
                ));
            }
        };
        let mut products = Vec::new();
        for p in s["products"].as_array().into_iter().flatten() {
            let subs: Vec<String> = p["subcomponents"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(id_of)
                .collect();
            if subs.is_empty() {
                products.extend(id_of(p));
            } else {
                products.extend(subs);
            }
        }
        if products.is_empty() {
            return Err(bad(i, "no `products`; name the packages by purl".into()));
        }
        let detail = [
            "justification",
            "impact_statement",
            "action_statement",
            "status_notes",
        ]
        .iter()
        .filter_map(|k| s[*k].as_str())
        .map(|t| clip(t, 300))
        .collect::<Vec<_>>();
        let detail = (!detail.is_empty()).then(|| detail.join("; "));
        for id in ids {
            out.push(VexStatement {
                vulnerability: id,
                products: products
                    .iter()
                    .map(|p| VexProduct {
                        package: p.clone(),
                        namespace: None,
                    })
                    .collect(),
                status,
                detail: detail.clone(),
            });
        }
    }
    Ok(out)
}
