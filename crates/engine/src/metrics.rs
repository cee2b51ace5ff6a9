//! The engine's Prometheus metrics: analysis queue depth (from the store, shared by all replicas), analysis
//! duration, the age of the vulnerability data and failed syncs of it. The HTTPS server registers them beside its own.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::engine::{Engine, blocking};

/// Labels of the queue depth gauge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// `queued` (waiting, including retries) or `claimed` (being analysed).
    pub state: &'static str,
}

/// Labels of the analysis duration histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnalysisLabels {
    /// `ok` or `error`.
    pub result: &'static str,
}

type AnalysisFamily = Family<AnalysisLabels, Histogram, fn() -> Histogram>;

fn analysis_histogram() -> Histogram {
    // 50 ms … ~7 min.
    Histogram::new(exponential_buckets(0.05, 2.0, 14))
}

/// The engine's metric handles (cheap to clone).
#[derive(Debug, Clone)]
pub struct EngineMetrics {
    queue_depth: Family<QueueLabels, Gauge>,
    analysis: AnalysisFamily,
    feed_age: Gauge<f64, AtomicU64>,
    sync_failures: Counter,
    generation: Gauge,
}

impl Default for EngineMetrics {
    fn default() -> Self {
        EngineMetrics {
            queue_depth: Family::default(),
            analysis: AnalysisFamily::new_with_constructor(analysis_histogram),
            feed_age: Gauge::default(),
            sync_failures: Counter::default(),
            generation: Gauge::default(),
        }
    }
}

impl EngineMetrics {
    /// Registers the metrics (named `<prefix>_analysis_queue_depth`, `…_analysis_duration_seconds`,
    /// `…_vulnerability_data_age_seconds`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "analysis_queue_depth",
            "Images in the shared analysis queue by state (the same in every replica)",
            self.queue_depth.clone(),
        );
        registry.register(
            "analysis_duration_seconds",
            "Time to pull, analyse, match and evaluate one image in this replica, by result",
            self.analysis.clone(),
        );
        registry.register(
            "vulnerability_data_age_seconds",
            "Seconds since the oldest source of this replica's vulnerability data was imported (+Inf without data)",
            self.feed_age.clone(),
        );
        registry.register(
            "vulnerability_sync_failures",
            "Vulnerability data syncs of this replica that failed (the previous data kept serving)",
            self.sync_failures.clone(),
        );
        registry.register(
            "vulnerability_data_generation",
            "Generation of the shared vulnerability data this replica serves (0: none published; PostgreSQL store)",
            self.generation.clone(),
        );
    }

    /// Records the shared vulnerability data generation this replica serves.
    pub(crate) fn set_generation(&self, generation: i64) {
        self.generation.set(generation);
    }

    /// Counts a failed vulnerability data sync.
    pub(crate) fn sync_failed(&self) {
        self.sync_failures.inc();
    }

    /// Records one analysis.
    pub(crate) fn analysed(&self, ok: bool, took: Duration) {
        self.analysis
            .get_or_create(&AnalysisLabels {
                result: if ok { "ok" } else { "error" },
            })
            .observe(took.as_secs_f64());
    }

    fn set_queue(&self, queued: i64, claimed: i64) {
        self.queue_depth
            .get_or_create(&QueueLabels { state: "queued" })
            .set(queued);
        self.queue_depth
            .get_or_create(&QueueLabels { state: "claimed" })
            .set(claimed);
    }

    fn set_feed_age(&self, seconds: f64) {
        self.feed_age.set(seconds);
    }
}

/// Seconds since `synced_at` (RFC 3339), +Inf when there is no (readable) time.
pub(crate) fn age_seconds(synced_at: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> f64 {
    synced_at
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (now - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64 / 1000.0)
        .map(|s| s.max(0.0))
        .unwrap_or(f64::INFINITY)
}

/// Refreshes the queue depth and data age gauges every `every` until `shutdown` turns true.
pub(crate) fn spawn_refresh(
    engine: Arc<Engine>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let s = engine.store().clone();
            match blocking(move || Ok(s.queue_stats()?)).await {
                Ok(q) => engine.metrics().set_queue(q.queued, q.claimed),
                Err(e) => tracing::debug!(error = %e, "queue depth for metrics unavailable"),
            }
            let synced = engine.vuln_data_synced_at();
            engine
                .metrics()
                .set_feed_age(age_seconds(synced.as_deref(), chrono::Utc::now()));
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_age_is_infinite_without_data_and_counts_seconds_otherwise() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-03T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(age_seconds(None, now), f64::INFINITY);
        assert_eq!(age_seconds(Some("not a time"), now), f64::INFINITY);
        assert_eq!(age_seconds(Some("2026-01-01T00:00:00Z"), now), 172_800.0);
    }
}
