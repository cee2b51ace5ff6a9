//! `portcullis system`: engine client for `system status|wait`.

use std::process::ExitCode;
use std::time::Duration;

use super::image::ConnectionArgs;

/// Arguments of `portcullis system`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: ConnectionArgs,
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
    let client = args.conn.client()?;
    let status = match args.command {
        Cmd::Status => client.status()?,
        Cmd::Wait { timeout, interval } => client.wait_system(
            Duration::from_secs(timeout),
            Duration::from_secs(interval.max(1)),
        )?,
    };
    if args.conn.json {
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
        if let Some(d) = &status.vuln_data {
            let ns: Vec<&str> = d.namespaces.keys().map(String::as_str).collect();
            println!(
                "Vulnerability data: last synced {}; data for {} namespace(s){}{}",
                d.synced_at
                    .as_deref()
                    .unwrap_or("never (import or sync it)"),
                ns.len(),
                if ns.is_empty() { "" } else { ": " },
                ns.join(", ")
            );
        }
        let sync = &status.vuln_sync;
        println!(
            "Vulnerability data sync: {}; {}last success {}; {} failed since start{}",
            match sync.interval_seconds {
                Some(s) => format!("every {s}s when the data is older"),
                None => "not scheduled in this replica".into(),
            },
            sync.generation
                .map(|g| format!("shared data generation {g}; "))
                .unwrap_or_default(),
            sync.last_success_at.as_deref().unwrap_or("never"),
            sync.failures,
            sync.last_error
                .as_deref()
                .map(|e| format!("; last error (previous data kept): {e}"))
                .unwrap_or_default()
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
