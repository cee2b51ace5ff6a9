//! `portcullis policy`: validate a bundle, describe gates/triggers (local), and add/list/get/activate bundles
//! in a running engine (client).

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
    /// Engine client: upload a bundle (validated by the engine; not activated).
    Add {
        /// The bundle JSON file.
        bundle: PathBuf,
        #[command(flatten)]
        conn: super::image::ConnectionArgs,
    },
    /// Engine client: list the bundles.
    List {
        #[command(flatten)]
        conn: super::image::ConnectionArgs,
    },
    /// Engine client: print one bundle.
    Get {
        /// Bundle id.
        id: String,
        #[command(flatten)]
        conn: super::image::ConnectionArgs,
    },
    /// Engine client: make a bundle the active one.
    Activate {
        /// Bundle id.
        id: String,
        #[command(flatten)]
        conn: super::image::ConnectionArgs,
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
        Command::Add { bundle, conn } => {
            let bytes = std::fs::read(&bundle)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", bundle.display()))?;
            let doc: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", bundle.display()))?;
            let added = conn.client()?.add_policy(&doc)?;
            print_policies(&conn, &[added])
        }
        Command::List { conn } => print_policies(&conn, &conn.client()?.list_policies()?),
        Command::Get { id, conn } => {
            let p = conn.client()?.get_policy(&id)?;
            println!("{}", serde_json::to_string_pretty(&p)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Activate { id, conn } => {
            let p = conn.client()?.activate_policy(&id)?;
            print_policies(&conn, &[p])
        }
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

/// Prints bundle summaries as anchore-cli does (Policy ID, Active, Created, Updated), or JSON.
fn print_policies(
    conn: &super::image::ConnectionArgs,
    policies: &[portcullis_engine::api::PolicySummary],
) -> anyhow::Result<ExitCode> {
    if conn.json {
        println!("{}", serde_json::to_string_pretty(policies)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = policies
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.name.clone().unwrap_or_default(),
                p.active.to_string(),
                portcullis_client::format_ms(p.created_at),
                portcullis_client::format_ms(p.updated_at),
            ]
        })
        .collect();
    print!(
        "{}",
        portcullis_client::table(
            &["Policy ID", "Name", "Active", "Created", "Updated"],
            &rows
        )
    );
    Ok(ExitCode::SUCCESS)
}
