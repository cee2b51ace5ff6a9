//! The `portcullis` command: CLI wiring only; every capability lives in a library crate.

mod cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Portcullis decides which container images may run in a Kubernetes cluster.
#[derive(Parser)]
#[command(name = "portcullis", version, about, propagate_version = true)]
struct Cli {
    /// Log filter (e.g. `info`, `portcullis_image=debug`); also read from `PORTCULLIS_LOG`.
    #[arg(long, global = true, env = "PORTCULLIS_LOG", default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse an image, OCI layout, docker archive or directory and print its SBOM.
    Sbom(cmd::sbom::Args),
    /// Analyse a source (or read an SBOM) and match it against the vulnerability database.
    Scan(cmd::scan::Args),
    /// Manage the local vulnerability database.
    Db(cmd::db::Args),
    /// Version-scheme tools (compare, satisfies).
    Version(cmd::version::Args),
    /// Policy bundles: validate, describe.
    Policy(cmd::policy::Args),
    /// Evaluate an image or SBOM against a policy bundle.
    Evaluate(cmd::evaluate::Args),
    /// Decide an AdmissionReview or manifest offline, as the webhook would.
    Admit(cmd::admit::Args),
    /// Run the webhook, REST API and analysis engine.
    Serve(Box<cmd::serve::Args>),
    /// Create a CA and serving certificate for the webhook.
    Certs(cmd::certs::Args),
    /// Print Validating/MutatingWebhookConfiguration manifests.
    WebhookConfig(cmd::webhook_config::Args),
    /// Engine client: add, get, list and inspect images.
    Image(cmd::image::Args),
    /// Engine client: system status.
    System(cmd::system::Args),
    /// Engine client: vulnerability feeds.
    Feeds(cmd::feeds::Args),
    /// Engine client: VEX documents and ignore rules every replica applies.
    Triage(cmd::triage::Args),
    /// Verify an image's cosign signatures against public keys (exit 0 verified, 1 not, 2 error).
    Verify(cmd::verify::Args),
    /// Internal: the analysis worker process `serve` starts per analysis (job on stdin, outcome on stdout).
    #[command(hide = true)]
    AnalyseWorker(cmd::analyse_worker::Args),
}

/// Targets that log secrets (oci-client writes bearer tokens at debug level): capped at `info` whatever the
/// log filter asks for.
const SECRET_LOGGING_TARGETS: [&str; 1] = ["oci_client"];

/// The log filter of `spec`, with the secret-logging targets capped (directives naming them, or their modules,
/// are dropped).
fn log_filter(spec: &str) -> tracing_subscriber::EnvFilter {
    let kept: Vec<&str> = spec
        .split(',')
        .filter(|d| {
            !SECRET_LOGGING_TARGETS
                .iter()
                .any(|t| d.trim().trim_start_matches('[').starts_with(t))
        })
        .collect();
    let mut f = tracing_subscriber::EnvFilter::new(kept.join(","));
    for t in SECRET_LOGGING_TARGETS {
        if let Ok(d) = format!("{t}=info").parse() {
            f = f.add_directive(d);
        }
    }
    f
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(&cli.log))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Sbom(a) => cmd::sbom::run(a),
        Command::Scan(a) => cmd::scan::run(a),
        Command::Db(a) => cmd::db::run(a),
        Command::Version(a) => cmd::version::run(a),
        Command::Policy(a) => cmd::policy::run(a),
        Command::Evaluate(a) => cmd::evaluate::run(a),
        Command::Admit(a) => cmd::admit::run(a),
        Command::Serve(a) => cmd::serve::run(*a),
        Command::Certs(a) => cmd::certs::run(a),
        Command::WebhookConfig(a) => cmd::webhook_config::run(a),
        Command::Image(a) => cmd::image::run(a),
        Command::System(a) => cmd::system::run(a),
        Command::Feeds(a) => cmd::feeds::run(a),
        Command::Triage(a) => cmd::triage::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::AnalyseWorker(a) => cmd::analyse_worker::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn oci_client_debug_logs_never_pass_the_filter() {
        for spec in [
            "debug",
            "trace",
            "info,oci_client=trace",
            "info,oci_client::client=debug",
        ] {
            let buf = Buf::default();
            let w = buf.clone();
            let sub = tracing_subscriber::fmt()
                .with_env_filter(super::log_filter(spec))
                .with_writer(move || w.clone())
                .finish();
            tracing::subscriber::with_default(sub, || {
                tracing::debug!(target: "oci_client::client", "Bearer SECRET-TOKEN");
                tracing::info!(target: "portcullis_image", "visible");
            });
            let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
            assert!(!out.contains("SECRET-TOKEN"), "{spec}: {out}");
            assert!(out.contains("visible"), "{spec}: {out}");
        }
    }
}
