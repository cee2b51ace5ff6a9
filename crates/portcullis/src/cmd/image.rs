//! `portcullis image`.

use std::process::ExitCode;

/// Arguments of `portcullis image`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis image` is not available in this build yet")
}
