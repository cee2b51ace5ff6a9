//! Registry authentication: answering a `WWW-Authenticate` challenge (Basic with the registry's own
//! credentials, or a Bearer token from the challenge's realm, subject to the realm policy).

use reqwest::StatusCode;

use super::{Client, Failure};
use crate::transport::{self, classify};
use crate::{Error, ImageRef};

impl Client {
    /// Answers a `WWW-Authenticate` challenge: the `Authorization` value to retry with, `None` when there is
    /// nothing to retry with.
    pub(super) async fn authorize(
        &self,
        r: &ImageRef,
        challenge: Option<&str>,
    ) -> Result<Option<String>, Failure> {
        let cred = transport::credential(&self.opts, r);
        let Some(challenge) = challenge else {
            return Ok(None);
        };
        let Some((realm, service)) = bearer_challenge(challenge) else {
            // Basic (or unknown): the registry's own credentials, to the registry itself.
            return Ok(cred.map(|c| {
                use base64::Engine as _;
                let pair = format!("{}:{}", c.username, c.password);
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }));
        };
        let refuse = |reason: String| {
            (
                Error::Registry {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    reason,
                },
                false,
            )
        };
        let url = reqwest::Url::parse(&realm)
            .map_err(|_| refuse("the token realm in WWW-Authenticate is not a URL".into()))?;
        let send_creds = transport::realm_policy(&self.opts, r, &url).map_err(refuse)?;
        let mut query = vec![("scope", format!("repository:{}:pull", r.repository))];
        if let Some(s) = service {
            query.push(("service", s));
        }
        let mut req = self.http.get(url.clone()).query(&query);
        match cred {
            Some(c) if send_creds => req = req.basic_auth(&c.username, Some(&c.password)),
            Some(_) => tracing::warn!(
                image = %r, realm = %transport::authority(&url),
                "credentials withheld from a token realm on another host; allowlist the realm to send them"
            ),
            None => {}
        }
        let answer = req
            .send()
            .await
            .map_err(|e| self.transport_error(r, "token realm", &e))?;
        let status = answer.status();
        if status == StatusCode::FORBIDDEN {
            return Err((
                Error::Auth {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    status: 403,
                    hint: denied_hint(r, cred.map(|c| c.username.as_str())),
                },
                false,
            ));
        }
        if status == StatusCode::UNAUTHORIZED {
            return Err(self.status_error(r, "token", &answer));
        }
        if !status.is_success() {
            let (reason, transient) = classify(status.as_u16());
            return Err((
                Error::Registry {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    reason: format!("token realm {}: {reason}", transport::authority(&url)),
                },
                transient,
            ));
        }
        let body = transport::read_limited(answer, self.opts.max_document_bytes)
            .await
            .map_err(|e| refuse(format!("token realm: {e}")))?;
        let token = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str().map(str::to_string))
            })
            .ok_or_else(|| refuse("token realm answered without a token".into()))?;
        Ok(Some(format!("Bearer {token}")))
    }
}

/// The advice for a 403: who was denied what, where.
pub(super) fn denied_hint(r: &ImageRef, user: Option<&str>) -> String {
    match user {
        Some(u) => format!(
            "access to {} denied for user {u} at {}: check the credentials' permissions",
            r.repository, r.registry
        ),
        None => format!(
            "access to {} denied for anonymous pulls at {}: give credentials with pull permission",
            r.repository, r.registry
        ),
    }
}

/// `(realm, service)` of the Bearer challenge in a `WWW-Authenticate` header, when there is one.
fn bearer_challenge(header: &str) -> Option<(String, Option<String>)> {
    let challenges = http_auth::parse_challenges(header).ok()?;
    let bearer = challenges
        .iter()
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))?;
    let param = |name: &str| {
        bearer
            .params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_unescaped())
    };
    Some((param("realm")?, param("service")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_parsed_and_others_ignored() {
        assert_eq!(
            bearer_challenge(
                r#"Bearer realm="http://127.0.0.1:9/token",service="reg",scope="repository:a:pull""#
            ),
            Some(("http://127.0.0.1:9/token".into(), Some("reg".into())))
        );
        assert_eq!(bearer_challenge(r#"Basic realm="portcullis-test""#), None);
        assert_eq!(bearer_challenge("Bearer service=\"no-realm\""), None);
        assert_eq!(bearer_challenge("not a challenge \u{1}"), None);
    }
}
