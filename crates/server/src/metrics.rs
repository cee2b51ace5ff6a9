//! Prometheus metrics: review latency histograms and decision counters by endpoint, mode and result, tag
//! resolution latency, and whatever the caller registers beside them (the engine's queue, analysis and data age).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the decision counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `validate` / `mutate`.
    pub endpoint: &'static str,
    /// Strictest mode applied (`policy`, `analysis`, `audit`, `passive`, `breakglass`, `none`).
    pub mode: &'static str,
    /// `allowed`, `denied`, `skipped`, `bad_request`.
    pub result: &'static str,
}

/// Labels of the latency histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// `validate` / `mutate`.
    pub endpoint: &'static str,
}

type HistogramFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 25 µs … ~13 s.
    Histogram::new(exponential_buckets(0.000_025, 2.0, 20))
}

/// Registers further metrics into the server's registry (prefix `portcullis`).
pub type MetricsRegistrar = Box<dyn FnOnce(&mut Registry) + Send>;

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    latency: HistogramFamily,
    resolve: Histogram,
    reloads: Family<ReloadLabels, Counter>,
    deadline_fallbacks: Counter,
}

/// Labels of the reload counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `certificate` / `config`.
    pub what: &'static str,
    /// `ok` / `error`.
    pub result: &'static str,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        Self::with_extra(Box::new(|_| {}))
    }

    /// Registers every metric, then lets `extra` register its own in the same registry.
    pub fn with_extra(extra: MetricsRegistrar) -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "admission_decisions",
            "Admission decisions by endpoint, mode and result",
            decisions.clone(),
        );
        let latency = HistogramFamily::new_with_constructor(latency_histogram);
        registry.register(
            "admission_review_duration_seconds",
            "Time from receiving a review body to having its response",
            latency.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "reloads",
            "Certificate and configuration reloads",
            reloads.clone(),
        );
        let deadline_fallbacks = Counter::default();
        registry.register(
            "admission_deadline_fallbacks",
            "Reviews where a registry lookup did not finish before the deadline",
            deadline_fallbacks.clone(),
        );
        let resolve = latency_histogram();
        registry.register(
            "tag_resolve_duration_seconds",
            "Time a registry took to answer a tag to digest lookup made for the webhook",
            resolve.clone(),
        );
        extra(&mut registry);
        Metrics {
            registry,
            decisions,
            latency,
            resolve,
            reloads,
            deadline_fallbacks,
        }
    }

    /// Records one review.
    pub fn observe(&self, labels: DecisionLabels, took: Duration) {
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: labels.endpoint,
            })
            .observe(took.as_secs_f64());
        self.decisions.get_or_create(&labels).inc();
    }

    /// Records a reload attempt.
    pub fn reload(&self, what: &'static str, ok: bool) {
        self.reloads
            .get_or_create(&ReloadLabels {
                what,
                result: if ok { "ok" } else { "error" },
            })
            .inc();
    }

    /// The tag resolution histogram, for [`crate::DigestResolver::observe_latency`].
    pub fn resolve_histogram(&self) -> Histogram {
        self.resolve.clone()
    }

    /// Records a deadline fallback.
    pub fn deadline_fallback(&self) {
        self.deadline_fallbacks.inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut s, &self.registry);
        s
    }
}
