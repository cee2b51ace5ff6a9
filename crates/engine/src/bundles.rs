//! The policy bundles a service keeps in force: Portcullis's default bundle (stored at start and active when
//! no other bundle is) and bundle files given to `serve --policy-bundle` (stored at start and again whenever
//! a file changes; a file's `"active": true`, or `--active-bundle ID`, activates its bundle).
//!
//! Unlike the server's configuration files, a bundle that could not be stored because the store was down is
//! tried again on the next round: the store coming back must not leave the bundle out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::engine::{Engine, EngineError, blocking};

/// Largest bundle file read (a bundle of a few thousand rules is well below).
pub const MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// Where a service's bundles come from.
#[derive(Debug, Clone, Default)]
pub struct BundleSources {
    /// Bundle files (Anchore bundle JSON), stored at start and whenever they change.
    pub files: Vec<PathBuf>,
    /// Id of the bundle to activate at start (one of the files' or one already stored).
    pub active: Option<String>,
    /// How often the files are checked for changes.
    pub interval: Duration,
}

/// A bundle file read and checked for the engine's needs: the document (without its `active` flag) and
/// whether the file asks to be the active bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleFile {
    /// The bundle document.
    pub bundle: serde_json::Value,
    /// The file's own `"active": true`.
    pub active: bool,
}

/// Reads a bundle file (at most [`MAX_BUNDLE_BYTES`]); the error names the file and what to do.
pub fn read_bundle_file(path: &Path) -> Result<BundleFile, String> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| format!("policy bundle file {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("policy bundle file {}: {e}", path.display()))?;
    if bytes.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(format!(
            "policy bundle file {} is larger than {MAX_BUNDLE_BYTES} bytes: split it or remove unused rules",
            path.display()
        ));
    }
    let mut bundle: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "policy bundle file {} is not JSON ({e}): give an Anchore policy bundle document",
            path.display()
        )
    })?;
    let active = match bundle.as_object_mut().and_then(|o| o.remove("active")) {
        None => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(other) => {
            return Err(format!(
                "policy bundle file {}: `active` must be true or false, not {other}",
                path.display()
            ));
        }
    };
    Ok(BundleFile { bundle, active })
}

type Stamp = Option<(SystemTime, u64)>;

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// What [`Keeper::round`] still has to do.
struct Keeper {
    engine: Arc<Engine>,
    sources: BundleSources,
    default_stored: bool,
    active_applied: bool,
    /// Per file: the stamp last handled (stored, or refused for its content).
    handled: Vec<Stamp>,
}

impl Keeper {
    /// One round: store the default bundle (once), the changed files, activate what was asked. Store
    /// failures are left for the next round.
    fn round(&mut self) {
        let engine = &self.engine;
        if !self.default_stored {
            match store_default(engine) {
                Ok(()) => self.default_stored = true,
                Err(e) => {
                    tracing::warn!(error = %e, "storing the default policy bundle failed; will retry")
                }
            }
        }
        for (i, path) in self.sources.files.iter().enumerate() {
            let now = stamp(path);
            if now.is_some() && now == self.handled[i] {
                continue;
            }
            let file = match read_bundle_file(path) {
                Ok(f) => f,
                Err(e) => {
                    if now != self.handled[i] {
                        tracing::error!(error = %e, "policy bundle file not loaded; the stored version stays in force");
                    }
                    self.handled[i] = now;
                    continue;
                }
            };
            match engine.add_policy(file.bundle) {
                Ok(rec) => {
                    self.handled[i] = now;
                    let wanted = file.active || self.sources.active.as_deref() == Some(&rec.id);
                    if wanted
                        && !rec.active
                        && let Err(e) = engine.activate_policy(&rec.id)
                    {
                        tracing::warn!(bundle = %rec.id, error = %e, "activating the policy bundle failed; will retry");
                        self.handled[i] = None;
                        continue;
                    }
                    if wanted {
                        self.active_applied = true;
                    }
                    tracing::info!(file = %path.display(), bundle = %rec.id, active = wanted || rec.active, "policy bundle loaded");
                }
                Err(EngineError::BadRequest(e)) => {
                    tracing::error!(file = %path.display(), error = %e, "policy bundle file not loaded; the stored version stays in force");
                    self.handled[i] = now;
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "storing the policy bundle failed; will retry");
                }
            }
        }
        if !self.active_applied {
            self.active_applied = match self.sources.active.as_deref() {
                Some(id) => match engine.activate_policy(id) {
                    Ok(_) => true,
                    Err(EngineError::NotFound(_)) => {
                        tracing::error!(
                            bundle = id,
                            "--active-bundle names no stored policy bundle; the active bundle is unchanged"
                        );
                        true
                    }
                    Err(e) => {
                        tracing::warn!(bundle = id, error = %e, "activating the policy bundle failed; will retry");
                        false
                    }
                },
                None => true,
            };
        }
        if self.default_stored
            && let Err(e) = activate_default_if_none(engine)
        {
            tracing::warn!(error = %e, "activating the default policy bundle failed; will retry");
        }
    }
}

/// Stores Portcullis's default bundle unless the stored copy is the same document.
fn store_default(engine: &Engine) -> Result<(), EngineError> {
    let doc: serde_json::Value = serde_json::from_str(portcullis_policy::DEFAULT_BUNDLE_JSON)
        .map_err(|e| EngineError::BadRequest(format!("the built-in default bundle: {e}")))?;
    let stored = engine.store().get_policy(
        &engine.config().account,
        portcullis_policy::DEFAULT_BUNDLE_ID,
    )?;
    let digest = crate::stages::bundle_identity(&doc)
        .map_err(|e| EngineError::BadRequest(format!("the built-in default bundle: {e}")))?
        .digest;
    if stored.is_some_and(|p| p.digest == digest) {
        return Ok(());
    }
    engine.add_policy(doc)?;
    Ok(())
}

/// Activates the default bundle when no bundle is active.
fn activate_default_if_none(engine: &Engine) -> Result<(), EngineError> {
    if engine
        .store()
        .active_policy(&engine.config().account)?
        .is_none()
    {
        engine.activate_policy(portcullis_policy::DEFAULT_BUNDLE_ID)?;
        tracing::info!(
            bundle = portcullis_policy::DEFAULT_BUNDLE_ID,
            "no policy bundle was active; activated Portcullis's default bundle"
        );
    }
    Ok(())
}

/// Runs one round now and returns once it is done (the service awaits it before its first verdict refresh,
/// so the snapshot starts with the bundles in force), then keeps the bundles in force every
/// `sources.interval` in a task until `shutdown` turns true.
pub(crate) async fn start(
    engine: Arc<Engine>,
    sources: BundleSources,
    mut shutdown: watch::Receiver<bool>,
) {
    let n = sources.files.len();
    let interval = sources.interval.max(Duration::from_millis(100));
    let mut keeper = Keeper {
        engine,
        sources,
        default_stored: false,
        active_applied: false,
        handled: vec![None; n],
    };
    let first = blocking(move || {
        keeper.round();
        Ok(keeper)
    })
    .await;
    let Ok(mut keeper) = first else {
        tracing::error!("the policy bundle task stopped");
        return;
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                break;
            }
            match blocking(move || {
                keeper.round();
                Ok(keeper)
            })
            .await
            {
                Ok(k) => keeper = k,
                Err(e) => {
                    tracing::error!(error = %e, "the policy bundle task stopped");
                    break;
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_files_are_read_bounded_and_their_active_flag_taken_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(&p, r#"{"id": "x", "active": true, "policies": []}"#).unwrap();
        let f = read_bundle_file(&p).unwrap();
        assert!(f.active);
        assert_eq!(f.bundle, serde_json::json!({"id": "x", "policies": []}));

        std::fs::write(&p, r#"{"id": "x", "active": "yes"}"#).unwrap();
        let e = read_bundle_file(&p).unwrap_err();
        assert!(e.contains("`active` must be true or false"), "{e}");

        std::fs::write(&p, "not json").unwrap();
        let e = read_bundle_file(&p).unwrap_err();
        assert!(e.contains("b.json") && e.contains("not JSON"), "{e}");

        let big = vec![b' '; (MAX_BUNDLE_BYTES + 1) as usize];
        std::fs::write(&p, big).unwrap();
        let e = read_bundle_file(&p).unwrap_err();
        assert!(e.contains("larger than"), "{e}");

        let e = read_bundle_file(&dir.path().join("missing.json")).unwrap_err();
        assert!(e.contains("missing.json"), "{e}");
    }
}
