//! `portcullis serve`.

use std::process::ExitCode;

/// Arguments of `portcullis serve`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis serve` is not available in this build yet")
}
