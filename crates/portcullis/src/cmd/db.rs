//! `portcullis db`.

use std::process::ExitCode;

/// Arguments of `portcullis db`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis db` is not available in this build yet")
}
