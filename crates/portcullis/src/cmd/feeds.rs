//! `portcullis feeds`: engine client for `feeds list|sync`.

use std::process::ExitCode;

use portcullis_client::{format_ms, table};

use super::image::ConnectionArgs;

/// Arguments of `portcullis feeds`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: ConnectionArgs,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// List the vulnerability feeds.
    List,
    /// Update the feeds, then re-match and re-evaluate every analysed image.
    Sync,
}

fn print_feeds(feeds: &[portcullis_engine::api::Feed]) {
    let rows: Vec<Vec<String>> = feeds
        .iter()
        .map(|f| {
            vec![
                f.name.clone(),
                f.db_version.clone(),
                f.status.clone(),
                format_ms(f.updated_at),
                f.record_count.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["Feed", "DB Version", "Status", "LastSync", "RecordCount"],
            &rows
        )
    );
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    match args.command {
        Cmd::List => {
            let feeds = client.feeds()?;
            if args.conn.json {
                println!("{}", serde_json::to_string_pretty(&feeds)?);
            } else {
                print_feeds(&feeds);
            }
        }
        Cmd::Sync => {
            let r = client.sync_feeds()?;
            if args.conn.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print_feeds(&r.feeds);
                println!(
                    "Re-matched {} images, re-evaluated {} tags{}",
                    r.rematch.rematched,
                    r.rematch.reevaluated,
                    if r.rematch.errors.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; {} errors:\n{}",
                            r.rematch.errors.len(),
                            r.rematch.errors.join("\n")
                        )
                    }
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
