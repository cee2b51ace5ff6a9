//! Bounded fetches of small artifacts (signature manifests, their payload blobs, referrers indexes) through the
//! same [`Client`] as pulls: auth, scheme choice, retries and error mapping are shared.

use std::time::Duration;

use futures::StreamExt;
use oci_client::errors::OciDistributionError;

use crate::manifest;
use crate::registry::{Client, to_oci};
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
        let too_big = |n: u64| Error::Manifest {
            image: r.to_string(),
            reason: format!("blob {digest} is {n} bytes or more, more than the {max} allowed"),
        };
        let work = async {
            let client = self.client_for(r).await?;
            let oref = to_oci(r);
            client
                .store_auth_if_needed(oref.resolve_registry(), &self.auth_for(r))
                .await;
            let what = format!("blob {digest}");
            let mut stream = self
                .retry(|| async {
                    client
                        .pull_blob_stream(&oref, digest)
                        .await
                        .map_err(|e| self.map(r, &what, e))
                })
                .await?;
            if let Some(n) = stream.content_length.filter(|&n| n > max) {
                return Err(too_big(n));
            }
            let mut buf = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Error::Registry {
                    image: r.to_string(),
                    registry: r.registry.clone(),
                    reason: format!("{what}: {e}"),
                })?;
                if (buf.len() + chunk.len()) as u64 > max {
                    return Err(too_big((buf.len() + chunk.len()) as u64));
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(buf)
        };
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

    /// Lists the referrers of `r` (which must be pinned by digest) through the OCI 1.1 referrers API.
    pub async fn referrers(&self, r: &ImageRef) -> Result<Referrers, Error> {
        let client = self.client_for(r).await?;
        let oref = to_oci(r);
        client
            .store_auth_if_needed(oref.resolve_registry(), &self.auth_for(r))
            .await;
        let what = "referrers".to_string();
        let res = self
            .retry(|| async {
                match client.pull_referrers(&oref, None).await {
                    Ok(index) => Ok(Some(index)),
                    Err(OciDistributionError::ServerError { code: 404, .. }) => Ok(None),
                    Err(e) => match self.map(r, &what, e) {
                        (Error::NotFound { .. }, _) => Ok(None),
                        other => Err(other),
                    },
                }
            })
            .await?;
        Ok(match res {
            Some(index) => Referrers::Listed(
                index
                    .manifests
                    .into_iter()
                    .map(|m| Referrer {
                        digest: m.digest,
                        size: m.size,
                        media_type: m.media_type,
                    })
                    .collect(),
            ),
            None => Referrers::Unsupported,
        })
    }
}
