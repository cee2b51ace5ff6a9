//! `portcullis webhook-config`.

use std::process::ExitCode;

/// Arguments of `portcullis webhook-config`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis webhook-config` is not available in this build yet")
}
