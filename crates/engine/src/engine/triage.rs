//! Triage documents (VEX, ignore rules) in the shared store: validated and stored through the API, applied by
//! every replica's matcher (each polls the store), and stored findings and verdicts re-matched on every change —
//! by the replica that takes the feed lock, without pulling any image again.

use std::sync::Arc;
use std::time::Duration;

use portcullis_store::{TriageDocument, TriageKind};
use portcullis_vuln::triage::Triage;
use sha2::Digest as _;

use super::{Engine, EngineError, Result, blocking};
use crate::api::RematchStats;

/// Largest triage document accepted through the API (a CSAF VEX file of a big product can be several MiB).
pub const MAX_TRIAGE_DOCUMENT_BYTES: usize = 8 << 20;
/// Most triage documents stored (of both kinds together).
pub const MAX_TRIAGE_DOCUMENTS: usize = 1_000;
/// The feed row recording which matcher version (vulnerability data + triage) stored findings were last
/// re-matched with: a start whose data or triage differs (a new `--vuln-db-bundle`, documents changed while
/// stopped) re-matches every stored image once.
pub const STORED_FINDINGS_FEED: &str = "stored-findings";
/// Longest document name kept.
const MAX_NAME_CHARS: usize = 200;

/// `doc` parsed as `kind`, into `into`.
fn add_to(into: &mut Triage, kind: TriageKind, name: &str, bytes: &[u8]) -> Result<()> {
    match kind {
        TriageKind::Vex => into.add_vex(name, bytes),
        TriageKind::IgnoreRules => into.add_ignore_rules(name, bytes),
    }
    .map_err(|e| EngineError::BadRequest(e.to_string()))
}

impl Engine {
    /// Validates and stores a triage document; every replica applies it within its poll interval (this one at
    /// once) and stored images are re-matched. The same content stored twice is one document.
    pub fn add_triage_document(
        &self,
        kind: TriageKind,
        name: Option<&str>,
        bytes: &[u8],
    ) -> Result<TriageDocument> {
        if bytes.len() > MAX_TRIAGE_DOCUMENT_BYTES {
            return Err(EngineError::BadRequest(format!(
                "the {} document is {} bytes, more than the {MAX_TRIAGE_DOCUMENT_BYTES} accepted; split it",
                kind.as_str(),
                bytes.len()
            )));
        }
        let content = std::str::from_utf8(bytes).map_err(|e| {
            EngineError::BadRequest(format!(
                "the {} document is not UTF-8 text (byte {}); send the JSON or YAML document itself",
                kind.as_str(),
                e.valid_up_to()
            ))
        })?;
        let id = hex::encode(sha2::Sha256::digest(bytes));
        let name: String = name
            .filter(|n| !n.trim().is_empty())
            .map(|n| {
                n.chars()
                    .filter(|c| !c.is_control())
                    .take(MAX_NAME_CHARS)
                    .collect()
            })
            .unwrap_or_else(|| format!("{}-{}", kind.as_str(), &id[..12]));
        add_to(&mut Triage::default(), kind, &name, bytes)?;
        let existing = self.store.list_triage_documents(None)?;
        if existing.len() >= MAX_TRIAGE_DOCUMENTS && !existing.iter().any(|d| d.id == id) {
            return Err(EngineError::Conflict(format!(
                "{MAX_TRIAGE_DOCUMENTS} triage documents are stored already; delete some first"
            )));
        }
        let doc = self.store.put_triage_document(&TriageDocument {
            id,
            kind,
            name,
            content: content.to_string(),
            created_at: chrono::Utc::now().timestamp_millis(),
        })?;
        Ok(doc)
    }

    /// The stored triage documents of `kind` (all when `None`), oldest first.
    pub fn triage_documents(&self, kind: Option<TriageKind>) -> Result<Vec<TriageDocument>> {
        Ok(self.store.list_triage_documents(kind)?)
    }

    /// Deletes a stored triage document.
    pub fn delete_triage_document(&self, kind: TriageKind, id: &str) -> Result<()> {
        if self.store.delete_triage_document(kind, id)? {
            Ok(())
        } else {
            Err(EngineError::NotFound(format!(
                "no {} document with id {id:?}; list them with GET /v1/{}",
                kind.as_str(),
                if kind == TriageKind::Vex {
                    "vex"
                } else {
                    "ignore-rules"
                }
            )))
        }
    }

    /// Loads the shared store's triage documents into the matcher when they changed since the last call;
    /// true when they did. A stored document that no longer parses is skipped with an error logged.
    pub fn apply_stored_triage(&self) -> Result<bool> {
        let Some(matcher) = self.stages.matcher.as_ref() else {
            return Ok(false);
        };
        let docs = self.store.list_triage_documents(None)?;
        let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
        let mut applied = self
            .triage_applied
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if applied.as_ref() == Some(&ids) {
            return Ok(false);
        }
        let mut shared = Triage::default();
        // VEX first, then ignore rules, each in the order stored (as `serve --vex … --ignore-file …`).
        for kind in [TriageKind::Vex, TriageKind::IgnoreRules] {
            for d in docs.iter().filter(|d| d.kind == kind) {
                if let Err(e) = add_to(&mut shared, kind, &d.name, d.content.as_bytes()) {
                    tracing::error!(id = %d.id, name = %d.name, error = %e, "stored triage document skipped");
                }
            }
        }
        matcher.set_shared_triage(&shared);
        *applied = Some(ids);
        Ok(true)
    }

    /// Applies changed triage documents and, when they changed, re-matches every stored image under the feed
    /// lock (one replica at a time; a replica that finds the lock taken leaves it to the holder, which sees the
    /// same change on its own poll). `None` when nothing changed or another replica is re-matching.
    ///
    /// The first call (at start) re-matches only when the matcher's version differs from the one stored
    /// findings were last re-matched with ([`STORED_FINDINGS_FEED`]).
    pub fn refresh_triage(&self) -> Result<Option<RematchStats>> {
        let first = self
            .triage_applied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none();
        if !self.apply_stored_triage()? {
            return Ok(None);
        }
        self.invalidate_all();
        let Some(matcher) = self.stages.matcher.as_ref() else {
            return Ok(None);
        };
        let version = matcher.db_version();
        let recorded = || -> Result<Option<String>> {
            Ok(self
                .store
                .list_feeds()?
                .into_iter()
                .find(|f| f.name == STORED_FINDINGS_FEED)
                .map(|f| f.db_version))
        };
        if first && recorded()?.as_deref() == Some(version.as_str()) {
            return Ok(None);
        }
        let Some(_lock) = self.store.try_feed_lock()? else {
            return Ok(None);
        };
        let stats = self.rematch_all()?;
        self.store.put_feed(&portcullis_store::FeedRecord {
            name: STORED_FINDINGS_FEED.into(),
            db_version: version,
            record_count: i64::try_from(stats.rematched).unwrap_or(i64::MAX),
            status: if stats.errors.is_empty() {
                "ok".into()
            } else {
                format!("{} images could not be re-matched", stats.errors.len())
            },
            updated_at: chrono::Utc::now().timestamp_millis(),
        })?;
        Ok(Some(stats))
    }
}

/// Polls the shared store for triage changes every `interval` until `stop` turns true, re-matching stored
/// images when they change ([`Engine::refresh_triage`]).
pub fn spawn_triage_watch(
    engine: Arc<Engine>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let e = engine.clone();
            match blocking(move || e.refresh_triage()).await {
                Ok(Some(stats)) => tracing::info!(
                    rematched = stats.rematched,
                    reevaluated = stats.reevaluated,
                    errors = stats.errors.len(),
                    "triage documents changed: stored images re-matched"
                ),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading the stored triage documents failed; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}
