//! Registry credentials: docker `config.json`, Kubernetes `.dockerconfigjson` / `.dockercfg` pull secrets.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use crate::{Credential, Error};

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct DockerConfig {
    auths: Option<BTreeMap<String, AuthEntry>>,
    creds_store: Option<String>,
    cred_helpers: Option<BTreeMap<String, String>>,
}

/// Normalises a registry key as docker config files write it (`https://index.docker.io/v1/` → `docker.io`,
/// `https://quay.io` → `quay.io`).
pub fn normalise_registry(key: &str) -> String {
    let k = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".into()
        }
        _ => host,
    }
}

fn entry_to_credential(
    origin: &str,
    key: &str,
    e: &AuthEntry,
) -> Result<Option<Credential>, Error> {
    let bad = |reason: String| Error::Credentials {
        origin: origin.to_string(),
        reason,
    };
    let registry = normalise_registry(key);
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        return Ok(Some(Credential {
            registry,
            username: u.clone(),
            password: p.clone(),
        }));
    }
    if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .map_err(|err| bad(format!("`auths.\"{key}\".auth` is not base64: {err}")))?;
        let s = String::from_utf8(decoded).map_err(|_| {
            bad(format!(
                "`auths.\"{key}\".auth` does not decode to UTF-8 text"
            ))
        })?;
        let (u, p) = s.split_once(':').ok_or_else(|| {
            bad(format!(
                "`auths.\"{key}\".auth` must be base64 of `username:password` (no `:` found)"
            ))
        })?;
        return Ok(Some(Credential {
            registry,
            username: u.to_string(),
            password: p.to_string(),
        }));
    }
    if e.identitytoken.is_some() {
        tracing::warn!(
            origin,
            registry = key,
            "identity tokens (docker login with OAuth) are not supported; entry ignored"
        );
        return Ok(None);
    }
    Err(bad(format!(
        "`auths.\"{key}\"` has neither `auth` nor `username`+`password`"
    )))
}

/// Parses a docker `config.json` (`{"auths": {...}}`). `origin` names the file in errors. Credential helpers
/// (`credsStore`, `credHelpers`) cannot be run here; they are reported in the log and skipped.
pub fn credentials_from_docker_config(json: &[u8], origin: &str) -> Result<Vec<Credential>, Error> {
    let cfg: DockerConfig = serde_json::from_slice(json).map_err(|e| Error::Credentials {
        origin: origin.to_string(),
        reason: format!("not a docker config.json: {e}"),
    })?;
    if let Some(s) = &cfg.creds_store {
        tracing::warn!(
            origin,
            store = s,
            "credential store helpers are not supported; use `auths` entries"
        );
    }
    if let Some(h) = &cfg.cred_helpers
        && !h.is_empty()
    {
        tracing::warn!(
            origin,
            "credential helpers are not supported; use `auths` entries"
        );
    }
    let mut out = Vec::new();
    for (k, e) in cfg.auths.unwrap_or_default() {
        if let Some(c) = entry_to_credential(origin, &k, &e)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Reads a docker `config.json` file.
pub fn credentials_from_docker_config_file(path: &Path) -> Result<Vec<Credential>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read docker config", path, e))?;
    credentials_from_docker_config(&bytes, &path.display().to_string())
}

/// The user's docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`); no credentials when
/// the file does not exist.
pub fn credentials_from_default_docker_config() -> Result<Vec<Credential>, Error> {
    let path = match std::env::var_os("DOCKER_CONFIG") {
        Some(d) => std::path::PathBuf::from(d).join("config.json"),
        None => match dirs::home_dir() {
            Some(h) => h.join(".docker/config.json"),
            None => return Ok(Vec::new()),
        },
    };
    if !path.exists() {
        return Ok(Vec::new());
    }
    credentials_from_docker_config_file(&path)
}

impl Credential {
    /// A credential from a command-line flag value `USER:PASSWORD` for `registry`.
    pub fn from_flag(registry: &str, user_password: &str) -> Result<Credential, Error> {
        match user_password.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credential {
                registry: normalise_registry(registry),
                username: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(Error::Credentials {
                origin: "command line".into(),
                reason: format!("credentials for {registry} must be `USER:PASSWORD`"),
            }),
        }
    }
}

#[derive(Deserialize)]
struct Secret {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, String>,
    #[serde(default, rename = "stringData")]
    string_data: BTreeMap<String, String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// Parses a Kubernetes image pull secret: a `Secret` object (JSON) of type `kubernetes.io/dockerconfigjson`
/// (key `.dockerconfigjson`) or `kubernetes.io/dockercfg` (key `.dockercfg`), or the decoded
/// `.dockerconfigjson` document itself.
pub fn credentials_from_dockerconfigjson(
    bytes: &[u8],
    origin: &str,
) -> Result<Vec<Credential>, Error> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| Error::Credentials {
        origin: origin.to_string(),
        reason: format!("not JSON: {e}"),
    })?;
    if v.get("auths").is_some() {
        return credentials_from_docker_config(bytes, origin);
    }
    let bad = |reason: String| Error::Credentials {
        origin: origin.to_string(),
        reason,
    };
    if v.get("kind").and_then(|k| k.as_str()) != Some("Secret") {
        return Err(bad(
            "expected a Kubernetes Secret or a `.dockerconfigjson` document with `auths`".into(),
        ));
    }
    let s: Secret = serde_json::from_value(v).map_err(|e| bad(format!("malformed Secret: {e}")))?;
    let name = s
        .metadata
        .as_ref()
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("(unnamed)");
    let origin = format!("{origin} (secret {name})");
    let get = |key: &str| -> Result<Option<Vec<u8>>, Error> {
        if let Some(d) = s.data.get(key) {
            return base64::engine::general_purpose::STANDARD
                .decode(d.trim())
                .map(Some)
                .map_err(|e| Error::Credentials {
                    origin: origin.clone(),
                    reason: format!("`data.{key}` is not base64: {e}"),
                });
        }
        Ok(s.string_data.get(key).map(|d| d.as_bytes().to_vec()))
    };
    match s.kind.as_deref() {
        Some("kubernetes.io/dockerconfigjson") | None => match get(".dockerconfigjson")? {
            Some(doc) => credentials_from_docker_config(&doc, &origin),
            None => Err(Error::Credentials {
                origin,
                reason: "the secret has no `.dockerconfigjson` key".into(),
            }),
        },
        Some("kubernetes.io/dockercfg") => {
            let doc = get(".dockercfg")?.ok_or_else(|| Error::Credentials {
                origin: origin.clone(),
                reason: "the secret has no `.dockercfg` key".into(),
            })?;
            // The legacy format is the `auths` map without the wrapper.
            let map: BTreeMap<String, AuthEntry> =
                serde_json::from_slice(&doc).map_err(|e| Error::Credentials {
                    origin: origin.clone(),
                    reason: format!("`.dockercfg` is not a registry map: {e}"),
                })?;
            let mut out = Vec::new();
            for (k, e) in map {
                if let Some(c) = entry_to_credential(&origin, &k, &e)? {
                    out.push(c);
                }
            }
            Ok(out)
        }
        Some(t) => Err(Error::Credentials {
            origin,
            reason: format!(
                "secret type `{t}` is not an image pull secret (want kubernetes.io/dockerconfigjson)"
            ),
        }),
    }
}

/// The credential for `registry` (as in [`crate::ImageRef::registry`]), if any.
pub fn credential_for<'a>(registry: &str, creds: &'a [Credential]) -> Option<&'a Credential> {
    let want = normalise_registry(registry);
    creds
        .iter()
        .find(|c| normalise_registry(&c.registry) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn docker_config_entries() {
        let cfg = format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{}"}},
                 "127.0.0.1:5000": {{"username": "u", "password": "p:w"}},
                 "ghcr.io": {{"identitytoken": "x"}}}}, "credsStore": "desktop"}}"#,
            b64("hub:secret:with:colons")
        );
        let c = credentials_from_docker_config(cfg.as_bytes(), "config.json").unwrap();
        assert_eq!(c.len(), 2);
        let hub = credential_for("docker.io", &c).unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("hub", "secret:with:colons")
        );
        let local = credential_for("127.0.0.1:5000", &c).unwrap();
        assert_eq!(local.password, "p:w");
        assert!(credential_for("quay.io", &c).is_none());
        assert!(
            !format!("{hub:?}").contains("secret"),
            "Debug redacts passwords"
        );
    }

    #[test]
    fn bad_docker_configs_say_where() {
        let e = credentials_from_docker_config(b"{", "/x/config.json")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("/x/config.json") && e.contains("not a docker config.json"),
            "{e}"
        );
        let e = credentials_from_docker_config(br#"{"auths":{"r.io":{"auth":"%%%"}}}"#, "c")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(r#"auths."r.io".auth"#) && e.contains("base64"),
            "{e}"
        );
        let cfg = format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("nocolon"));
        let e = credentials_from_docker_config(cfg.as_bytes(), "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no `:` found"), "{e}");
        let e = credentials_from_docker_config(br#"{"auths":{"r.io":{}}}"#, "c")
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither"), "{e}");
    }

    #[test]
    fn flags_and_default_config() {
        let c = Credential::from_flag("https://index.docker.io/v1/", "me:p:w").unwrap();
        assert_eq!(
            (
                c.registry.as_str(),
                c.username.as_str(),
                c.password.as_str()
            ),
            ("docker.io", "me", "p:w")
        );
        let e = Credential::from_flag("r.io", "nopassword")
            .unwrap_err()
            .to_string();
        assert!(e.contains("USER:PASSWORD") && e.contains("r.io"), "{e}");
        let e = Credential::from_flag("r.io", ":pw")
            .unwrap_err()
            .to_string();
        assert!(e.contains("USER:PASSWORD"), "{e}");
    }

    #[test]
    fn kubernetes_pull_secrets() {
        // The pull secret of the captured AdmissionReview fixtures uses this shape.
        let doc = format!(
            r#"{{"auths":{{"127.0.0.1:5000":{{"username":"puller","password":"pullpw","auth":"{}"}}}}}}"#,
            b64("puller:pullpw")
        );
        let secret = format!(
            r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"regcred"}},"type":"kubernetes.io/dockerconfigjson","data":{{".dockerconfigjson":"{}"}}}}"#,
            b64(&doc)
        );
        let c = credentials_from_dockerconfigjson(secret.as_bytes(), "pod").unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].registry.as_str(), c[0].username.as_str()),
            ("127.0.0.1:5000", "puller")
        );
        let c = credentials_from_dockerconfigjson(doc.as_bytes(), "raw").unwrap();
        assert_eq!(c[0].password, "pullpw");
        let legacy = format!(
            r#"{{"kind":"Secret","type":"kubernetes.io/dockercfg","data":{{".dockercfg":"{}"}}}}"#,
            b64(&format!(r#"{{"quay.io":{{"auth":"{}"}}}}"#, b64("a:b")))
        );
        let c = credentials_from_dockerconfigjson(legacy.as_bytes(), "legacy").unwrap();
        assert_eq!(c[0].registry, "quay.io");

        let e = credentials_from_dockerconfigjson(
            br#"{"kind":"Secret","type":"Opaque","metadata":{"name":"s"},"data":{}}"#,
            "ns/s",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("secret s") && e.contains("not an image pull secret"),
            "{e}"
        );
        let e = credentials_from_dockerconfigjson(
            br#"{"kind":"Secret","type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"!!"}}"#,
            "x",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not base64"), "{e}");
    }
}
