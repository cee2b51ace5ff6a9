//! `portcullis policy`.

use std::process::ExitCode;

/// Arguments of `portcullis policy`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis policy` is not available in this build yet")
}
