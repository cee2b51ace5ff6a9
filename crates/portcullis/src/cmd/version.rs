//! `portcullis version`: compare versions and check ranges with any supported scheme.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context;
use portcullis_vuln::Scheme;

/// Arguments of `portcullis version`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Read `A B` lines from stdin and print `A B -1|0|1` (or `A B error: …` for a line that does not parse;
    /// the exit code is then 2). With `--satisfies`, read `version<TAB>range` lines and print
    /// `version<TAB>range<TAB>1|0`.
    Compare {
        /// Version scheme: dpkg, rpm, apk, pep440, semver, maven, gem, go, cargo, nuget, composer.
        #[arg(long)]
        scheme: Scheme,
        /// Check range satisfaction instead of comparing (npm, PEP 440, Maven/NuGet, Cargo, gem syntax).
        #[arg(long)]
        satisfies: bool,
    },
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Command::Compare { scheme, satisfies } = args.command;
    let stdin = std::io::stdin().lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    for (n, line) in stdin.lines().enumerate() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        if satisfies {
            let Some((v, r)) = line.split_once('\t') else {
                writeln!(
                    out,
                    "{line}\terror: line {} is not `version<TAB>range`",
                    n + 1
                )?;
                failed = true;
                continue;
            };
            match portcullis_vuln::satisfies(scheme, v, r) {
                Ok(b) => writeln!(out, "{v}\t{r}\t{}", u8::from(b))?,
                Err(e) => {
                    writeln!(out, "{v}\t{r}\terror: {e}")?;
                    failed = true;
                }
            }
        } else {
            let mut it = line.split_whitespace();
            let (Some(a), Some(b), None) = (it.next(), it.next(), it.next()) else {
                writeln!(out, "{line} error: line {} is not `A B`", n + 1)?;
                failed = true;
                continue;
            };
            match portcullis_vuln::compare(scheme, a, b) {
                Ok(o) => writeln!(out, "{a} {b} {}", o as i8)?,
                Err(e) => {
                    writeln!(out, "{a} {b} error: {e}")?;
                    failed = true;
                }
            }
        }
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
