//! Admission's in-memory snapshot and its incremental refresh: each refresh reads only the images changed since
//! the last one ([`portcullis_store::Store::image_changes`]) and evaluates only what changed — every analysed
//! image again only when a policy's bundle changed or a policy is newly wanted — so a refresh after one analysis
//! costs what one image costs, whatever the number of images stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use portcullis_policy::Verdict;
use portcullis_store::{AnalysisStatus, ImageRecord, PolicyRecord};
use portcullis_vuln::{Finding, MatchReport};

use super::EngineVerdicts;

/// What the snapshot knows of one image.
#[derive(Clone)]
pub(super) struct ImageEntry {
    pub(super) status: AnalysisStatus,
    pub(super) error: Option<String>,
    pub(super) analysed_at: DateTime<Utc>,
    pub(super) findings: Arc<Vec<Finding>>,
    pub(super) db_version: String,
    pub(super) tags: Vec<String>,
}

/// (digest, tag, policy).
pub(super) type VerdictKey = (String, String, String);

/// (bundle digest, db version, verdict).
type VerdictValue = (String, String, Arc<Verdict>);

/// The snapshot admission answers from.
#[derive(Default)]
pub(super) struct Snapshot {
    pub(super) images: HashMap<String, ImageEntry>,
    /// Tag → the digest it last led to, and when (the newest resolution wins).
    pub(super) tag_digest: HashMap<String, (String, i64)>,
    pub(super) verdicts: HashMap<VerdictKey, VerdictValue>,
    /// The stored bundles as (id, name, active); `None` until the store was read once.
    pub(super) policies: Option<Vec<(String, Option<String>, bool)>>,
    /// The policy names this snapshot holds verdicts for.
    pub(super) computed_for: HashSet<String>,
    /// Policy name → the digest of the bundle its verdicts were computed with.
    bundles: HashMap<String, String>,
    /// The store's clock at the last read; `None` before the first.
    as_of: Option<i64>,
}

impl Snapshot {
    /// The digest `tag` leads to.
    pub(super) fn digest_of(&self, tag: &str) -> Option<&String> {
        self.tag_digest.get(tag).map(|(d, _)| d)
    }
}

/// What a refresh read and evaluated, applied to the snapshot in one short write.
struct Update {
    as_of: i64,
    entries: Vec<(String, ImageEntry)>,
    tag_times: Vec<(String, String, i64)>,
    verdicts: Vec<(VerdictKey, VerdictValue)>,
    /// Policies whose verdicts are all replaced (bundle changed, newly wanted, or gone).
    replaced: HashSet<String>,
    bundles: HashMap<String, String>,
    policies: Vec<(String, Option<String>, bool)>,
    computed_for: HashSet<String>,
}

/// Statistics of one refresh (for the benchmark and logs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshStats {
    /// Images read from the store.
    pub images_read: usize,
    /// Verdicts evaluated (not reused).
    pub evaluated: usize,
}

fn entry_of(img: &ImageRecord, findings: Arc<Vec<Finding>>, db_version: String) -> ImageEntry {
    ImageEntry {
        status: img.status,
        error: img.error.clone(),
        analysed_at: img
            .analyzed_at
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now),
        findings,
        db_version,
        tags: img.tags.clone(),
    }
}

impl EngineVerdicts {
    /// Brings the snapshot up to date with the store, reading only what changed since the last refresh.
    pub(super) fn refresh_snapshot(&self) -> crate::Result<RefreshStats> {
        let store = self.engine.store();
        let tags: Vec<(String, String)> = self
            .wanted_tags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for (digest, tag) in tags {
            if store.get_image(&digest)?.is_some() {
                store.upsert_image(&digest, Some(&tag), &BTreeMap::new())?;
            }
        }
        let resolutions: Vec<(String, String)> = self
            .resolutions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for (digest, tag) in resolutions {
            // An image not stored yet gets the tag when it is queued.
            store.record_resolution(&digest, &tag)?;
        }
        // Which namespaces may be told about which analyses, as every replica recorded it.
        self.engine.load_access()?;
        let since = self.current().as_of;
        let changes = store.image_changes(since)?;
        let mut stats = RefreshStats {
            images_read: changes.images.len(),
            evaluated: 0,
        };
        let mut entries = Vec::with_capacity(changes.images.len());
        for img in &changes.images {
            let (findings, db_version) = match img.status {
                AnalysisStatus::Analyzed => match store.get_findings(&img.digest)? {
                    Some(f) => {
                        let report: MatchReport =
                            serde_json::from_value(f.report).unwrap_or_default();
                        (Arc::new(report.findings), f.db_version)
                    }
                    None => (Arc::new(Vec::new()), String::new()),
                },
                _ => (Arc::new(Vec::new()), String::new()),
            };
            entries.push((img.digest.clone(), entry_of(img, findings, db_version)));
        }
        self.judge_indexes(&changes.images, &mut entries)?;
        // Digests whose signature facts changed: their verdicts (gate `signature`) are evaluated again.
        let resigned: HashSet<String> = self.sigs.take_changed().into_iter().collect();
        for d in &resigned {
            self.engine.invalidate(d);
        }
        let policies = self.engine.policies()?;
        let wanted: Vec<String> = self
            .wanted_policies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut update = Update {
            as_of: changes.as_of,
            tag_times: changes
                .tag_times
                .into_iter()
                .map(|t| (t.tag, t.digest, t.at))
                .collect(),
            verdicts: Vec::new(),
            replaced: HashSet::new(),
            bundles: HashMap::new(),
            policies: policies
                .iter()
                .map(|p| (p.id.clone(), p.name.clone(), p.active))
                .collect(),
            computed_for: wanted.iter().cloned().collect(),
            entries: Vec::new(),
        };
        // (digest, tags, db version) of every analysed image, for policies evaluated in full.
        let mut everything: Option<Vec<(String, Vec<String>, String)>> = None;
        for policy in &wanted {
            let bundle: Option<PolicyRecord> = Self::resolve_policy(&policies, policy);
            let full = {
                let snap = self.current();
                bundle.as_ref().map(|b| &b.digest) != snap.bundles.get(policy)
                    || !snap.computed_for.contains(policy)
            };
            let Some(bundle) = bundle else {
                update.replaced.insert(policy.clone());
                continue;
            };
            update.bundles.insert(policy.clone(), bundle.digest.clone());
            let targets: Vec<(String, Vec<String>, String)> = if full {
                update.replaced.insert(policy.clone());
                everything
                    .get_or_insert_with(|| {
                        let snap = self.current();
                        let changed: HashSet<&String> = entries.iter().map(|(d, _)| d).collect();
                        snap.images
                            .iter()
                            .filter(|(d, e)| {
                                e.status == AnalysisStatus::Analyzed && !changed.contains(d)
                            })
                            .map(|(d, e)| (d.clone(), e.tags.clone(), e.db_version.clone()))
                            .chain(
                                entries
                                    .iter()
                                    .filter(|(_, e)| e.status == AnalysisStatus::Analyzed)
                                    .map(|(d, e)| {
                                        (d.clone(), e.tags.clone(), e.db_version.clone())
                                    }),
                            )
                            .collect()
                    })
                    .clone()
            } else {
                let snap = self.current();
                let changed: HashSet<&String> = entries.iter().map(|(d, _)| d).collect();
                entries
                    .iter()
                    .filter(|(_, e)| e.status == AnalysisStatus::Analyzed)
                    .map(|(d, e)| (d.clone(), e.tags.clone(), e.db_version.clone()))
                    .chain(
                        snap.images
                            .iter()
                            .filter(|(d, e)| {
                                resigned.contains(*d)
                                    && !changed.contains(d)
                                    && e.status == AnalysisStatus::Analyzed
                            })
                            .map(|(d, e)| (d.clone(), e.tags.clone(), e.db_version.clone())),
                    )
                    .collect()
            };
            for (digest, tags, db_version) in targets {
                let db_version = self.engine.evaluation_version(&digest, &db_version);
                for tag in tags {
                    let key = (digest.clone(), tag.clone(), policy.clone());
                    let reuse = self.current().verdicts.get(&key).and_then(|(bd, dbv, v)| {
                        (*bd == bundle.digest && *dbv == db_version)
                            .then(|| (bd.clone(), dbv.clone(), v.clone()))
                    });
                    if let Some(v) = reuse {
                        update.verdicts.push((key, v));
                        continue;
                    }
                    match self.engine.check(&digest, Some(&tag), Some(&bundle.id)) {
                        Ok(r) => {
                            stats.evaluated += 1;
                            update.verdicts.push((
                                key,
                                (bundle.digest.clone(), r.db_version, Arc::new(r.verdict)),
                            ));
                        }
                        Err(e) => {
                            tracing::warn!(%digest, tag, policy, error = %e, "evaluation for admission failed")
                        }
                    }
                }
            }
        }
        update.entries = entries;
        self.apply(update);
        Ok(stats)
    }

    /// Gives each multi-platform index touched by this refresh (changed itself, or one of its platform
    /// manifests changed) the state of its platforms: failed when one failed (naming it), analysing while one
    /// is not analysed, else analysed with the findings of all; its version (which cached verdicts are checked
    /// against) changes whenever a platform is re-analysed or re-matched.
    fn judge_indexes(
        &self,
        changed: &[ImageRecord],
        entries: &mut Vec<(String, ImageEntry)>,
    ) -> crate::Result<()> {
        let mut touched: HashSet<String> = HashSet::new();
        for img in changed {
            if crate::index_platforms(img).is_some() {
                touched.insert(img.digest.clone());
            }
            if let Some(parent) = img.annotations.get(crate::INDEX_ANNOTATION) {
                touched.insert(parent.clone());
            }
        }
        if touched.is_empty() {
            return Ok(());
        }
        let store = self.engine.store();
        let snap = self.current();
        let fresh: HashMap<String, ImageEntry> = entries.iter().cloned().collect();
        let child = |d: &str| fresh.get(d).or_else(|| snap.images.get(d)).cloned();
        let mut judged = Vec::new();
        for digest in touched {
            // The index's own record as stored (the snapshot holds its judged state, not the stored one).
            let Some(img) = store.get_image(&digest)? else {
                continue;
            };
            let Some(platforms) = crate::index_platforms(&img) else {
                continue;
            };
            let mut entry = entry_of(&img, Arc::new(Vec::new()), String::new());
            if entry.status == AnalysisStatus::Analyzed {
                let mut findings = Vec::new();
                let mut versions = Vec::new();
                for (platform, c) in &platforms {
                    match child(c) {
                        Some(c) if c.status == AnalysisStatus::Analyzed => {
                            findings.extend(c.findings.iter().cloned());
                            versions.push(format!("{platform}={}", c.db_version));
                        }
                        Some(c) if c.status == AnalysisStatus::AnalysisFailed => {
                            entry.status = AnalysisStatus::AnalysisFailed;
                            entry.error = Some(format!(
                                "platform {platform}: {}",
                                c.error.as_deref().unwrap_or("analysis failed")
                            ));
                            break;
                        }
                        _ => entry.status = AnalysisStatus::Analyzing,
                    }
                }
                entry.findings = Arc::new(findings);
                entry.db_version = versions.join(",");
            }
            judged.push((digest, entry));
        }
        entries.retain(|(d, _)| !judged.iter().any(|(j, _)| j == d));
        entries.extend(judged);
        Ok(())
    }

    fn apply(&self, u: Update) {
        let mut snap = self.snap.write().unwrap_or_else(|p| p.into_inner());
        if !u.replaced.is_empty() {
            snap.verdicts.retain(|k, _| !u.replaced.contains(&k.2));
        }
        // Images analysed before and re-queued now (forced re-analysis): no verdict until analysed again.
        let requeued: HashSet<String> = u
            .entries
            .iter()
            .filter(|(d, e)| {
                e.status != AnalysisStatus::Analyzed
                    && snap
                        .images
                        .get(d)
                        .is_some_and(|old| old.status == AnalysisStatus::Analyzed)
            })
            .map(|(d, _)| d.clone())
            .collect();
        if !requeued.is_empty() {
            snap.verdicts.retain(|k, _| !requeued.contains(&k.0));
        }
        for (digest, entry) in u.entries {
            snap.images.insert(digest, entry);
        }
        for (tag, digest, at) in u.tag_times {
            let newer = match snap.tag_digest.get(&tag) {
                None => true,
                Some((d, t)) => *d == digest || at > *t || (at == *t && digest > *d),
            };
            if newer {
                snap.tag_digest.insert(tag, (digest, at));
            }
        }
        for (k, v) in u.verdicts {
            snap.verdicts.insert(k, v);
        }
        snap.bundles = u.bundles;
        snap.policies = Some(u.policies);
        snap.computed_for = u.computed_for;
        snap.as_of = Some(u.as_of);
    }

    /// Reads the whole store again (as the first refresh does), dropping what the snapshot holds; for the
    /// benchmark comparing full and incremental refreshes.
    pub fn refresh_full(&self) -> crate::Result<RefreshStats> {
        *self.snap.write().unwrap_or_else(|p| p.into_inner()) = Snapshot::default();
        self.refresh_snapshot()
    }
}
