//! Lease-based leader election (`coordination.k8s.io/v1` Lease), for singleton work (the periodic audit,
//! report garbage collection) when several replicas run.
//!
//! Hand-written (about 100 lines) rather than taken from a crate: the published kube-rs leader-election
//! crates each pin a specific `kube` release, and this follows client-go's algorithm directly: a holder
//! renews `renewTime`; anyone may take the Lease once `renewTime + leaseDurationSeconds` has passed;
//! every write carries the `resourceVersion` read, so two candidates cannot both win (the loser gets 409).

use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The API server refused a read or write (other than a lost race).
    #[error("lease {namespace}/{name}: {source}")]
    Api {
        /// Lease namespace.
        namespace: String,
        /// Lease name.
        name: String,
        /// The API error.
        source: kube::Error,
    },
}

/// One candidate for a Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    namespace: String,
    name: String,
    identity: String,
    lease_duration: Duration,
}

impl LeaderElector {
    /// A candidate `identity` (e.g. the Pod name) for Lease `namespace/name`; a leader that has not renewed
    /// for `lease_duration` loses the Lease.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        lease_duration: Duration,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            lease_duration,
        }
    }

    fn err(&self, source: kube::Error) -> LeaderError {
        LeaderError::Api {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            source,
        }
    }

    /// Tries once to acquire or renew the Lease. Returns whether this candidate now leads.
    pub async fn try_acquire_or_renew(&self) -> Result<bool, LeaderError> {
        let now = Utc::now();
        let secs = i32::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let current = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.err(e))?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    namespace: Some(self.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(self.err(e)),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let held_by_us = holder == self.identity;
        let duration =
            chrono::Duration::seconds(i64::from(spec.lease_duration_seconds.unwrap_or(secs)));
        let expired = spec
            .renew_time
            .as_ref()
            .is_none_or(|t| t.0 + duration < now);
        if !held_by_us && !holder.is_empty() && !expired {
            return Ok(false);
        }
        if !held_by_us {
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.lease_duration_seconds = Some(secs);
        spec.renew_time = Some(MicroTime(now));
        // `replace` sends the resourceVersion we read: a concurrent writer makes this fail with 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Gives the Lease up if held (clears the holder so another candidate takes over at once).
    pub async fn release(&self) -> Result<(), LeaderError> {
        let Some(mut lease) = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.err(e))?
        else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Runs forever: every `lease_duration / 3` tries to acquire or renew and publishes whether this
    /// candidate leads on `tx` (errors count as not leading, so singleton work stops when the API
    /// server is unreachable).
    pub async fn run(self, tx: tokio::sync::watch::Sender<bool>) {
        let period = (self.lease_duration / 3).max(Duration::from_millis(200));
        loop {
            let leading = match self.try_acquire_or_renew().await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "leader election");
                    false
                }
            };
            tx.send_if_modified(|v| std::mem::replace(v, leading) != leading);
            tokio::time::sleep(period).await;
        }
    }
}
