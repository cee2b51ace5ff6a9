//! The vulnerability data's sync schedule: at start when the data is missing or older than the interval, then
//! whenever it becomes older than the interval again; every sync (scheduled or `POST /v1/system/feeds`) is
//! recorded so that its outcome shows in the status, the metrics and the log.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::engine::{Engine, EngineError, blocking};

/// The longest wait between two looks at the data's age (another replica or the API may have synced it).
const RECHECK: Duration = Duration::from_secs(60);
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

/// Syncs the vulnerability data whenever it is missing or `interval` old (at start too), until `shutdown`
/// turns true. A failed sync keeps the old data, is logged and counted, and is tried again after
/// `min(interval, 15 min)`; a sync another replica holds the lock for is not a failure (this replica looks
/// again later). Returns `None` (nothing runs) when `interval` is zero or no feed source is configured.
pub fn spawn(
    engine: Arc<Engine>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if interval.is_zero() || !engine.has_feed_source() {
        return None;
    }
    engine.sync_tracker().scheduled(interval);
    Some(tokio::spawn(async move {
        let mut not_before = tokio::time::Instant::now();
        loop {
            let wait = due_in(
                engine.vuln_data_synced_at().as_deref(),
                interval,
                chrono::Utc::now(),
            )
            .max(not_before.saturating_duration_since(tokio::time::Instant::now()));
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
                        tracing::info!(reason = %m, "vulnerability data sync skipped");
                        not_before = tokio::time::Instant::now() + RECHECK.min(interval);
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
            tokio::select! {
                _ = tokio::time::sleep(wait.min(RECHECK)) => {}
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
