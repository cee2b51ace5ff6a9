//! Registry credentials of a workload: the Secrets named in its Pod spec's `imagePullSecrets` and in its
//! ServiceAccount's `imagePullSecrets` (what the kubelet would use), turned into
//! [`portcullis_image::Credential`]s for resolving and pulling its images.
//!
//! A missing, unreadable (RBAC: Portcullis may read Secrets only in watched namespaces) or malformed
//! Secret does not fail the lookup — like the kubelet, the remaining credentials are still used — but is
//! reported in [`PullCredentials::warnings`] with what to fix.

use k8s_openapi::api::core::v1::{PodSpec, Secret, ServiceAccount};
use kube::Api;
use portcullis_image::Credential;

/// Secret type of a `.dockerconfigjson` pull secret.
pub const DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// Secret type of a legacy `.dockercfg` pull secret.
pub const DOCKER_CFG: &str = "kubernetes.io/dockercfg";

/// Why a pull secret's contents could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PullSecretError {
    /// The Secret has a type that holds no registry credentials.
    #[error(
        "secret {secret} has type {found:?}; pull secrets must be of type {DOCKER_CONFIG_JSON} (or {DOCKER_CFG})"
    )]
    WrongType {
        /// `namespace/name`.
        secret: String,
        /// The type found.
        found: String,
    },
    /// The expected data key is absent.
    #[error("secret {secret} has no data key {key:?}")]
    MissingKey {
        /// `namespace/name`.
        secret: String,
        /// The key.
        key: String,
    },
    /// The data is not usable docker config JSON.
    #[error("secret {secret} key {key:?} holds no usable registry credentials: {reason}")]
    Invalid {
        /// `namespace/name`.
        secret: String,
        /// The key.
        key: String,
        /// What is wrong (from the image crate's parser).
        reason: String,
    },
}

/// Normalises a docker config registry key (`https://index.docker.io/v1/` → `docker.io`); the image crate's
/// rule, so credentials match the registries of parsed image references.
pub fn normalize_registry(key: &str) -> String {
    portcullis_image::auth::normalise_registry(key)
}

/// Parses docker config JSON (`.dockerconfigjson` with `auths`, or legacy `.dockercfg` without the wrapper)
/// with the image crate's parser. `secret` (`namespace/name`) and `key` are used in error messages.
pub fn parse_docker_config(
    data: &[u8],
    secret: &str,
    key: &str,
) -> Result<Vec<Credential>, PullSecretError> {
    let bad = |reason: String| PullSecretError::Invalid {
        secret: secret.into(),
        key: key.into(),
        reason,
    };
    let wrapped;
    let doc = if key == ".dockercfg" {
        let legacy: serde_json::Value =
            serde_json::from_slice(data).map_err(|e| bad(format!("not JSON: {e}")))?;
        wrapped = serde_json::to_vec(&serde_json::json!({ "auths": legacy }))
            .map_err(|e| bad(e.to_string()))?;
        &wrapped[..]
    } else {
        data
    };
    portcullis_image::auth::credentials_from_docker_config(
        doc,
        &format!("secret {secret} key {key}"),
    )
    .map_err(|e| bad(e.to_string()))
}

/// Extracts the credentials of one Secret object.
pub fn credentials_from_secret(secret: &Secret) -> Result<Vec<Credential>, PullSecretError> {
    let id = format!(
        "{}/{}",
        secret.metadata.namespace.as_deref().unwrap_or(""),
        secret.metadata.name.as_deref().unwrap_or("")
    );
    let ty = secret.type_.as_deref().unwrap_or("Opaque");
    let key = match ty {
        DOCKER_CONFIG_JSON => ".dockerconfigjson",
        DOCKER_CFG => ".dockercfg",
        other => {
            return Err(PullSecretError::WrongType {
                secret: id,
                found: other.into(),
            });
        }
    };
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|b| b.0.clone())
        .or_else(|| {
            secret
                .string_data
                .as_ref()
                .and_then(|d| d.get(key))
                .map(|s| s.clone().into_bytes())
        })
        .ok_or_else(|| PullSecretError::MissingKey {
            secret: id.clone(),
            key: key.into(),
        })?;
    parse_docker_config(&data, &id, key)
}

/// The credentials found for a workload, and every problem met on the way.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PullCredentials {
    /// Usable credentials, Pod secrets first, then the ServiceAccount's, in declaration order.
    pub credentials: Vec<Credential>,
    /// Secrets that were missing, unreadable or malformed (each says what to do).
    pub warnings: Vec<String>,
}

/// Reads the pull credentials of a Pod spec in `namespace`: its own `imagePullSecrets`, then those of
/// its ServiceAccount (`serviceAccountName`, default `default`). Only API failures other than
/// not-found/forbidden are errors.
pub async fn pod_pull_credentials(
    client: &kube::Client,
    namespace: &str,
    spec: &PodSpec,
) -> Result<PullCredentials, kube::Error> {
    let mut names: Vec<String> = spec
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .collect();
    let mut result = PullCredentials::default();
    let sa_name = spec
        .service_account_name
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    match sas.get_opt(&sa_name).await {
        Ok(Some(sa)) => names.extend(
            sa.image_pull_secrets
                .iter()
                .flatten()
                .map(|r| r.name.clone())
                .filter(|n| !n.is_empty()),
        ),
        Ok(None) => result.warnings.push(format!(
            "service account {namespace}/{sa_name} not found; only the Pod's own imagePullSecrets are used"
        )),
        Err(kube::Error::Api(e)) if e.code == 403 => result.warnings.push(format!(
            "not allowed to read service account {namespace}/{sa_name} ({}); grant Portcullis get on serviceaccounts",
            e.message
        )),
        Err(e) => return Err(e),
    }
    let mut seen = std::collections::HashSet::new();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for name in names {
        if !seen.insert(name.clone()) {
            continue;
        }
        match secrets.get_opt(&name).await {
            Ok(Some(secret)) => match credentials_from_secret(&secret) {
                Ok(creds) => result.credentials.extend(creds),
                Err(e) => result.warnings.push(e.to_string()),
            },
            Ok(None) => result.warnings.push(format!(
                "pull secret {namespace}/{name} not found; create it or remove it from imagePullSecrets"
            )),
            Err(kube::Error::Api(e)) if e.code == 403 => result.warnings.push(format!(
                "not allowed to read pull secret {namespace}/{name}: add {namespace} to the Helm value pullSecrets.namespaces"
            )),
            Err(e) => return Err(e),
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn parses_auth_and_username_password_forms() {
        let json = format!(
            r#"{{"auths":{{"127.0.0.1:5000":{{"auth":"{}"}},"https://index.docker.io/v1/":{{"username":"u","password":"p:w"}},"ghcr.io":{{"identitytoken":"tok"}}}}}}"#,
            b64("puller:pull:pw")
        );
        let creds = parse_docker_config(json.as_bytes(), "ns/s", ".dockerconfigjson").unwrap();
        let got: Vec<_> = creds
            .iter()
            .map(|c| {
                (
                    c.registry.as_str(),
                    c.username.as_str(),
                    c.password.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("127.0.0.1:5000", "puller", "pull:pw"),
                ("docker.io", "u", "p:w"),
            ]
        );
    }

    #[test]
    fn legacy_dockercfg_has_no_auths_wrapper() {
        let json = format!(r#"{{"quay.io":{{"auth":"{}"}}}}"#, b64("a:b"));
        let creds = parse_docker_config(json.as_bytes(), "ns/s", ".dockercfg").unwrap();
        assert_eq!(creds.len(), 1);
        assert_eq!(creds[0].registry, "quay.io");
    }

    #[test]
    fn bad_inputs_name_the_secret_and_problem() {
        let e = parse_docker_config(b"{not json", "team/regcred", ".dockerconfigjson").unwrap_err();
        assert!(matches!(e, PullSecretError::Invalid { .. }));
        assert!(e.to_string().contains("team/regcred"), "{e}");

        let e = parse_docker_config(
            br#"{"auths":{"r.io":{"auth":"!!!"}}}"#,
            "team/regcred",
            ".dockerconfigjson",
        )
        .unwrap_err();
        assert!(e.to_string().contains("not base64"), "{e}");

        let json = format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("nocolon"));
        let e =
            parse_docker_config(json.as_bytes(), "team/regcred", ".dockerconfigjson").unwrap_err();
        assert!(e.to_string().contains("no `:` found"), "{e}");
        assert!(e.to_string().contains("r.io"), "{e}");
    }

    #[test]
    fn secret_type_and_key_are_checked() {
        let mut s = Secret::default();
        s.metadata.namespace = Some("team".into());
        s.metadata.name = Some("opaque".into());
        s.type_ = Some("Opaque".into());
        let e = credentials_from_secret(&s).unwrap_err();
        assert!(matches!(e, PullSecretError::WrongType { .. }), "{e}");
        assert!(e.to_string().contains("team/opaque"));

        s.type_ = Some(DOCKER_CONFIG_JSON.into());
        let e = credentials_from_secret(&s).unwrap_err();
        assert!(matches!(e, PullSecretError::MissingKey { .. }), "{e}");

        let json = format!(r#"{{"auths":{{"r.io":{{"auth":"{}"}}}}}}"#, b64("x:y"));
        s.data = Some(BTreeMap::from([(
            ".dockerconfigjson".to_string(),
            ByteString(json.into_bytes()),
        )]));
        let creds = credentials_from_secret(&s).unwrap();
        assert_eq!(
            (creds[0].username.as_str(), creds[0].password.as_str()),
            ("x", "y")
        );
    }

    #[test]
    fn registry_keys_are_normalised() {
        assert_eq!(
            normalize_registry("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(
            normalize_registry("http://127.0.0.1:5000/v2/"),
            "127.0.0.1:5000"
        );
        assert_eq!(normalize_registry("Quay.IO"), "quay.io");
    }
}
