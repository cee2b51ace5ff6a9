//! `portcullis sbom`.

use std::process::ExitCode;

/// Arguments of `portcullis sbom`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis sbom` is not available in this build yet")
}
