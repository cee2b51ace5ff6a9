//! Signature verification off the request path: the [`Verifier`] stage (the real one,
//! [`RegistryVerifier`], runs `portcullis_verify` against the registry), the queue admission hands unverified
//! digests to, and the in-memory [`SignatureCache`] admission reads (from the store's `image_signatures`,
//! refreshed with the verdict snapshot, so every replica answers from memory). Facts older than the re-check
//! interval ([`RECHECK`] by default) are verified again when a review asks for them, off the request path, so a
//! signature, attestation or VEX pushed after the image was first seen takes effect; the old facts answer
//! meanwhile, and a re-check that cannot finish (registry down) keeps them.
//!
//! Facts are keyed by (digest, [`SignatureCache::requirement_key`]: the `verify` block and the contents of its
//! key files, re-read with every snapshot refresh, and of its Secret keys ([`KeySecrets`]), so replacing a key
//! file's or a Secret's contents makes every image verified again). A verification that could not finish (registry unreachable, deadline) is kept in memory only, for
//! [`RETRY_FAILED`], then verified again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use portcullis_admission::config::VerifySpec;
use portcullis_admission::config::verify::{Key, MAX_KEY_SECRET_BYTES};
use portcullis_image::ImageRef;
use portcullis_store::Store;
use portcullis_verify::{Keyless, Limits, Match, PublicKey, SignatureFacts, Trust, TrustRoot};
use sha2::Digest as _;
use tokio::sync::{mpsc, watch};

use crate::key_secrets::KeySecrets;
use crate::stages::BoxFuture;

/// How long the facts of a verification that did not finish answer before the image is verified again.
pub const RETRY_FAILED: Duration = Duration::from_secs(30);
/// Default age after which finished facts are verified again when a review asks for them.
pub const RECHECK: Duration = Duration::from_secs(600);
/// Verifications admission may have waiting (more are dropped with a warning and asked for again later).
const VERIFY_QUEUE: usize = 1024;
/// Overlap of incremental reads of the store's signature records (replicas' clocks differ a little).
const READ_OVERLAP_MS: i64 = 5_000;

/// Verifies an image's signatures against a `verify` block.
pub trait Verifier: Send + Sync + 'static {
    /// Verifies `image` (pinned by digest when known) against `spec`. Never fails: a verification that cannot
    /// finish gives facts whose `error` says why.
    fn verify<'a>(
        &'a self,
        image: &'a ImageRef,
        spec: &'a VerifySpec,
    ) -> BoxFuture<'a, SignatureFacts>;

    /// The SBOM of a verified CycloneDX or SPDX attestation on `image` (pinned by digest) by a signer `spec`
    /// trusts, when there is one; `Err` says why none could be looked for. The default finds none.
    fn attested_sbom<'a>(
        &'a self,
        _image: &'a ImageRef,
        _spec: &'a VerifySpec,
    ) -> BoxFuture<'a, Result<Option<AttestedSbom>, String>> {
        Box::pin(async { Ok(None) })
    }

    /// The Secret keys this verifier reads, when it reads any (the engine's signature cache keys facts by
    /// their contents too).
    fn key_secrets(&self) -> Option<KeySecrets> {
        None
    }
}

/// An SBOM taken from a verified attestation instead of analysing the image's layers.
#[derive(Debug, Clone)]
pub struct AttestedSbom {
    /// The SBOM.
    pub sbom: portcullis_sbom::Sbom,
    /// Where it came from, as recorded on the image (`attestation (cyclonedx, signer /keys/ci.pub)`).
    pub source: String,
}

/// The real verifier: cosign signatures (and, when the block names attestation types, in-toto attestations)
/// from the registry, checked with `portcullis_verify` against the block's key files and keyless signers
/// (trust root file, identity and issuer; a `rekorKey` requires a Rekor bundle verified by it on every signature
/// and attestation the block accepts). Keys from Secrets come from [`KeySecrets`] (filled by the Kubernetes
/// integration); one that cannot be used fails the verification, naming the Secret.
pub struct RegistryVerifier {
    /// Registry access options.
    pub opts: portcullis_image::PullOptions,
    /// Bounds of one verification.
    pub limits: Limits,
    /// Public keys read from Secrets.
    pub key_secrets: KeySecrets,
}

/// The [`Trust`] a `verify` block describes (files read now, Secret keys as last read).
fn trust_of(spec: &VerifySpec, secrets: &KeySecrets) -> Result<Trust, String> {
    let mut trust = Trust::default();
    for k in spec.key_refs()? {
        match &k {
            Key::File(p) => trust
                .keys
                .push(PublicKey::from_pem_file(p).map_err(|e| e.to_string())?),
            Key::Secret { .. } => {
                let pem = secrets.pem(&k)?;
                if pem.len() > MAX_KEY_SECRET_BYTES {
                    return Err(format!(
                        "{k}: {} bytes, larger than a public key may be ({} bytes): give the PEM public key",
                        pem.len(),
                        MAX_KEY_SECRET_BYTES
                    ));
                }
                let name = std::path::PathBuf::from(k.to_string());
                trust
                    .keys
                    .push(PublicKey::from_pem(&name, &pem).map_err(|e| format!("{k}: {e}"))?);
            }
        }
    }
    for (i, k) in spec.keyless.iter().enumerate() {
        let root = TrustRoot::from_pem_file(std::path::Path::new(&k.trust_root))
            .map_err(|e| format!("keyless[{i}]: {e}"))?;
        let constraint = |what: &str, exact: &Option<String>, re: &Option<String>| match (exact, re)
        {
            (Some(e), _) => Ok(Match::exact(e)),
            (None, Some(r)) => {
                Match::regex(&format!("keyless[{i}].{what}"), r).map_err(|e| e.to_string())
            }
            (None, None) => Err(format!("keyless[{i}] gives no {what}")),
        };
        trust.keyless.push(Keyless {
            root,
            identity: constraint("subjectRegex", &k.subject, &k.subject_regex)?,
            issuer: constraint("issuerRegex", &k.issuer, &k.issuer_regex)?,
        });
        if let Some(r) = &k.rekor_key {
            trust.rekor_keys.push(
                PublicKey::from_pem_file(std::path::Path::new(r))
                    .map_err(|e| format!("keyless[{i}].rekorKey: {e}"))?,
            );
            trust.require_tlog = true;
        }
    }
    Ok(trust)
}

impl Verifier for RegistryVerifier {
    fn verify<'a>(
        &'a self,
        image: &'a ImageRef,
        spec: &'a VerifySpec,
    ) -> BoxFuture<'a, SignatureFacts> {
        Box::pin(async move {
            let digest = image.digest.clone().unwrap_or_default();
            let mut notes = Vec::new();
            let trust = match trust_of(spec, &self.key_secrets) {
                Ok(t) => t,
                Err(e) => return failed(&digest, e, notes),
            };
            if trust.keys.is_empty() && trust.keyless.is_empty() {
                if !spec.attestations.is_empty() {
                    notes.push(
                        "attestations are not checked: the `verify` block gives no key file nor keyless \
                         signer to check them with"
                            .to_string(),
                    );
                }
                let mut f = SignatureFacts {
                    digest,
                    ..Default::default()
                };
                f.notes = notes;
                return f;
            }
            let client = match portcullis_image::Client::new(&self.opts) {
                Ok(c) => c,
                Err(e) => return failed(&digest, e.to_string(), notes),
            };
            let mut f =
                match portcullis_verify::verify_trust(&client, image, &trust, &self.limits).await {
                    Ok(report) => SignatureFacts::from_report(&report),
                    Err(e) => return failed(&digest, e.to_string(), notes),
                };
            if !spec.attestations.is_empty() {
                let types: Vec<String> = spec
                    .attestations
                    .iter()
                    .map(|a| a.predicate_type.clone())
                    .collect();
                let pinned = image.with_digest(&f.digest);
                match portcullis_verify::attest::verify_attestations(
                    &client,
                    &pinned,
                    &trust,
                    &types,
                    &self.limits,
                )
                .await
                {
                    Ok(r) => f.add_attestations(&r),
                    Err(e) => return failed(&f.digest, format!("attestations: {e}"), notes),
                }
            }
            f.notes.extend(notes);
            f
        })
    }

    fn attested_sbom<'a>(
        &'a self,
        image: &'a ImageRef,
        spec: &'a VerifySpec,
    ) -> BoxFuture<'a, Result<Option<AttestedSbom>, String>> {
        Box::pin(async move {
            let trust = trust_of(spec, &self.key_secrets)?;
            if trust.keys.is_empty() && trust.keyless.is_empty() {
                return Ok(None);
            }
            let client = portcullis_image::Client::new(&self.opts).map_err(|e| e.to_string())?;
            let report = portcullis_verify::attest::verify_attestations(
                &client,
                image,
                &trust,
                &[],
                &self.limits,
            )
            .await
            .map_err(|e| format!("attestations: {e}"))?;
            for a in report.attestations {
                let (Some(portcullis_verify::predicates::Predicate::Sbom(sbom)), Some(signer)) =
                    (a.predicate, a.signer)
                else {
                    continue;
                };
                let kind = match a.predicate_type.as_deref() {
                    Some(t) if t.contains("spdx") => "spdx",
                    _ => "cyclonedx",
                };
                return Ok(Some(AttestedSbom {
                    sbom: *sbom,
                    source: format!("attestation ({kind}, signer {signer})"),
                }));
            }
            Ok(None)
        })
    }

    fn key_secrets(&self) -> Option<KeySecrets> {
        Some(self.key_secrets.clone())
    }
}

fn failed(digest: &str, error: String, notes: Vec<String>) -> SignatureFacts {
    let mut f = SignatureFacts::failed(digest, error);
    f.notes = notes;
    f
}

/// The files a `verify` block names (key files, keyless trust roots and Rekor keys): their contents key the facts.
fn spec_files(spec: &VerifySpec) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = spec
        .key_refs()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|k| match k {
            Key::File(p) => Some(p),
            Key::Secret { .. } => None,
        })
        .collect();
    for k in &spec.keyless {
        files.push(k.trust_root.clone().into());
        files.extend(k.rekor_key.clone().map(Into::into));
    }
    files
}

/// Largest file read for its fingerprint (a trust root bundle is at most 1 MiB).
const MAX_KEY_FILE: u64 = 1 << 20;

/// The SHA-256 (hex) of a key file's contents, or why it cannot be read.
fn file_fingerprint(path: &std::path::Path) -> String {
    use std::io::Read as _;
    let mut buf = Vec::new();
    match std::fs::File::open(path).and_then(|f| f.take(MAX_KEY_FILE).read_to_end(&mut buf)) {
        Ok(_) => hex::encode(sha2::Sha256::digest(&buf)),
        Err(e) => format!("unreadable: {e}"),
    }
}

/// A verification admission asked for.
#[derive(Debug, Clone)]
pub struct VerifyJob {
    /// The image (pinned by digest when known).
    pub image: ImageRef,
    /// The requirements.
    pub spec: VerifySpec,
}

type Entry = (Instant, Arc<SignatureFacts>);

/// A job's identity while it waits: the image and the block as written.
fn pending_key(job: &VerifyJob) -> (String, String) {
    (
        job.image.to_string(),
        serde_json::to_string(&job.spec).unwrap_or_default(),
    )
}

/// Verification facts in memory, by (digest, requirement key).
#[derive(Default)]
pub struct SignatureCache {
    /// Public keys from Secrets (their contents key the facts like key files').
    key_secrets: KeySecrets,
    /// Age after which finished facts are verified again when asked for (zero: never).
    recheck: Duration,
    facts: RwLock<HashMap<(String, String), Entry>>,
    /// Jobs queued or running, by (image, requirement key): asked for once.
    pending: Mutex<HashSet<(String, String)>>,
    /// Verified-at of the newest store record read.
    read_up_to: Mutex<Option<i64>>,
    /// Contents fingerprint of every file a `verify` block named (keys, trust roots, Rekor keys), re-read by [`SignatureCache::reload`].
    key_files: RwLock<HashMap<std::path::PathBuf, String>>,
    /// The newest finished facts of each digest (any `verify` block), with when they were verified (ms since
    /// the epoch): what bundle evaluation sees ([`SignatureCache::latest`]).
    latest: RwLock<HashMap<String, (i64, Arc<SignatureFacts>)>>,
    /// Digests whose [`SignatureCache::latest`] facts changed since [`SignatureCache::take_changed`].
    changed: Mutex<HashSet<String>>,
}

/// The version suffix of an evaluation that saw `facts` (`+sig.<12 hex>` of their JSON; empty without facts):
/// appended to the vulnerability data version recorded with the evaluation, so an evaluation made before the
/// facts changed is out of date.
pub fn facts_version(facts: Option<&SignatureFacts>) -> String {
    match facts {
        None => String::new(),
        Some(f) => {
            let json = serde_json::to_vec(f).unwrap_or_default();
            format!("+sig.{}", &hex::encode(sha2::Sha256::digest(&json))[..12])
        }
    }
}

impl SignatureCache {
    /// A cache whose requirement keys include the contents of `key_secrets`' keys, and whose finished facts
    /// are verified again when asked for after `recheck` (zero: never).
    pub fn new(key_secrets: KeySecrets, recheck: Duration) -> SignatureCache {
        SignatureCache {
            key_secrets,
            recheck,
            ..Default::default()
        }
    }

    /// Whether `image` (pinned by digest when known) needs verifying against `spec`: no facts yet, facts of a
    /// verification that did not finish older than [`RETRY_FAILED`], or finished facts older than the re-check
    /// interval (they keep answering until the new ones are in).
    pub fn needs_verification(&self, image: &ImageRef, spec: &VerifySpec) -> bool {
        let Some(digest) = image.digest.as_deref() else {
            return true;
        };
        let key = (digest.to_string(), self.requirement_key(spec));
        let map = self.facts.read().unwrap_or_else(|p| p.into_inner());
        match map.get(&key) {
            None => true,
            Some((at, f)) if f.error.is_some() => at.elapsed() > RETRY_FAILED,
            Some((at, _)) => !self.recheck.is_zero() && at.elapsed() > self.recheck,
        }
    }

    /// The Secret keys this cache's requirement keys include (the Kubernetes integration fills them).
    pub fn key_secrets(&self) -> &KeySecrets {
        &self.key_secrets
    }

    /// The key of a `verify` block: the SHA-256 (first 16 bytes, hex) of its canonical JSON and of its key files'
    /// fingerprints as last read (from memory; a file not read yet counts as `unread` until the next refresh).
    pub fn requirement_key(&self, spec: &VerifySpec) -> String {
        let mut h = sha2::Sha256::new();
        h.update(serde_json::to_string(spec).unwrap_or_default().as_bytes());
        let paths = spec_files(spec);
        let files = self.key_files.read().unwrap_or_else(|p| p.into_inner());
        let unseen: Vec<_> = paths.iter().filter(|p| !files.contains_key(*p)).collect();
        for p in &paths {
            h.update(b"\n");
            h.update(files.get(p).map_or("unread", String::as_str).as_bytes());
        }
        drop(files);
        for k in spec.key_refs().unwrap_or_default() {
            if matches!(k, Key::Secret { .. }) {
                h.update(b"\nsecret ");
                h.update(self.key_secrets.fingerprint(&k).as_bytes());
            }
        }
        if !unseen.is_empty() {
            // Remembered so the next refresh reads them.
            let mut files = self.key_files.write().unwrap_or_else(|p| p.into_inner());
            for p in unseen {
                files.entry(p.clone()).or_insert_with(|| "unread".into());
            }
        }
        format!("verify:{}", hex::encode(&h.finalize()[..16]))
    }

    /// The facts of `digest` for `spec`, when verified (a verification that did not finish answers for
    /// [`RETRY_FAILED`]).
    pub fn get(&self, digest: &str, spec: &VerifySpec) -> Option<Arc<SignatureFacts>> {
        let key = (digest.to_string(), self.requirement_key(spec));
        let map = self.facts.read().unwrap_or_else(|p| p.into_inner());
        let (at, f) = map.get(&key)?;
        if f.error.is_some() && at.elapsed() > RETRY_FAILED {
            return None;
        }
        Some(f.clone())
    }

    /// The newest finished verification facts of `digest` under any `verify` block (what the policy gate
    /// `signature` is evaluated with), when there are any.
    pub fn latest(&self, digest: &str) -> Option<Arc<SignatureFacts>> {
        self.latest
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(digest)
            .map(|(_, f)| f.clone())
    }

    /// The digests whose [`SignatureCache::latest`] facts changed since the last call (their verdicts are
    /// evaluated again).
    pub fn take_changed(&self) -> Vec<String> {
        self.changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect()
    }

    fn note_latest(&self, digest: &str, at: i64, facts: &Arc<SignatureFacts>) {
        if facts.error.is_some() {
            return;
        }
        let mut latest = self.latest.write().unwrap_or_else(|p| p.into_inner());
        let changed = match latest.get(digest) {
            Some((t, _)) if *t > at => return,
            Some((_, f)) => **f != **facts,
            None => true,
        };
        latest.insert(digest.to_string(), (at, facts.clone()));
        drop(latest);
        if changed {
            self.changed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(digest.to_string());
        }
    }

    fn insert(&self, digest: String, requirement: String, facts: Arc<SignatureFacts>) {
        self.insert_at(digest, requirement, facts, Instant::now());
    }

    /// Puts facts verified at `at` in memory, except that a verification that could not finish never replaces
    /// finished facts (a re-check during a registry outage keeps the old answer; it is tried again after
    /// [`RETRY_FAILED`]).
    fn insert_at(
        &self,
        digest: String,
        requirement: String,
        facts: Arc<SignatureFacts>,
        at: Instant,
    ) {
        let mut map = self.facts.write().unwrap_or_else(|p| p.into_inner());
        let key = (digest, requirement);
        if facts.error.is_some()
            && let Some((old_at, old)) = map.get_mut(&key)
            && old.error.is_none()
        {
            tracing::warn!(digest = %key.0, error = ?facts.error, "re-checking signatures did not finish; the previous facts keep answering");
            *old_at = Instant::now()
                .checked_sub(self.recheck.saturating_sub(RETRY_FAILED))
                .unwrap_or(*old_at);
            return;
        }
        map.insert(key, (at, facts));
    }

    /// Reads the store's records verified since the last read (minus an overlap); blocking.
    pub fn reload(&self, store: &dyn Store) -> portcullis_store::Result<usize> {
        let paths: Vec<std::path::PathBuf> = self
            .key_files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let read: Vec<_> = paths
            .into_iter()
            .map(|p| {
                let fp = file_fingerprint(&p);
                (p, fp)
            })
            .collect();
        self.key_files
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(read);
        let since = *self.read_up_to.lock().unwrap_or_else(|p| p.into_inner());
        let rows = store.list_signatures(since.map(|s| s - READ_OVERLAP_MS))?;
        let n = rows.len();
        let mut newest = since;
        for r in rows {
            newest = newest.max(Some(r.verified_at));
            match serde_json::from_value::<SignatureFacts>(r.facts) {
                Ok(f) => {
                    let f = Arc::new(f);
                    self.note_latest(&r.digest, r.verified_at, &f);
                    // Aged by when the record was verified (by any replica), so re-checks follow it.
                    let age = chrono::Utc::now().timestamp_millis() - r.verified_at;
                    let at = Instant::now()
                        .checked_sub(Duration::from_millis(age.max(0) as u64))
                        .unwrap_or_else(Instant::now);
                    self.insert_at(r.digest, r.requirement, f, at)
                }
                Err(e) => {
                    tracing::warn!(digest = %r.digest, error = %e, "unreadable signature record; ignored")
                }
            }
        }
        *self.read_up_to.lock().unwrap_or_else(|p| p.into_inner()) = newest;
        Ok(n)
    }

    /// Hands `job` to the verification task unless it is already waiting; never blocks.
    pub fn request(&self, tx: &mpsc::Sender<VerifyJob>, job: VerifyJob) {
        let key = pending_key(&job);
        {
            let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if !p.insert(key.clone()) {
                return;
            }
        }
        if tx.try_send(job).is_err() {
            tracing::warn!(image = %key.0, "signature verification queue is full or stopped; asked again on the next review");
            self.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
        }
    }

    /// Starts the verification task: verifies each job, records finished verifications in the store, and puts
    /// every result in memory. Ends when `shutdown` turns true.
    pub fn start(
        self: &Arc<Self>,
        verifier: Arc<dyn Verifier>,
        store: Arc<dyn Store>,
        mut shutdown: watch::Receiver<bool>,
    ) -> mpsc::Sender<VerifyJob> {
        let (tx, mut rx) = mpsc::channel::<VerifyJob>(VERIFY_QUEUE);
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let job = tokio::select! {
                    j = rx.recv() => match j { Some(j) => j, None => break },
                    _ = shutdown.changed() => break,
                };
                // Off the request path: the key files' current contents key the facts.
                let files = spec_files(&job.spec);
                let read = tokio::task::spawn_blocking(move || {
                    files
                        .into_iter()
                        .map(|p| {
                            let fp = file_fingerprint(&p);
                            (p, fp)
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap_or_default();
                me.key_files
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(read);
                let requirement = me.requirement_key(&job.spec);
                let started = Instant::now();
                let facts = verifier.verify(&job.image, &job.spec).await;
                tracing::info!(image = %job.image, signed = facts.signed(), error = ?facts.error, elapsed_ms = started.elapsed().as_millis() as u64, "verified image signatures");
                if !facts.digest.is_empty() {
                    if facts.error.is_none() {
                        let s = store.clone();
                        let (d, r) = (facts.digest.clone(), requirement.clone());
                        let json = serde_json::to_value(&facts).unwrap_or_default();
                        let written =
                            tokio::task::spawn_blocking(move || s.put_signatures(&d, &r, &json))
                                .await;
                        if !matches!(written, Ok(Ok(()))) {
                            tracing::warn!(image = %job.image, "recording signature facts failed; kept in memory");
                        }
                    }
                    let facts = Arc::new(facts);
                    me.note_latest(&facts.digest, chrono::Utc::now().timestamp_millis(), &facts);
                    me.insert(facts.digest.clone(), requirement.clone(), facts);
                }
                me.pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&pending_key(&job));
            }
        });
        tx
    }
}
