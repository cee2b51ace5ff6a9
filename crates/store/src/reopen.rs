//! A store that opens itself later: [`Reopening`] lets a service start while its database is unreachable
//! (PostgreSQL down, SQLite file locked) and connects on first use once the database is back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{
    AccessRecord, Backend, Claim, DecisionFilter, DecisionRecord, EnqueueRequest, Enqueued, Error,
    EvaluationRecord, FailOutcome, FeedLock, FeedRecord, ImageChanges, ImageRecord, NewDecision,
    NewEvaluation, PolicyRecord, QueueStats, RateLimits, Result, RetryPolicy, Store,
    StoredFindings, TriageDocument, TriageKind, open, redact_url,
};

enum State {
    Open(Arc<dyn Store>),
    Closed {
        last_error: String,
        next_try: Instant,
    },
}

/// A [`Store`] over a URL that could not be opened yet. Every call first tries to open it (at most once per
/// `retry_every`); until that succeeds, calls fail with [`Error::Unavailable`] naming the last cause.
pub struct Reopening {
    url: String,
    backend: Backend,
    retry_every: Duration,
    state: Mutex<State>,
}

impl Reopening {
    /// A store for `url` whose first opening failed with `error`.
    pub fn new(url: &str, error: &Error, retry_every: Duration) -> Self {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        Reopening {
            url: url.to_string(),
            backend,
            retry_every,
            state: Mutex::new(State::Closed {
                last_error: error.to_string(),
                next_try: Instant::now() + retry_every,
            }),
        }
    }

    /// Whether the database has been opened.
    pub fn is_open(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::Open(_)
        )
    }

    fn inner(&self) -> Result<Arc<dyn Store>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*state {
            State::Open(s) => return Ok(s.clone()),
            State::Closed {
                last_error,
                next_try,
            } if Instant::now() < *next_try => {
                return Err(Error::Unavailable {
                    url: redact_url(&self.url),
                    reason: last_error.clone(),
                });
            }
            State::Closed { .. } => {}
        }
        match open(&self.url) {
            Ok(s) => {
                let s: Arc<dyn Store> = Arc::from(s);
                tracing::info!(store = %redact_url(&self.url), "store opened after an earlier failure");
                *state = State::Open(s.clone());
                Ok(s)
            }
            Err(e) => {
                let reason = e.to_string();
                *state = State::Closed {
                    last_error: reason.clone(),
                    next_try: Instant::now() + self.retry_every,
                };
                Err(Error::Unavailable {
                    url: redact_url(&self.url),
                    reason,
                })
            }
        }
    }
}

impl Store for Reopening {
    fn backend(&self) -> Backend {
        self.backend
    }
    fn schema_version(&self) -> Result<i64> {
        self.inner()?.schema_version()
    }
    fn upsert_image(
        &self,
        digest: &str,
        tag: Option<&str>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<ImageRecord> {
        self.inner()?.upsert_image(digest, tag, annotations)
    }
    fn get_image(&self, digest: &str) -> Result<Option<ImageRecord>> {
        self.inner()?.get_image(digest)
    }
    fn record_resolution(&self, digest: &str, tag: &str) -> Result<bool> {
        self.inner()?.record_resolution(digest, tag)
    }
    fn image_changes(&self, since: Option<i64>) -> Result<ImageChanges> {
        self.inner()?.image_changes(since)
    }
    fn list_images(&self, tag: Option<&str>) -> Result<Vec<ImageRecord>> {
        self.inner()?.list_images(tag)
    }
    fn get_sbom(&self, digest: &str) -> Result<Option<serde_json::Value>> {
        self.inner()?.get_sbom(digest)
    }
    fn sbom_digests(&self) -> Result<Vec<String>> {
        self.inner()?.sbom_digests()
    }
    fn put_findings(
        &self,
        digest: &str,
        db_version: &str,
        report: &serde_json::Value,
    ) -> Result<()> {
        self.inner()?.put_findings(digest, db_version, report)
    }
    fn get_findings(&self, digest: &str) -> Result<Option<StoredFindings>> {
        self.inner()?.get_findings(digest)
    }
    fn put_policy(
        &self,
        account: &str,
        id: &str,
        name: Option<&str>,
        digest: &str,
        bundle: &serde_json::Value,
    ) -> Result<PolicyRecord> {
        self.inner()?.put_policy(account, id, name, digest, bundle)
    }
    fn list_policies(&self, account: &str) -> Result<Vec<PolicyRecord>> {
        self.inner()?.list_policies(account)
    }
    fn get_policy(&self, account: &str, id: &str) -> Result<Option<PolicyRecord>> {
        self.inner()?.get_policy(account, id)
    }
    fn activate_policy(&self, account: &str, id: &str) -> Result<PolicyRecord> {
        self.inner()?.activate_policy(account, id)
    }
    fn active_policy(&self, account: &str) -> Result<Option<PolicyRecord>> {
        self.inner()?.active_policy(account)
    }
    fn put_evaluation(&self, evaluation: &NewEvaluation) -> Result<i64> {
        self.inner()?.put_evaluation(evaluation)
    }
    fn latest_evaluation(
        &self,
        digest: &str,
        tag: &str,
        bundle_id: &str,
    ) -> Result<Option<EvaluationRecord>> {
        self.inner()?.latest_evaluation(digest, tag, bundle_id)
    }
    fn append_decision(&self, decision: &NewDecision) -> Result<i64> {
        self.inner()?.append_decision(decision)
    }
    fn list_decisions(&self, filter: &DecisionFilter) -> Result<Vec<DecisionRecord>> {
        self.inner()?.list_decisions(filter)
    }
    fn enqueue(&self, request: &EnqueueRequest) -> Result<Enqueued> {
        self.inner()?.enqueue(request)
    }
    fn claim(&self, worker: &str, lease: Duration, limits: &RateLimits) -> Result<Option<Claim>> {
        self.inner()?.claim(worker, lease, limits)
    }
    fn heartbeat(&self, claim: &Claim, lease: Duration) -> Result<bool> {
        self.inner()?.heartbeat(claim, lease)
    }
    fn finish_analysis(
        &self,
        claim: &Claim,
        image_id: Option<&str>,
        sbom: &serde_json::Value,
        findings: Option<(&str, &serde_json::Value)>,
    ) -> Result<bool> {
        self.inner()?
            .finish_analysis(claim, image_id, sbom, findings)
    }
    fn fail_analysis(
        &self,
        claim: &Claim,
        error: &str,
        permanent: bool,
        retry: &RetryPolicy,
    ) -> Result<FailOutcome> {
        self.inner()?.fail_analysis(claim, error, permanent, retry)
    }
    fn recover_stale(&self) -> Result<usize> {
        self.inner()?.recover_stale()
    }
    fn queue_stats(&self) -> Result<QueueStats> {
        self.inner()?.queue_stats()
    }
    fn record_access(&self, digest: &str, access: &str) -> Result<()> {
        self.inner()?.record_access(digest, access)
    }
    fn forget_access(&self, digest: &str, access: &str) -> Result<()> {
        self.inner()?.forget_access(digest, access)
    }
    fn list_access(&self, since: Option<i64>) -> Result<Vec<AccessRecord>> {
        self.inner()?.list_access(since)
    }
    fn put_signatures(
        &self,
        digest: &str,
        requirement: &str,
        facts: &serde_json::Value,
    ) -> Result<()> {
        self.inner()?.put_signatures(digest, requirement, facts)
    }
    fn list_signatures(&self, since: Option<i64>) -> Result<Vec<crate::SignatureRecord>> {
        self.inner()?.list_signatures(since)
    }
    fn put_feed(&self, feed: &FeedRecord) -> Result<()> {
        self.inner()?.put_feed(feed)
    }
    fn list_feeds(&self) -> Result<Vec<FeedRecord>> {
        self.inner()?.list_feeds()
    }
    fn try_feed_lock(&self) -> Result<Option<Box<dyn FeedLock>>> {
        self.inner()?.try_feed_lock()
    }
    fn put_triage_document(&self, doc: &TriageDocument) -> Result<TriageDocument> {
        self.inner()?.put_triage_document(doc)
    }
    fn list_triage_documents(&self, kind: Option<TriageKind>) -> Result<Vec<TriageDocument>> {
        self.inner()?.list_triage_documents(kind)
    }
    fn delete_triage_document(&self, kind: TriageKind, id: &str) -> Result<bool> {
        self.inner()?.delete_triage_document(kind, id)
    }
    fn publish_vuln_generation(
        &self,
        bundle: &std::path::Path,
        sha256: &str,
        db_version: &str,
        created_by: &str,
    ) -> Result<crate::VulnGeneration> {
        self.inner()?
            .publish_vuln_generation(bundle, sha256, db_version, created_by)
    }
    fn latest_vuln_generation(&self) -> Result<Option<crate::VulnGeneration>> {
        self.inner()?.latest_vuln_generation()
    }
    fn read_vuln_generation(&self, generation: i64, dest: &std::path::Path) -> Result<()> {
        self.inner()?.read_vuln_generation(generation, dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_once_the_database_becomes_usable() {
        let dir = tempfile::tempdir().unwrap();
        // A SQLite path whose directory does not exist yet cannot be opened...
        let path = dir.path().join("later").join("store.db");
        let url = path.display().to_string();
        let first = open(&url).err().expect("cannot open yet");
        let s = Reopening::new(&url, &first, Duration::from_millis(0));
        let e = s.list_images(None).unwrap_err();
        assert!(
            matches!(e, Error::Unavailable { .. }) && e.to_string().contains("later/store.db"),
            "{e}"
        );
        assert!(!s.is_open());
        // ...until it exists: the next call opens (and migrates) it and works.
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        assert_eq!(s.list_images(None).unwrap().len(), 0);
        assert!(s.is_open());
        assert_eq!(s.backend(), Backend::Sqlite);
    }

    #[test]
    fn retries_are_spaced() {
        let url = "/nonexistent-dir/store.db";
        let first = open(url).err().expect("cannot open");
        let s = Reopening::new(url, &first, Duration::from_secs(3600));
        let t = Instant::now();
        for _ in 0..1000 {
            assert!(s.get_image("sha256:x").is_err());
        }
        // No attempt to open within the interval: a thousand calls cost almost nothing.
        assert!(
            t.elapsed() < Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
    }
}
