//! `portcullis analyse-worker` (hidden): the analysis worker process `serve` starts per analysis, with its
//! resource limits already lowered. It reads one job as JSON on stdin and writes the outcome as JSON on stdout
//! (`portcullis_engine::isolate`).

use std::process::ExitCode;

/// Arguments of `portcullis analyse-worker` (none: the job comes on stdin).
#[derive(clap::Args)]
pub struct Args {}

/// Runs one analysis job.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    portcullis_engine::isolate::run_worker(std::io::stdin().lock(), std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}
