//! Public keys kept in Kubernetes Secrets (`verify: {keys: [{secret: NS/NAME/KEY}]}`), as the Kubernetes
//! integration last read them ([`KeySecrets::replace`]). The verifier builds its keys from here and the
//! signature cache keys its facts by their contents, so rotating a Secret's key makes every image verified
//! again. Without the integration (no `--kube-config`) nothing fills it and a block naming a Secret fails
//! closed, naming the Secret and what to do.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use portcullis_admission::config::verify::{Key, SecretRef};
use sha2::Digest as _;

#[derive(Default)]
struct State {
    /// Whether anything fills this (the Kubernetes integration runs).
    enabled: bool,
    /// Whether the first read finished.
    loaded: bool,
    /// The PEM bytes of each Secret key named by the admission configuration, or why it could not be read.
    keys: HashMap<SecretRef, Result<Arc<Vec<u8>>, String>>,
}

/// The public keys of Secrets, shared by the verifier, the signature cache and the Kubernetes integration.
#[derive(Clone, Default)]
pub struct KeySecrets(Arc<RwLock<State>>);

impl std::fmt::Debug for KeySecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0.read().unwrap_or_else(|p| p.into_inner());
        f.debug_struct("KeySecrets")
            .field("enabled", &s.enabled)
            .field("loaded", &s.loaded)
            .field("keys", &s.keys.len())
            .finish()
    }
}

impl KeySecrets {
    /// Marks that the Kubernetes integration fills this (until its first read, Secret keys are "not read yet").
    pub fn enable(&self) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).enabled = true;
    }

    /// Replaces every Secret key with what was just read (`Err`: why a Secret could not be used).
    pub fn replace(&self, keys: HashMap<SecretRef, Result<Vec<u8>, String>>) {
        let mut s = self.0.write().unwrap_or_else(|p| p.into_inner());
        s.enabled = true;
        s.loaded = true;
        s.keys = keys
            .into_iter()
            .map(|(k, v)| (k, v.map(Arc::new)))
            .collect();
    }

    /// The PEM bytes of Secret key `k`, or a message naming it and what to do.
    pub fn pem(&self, k: &Key) -> Result<Arc<Vec<u8>>, String> {
        let Some(r) = k.secret_ref() else {
            return Err(format!("{k}: not a Secret key"));
        };
        let s = self.0.read().unwrap_or_else(|p| p.into_inner());
        if !s.enabled {
            return Err(format!(
                "{k}: keys from Secrets are read through the Kubernetes integration, which is off \
                 (start serve with --kube-config), or mount the Secret and give the file path"
            ));
        }
        if !s.loaded {
            return Err(format!(
                "{k}: not read from the API server yet; verified again shortly"
            ));
        }
        match s.keys.get(&r) {
            Some(Ok(pem)) => Ok(pem.clone()),
            Some(Err(e)) => Err(format!("{k}: {e}")),
            None => Err(format!(
                "{k}: not read yet (the admission configuration changed); verified again shortly"
            )),
        }
    }

    /// A fingerprint of Secret key `k`'s contents (SHA-256 hex), or a word for its state.
    pub fn fingerprint(&self, k: &Key) -> String {
        match self.pem(k) {
            Ok(pem) => hex::encode(sha2::Sha256::digest(pem.as_slice())),
            Err(_) => "unavailable".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        Key::Secret {
            namespace: "portcullis".into(),
            name: "ci-key".into(),
            key: "cosign.pub".into(),
        }
    }

    #[test]
    fn secret_keys_fail_closed_until_read_and_name_the_secret() {
        let ks = KeySecrets::default();
        let e = ks.pem(&key()).unwrap_err();
        assert!(e.contains("--kube-config"), "{e}");
        ks.enable();
        let e = ks.pem(&key()).unwrap_err();
        assert_eq!(
            e,
            "secret portcullis/ci-key/cosign.pub: not read from the API server yet; verified again shortly"
        );
        let before = ks.fingerprint(&key());
        let r = (
            "portcullis".to_string(),
            "ci-key".to_string(),
            "cosign.pub".to_string(),
        );
        ks.replace(HashMap::from([(r.clone(), Err("Secret not found".into()))]));
        assert_eq!(
            ks.pem(&key()).unwrap_err(),
            "secret portcullis/ci-key/cosign.pub: Secret not found"
        );
        ks.replace(HashMap::from([(r.clone(), Ok(b"pem-a".to_vec()))]));
        let a = ks.fingerprint(&key());
        ks.replace(HashMap::from([(r, Ok(b"pem-b".to_vec()))]));
        let b = ks.fingerprint(&key());
        assert_ne!(a, before);
        assert_ne!(a, b, "a rotated key changes the fingerprint");
    }
}
