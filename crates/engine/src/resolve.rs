//! Tag resolution with a bounded pool, a deadline per resolution and a circuit breaker per registry.
//!
//! Every tag → digest lookup the engine makes (admission's queue, `POST /v1/images`) goes through one
//! [`ResolvePool`]: at most [`ResolveConfig::concurrency`] lookups run at once, at most
//! [`ResolveConfig::per_registry`] of them against one registry, and each gives up after
//! [`ResolveConfig::deadline`] whatever the registry does (a tarpit that accepts and never answers, or answers
//! byte by byte). After [`ResolveConfig::failures_to_open`] consecutive failures to reach a registry its breaker
//! opens: lookups for it fail at once, naming the registry and the last error, until
//! [`ResolveConfig::cool_down`] has passed; then one lookup is let through as a probe (half-open) and its
//! outcome closes or re-opens the breaker. Only failures to reach the registry count (unreachable, timed out);
//! an answer such as "manifest unknown" shows the registry works.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_image::{Digest, ImageRef};
use tokio::sync::Semaphore;

use crate::stages::{Resolver, StageError};

/// Settings of the resolution pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolveConfig {
    /// Lookups running at once in this replica.
    pub concurrency: usize,
    /// Lookups running at once against one registry.
    pub per_registry: usize,
    /// Longest time one lookup may take (waiting for a slot included).
    pub deadline: Duration,
    /// Consecutive failures to reach a registry that open its breaker.
    pub failures_to_open: u32,
    /// How long an open breaker fails lookups at once before letting one probe through.
    pub cool_down: Duration,
}

impl Default for ResolveConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            per_registry: 4,
            deadline: Duration::from_secs(10),
            failures_to_open: 3,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// The state of one registry's breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakerState {
    /// Lookups go through; `failures` consecutive ones failed so far.
    Closed {
        /// Consecutive failures.
        failures: u32,
    },
    /// Lookups fail at once until the cool-down has passed.
    Open {
        /// When a probe may go through.
        until: Instant,
        /// The failure that opened it (or re-opened it after a probe).
        last_error: String,
    },
    /// One probe is in flight (since then); other lookups fail at once. A probe that never finished (its
    /// caller gave up) no longer counts after the deadline.
    HalfOpen {
        /// When the probe started.
        since: Instant,
    },
}

struct Registry {
    state: BreakerState,
    slots: Arc<Semaphore>,
}

/// The pool; share it as part of the engine.
pub struct ResolvePool {
    resolver: Arc<dyn Resolver>,
    config: ResolveConfig,
    slots: Arc<Semaphore>,
    registries: Mutex<HashMap<String, Registry>>,
}

/// What the breaker allows for one lookup.
enum Admit {
    Go,
    Probe,
}

impl ResolvePool {
    /// A pool over `resolver`.
    pub fn new(resolver: Arc<dyn Resolver>, config: ResolveConfig) -> Self {
        Self {
            resolver,
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            config,
            registries: Mutex::new(HashMap::new()),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ResolveConfig {
        &self.config
    }

    /// The breaker state of `registry` (closed with no failures when never asked).
    pub fn breaker(&self, registry: &str) -> BreakerState {
        self.lock()
            .get(registry)
            .map(|r| r.state.clone())
            .unwrap_or(BreakerState::Closed { failures: 0 })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Registry>> {
        self.registries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn admit(&self, registry: &str) -> Result<(Admit, Arc<Semaphore>), StageError> {
        let mut map = self.lock();
        let per = self.config.per_registry.max(1);
        let r = map.entry(registry.to_string()).or_insert_with(|| Registry {
            state: BreakerState::Closed { failures: 0 },
            slots: Arc::new(Semaphore::new(per)),
        });
        let admit = match &r.state {
            BreakerState::Closed { .. } => Admit::Go,
            BreakerState::Open { until, last_error } => {
                let now = Instant::now();
                if now < *until {
                    return Err(StageError::unreachable(format!(
                        "registry {registry} is not asked for {}s more: its last {} lookups failed (last: \
                         {last_error}); check that it is up and reachable from Portcullis",
                        until.saturating_duration_since(now).as_secs().max(1),
                        self.config.failures_to_open.max(1),
                    )));
                }
                r.state = BreakerState::HalfOpen { since: now };
                Admit::Probe
            }
            BreakerState::HalfOpen { since } if since.elapsed() > self.config.deadline => {
                r.state = BreakerState::HalfOpen {
                    since: Instant::now(),
                };
                Admit::Probe
            }
            BreakerState::HalfOpen { .. } => {
                return Err(StageError::unreachable(format!(
                    "registry {registry} failed recently and a probe lookup is in flight; try again shortly"
                )));
            }
        };
        Ok((admit, r.slots.clone()))
    }

    /// Counts the outcome of some other request to `registry` (an analysis's pull): `Err` when the registry
    /// could not be reached or did not answer in time.
    pub fn report(&self, registry: &str, outcome: Result<(), &str>) {
        self.record(registry, false, outcome)
    }

    fn record(&self, registry: &str, probe: bool, outcome: Result<(), &str>) {
        let mut map = self.lock();
        let per = self.config.per_registry.max(1);
        let r = map.entry(registry.to_string()).or_insert_with(|| Registry {
            state: BreakerState::Closed { failures: 0 },
            slots: Arc::new(Semaphore::new(per)),
        });
        match outcome {
            Ok(()) => {
                if probe || !matches!(r.state, BreakerState::Closed { failures: 0 }) {
                    tracing::info!(registry, "registry answers again; its lookups go through");
                }
                r.state = BreakerState::Closed { failures: 0 };
            }
            Err(e) => {
                let failures = match &r.state {
                    BreakerState::Closed { failures } => failures + 1,
                    _ => self.config.failures_to_open,
                };
                if probe || failures >= self.config.failures_to_open.max(1) {
                    if !matches!(r.state, BreakerState::Open { .. }) {
                        tracing::warn!(registry, error = e, cool_down = ?self.config.cool_down,
                            "registry unreachable; failing its lookups at once until the cool-down has passed");
                    }
                    r.state = BreakerState::Open {
                        until: Instant::now() + self.config.cool_down,
                        last_error: e.chars().take(300).collect(),
                    };
                } else if matches!(r.state, BreakerState::Closed { .. }) {
                    r.state = BreakerState::Closed { failures };
                }
            }
        }
    }

    /// The digest the registry serves for `image` (a reference without a digest), within the deadline and
    /// subject to the registry's breaker.
    /// `namespace`: whose learned pull-secret credentials may be used besides the shared access.
    pub async fn resolve(
        &self,
        image: &ImageRef,
        namespace: Option<&str>,
    ) -> Result<Digest, StageError> {
        let registry = image.registry.clone();
        let (admit, per_registry) = self.admit(&registry)?;
        let probe = matches!(admit, Admit::Probe);
        let deadline = self.config.deadline;
        let run = async {
            let _r = per_registry.acquire_owned().await;
            let _g = self.slots.clone().acquire_owned().await;
            self.resolver.resolve(image, namespace).await
        };
        let result = match tokio::time::timeout(deadline, run).await {
            Ok(r) => r,
            Err(_) => Err(StageError::unreachable(format!(
                "resolving {image}: registry {registry} did not answer within {}s",
                deadline.as_secs_f32()
            ))),
        };
        match &result {
            Err(e) if e.unreachable => self.record(&registry, probe, Err(&e.message)),
            _ => self.record(&registry, probe, Ok(())),
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::BoxFuture;

    /// A resolver that fails to reach `down` registries and answers others; the fault (an unreachable
    /// registry) is the point of these unit tests; the tarpit test in tests/fairness.rs uses real sockets.
    struct Flaky {
        down: Mutex<bool>,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl Resolver for Flaky {
        fn resolve<'a>(
            &'a self,
            image: &'a ImageRef,
            _namespace: Option<&'a str>,
        ) -> BoxFuture<'a, Result<Digest, StageError>> {
            Box::pin(async move {
                self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if *self.down.lock().unwrap() {
                    return Err(StageError::unreachable(format!(
                        "{image}: connection refused"
                    )));
                }
                Digest::parse(&format!("sha256:{}", "a".repeat(64)))
                    .map_err(|e| StageError::permanent(e.to_string()))
            })
        }

        fn access<'a>(
            &'a self,
            _image: &'a ImageRef,
            _namespace: Option<&'a str>,
        ) -> BoxFuture<'a, Result<Option<crate::stages::Access>, StageError>> {
            Box::pin(async { Ok(Some(crate::stages::Access::Shared)) })
        }
    }

    #[tokio::test]
    async fn the_breaker_opens_fails_fast_and_probes_after_the_cool_down() {
        let flaky = Arc::new(Flaky {
            down: Mutex::new(true),
            calls: Default::default(),
        });
        let pool = ResolvePool::new(
            flaky.clone(),
            ResolveConfig {
                failures_to_open: 2,
                cool_down: Duration::from_millis(300),
                ..Default::default()
            },
        );
        let img = ImageRef::parse("reg.test:5000/a:1").unwrap();
        for _ in 0..2 {
            assert!(pool.resolve(&img, None).await.is_err());
        }
        assert!(matches!(
            pool.breaker("reg.test:5000"),
            BreakerState::Open { .. }
        ));
        let e = pool.resolve(&img, None).await.unwrap_err();
        assert!(
            e.message.contains("reg.test:5000") && e.message.contains("connection refused"),
            "{e}"
        );
        assert_eq!(
            flaky.calls.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "fails fast"
        );
        // After the cool-down, one probe goes through; a failed probe re-opens at once.
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(pool.resolve(&img, None).await.is_err());
        assert_eq!(flaky.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        assert!(matches!(
            pool.breaker("reg.test:5000"),
            BreakerState::Open { .. }
        ));
        // The registry is back: the next probe closes the breaker.
        *flaky.down.lock().unwrap() = false;
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(pool.resolve(&img, None).await.is_ok());
        assert_eq!(
            pool.breaker("reg.test:5000"),
            BreakerState::Closed { failures: 0 }
        );
        // Another registry was never affected.
        assert_eq!(
            pool.breaker("other.test"),
            BreakerState::Closed { failures: 0 }
        );
    }
}
