//! `portcullis triage`: engine client for the shared store's triage documents (`list`, `add`, `delete`).

use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_client::{format_ms, table};

use super::image::ConnectionArgs;

/// Arguments of `portcullis triage`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: ConnectionArgs,
    #[command(subcommand)]
    command: Cmd,
}

/// Which kind of triage document.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// A VEX document (OpenVEX, CycloneDX VEX or CSAF VEX JSON).
    Vex,
    /// An ignore-rules file (YAML or JSON, as `scan --ignore-file` reads).
    IgnoreRules,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Vex => "vex",
            Kind::IgnoreRules => "ignore-rules",
        }
    }
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// List the stored VEX documents and ignore-rules files.
    List,
    /// Store a document: every replica applies it within seconds and stored images are re-matched.
    Add {
        /// vex or ignore-rules.
        #[arg(value_enum)]
        kind: Kind,
        /// The document.
        file: std::path::PathBuf,
        /// Name shown in listings (default: the file name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Delete a stored document by id.
    Delete {
        /// vex or ignore-rules.
        #[arg(value_enum)]
        kind: Kind,
        /// The id `list` shows.
        id: String,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    match args.command {
        Cmd::List => {
            let mut docs = client.list_triage(Kind::Vex.path())?;
            docs.extend(client.list_triage(Kind::IgnoreRules.path())?);
            if args.conn.json {
                println!("{}", serde_json::to_string_pretty(&docs)?);
            } else {
                let rows: Vec<Vec<String>> = docs
                    .iter()
                    .map(|d| {
                        vec![
                            d.kind.clone(),
                            d.name.clone(),
                            d.id.clone(),
                            d.bytes.to_string(),
                            format_ms(d.created_at),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(&["Kind", "Name", "Id", "Bytes", "Stored"], &rows)
                );
            }
        }
        Cmd::Add { kind, file, name } => {
            let bytes = std::fs::read(&file).with_context(|| {
                format!("reading the {} document {}", kind.path(), file.display())
            })?;
            let name = name.unwrap_or_else(|| {
                file.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            let d = client.add_triage(kind.path(), &name, bytes)?;
            if args.conn.json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!("Stored {} {} as {}", d.kind, d.name, d.id);
            }
        }
        Cmd::Delete { kind, id } => {
            let d = client.delete_triage(kind.path(), &id)?;
            if args.conn.json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!("Deleted {} {} ({})", d.kind, d.name, d.id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
