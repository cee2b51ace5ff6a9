//! `portcullis certs`.

use std::process::ExitCode;

/// Arguments of `portcullis certs`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`portcullis certs` is not available in this build yet")
}
