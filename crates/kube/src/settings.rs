//! The Kubernetes-native settings file (`kubernetes.yaml` in the Helm chart's ConfigMap, named by
//! `PORTCULLIS_KUBE_CONFIG`): which integrations `portcullis serve` runs against the API server.
//!
//! ```yaml
//! reports: true                 # an ImageReport per admitted/denied workload
//! events: true                  # a Warning Event `AdmissionDenied` per denial
//! audit: {enabled: true, interval: "1h"}   # re-evaluate running Pods (leader only)
//! leaderElection: {enabled: true, namespace: portcullis, leaseName: portcullis}
//! pullSecrets: {namespaces: [shop], allNamespaces: false}
//! sideEffectsPerMinute: 120     # per namespace: pull-secret reads, Events and reports of at most this many reviews
//! ```
//!
//! ContainerAdmissionPolicies are always watched, and namespace metadata always cached, when the
//! integration runs.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// Settings of the Kubernetes integration. Every field has the default shown in the module docs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeSettings {
    /// Write an ImageReport per decided workload.
    #[serde(default = "yes")]
    pub reports: bool,
    /// Record a Warning Event on each denial.
    #[serde(default = "yes")]
    pub events: bool,
    /// The periodic audit of running Pods.
    #[serde(default)]
    pub audit: AuditSettings,
    /// Lease-based leader election for singleton work (the audit).
    #[serde(default)]
    pub leader_election: LeaderSettings,
    /// Which namespaces' pull secrets may be read.
    #[serde(default)]
    pub pull_secrets: PullSecretSettings,
    /// Most reviews per namespace and minute whose side effects (pull-secret reads, Events, ImageReports) are
    /// carried out; the rest are decided but leave no trace in Kubernetes.
    #[serde(default = "default_side_effects_per_minute")]
    pub side_effects_per_minute: u32,
}

fn yes() -> bool {
    true
}

fn default_side_effects_per_minute() -> u32 {
    120
}

/// The periodic audit.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditSettings {
    /// Run it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Go duration between runs (`1h`, `30m`, `10s`).
    #[serde(default = "default_interval")]
    pub interval: String,
}

fn default_interval() -> String {
    "1h".into()
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            enabled: true,
            interval: default_interval(),
        }
    }
}

/// Leader election.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderSettings {
    /// Elect a leader (off: every replica runs singleton work).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Namespace of the Lease (default: `POD_NAMESPACE`, else `default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Name of the Lease.
    #[serde(default = "default_lease")]
    pub lease_name: String,
}

fn default_lease() -> String {
    "portcullis".into()
}

impl Default for LeaderSettings {
    fn default() -> Self {
        LeaderSettings {
            enabled: true,
            namespace: None,
            lease_name: default_lease(),
        }
    }
}

/// Pull-secret access.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullSecretSettings {
    /// Namespaces whose workloads' pull secrets are read (the chart grants read access there only).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Read pull secrets in every namespace (the chart then grants cluster-wide read access).
    #[serde(default)]
    pub all_namespaces: bool,
}

impl PullSecretSettings {
    /// Whether the pull secrets of workloads in `namespace` are read.
    pub fn covers(&self, namespace: &str) -> bool {
        self.all_namespaces || self.namespaces.iter().any(|n| n == namespace)
    }
}

/// A settings file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("Kubernetes settings {path}: {reason}")]
pub struct SettingsError {
    /// The file.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl KubeSettings {
    /// Parses settings (YAML or JSON); `origin` names the text in errors.
    pub fn parse(text: &str, origin: &str) -> Result<KubeSettings, SettingsError> {
        let err = |reason: String| SettingsError {
            path: origin.to_string(),
            reason,
        };
        let s: KubeSettings = if text.trim().is_empty() {
            serde_yaml_ng::from_str("{}")
        } else {
            serde_yaml_ng::from_str(text)
        }
        .map_err(|e| err(e.to_string()))?;
        s.audit_interval().map_err(err)?;
        Ok(s)
    }

    /// Reads a settings file.
    pub fn load(path: &Path) -> Result<KubeSettings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        KubeSettings::parse(&text, &path.display().to_string())
    }

    /// The audit interval.
    pub fn audit_interval(&self) -> Result<Duration, String> {
        portcullis_admission::parse_go_duration(&self.audit.interval)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!(
                    "audit.interval {:?} is not a positive duration such as \"1h\", \"30m\" or \"10s\"",
                    self.audit.interval
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charts_file_parses_and_defaults_are_documented() {
        let s = KubeSettings::parse(
            "reports: true\nevents: false\naudit:\n  enabled: true\n  interval: \"30m\"\nleaderElection:\n  enabled: true\n  namespace: portcullis\n  leaseName: portcullis\npullSecrets:\n  namespaces: [\"shop\"]\n  allNamespaces: false\n",
            "t",
        )
        .unwrap();
        assert!(!s.events && s.reports);
        assert_eq!(s.audit_interval().unwrap(), Duration::from_secs(1800));
        assert!(s.pull_secrets.covers("shop") && !s.pull_secrets.covers("other"));
        let d = KubeSettings::parse("", "t").unwrap();
        assert!(d.reports && d.events && d.audit.enabled && d.leader_election.enabled);
        assert_eq!(d.audit_interval().unwrap(), Duration::from_secs(3600));
        assert!(!d.pull_secrets.covers("default"));
    }

    #[test]
    fn errors_name_the_file_and_field() {
        let e = KubeSettings::parse("audit: {interval: soon}\n", "/etc/k.yaml").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Kubernetes settings /etc/k.yaml: audit.interval \"soon\""),
            "{e}"
        );
        let e = KubeSettings::parse("reprots: true\n", "/etc/k.yaml").unwrap_err();
        assert!(e.to_string().contains("reprots"), "{e}");
    }
}
