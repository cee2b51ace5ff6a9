//! The vulnerability data's sync schedule: at start when the data is missing or older than the interval, then
//! whenever it becomes older than the interval again; every sync (scheduled or `POST /v1/system/feeds`) is
//! recorded so that its outcome shows in the status, the metrics and the log. With a PostgreSQL store the
//! replica that syncs publishes the result as a generation in the store and the others install it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::engine::{Engine, EngineError, blocking};

/// The longest wait between two looks at the data's age (another replica or the API may have synced it).
const RECHECK: Duration = Duration::from_secs(60);
/// The wait before a sync that found the feed lock taken is tried again: the holder may be another replica
/// syncing (whose result this one then installs, which makes the data fresh and ends the retries) or a short
/// re-match in this process (the triage watch at start), which must not delay the first sync by a minute.
const BUSY_RETRY: Duration = Duration::from_secs(3);
/// The longest wait before a failed sync is tried again.
const RETRY: Duration = Duration::from_secs(15 * 60);

/// The outcome of this replica's vulnerability data syncs (in [`crate::Status`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VulnSyncStatus {
    /// Seconds between scheduled syncs; `None` when this replica does not sync on a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_seconds: Option<u64>,
    /// When the last sync started (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<String>,
    /// When the last successful sync ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success_at: Option<String>,
    /// Why the last sync failed, when it did (the previous data is still served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Failed syncs since this replica started.
    pub failures: u64,
    /// The generation of shared vulnerability data this replica published or installed (PostgreSQL store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

/// This replica's sync record (shared by the schedule and the API).
#[derive(Debug, Default)]
pub(crate) struct SyncTracker {
    state: Mutex<VulnSyncStatus>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl SyncTracker {
    pub(crate) fn snapshot(&self) -> VulnSyncStatus {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn update(&self, f: impl FnOnce(&mut VulnSyncStatus)) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub(crate) fn started(&self) {
        self.update(|s| s.last_attempt_at = Some(now()));
    }

    pub(crate) fn succeeded(&self) {
        self.update(|s| {
            s.last_success_at = Some(now());
            s.last_error = None;
        });
    }

    pub(crate) fn failed(&self, error: &str) {
        self.update(|s| {
            s.failures += 1;
            s.last_error = Some(error.to_string());
        });
    }

    pub(crate) fn installed(&self, generation: i64) {
        self.update(|s| s.generation = Some(generation));
    }

    fn scheduled(&self, interval: Duration) {
        self.update(|s| s.interval_seconds = Some(interval.as_secs()));
    }
}

/// How long until the data is due for a sync: zero when there is none (or its time is unreadable), else the
/// time left until it is `interval` old.
fn due_in(
    synced_at: Option<&str>,
    interval: Duration,
    now: chrono::DateTime<chrono::Utc>,
) -> Duration {
    let Some(at) = synced_at.and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) else {
        return Duration::ZERO;
    };
    let age = (now - at.with_timezone(&chrono::Utc))
        .to_std()
        .unwrap_or(Duration::ZERO);
    interval.saturating_sub(age)
}

/// Keeps this replica's vulnerability data current until `shutdown` turns true.
///
/// With a PostgreSQL store it first looks every `follow_every` for a newer generation another replica
/// published and installs it ([`Engine::follow_vuln_data`]). Then, unless `interval` is zero, it syncs the data
/// whenever it is missing or `interval` old (at start too); a sync publishes its result for the others. A failed
/// sync keeps the old data, is logged and counted, and is tried again after `min(interval, 15 min)`; a sync
/// another replica holds the lock for is not a failure (this replica installs its result instead). Returns
/// `None` (nothing runs) when there is nothing to do: no feed source, or no schedule and no shared store.
pub fn spawn(
    engine: Arc<Engine>,
    interval: Duration,
    follow_every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let follows = engine.store().backend() == portcullis_store::Backend::Postgres;
    if !engine.has_feed_source() || (interval.is_zero() && !follows) {
        return None;
    }
    if !interval.is_zero() {
        engine.sync_tracker().scheduled(interval);
    }
    let follow_every = follow_every.max(Duration::from_millis(100));
    Some(tokio::spawn(async move {
        let mut not_before = tokio::time::Instant::now();
        let mut last_follow_error = String::new();
        loop {
            if follows {
                let e = engine.clone();
                match blocking(move || e.follow_vuln_data()).await {
                    Ok(_) => last_follow_error.clear(),
                    Err(e) if e.to_string() != last_follow_error => {
                        last_follow_error = e.to_string();
                        tracing::warn!(
                            error = %e,
                            "cannot install the vulnerability data another replica published; trying again"
                        );
                    }
                    Err(_) => {}
                }
            }
            let wait = if interval.is_zero() {
                follow_every
            } else {
                due_in(
                    engine.vuln_data_synced_at().as_deref(),
                    interval,
                    chrono::Utc::now(),
                )
                .max(not_before.saturating_duration_since(tokio::time::Instant::now()))
            };
            if wait.is_zero() {
                let e = engine.clone();
                match blocking(move || e.sync_feeds()).await {
                    Ok(outcome) => {
                        tracing::info!(
                            feeds = outcome.feeds.len(),
                            rematched = outcome.rematch.rematched,
                            "vulnerability data synced"
                        );
                        // A pinned bundle's import times may already be older than the interval.
                        not_before = tokio::time::Instant::now() + interval;
                    }
                    Err(EngineError::Conflict(m)) => {
                        tracing::debug!(reason = %m, "vulnerability data sync skipped");
                        not_before = tokio::time::Instant::now() + BUSY_RETRY.min(interval);
                    }
                    Err(e) => {
                        tracing::error!(
                            error = %e,
                            "vulnerability data sync failed; the previous data is still served"
                        );
                        not_before = tokio::time::Instant::now() + RETRY.min(interval);
                    }
                }
                continue;
            }
            let nap = if follows {
                wait.min(follow_every)
            } else {
                wait.min(RECHECK)
            };
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_due_when_missing_unreadable_or_old() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let day = Duration::from_secs(86_400);
        assert_eq!(due_in(None, day, now), Duration::ZERO);
        assert_eq!(due_in(Some("yesterday"), day, now), Duration::ZERO);
        assert_eq!(
            due_in(Some("2026-01-01T00:00:00Z"), day, now),
            Duration::ZERO
        );
        assert_eq!(
            due_in(Some("2026-01-01T18:00:00Z"), day, now),
            Duration::from_secs(18 * 3600)
        );
        assert_eq!(due_in(Some("2026-01-03T00:00:00Z"), day, now), day);
    }
}
