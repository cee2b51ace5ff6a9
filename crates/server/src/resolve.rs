//! Tag → digest resolution for the webhook: a short-TTL cache with one registry request in flight per reference
//! (single flight). Lookups run as their own tasks, so a request that stops waiting at its deadline does not
//! cancel the lookup; the next request finds the answer cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use portcullis_image::ImageRef;

/// Why a registry lookup gave no digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// The registry answered 404: it has no such repository, tag or digest.
    NotFound(String),
    /// Anything else (unreachable, refused, a malformed answer), with its message.
    Failed(String),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::NotFound(m) | ResolveError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<portcullis_image::Error> for ResolveError {
    fn from(e: portcullis_image::Error) -> Self {
        match e {
            portcullis_image::Error::NotFound { .. } => ResolveError::NotFound(e.to_string()),
            other => ResolveError::Failed(other.to_string()),
        }
    }
}

/// The function that asks a registry for the digest of a reference.
pub type ResolveFn =
    Arc<dyn Fn(ImageRef) -> BoxFuture<'static, Result<String, ResolveError>> + Send + Sync>;

type Pending = Shared<BoxFuture<'static, Result<String, ResolveError>>>;

enum Slot {
    Ready {
        result: Result<String, ResolveError>,
        at: Instant,
    },
    Pending(Pending),
}

struct Inner {
    ttl: Duration,
    negative_ttl: Duration,
    slots: Mutex<HashMap<String, Slot>>,
    resolve: ResolveFn,
    latency: std::sync::OnceLock<prometheus_client::metrics::histogram::Histogram>,
}

/// The digest cache.
#[derive(Clone)]
pub struct DigestResolver {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DigestResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestResolver")
            .field("ttl", &self.inner.ttl)
            .field("negative_ttl", &self.inner.negative_ttl)
            .finish()
    }
}

fn key(r: &ImageRef) -> String {
    format!(
        "{}/{}:{}",
        r.registry,
        r.repository,
        r.tag.as_deref().unwrap_or("latest")
    )
}

impl DigestResolver {
    /// A resolver caching answers for `ttl` and failures for `negative_ttl`.
    pub fn new(resolve: ResolveFn, ttl: Duration, negative_ttl: Duration) -> Self {
        DigestResolver {
            inner: Arc::new(Inner {
                ttl,
                negative_ttl,
                slots: Mutex::new(HashMap::new()),
                resolve,
                latency: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The resolver that asks registries through `portcullis_image::resolve_digest`.
    pub fn registry(
        opts: portcullis_image::PullOptions,
        ttl: Duration,
        negative_ttl: Duration,
    ) -> Self {
        let opts = Arc::new(opts);
        let f: ResolveFn = Arc::new(move |r: ImageRef| {
            let opts = opts.clone();
            async move {
                portcullis_image::resolve_digest(&r, &opts)
                    .await
                    .map_err(ResolveError::from)
            }
            .boxed()
        });
        DigestResolver::new(f, ttl, negative_ttl)
    }

    /// Records how long each registry lookup takes in `histogram` (the first histogram given stays).
    pub fn observe_latency(&self, histogram: prometheus_client::metrics::histogram::Histogram) {
        let _ = self.inner.latency.set(histogram);
    }

    /// A cached digest, without waiting.
    pub fn cached(&self, r: &ImageRef) -> Option<String> {
        let slots = self.inner.slots.lock().ok()?;
        match slots.get(&key(r)) {
            Some(Slot::Ready { result: Ok(d), at }) if at.elapsed() < self.inner.ttl => {
                Some(d.clone())
            }
            _ => None,
        }
    }

    /// Whether the registry's latest answer for `r` (within the negative TTL) was 404: the image does not exist.
    pub fn missing(&self, r: &ImageRef) -> bool {
        let Ok(slots) = self.inner.slots.lock() else {
            return false;
        };
        matches!(
            slots.get(&key(r)),
            Some(Slot::Ready { result: Err(ResolveError::NotFound(_)), at }) if at.elapsed() < self.inner.negative_ttl
        )
    }

    /// The digest of `r`, waiting at most `budget`. `None` when the registry failed (recently), or did not answer in
    /// time; the caller then falls back to cached verdicts or the mode's unknown-image rule.
    pub async fn resolve(&self, r: &ImageRef, budget: Duration) -> Option<String> {
        let k = key(r);
        let pending = {
            let mut slots = self.inner.slots.lock().ok()?;
            match slots.get(&k) {
                Some(Slot::Ready { result, at }) => {
                    let ttl = if result.is_ok() {
                        self.inner.ttl
                    } else {
                        self.inner.negative_ttl
                    };
                    if at.elapsed() < ttl {
                        return result.as_ref().ok().cloned();
                    }
                    self.start(&mut slots, k.clone(), r.clone())
                }
                Some(Slot::Pending(p)) => p.clone(),
                None => self.start(&mut slots, k.clone(), r.clone()),
            }
        };
        match tokio::time::timeout(budget, pending).await {
            Ok(Ok(d)) => Some(d),
            Ok(Err(e)) => {
                tracing::debug!(image = %k, error = %e, "digest resolution failed");
                None
            }
            Err(_) => {
                tracing::debug!(image = %k, ?budget, "digest resolution did not finish before the deadline");
                None
            }
        }
    }

    fn start(&self, slots: &mut HashMap<String, Slot>, k: String, r: ImageRef) -> Pending {
        let inner = self.inner.clone();
        let fut = (inner.resolve)(r);
        let k2 = k.clone();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            let result = fut.await;
            if let Some(h) = inner.latency.get() {
                h.observe(started.elapsed().as_secs_f64());
            }
            if let Ok(mut s) = inner.slots.lock() {
                s.insert(
                    k2,
                    Slot::Ready {
                        result: result.clone(),
                        at: Instant::now(),
                    },
                );
            }
            result
        });
        let shared = async move {
            task.await.unwrap_or_else(|e| {
                Err(ResolveError::Failed(format!(
                    "digest lookup task failed: {e}"
                )))
            })
        }
        .boxed()
        .shared();
        slots.insert(k, Slot::Pending(shared.clone()));
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn r(tag: &str) -> ImageRef {
        ImageRef {
            registry: "127.0.0.1:5000".into(),
            repository: "a".into(),
            tag: Some(tag.into()),
            digest: None,
        }
    }

    #[tokio::test]
    async fn single_flight_ttl_and_deadline() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        // A stand-in for a slow registry: the fault (slowness) is the point of this test.
        let f: ResolveFn = Arc::new(move |r: ImageRef| {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if r.tag.as_deref() == Some("bad") {
                    Err(ResolveError::NotFound("manifest unknown".into()))
                } else {
                    Ok(format!("sha256:{}", r.tag.unwrap_or_default()))
                }
            }
            .boxed()
        });
        let res = DigestResolver::new(f, Duration::from_secs(60), Duration::from_secs(60));
        // Ten concurrent waiters, one lookup.
        let mut hs = Vec::new();
        for _ in 0..10 {
            let res = res.clone();
            hs.push(tokio::spawn(async move {
                res.resolve(&r("1"), Duration::from_secs(5)).await
            }));
        }
        for h in hs {
            assert_eq!(h.await.unwrap().as_deref(), Some("sha256:1"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(res.cached(&r("1")).as_deref(), Some("sha256:1"));
        // Deadline shorter than the lookup: None now, the answer is cached later.
        assert_eq!(res.resolve(&r("2"), Duration::from_millis(5)).await, None);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            res.resolve(&r("2"), Duration::from_millis(5))
                .await
                .as_deref(),
            Some("sha256:2")
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Failures are cached too (negative TTL).
        assert_eq!(res.resolve(&r("bad"), Duration::from_secs(5)).await, None);
        assert!(res.missing(&r("bad")) && !res.missing(&r("1")));
        assert_eq!(res.resolve(&r("bad"), Duration::from_secs(5)).await, None);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
