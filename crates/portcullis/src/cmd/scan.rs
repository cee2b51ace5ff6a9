//! `portcullis scan`.

use std::process::ExitCode;

/// Arguments of `portcullis scan`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis scan` is not available in this build yet")
}
