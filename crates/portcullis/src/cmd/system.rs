//! `portcullis system`.

use std::process::ExitCode;

/// Arguments of `portcullis system`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis system` is not available in this build yet")
}
