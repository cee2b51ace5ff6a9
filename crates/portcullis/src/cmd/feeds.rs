//! `portcullis feeds`.

use std::process::ExitCode;

/// Arguments of `portcullis feeds`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis feeds` is not available in this build yet")
}
