//! Which namespaces may be told about an analysis (issue #12, hole 7). An image analysed with namespace A's
//! pull secret is not A's to share: namespace B gets its verdict only once B's own credentials or the shared
//! access (configured credentials, else anonymous) were seen to pull its manifest.
//!
//! [`AccessFacts`] remembers, per manifest digest, which access pulled it (the analysis) or may pull it (a
//! manifest HEAD in the background), each fact for [`AccessConfig::ttl`]; a stale fact still answers while
//! it is checked again. It also carries the namespaces that asked for an analysis from the admission queue
//! to the worker that claims it, so the worker pulls with their credentials. Lookups are answered from memory
//! (admission reads them on the request path); the facts are also written to the store
//! ([`portcullis_store::Store::record_access`]) and loaded back on every snapshot refresh, so other replicas
//! and a restarted one know them too.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;
use std::time::Duration;

use crate::stages::Access;

/// Most digests facts are kept for; past it the oldest half is forgotten (rechecked on demand).
const MAX_DIGESTS: usize = 50_000;
/// Most namespaces remembered as requestors of one digest.
const MAX_REQUESTORS: usize = 32;
/// How long after asking for a re-check of a stale fact no other is asked for (Unix milliseconds).
const RECHECK_EVERY_MS: i64 = 30_000;

/// How long access facts are trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessConfig {
    /// After this a fact is stale: it still answers, and is checked again in the background.
    pub ttl: Duration,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
        }
    }
}

/// Whether a namespace may be given an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Yes: the shared access or the namespace's own credentials pulled it within the TTL.
    Yes,
    /// Yes, but the fact is older than the TTL: check again in the background.
    Stale,
    /// Not known: the analysis must not be reported to this namespace until a check says so.
    No,
}

#[derive(Default)]
struct Facts {
    /// digest → access → when it was last seen to work (Unix milliseconds).
    seen: HashMap<String, HashMap<Access, i64>>,
    /// digest → namespaces that asked for its analysis (carried to the worker).
    requested: HashMap<String, BTreeSet<String>>,
    /// (digest, namespace) → when a re-check of its stale fact was last asked for.
    rechecks: HashMap<(String, String), i64>,
}

/// The access facts of this replica. Share it through the [`crate::Engine`].
#[derive(Default)]
pub struct AccessFacts {
    config: AccessConfig,
    facts: RwLock<Facts>,
}

impl AccessFacts {
    /// Empty facts with `config`.
    pub fn new(config: AccessConfig) -> Self {
        Self {
            config,
            facts: RwLock::new(Facts::default()),
        }
    }

    fn lock(&self) -> std::sync::RwLockWriteGuard<'_, Facts> {
        self.facts.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Facts> {
        self.facts.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that `access` pulled (or may pull) `digest`, now.
    pub fn record(&self, digest: &str, access: Access) {
        self.record_at(digest, access, now_ms());
    }

    /// Records that `access` was seen to pull `digest` at `seen_at` (Unix milliseconds), unless a newer
    /// sighting is known.
    pub fn record_at(&self, digest: &str, access: Access, seen_at: i64) {
        let mut f = self.lock();
        if f.seen.len() >= MAX_DIGESTS && !f.seen.contains_key(digest) {
            let mut ages: Vec<(i64, String)> = f
                .seen
                .iter()
                .map(|(d, a)| (a.values().max().copied().unwrap_or_default(), d.clone()))
                .collect();
            ages.sort();
            for (_, d) in ages.into_iter().take(MAX_DIGESTS / 2) {
                f.seen.remove(&d);
            }
        }
        let at = f
            .seen
            .entry(digest.to_string())
            .or_default()
            .entry(access)
            .or_insert(seen_at);
        *at = (*at).max(seen_at);
    }

    /// Forgets that `access` may pull `digest` (a check found it refused).
    pub fn forget(&self, digest: &str, access: &Access) {
        let mut f = self.lock();
        if let Some(a) = f.seen.get_mut(digest) {
            a.remove(access);
            if a.is_empty() {
                f.seen.remove(digest);
            }
        }
    }

    /// Whether `namespace` may be given the analysis of `digest`: the shared access or the namespace's own
    /// credentials were seen to pull it.
    pub fn allows(&self, digest: &str, namespace: &str) -> Allowed {
        let f = self.read();
        let Some(seen) = f.seen.get(digest) else {
            return Allowed::No;
        };
        let own = Access::Namespace(namespace.to_string());
        let newest = [seen.get(&Access::Shared), seen.get(&own)]
            .into_iter()
            .flatten()
            .max();
        let ttl = i64::try_from(self.config.ttl.as_millis()).unwrap_or(i64::MAX);
        match newest {
            None => Allowed::No,
            Some(at) if now_ms().saturating_sub(*at) > ttl => Allowed::Stale,
            Some(_) => Allowed::Yes,
        }
    }

    /// Whether a re-check of `namespace`'s stale fact for `digest` should be queued now: true at most once
    /// per 30 seconds, so a busy image does not flood the queue.
    pub fn should_recheck(&self, digest: &str, namespace: &str) -> bool {
        let now = now_ms();
        let mut f = self.lock();
        if f.rechecks.len() >= MAX_DIGESTS {
            f.rechecks.clear();
        }
        let last = f
            .rechecks
            .entry((digest.to_string(), namespace.to_string()))
            .or_insert(i64::MIN);
        if now.saturating_sub(*last) < RECHECK_EVERY_MS {
            return false;
        }
        *last = now;
        true
    }

    /// Notes that `namespace` asked for the analysis of `digest`.
    pub fn requested(&self, digest: &str, namespace: &str) {
        let mut f = self.lock();
        if f.requested.len() >= MAX_DIGESTS && !f.requested.contains_key(digest) {
            f.requested.clear();
        }
        let set = f.requested.entry(digest.to_string()).or_default();
        if set.len() < MAX_REQUESTORS {
            set.insert(namespace.to_string());
        }
    }

    /// The namespaces that asked for the analysis of `digest` (their credentials are tried for the pull).
    pub fn requestors(&self, digest: &str) -> Vec<String> {
        self.read()
            .requested
            .get(digest)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Drops the requestors of `digest` once its analysis is finished.
    pub fn done(&self, digest: &str) {
        self.lock().requested.remove(digest);
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Access {
    /// The access as the store records it: `shared` or `namespace:NAME`.
    pub fn key(&self) -> String {
        match self {
            Access::Shared => "shared".to_string(),
            Access::Namespace(ns) => format!("namespace:{ns}"),
        }
    }

    /// Reads [`Access::key`] back; `None` for anything else.
    pub fn from_key(key: &str) -> Option<Access> {
        match key.split_once(':') {
            None if key == "shared" => Some(Access::Shared),
            Some(("namespace", ns)) => Some(Access::Namespace(ns.to_string())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_allowed_only_by_shared_or_its_own_access_and_facts_go_stale() {
        let facts = AccessFacts::new(AccessConfig {
            ttl: Duration::from_millis(50),
        });
        let d = "sha256:aa";
        assert_eq!(facts.allows(d, "a"), Allowed::No);
        facts.record(d, Access::Namespace("a".into()));
        assert_eq!(facts.allows(d, "a"), Allowed::Yes);
        assert_eq!(
            facts.allows(d, "b"),
            Allowed::No,
            "A's pull says nothing for B"
        );
        facts.record(d, Access::Shared);
        assert_eq!(facts.allows(d, "b"), Allowed::Yes);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(facts.allows(d, "b"), Allowed::Stale);
        facts.forget(d, &Access::Shared);
        assert_eq!(facts.allows(d, "b"), Allowed::No);
        assert_eq!(facts.allows(d, "a"), Allowed::Stale);

        facts.record_at(d, Access::Namespace("c".into()), now_ms() - 60_000);
        assert_eq!(
            facts.allows(d, "c"),
            Allowed::Stale,
            "an old sighting from the store"
        );
        facts.record_at(d, Access::Namespace("c".into()), now_ms() - 120_000);
        facts.record(d, Access::Namespace("c".into()));
        assert_eq!(facts.allows(d, "c"), Allowed::Yes);

        for a in [Access::Shared, Access::Namespace("shop".into())] {
            assert_eq!(Access::from_key(&a.key()), Some(a));
        }
        assert_eq!(Access::from_key("namespaces:x"), None);
        assert_eq!(Access::from_key("sharedx"), None);

        assert!(facts.should_recheck(d, "c"));
        assert!(!facts.should_recheck(d, "c"), "once per interval");
        assert!(facts.should_recheck(d, "b"));

        facts.requested(d, "b");
        facts.requested(d, "a");
        facts.requested(d, "a");
        assert_eq!(facts.requestors(d), ["a", "b"]);
        facts.done(d);
        assert!(facts.requestors(d).is_empty());
    }
}
