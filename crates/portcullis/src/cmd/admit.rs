//! `portcullis admit`.

use std::process::ExitCode;

/// Arguments of `portcullis admit`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis admit` is not available in this build yet")
}
