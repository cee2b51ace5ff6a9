//! Public keys the admission configuration's `verify` blocks take from Secrets (`{secret: NS/NAME/KEY}`): read
//! at start and every [`REFRESH`] (the configuration file too, so a new block's Secret is read without a
//! restart), and handed to the verifier as one map. A Secret that cannot be used is handed over as an error
//! naming it and what to do; the verifier then refuses the block (fails closed), never verifies without it.
//!
//! Who can write such a Secret can choose which images pass: keep signing keys in a namespace only cluster
//! admins write (the chart's `signatures.keySecrets` grants `get` on exactly the Secrets named, nothing more).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use portcullis_admission::Config;
use portcullis_admission::config::verify::MAX_KEY_SECRET_BYTES;
pub use portcullis_admission::config::verify::SecretRef;

/// How often the Secrets (and the configuration naming them) are read again.
pub const REFRESH: Duration = Duration::from_secs(30);
/// Deadline of one Secret read.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Receives every Secret key the configuration names, as just read (`Err`: why it cannot be used).
pub type KeySecretSink = Arc<dyn Fn(HashMap<SecretRef, Result<Vec<u8>, String>>) + Send + Sync>;

/// Reads the Secret keys `config` names every [`REFRESH`] and hands them to `sink`, until the runtime stops.
pub async fn run(client: kube::Client, config: Option<PathBuf>, sink: KeySecretSink) {
    let mut last: Option<Vec<SecretRef>> = None;
    loop {
        let refs = match config.as_deref().map(Config::load).transpose() {
            Ok(c) => c.map(|c| c.key_secrets()).unwrap_or_default(),
            Err(e) => {
                // The server refuses an unusable configuration too; keep what was read last.
                tracing::warn!(error = %e, "Secret keys not re-read: the admission configuration is unusable");
                last.clone().unwrap_or_default()
            }
        };
        sink(read_all(&client, &refs).await);
        last = Some(refs);
        tokio::time::sleep(REFRESH).await;
    }
}

/// Reads each Secret key once.
pub async fn read_all(
    client: &kube::Client,
    refs: &[SecretRef],
) -> HashMap<SecretRef, Result<Vec<u8>, String>> {
    let mut out = HashMap::new();
    for r in refs {
        let got = match tokio::time::timeout(READ_TIMEOUT, read_one(client, r)).await {
            Ok(got) => got,
            Err(_) => Err(format!(
                "reading it took longer than {} s; read again in {} s",
                READ_TIMEOUT.as_secs(),
                REFRESH.as_secs()
            )),
        };
        if let Err(e) = &got {
            tracing::warn!(secret = %format!("{}/{}", r.0, r.1), key = %r.2, error = %e, "a verify key Secret cannot be used; images under that block are refused until it can");
        }
        out.insert(r.clone(), got);
    }
    out
}

async fn read_one(client: &kube::Client, (ns, name, key): &SecretRef) -> Result<Vec<u8>, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let secret = match api.get_opt(name).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(format!(
                "Secret {ns}/{name} not found: create it (e.g. `kubectl create secret generic {name} -n {ns} --from-file={key}=cosign.pub`)"
            ));
        }
        Err(kube::Error::Api(e)) if e.code == 403 => {
            return Err(format!(
                "Portcullis may not read Secret {ns}/{name} (RBAC): grant it `get` on that Secret (Helm value \
                 signatures.keySecrets)"
            ));
        }
        Err(e) => return Err(format!("reading Secret {ns}/{name} failed: {e}")),
    };
    let data = secret.data.unwrap_or_default();
    match data.get(key) {
        Some(v) if v.0.len() > MAX_KEY_SECRET_BYTES => Err(format!(
            "Secret {ns}/{name} key {key:?} holds {} bytes, more than a public key may ({MAX_KEY_SECRET_BYTES}): give the PEM public key",
            v.0.len()
        )),
        Some(v) => Ok(v.0.clone()),
        None => Err(format!(
            "Secret {ns}/{name} has no data key {key:?}: name the key that holds the PEM public key"
        )),
    }
}
