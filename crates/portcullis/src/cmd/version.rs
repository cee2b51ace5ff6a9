//! `portcullis version`.

use std::process::ExitCode;

/// Arguments of `portcullis version`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis version` is not available in this build yet")
}
