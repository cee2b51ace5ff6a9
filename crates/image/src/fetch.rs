//! Bounded fetches of small artifacts (signature manifests, their payload blobs, referrers indexes) through the
//! same [`Client`] as pulls: auth, scheme choice, retries and error mapping are shared.

use std::time::Duration;

use reqwest::{Method, StatusCode};

use crate::manifest;
use crate::registry::Client;
use crate::transport;
use crate::{Error, ImageRef};

/// What a referrers query found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Referrers {
    /// The registry serves the OCI 1.1 referrers API; these are the manifests it listed.
    Listed(Vec<Referrer>),
    /// The registry does not serve the referrers API (404 on `/v2/<name>/referrers/<digest>`).
    Unsupported,
}

/// One manifest listed by the referrers API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// Its digest.
    pub digest: String,
    /// Its declared size in bytes.
    pub size: i64,
    /// Its media type.
    pub media_type: String,
}

impl Client {
    /// Fetches the manifest `r` names (by tag or digest) and refuses one larger than `max` bytes; checks its
    /// digest against the pinned digest when there is one. Returns the bytes and their `sha256:` digest.
    pub async fn fetch_manifest_bounded(
        &self,
        r: &ImageRef,
        max: usize,
    ) -> Result<(Vec<u8>, String), Error> {
        let (bytes, digest) = self.manifest(r).await?;
        if bytes.len() > max {
            return Err(Error::Manifest {
                image: r.to_string(),
                reason: format!(
                    "manifest {} is {} bytes, more than the {max} allowed",
                    r.tag_or_digest(),
                    bytes.len()
                ),
            });
        }
        Ok((bytes, digest))
    }

    /// Fetches blob `digest` of `r`'s repository into memory, refusing it as soon as it passes `max` bytes
    /// (whatever its descriptor or `Content-Length` claimed) and giving up after `deadline`; checks its digest.
    pub async fn fetch_blob_bounded(
        &self,
        r: &ImageRef,
        digest: &str,
        max: u64,
        deadline: Duration,
    ) -> Result<Vec<u8>, Error> {
        manifest::check_digest(&r.to_string(), digest)?;
        let what = format!("blob {digest}");
        let path = format!("/v2/{}/blobs/{digest}", r.repository);
        let work = self.retry(|| async {
            let resp = self.send(r, Method::GET, &path, &what).await?;
            if !resp.status().is_success() {
                return Err(self.status_error(r, &what, &resp));
            }
            transport::read_limited(resp, max).await.map_err(|_| {
                (
                    Error::Manifest {
                        image: r.to_string(),
                        reason: format!(
                            "blob {digest} is too large: more than the {max} allowed bytes"
                        ),
                    },
                    false,
                )
            })
        });
        let bytes =
            tokio::time::timeout(deadline, work)
                .await
                .map_err(|_| Error::Unreachable {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    reason: format!("blob {digest} was not received within {deadline:?}"),
                })??;
        let actual = manifest::sha256(&bytes);
        if actual != digest {
            return Err(Error::DigestMismatch {
                image: r.to_string(),
                what: format!("blob {digest}"),
                expected: digest.into(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// Lists the referrers of `r` (which must be pinned by digest) through the OCI 1.1 referrers API; the index
    /// is read within the document limit (`max_document_bytes`).
    pub async fn referrers(&self, r: &ImageRef) -> Result<Referrers, Error> {
        let Some(digest) = r.digest.as_deref() else {
            return Err(Error::Manifest {
                image: r.to_string(),
                reason: "referrers can only be listed for a reference pinned by digest".into(),
            });
        };
        manifest::check_digest(&r.to_string(), digest)?;
        let what = "referrers".to_string();
        let path = format!("/v2/{}/referrers/{digest}", r.repository);
        let max = self.opts.max_document_bytes;
        let body = self
            .retry(|| async {
                let resp = self.send(r, Method::GET, &path, &what).await?;
                if resp.status() == StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !resp.status().is_success() {
                    return Err(self.status_error(r, &what, &resp));
                }
                let body = transport::read_limited(resp, max).await.map_err(|e| {
                    (
                        Error::Manifest {
                            image: r.to_string(),
                            reason: format!("{what}: {e}"),
                        },
                        false,
                    )
                })?;
                Ok(Some(body))
            })
            .await?;
        let Some(body) = body else {
            return Ok(Referrers::Unsupported);
        };
        #[derive(serde::Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<Descriptor>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Descriptor {
            digest: String,
            #[serde(default)]
            size: i64,
            #[serde(default)]
            media_type: String,
        }
        let index: Index = serde_json::from_slice(&body).map_err(|e| Error::Manifest {
            image: r.to_string(),
            reason: format!("the referrers index is not an OCI image index: {e}"),
        })?;
        Ok(Referrers::Listed(
            index
                .manifests
                .into_iter()
                .map(|m| Referrer {
                    digest: m.digest,
                    size: m.size,
                    media_type: m.media_type,
                })
                .collect(),
        ))
    }
}
