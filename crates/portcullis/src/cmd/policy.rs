//! `portcullis policy`: validate a bundle, describe gates/triggers.

use std::path::PathBuf;
use std::process::ExitCode;

use portcullis_policy::{Bundle, Error, catalog, report};

/// Arguments of `portcullis policy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Validate an Anchore policy bundle (versions 1_0 and 2): exit 0 valid, 1 invalid, 2 unreadable.
    Validate {
        /// The bundle JSON file.
        bundle: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Describe every gate, trigger and parameter the evaluator knows.
    Describe {
        /// Only this gate.
        #[arg(long)]
        gate: Option<String>,
        /// Only this trigger (needs --gate).
        #[arg(long, requires = "gate")]
        trigger: Option<String>,
        /// Print the catalogue as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Validate { bundle, json } => validate(&bundle, json),
        Command::Describe {
            gate,
            trigger,
            json,
        } => {
            if json {
                println!("{}", serde_json::to_string_pretty(catalog::GATES)?);
            } else {
                let text = catalog::describe(gate.as_deref(), trigger.as_deref())
                    .map_err(anyhow::Error::msg)?;
                print!("{text}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn validate(path: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    match Bundle::from_path(path) {
        Ok(b) => {
            if json {
                let out = serde_json::json!({"valid": true, "bundle_id": b.id(), "digest": b.digest, "warnings": b.warnings});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "{}: valid bundle `{}` ({})",
                    path.display(),
                    b.id(),
                    b.digest
                );
                for w in &b.warnings {
                    println!("warning: {w}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ Error::Io { .. }) => Err(e.into()),
        Err(Error::Invalid { bundle, problems }) => {
            if json {
                let out =
                    serde_json::json!({"valid": false, "bundle_id": bundle, "errors": problems});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "{}: bundle `{bundle}` is invalid ({} problem(s)):\n{}",
                    path.display(),
                    problems.len(),
                    report::problem_lines(&problems)
                );
            }
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            if json {
                let out = serde_json::json!({"valid": false, "errors": [e.to_string()]});
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{e}");
            }
            Ok(ExitCode::from(1))
        }
    }
}
