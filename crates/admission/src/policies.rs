//! The ContainerAdmissionPolicies in force, shared between whoever keeps them current (a file, the Kubernetes
//! watcher) and the admission path, which reads a snapshot per request.

use std::path::Path;
use std::sync::{Arc, RwLock};

use std::collections::BTreeMap;

use portcullis_policy::cap::CapAction;
use portcullis_policy::{CapImage, CapSet, ScanStatus, SignatureStatus};

use crate::decide::{ImageDecision, PolicyRuleDecision};

/// A shared, atomically replaced [`CapSet`]. Cloning shares the same set.
#[derive(Debug, Clone, Default)]
pub struct AdmissionPolicies {
    inner: Arc<RwLock<Arc<CapSet>>>,
}

impl AdmissionPolicies {
    /// Policies starting with `set`.
    pub fn new(set: CapSet) -> Self {
        AdmissionPolicies {
            inner: Arc::new(RwLock::new(Arc::new(set))),
        }
    }

    /// Puts `set` in force for every later request.
    pub fn replace(&self, set: CapSet) {
        let set = Arc::new(set);
        match self.inner.write() {
            Ok(mut g) => *g = set,
            Err(p) => *p.into_inner() = set,
        }
    }

    /// The set in force now.
    pub fn current(&self) -> Arc<CapSet> {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// A ContainerAdmissionPolicy file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("ContainerAdmissionPolicy file {path}: {reason}")]
pub struct PoliciesFileError {
    /// The file.
    pub path: String,
    /// What is wrong (unreadable, or the policy crate's precise parse/validation error).
    pub reason: String,
}

/// Reads ContainerAdmissionPolicies from a YAML/JSON file (one or more documents, or a `List`). An empty file
/// is an error (it may be a rewrite caught half-way), not "no policies".
pub fn load_policies(path: &Path) -> Result<CapSet, PoliciesFileError> {
    let err = |reason: String| PoliciesFileError {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    if text.trim().is_empty() {
        return Err(err(
            "the file is empty; write `[]` to mean no policies".into()
        ));
    }
    CapSet::from_yaml(&text).map_err(|e| err(e.to_string()))
}

/// Lets the first matching ContainerAdmissionPolicy rule decide the image (see the crate documentation): Reject
/// denies in blocking modes (and warns in audit), Allow admits even what the mode would deny.
pub(crate) fn apply_admission_policies(
    policies: &CapSet,
    id: &mut ImageDecision,
    shown: &str,
    (ns_labels, obj_labels): (&BTreeMap<String, String>, &BTreeMap<String, String>),
    (status, last_scan, signature): (
        ScanStatus,
        Option<chrono::DateTime<chrono::Utc>>,
        SignatureStatus,
    ),
    blocking: bool,
) {
    let path = id.reference.as_deref().unwrap_or(&id.image);
    let image = CapImage {
        image: path,
        scan_status: status,
        last_scan,
        signature,
    };
    let Some(c) = policies.evaluate_image(ns_labels, obj_labels, &image, chrono::Utc::now()) else {
        return;
    };
    let allow = c.action == CapAction::Allow;
    id.admission_policy = Some(PolicyRuleDecision {
        policy: c.policy.clone(),
        rule: c.rule,
        allow,
    });
    if allow {
        id.denies = false;
        id.explanation = None;
    } else {
        let digest = id
            .digest
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        id.explanation = Some(format!(
            "image {shown}{digest} rejected by ContainerAdmissionPolicy \"{}\" rule {} (scan status {status:?})",
            c.policy, c.rule
        ));
        id.denies = blocking;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_is_seen_by_every_clone() {
        let a = AdmissionPolicies::default();
        let b = a.clone();
        assert!(b.current().is_empty());
        a.replace(
            CapSet::from_yaml("metadata: {name: x}\nspec: {rules: [{action: Reject}]}").unwrap(),
        );
        assert_eq!(b.current().len(), 1);
    }

    #[test]
    fn files_load_with_precise_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("caps.yaml");
        std::fs::write(&p, "").unwrap();
        let e = load_policies(&p).unwrap_err().to_string();
        assert!(e.contains("caps.yaml") && e.contains("empty"), "{e}");
        std::fs::write(&p, "[]").unwrap();
        assert!(load_policies(&p).unwrap().is_empty());
        std::fs::write(
            &p,
            "metadata: {name: bad}\nspec: {selector: \"app ==\", rules: []}\n",
        )
        .unwrap();
        let e = load_policies(&p).unwrap_err().to_string();
        assert!(e.contains("caps.yaml") && e.contains("bad"), "{e}");
        let e = load_policies(&dir.path().join("missing.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.yaml"), "{e}");
    }
}
