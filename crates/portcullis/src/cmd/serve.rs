//! `portcullis serve`: the HTTPS admission webhook.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use portcullis_admission::MemoryVerdicts;
use portcullis_server::{Parts, ServerConfig, start};

/// Arguments of `portcullis serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Listen address.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// PEM certificate chain (reloaded when it changes).
    #[arg(long)]
    pub tls_cert: PathBuf,
    /// PEM private key (reloaded when it changes).
    #[arg(long)]
    pub tls_key: PathBuf,
    /// Admission configuration (native or Anchore controller format; reloaded when it changes).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Verdicts file to answer from (until the engine is plugged in); default: every image unknown.
    #[arg(long)]
    pub verdicts: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 3 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most reviews processed at once.
    #[arg(long, default_value_t = 1024)]
    pub max_concurrency: usize,
    /// Do not look up tags at registries during requests (answer from cached digests only).
    #[arg(long)]
    pub no_resolve: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs the subcommand until SIGINT/SIGTERM, then shuts down gracefully.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n);
    }
    let rt = rt.enable_all().build()?;
    rt.block_on(async move {
        let verdicts = match &args.verdicts {
            Some(p) => MemoryVerdicts::load(p)?,
            None => MemoryVerdicts::new(),
        };
        let mut cfg = ServerConfig::new(args.listen, args.tls_cert, args.tls_key);
        cfg.admission_config = args.config;
        cfg.max_body_bytes = args.max_body_bytes;
        cfg.max_concurrency = args.max_concurrency;
        cfg.resolve_tags = !args.no_resolve;
        let running = start(cfg, Parts::new(Arc::new(verdicts))).await?;
        eprintln!("portcullis: serving the admission webhook on https://{}", running.addr);
        let stop = running.stopper();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
            }
            eprintln!("portcullis: shutting down");
            let _ = stop.send(true);
        });
        running.wait().await;
        Ok(ExitCode::SUCCESS)
    })
}
