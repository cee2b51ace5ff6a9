//! CycloneDX VEX (1.4+): `vulnerabilities[]` with `id`, `analysis.{state, justification, detail, response}`
//! and `affects[].ref`, a `bom-ref` of `components[]` (whose `purl` names the package) or a purl itself.

use std::collections::HashMap;

use serde_json::Value;

use super::{TriageError, VexProduct, VexStatement, VexStatus, clip};

/// Most vulnerabilities read from one document.
const MAX_VULNERABILITIES: usize = 100_000;

/// True when `v` is a CycloneDX document.
pub fn is_cyclonedx(v: &Value) -> bool {
    v["bomFormat"].as_str() == Some("CycloneDX")
}

fn collect_refs<'a>(components: &'a Value, out: &mut HashMap<&'a str, &'a str>, depth: usize) {
    if depth > super::MAX_DEPTH {
        return;
    }
    for c in components.as_array().into_iter().flatten() {
        if let (Some(r), Some(p)) = (c["bom-ref"].as_str(), c["purl"].as_str()) {
            out.insert(r, p);
        }
        collect_refs(&c["components"], out, depth + 1);
    }
}

/// The statements of a CycloneDX VEX document (vulnerabilities without an `analysis` say nothing and are
/// skipped).
pub fn statements(path: &str, v: &Value) -> Result<Vec<VexStatement>, TriageError> {
    let list = v["vulnerabilities"]
        .as_array()
        .ok_or_else(|| TriageError::Invalid {
            path: path.into(),
            what: "CycloneDX document without `vulnerabilities`: not a VEX document".into(),
        })?;
    if list.len() > MAX_VULNERABILITIES {
        return Err(TriageError::Invalid {
            path: path.into(),
            what: format!("more than {MAX_VULNERABILITIES} vulnerabilities; split the document"),
        });
    }
    let mut refs = HashMap::new();
    collect_refs(&v["components"], &mut refs, 0);
    if let Some(c) = v["metadata"]["component"]["bom-ref"].as_str()
        && let Some(p) = v["metadata"]["component"]["purl"].as_str()
    {
        refs.insert(c, p);
    }
    let mut out = Vec::new();
    for (i, x) in list.iter().enumerate() {
        let a = &x["analysis"];
        let Some(state) = a["state"].as_str() else {
            continue;
        };
        let status = match state {
            "not_affected" | "false_positive" => VexStatus::NotAffected,
            "resolved" | "resolved_with_pedigree" => VexStatus::Fixed,
            "exploitable" => VexStatus::Affected,
            "in_triage" => VexStatus::UnderInvestigation,
            other => {
                return Err(TriageError::Invalid {
                    path: path.into(),
                    what: format!(
                        "vulnerabilities[{i}].analysis.state `{}` is not a CycloneDX state (not_affected, \
                         false_positive, resolved, resolved_with_pedigree, exploitable, in_triage)",
                        clip(other, 40)
                    ),
                });
            }
        };
        let Some(id) = x["id"].as_str() else {
            return Err(TriageError::Invalid {
                path: path.into(),
                what: format!("vulnerabilities[{i}] has no `id`"),
            });
        };
        let products: Vec<VexProduct> = x["affects"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["ref"].as_str())
            .map(|r| {
                // a BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`) names a component of another BOM
                let r = r
                    .strip_prefix("urn:cdx:")
                    .and_then(|l| l.split_once('#').map(|(_, b)| b))
                    .unwrap_or(r);
                VexProduct {
                    package: refs.get(r).copied().unwrap_or(r).to_string(),
                    namespace: None,
                }
            })
            .collect();
        if products.is_empty() {
            return Err(TriageError::Invalid {
                path: path.into(),
                what: format!(
                    "vulnerabilities[{i}] ({id}) has no `affects[].ref`; name the packages"
                ),
            });
        }
        let detail: Vec<String> = [&a["justification"], &a["detail"]]
            .into_iter()
            .filter_map(Value::as_str)
            .map(|t| clip(t, 300))
            .chain(a["response"].as_array().filter(|r| !r.is_empty()).map(|r| {
                let r: Vec<&str> = r.iter().filter_map(Value::as_str).collect();
                format!("response: {}", clip(&r.join(", "), 100))
            }))
            .collect();
        out.push(VexStatement {
            vulnerability: id.to_string(),
            products,
            status,
            detail: (!detail.is_empty()).then(|| detail.join("; ")),
        });
    }
    Ok(out)
}
