//! `portcullis webhook-config`: Validating/MutatingWebhookConfiguration manifests.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_server::webhook::{WebhookOptions, render};

/// Arguments of `portcullis webhook-config`.
#[derive(clap::Args)]
pub struct Args {
    /// PEM CA bundle the API server must trust (ca.crt from `portcullis certs`).
    #[arg(long)]
    pub ca_bundle: PathBuf,
    /// Configuration name.
    #[arg(long, default_value = "portcullis")]
    pub name: String,
    /// Service name.
    #[arg(long, default_value = "portcullis")]
    pub service: String,
    /// Service namespace (also excluded from admission).
    #[arg(long, default_value = "portcullis")]
    pub namespace: String,
    /// Service port.
    #[arg(long, default_value_t = 443)]
    pub port: u16,
    /// Webhook base URL instead of a Service (out-of-cluster).
    #[arg(long)]
    pub url: Option<String>,
    /// timeoutSeconds (1-30). Portcullis answers before it.
    #[arg(long, default_value_t = 10)]
    pub timeout: u32,
    /// failurePolicy: Fail (enforcement, run 2+ replicas) or Ignore (evaluation, single replica).
    #[arg(long, default_value = "Fail")]
    pub failure_policy: String,
    /// Namespaces excluded by the namespaceSelector (repeatable); default kube-system and --namespace.
    #[arg(long = "exclude-namespace")]
    pub exclude_namespaces: Vec<String>,
    /// Only the ValidatingWebhookConfiguration.
    #[arg(long)]
    pub no_mutating: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ca = std::fs::read_to_string(&args.ca_bundle)
        .with_context(|| format!("cannot read CA bundle {}", args.ca_bundle.display()))?;
    let mut exclude = args.exclude_namespaces.clone();
    if exclude.is_empty() {
        exclude = vec!["kube-system".into(), args.namespace.clone()];
    }
    let yaml = render(&WebhookOptions {
        name: args.name,
        namespace: args.namespace,
        service: args.service,
        port: args.port,
        url: args.url,
        ca_bundle_pem: ca,
        timeout_seconds: args.timeout,
        failure_policy: args.failure_policy,
        exclude_namespaces: exclude,
        mutating: !args.no_mutating,
    })?;
    print!("{yaml}");
    Ok(ExitCode::SUCCESS)
}
