//! Offline input for `portcullis admit`: an AdmissionReview as the API server sends it, or Kubernetes manifests
//! (YAML or JSON, several documents, `List`s) turned into the CREATE reviews the API server would send.

use serde_json::{Value, json};

use crate::review::{Review, ReviewError};

/// Why the input cannot be decided.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// An AdmissionReview that does not parse.
    #[error("{origin}: {cause}")]
    Review {
        /// Input name.
        origin: String,
        /// Cause (shown in the message, so not also chained as a source).
        cause: ReviewError,
    },
    /// YAML/JSON that does not parse.
    #[error("{origin}: not valid YAML/JSON: {reason}")]
    Syntax {
        /// Input name.
        origin: String,
        /// Parser message with position.
        reason: String,
    },
    /// A document that is not a Kubernetes object.
    #[error("{origin}: document {index}: {reason}")]
    Document {
        /// Input name.
        origin: String,
        /// Document number (1-based).
        index: usize,
        /// What is missing.
        reason: String,
    },
    /// Nothing to decide.
    #[error("{origin}: no AdmissionReview and no Kubernetes object found")]
    Empty {
        /// Input name.
        origin: String,
    },
}

/// The raw AdmissionReview body plus the parsed review, for each object of the input.
#[derive(Debug, Clone)]
pub struct Input {
    /// Parsed review.
    pub review: Review,
    /// A name for messages (`file`, or `file#2 Deployment/api`).
    pub label: String,
}

fn group_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

fn plural(kind: &str) -> String {
    let l = kind.to_ascii_lowercase();
    if l.ends_with('s') {
        format!("{l}es")
    } else {
        format!("{l}s")
    }
}

/// Wraps one object into the CREATE AdmissionReview (`admission.k8s.io/v1`) the API server would send.
pub fn review_for_object(
    obj: &Value,
    index: usize,
    default_namespace: &str,
) -> Result<Value, String> {
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("no \"kind\"")?;
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or("no \"apiVersion\"")?;
    let (group, version) = group_version(api_version);
    let meta = obj.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let namespace = meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or(default_namespace);
    Ok(json!({
        "kind": "AdmissionReview",
        "apiVersion": "admission.k8s.io/v1",
        "request": {
            "uid": format!("portcullis-admit-{index}"),
            "kind": { "group": group, "version": version, "kind": kind },
            "resource": { "group": group, "version": version, "resource": plural(kind) },
            "name": name,
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": { "username": "portcullis-admit" },
            "object": obj,
            "dryRun": true
        }
    }))
}

/// Reads `text` (named `origin` in errors): an AdmissionReview (JSON) or manifests.
pub fn read_input(
    text: &str,
    origin: &str,
    default_namespace: &str,
) -> Result<Vec<Input>, InputError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        // JSON: report JSON syntax errors as such (YAML would accept and misreport many of them).
        if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
            return Err(InputError::Syntax {
                origin: origin.to_string(),
                reason: e.to_string(),
            });
        }
    }
    // Anything in the admission.k8s.io group is read as a review, so that a wrong kind or version gets the
    // review parser's precise error instead of being decided as an unknown manifest kind.
    if trimmed.starts_with('{')
        && (text.contains("\"AdmissionReview\"") || text.contains("\"admission.k8s.io/"))
    {
        let review = Review::parse(text.as_bytes()).map_err(|cause| InputError::Review {
            origin: origin.to_string(),
            cause,
        })?;
        return Ok(vec![Input {
            review,
            label: origin.to_string(),
        }]);
    }
    let mut objects = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let v: Value = serde::Deserialize::deserialize(doc).map_err(|e| InputError::Syntax {
            origin: origin.to_string(),
            reason: e.to_string(),
        })?;
        match v {
            Value::Null => continue,
            Value::Object(ref m)
                if m.get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List")) =>
            {
                for item in m
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    objects.push((i + 1, item));
                }
            }
            Value::Object(_) => objects.push((i + 1, v)),
            _ => {
                return Err(InputError::Document {
                    origin: origin.to_string(),
                    index: i + 1,
                    reason: "not a mapping; expected a Kubernetes object with apiVersion and kind"
                        .into(),
                });
            }
        }
    }
    if objects.is_empty() {
        return Err(InputError::Empty {
            origin: origin.to_string(),
        });
    }
    let mut out = Vec::new();
    for (n, (doc, obj)) in objects.into_iter().enumerate() {
        let err = |reason: String| InputError::Document {
            origin: origin.to_string(),
            index: doc,
            reason,
        };
        if obj.get("kind").and_then(Value::as_str) == Some("AdmissionReview") {
            let review = Review::parse(&serde_json::to_vec(&obj).unwrap_or_default())
                .map_err(|e| err(e.to_string()))?;
            out.push(Input {
                review,
                label: format!("{origin}#{doc}"),
            });
            continue;
        }
        let r =
            review_for_object(&obj, n + 1, default_namespace).map_err(|e| err(e.to_string()))?;
        let review = Review::parse(&serde_json::to_vec(&r).unwrap_or_default())
            .map_err(|e| err(e.to_string()))?;
        out.push(Input {
            label: format!("{origin}#{doc} {}", review.describe()),
            review,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_become_reviews() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: 'nginx:1.25'}]\n---\napiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: Pod, metadata: {name: p, namespace: x}, spec: {containers: [{name: b, image: busybox}]}}\n";
        let ins = read_input(text, "m.yaml", "dev").unwrap();
        assert_eq!(ins.len(), 2);
        assert_eq!(ins[0].review.request.kind.group, "apps");
        assert_eq!(ins[0].review.namespace(), "dev");
        assert_eq!(ins[1].review.namespace(), "x");
        assert!(ins[1].label.contains("Pod x/p"), "{}", ins[1].label);
    }

    #[test]
    fn errors_name_the_document() {
        let e = read_input("a: [", "m.yaml", "d").unwrap_err();
        assert!(
            e.to_string().starts_with("m.yaml: not valid YAML/JSON"),
            "{e}"
        );
        let e = read_input("---\nkind: Pod\n", "m.yaml", "d").unwrap_err();
        assert_eq!(e.to_string(), "m.yaml: document 1: no \"apiVersion\"");
        let e = read_input("{\"kind\":", "r.json", "d").unwrap_err();
        assert_eq!(
            e.to_string(),
            "r.json: not valid YAML/JSON: EOF while parsing a value at line 1 column 8"
        );
        let e = read_input("- 1\n", "m.yaml", "d").unwrap_err();
        assert!(e.to_string().contains("document 1: not a mapping"), "{e}");
        let e = read_input("", "m.yaml", "d").unwrap_err();
        assert!(matches!(e, InputError::Empty { .. }));
        let e = read_input(
            r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"operation":"CREATE"}}"#,
            "r.json",
            "d",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("r.json: AdmissionReview.request has no \"uid\""),
            "{e}"
        );
    }
}
