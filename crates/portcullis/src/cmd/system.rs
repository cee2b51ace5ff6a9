//! `portcullis system`: engine client for `system status|wait`.

use std::process::ExitCode;
use std::time::Duration;

use portcullis_engine::client::Connection;

/// Arguments of `portcullis system`.
#[derive(clap::Args)]
pub struct Args {
    /// Engine URL.
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_URL",
        default_value = "http://localhost:8228"
    )]
    url: String,
    /// API token.
    #[arg(long, global = true, env = "PORTCULLIS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Show the engine's status.
    Status,
    /// Wait until the engine answers.
    Wait {
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Poll interval in seconds.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = Connection {
        url: args.url,
        token: args.token,
    }
    .client()?;
    let status = match args.command {
        Cmd::Status => client.status()?,
        Cmd::Wait { timeout, interval } => client.wait_system(
            Duration::from_secs(timeout),
            Duration::from_secs(interval.max(1)),
        )?,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        println!(
            "Service: portcullis engine ({}), status: {}",
            status.replica_id, status.status
        );
        println!(
            "Store: {:?} (schema version {})",
            status.backend, status.schema_version
        );
        println!("Analysis workers: {}", status.workers);
        println!(
            "Analysis queue: {} queued, {} analysing, {} done, {} failed",
            status.queue.queued, status.queue.claimed, status.queue.done, status.queue.failed
        );
        println!(
            "Vulnerability DB: {}",
            status.db_version.as_deref().unwrap_or("not configured")
        );
        for (stage, on) in &status.stages {
            println!(
                "Stage {stage}: {}",
                if *on { "configured" } else { "not configured" }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
