//! `portcullis evaluate`.

use std::process::ExitCode;

/// Arguments of `portcullis evaluate`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis evaluate` is not available in this build yet")
}
