//! `portcullis scan`: analyse a source (or read an SBOM) and match it against the vulnerability database.
//!
//! Exit codes: 0 no gate failure, 1 `--fail-on` gate failed, 2 error.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis_sbom::Sbom;
use portcullis_vuln::report::{Format, gate_fails, only_fixed, parse_severity, render};
use portcullis_vuln::triage::Triage;
use portcullis_vuln::{Severity, VulnDb, resolve_db_path};

/// Arguments of `portcullis scan`.
#[derive(clap::Args)]
#[command(after_help = "Exit codes: 0 ok, 1 the --fail-on gate failed, 2 error.")]
pub struct Args {
    /// Image reference, OCI layout or rootfs directory, or `docker save` archive (prefixes `registry:`,
    /// `oci-dir:`, `docker-archive:`, `dir:` force the kind).
    #[arg(required_unless_present = "sbom", conflicts_with = "sbom")]
    source: Option<String>,
    /// Match an existing SBOM file (Portcullis native, CycloneDX, SPDX or Syft JSON) instead of analysing a source.
    #[arg(long)]
    sbom: Option<PathBuf>,
    /// Output format: table, json, sarif, cyclonedx-json.
    #[arg(short = 'o', long = "output", default_value = "table", value_parser = |s: &str| s.parse::<Format>())]
    output: Format,
    /// Exit 1 when a finding has this severity or higher (negligible, low, medium, high, critical).
    #[arg(long, value_parser = |s: &str| parse_severity(s))]
    fail_on: Option<Severity>,
    /// Report only findings that have a fixed version.
    #[arg(long)]
    only_fixed: bool,
    /// Vulnerability database (default: `PORTCULLIS_DB`, else `<user data dir>/portcullis/vuln.db`).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Ignore-rules file (YAML or JSON): matched findings are reported as suppressed with the rule's reason
    /// and not counted by `--fail-on`.
    #[arg(long)]
    ignore_file: Option<PathBuf>,
    /// VEX document (OpenVEX, CycloneDX VEX or CSAF VEX JSON; repeatable): `not_affected` / `fixed`
    /// statements suppress the findings they name, `affected` / `under_investigation` annotate them.
    #[arg(long)]
    vex: Vec<PathBuf>,
}

fn read_sbom(path: &std::path::Path) -> anyhow::Result<Sbom> {
    let bytes = std::fs::read(path).with_context(|| format!("reading SBOM {}", path.display()))?;
    portcullis_sbom::read_sbom(&bytes).with_context(|| {
        format!(
            "{} is not a readable SBOM (Portcullis native, CycloneDX, SPDX or Syft JSON)",
            path.display()
        )
    })
}

/// Analyses `source` with [`portcullis_sbom::analyse`], the pipeline `portcullis sbom` and the engine run too.
fn analyse(source: &str) -> anyhow::Result<Sbom> {
    let src = portcullis_image::Source::parse(source)?;
    let work = std::env::temp_dir().join(format!("portcullis-scan-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let rt = tokio::runtime::Runtime::new()?;
    let opts = portcullis_image::PullOptions::default();
    let result = rt.block_on(portcullis_sbom::analyse(&src, &opts, &work));
    let _ = std::fs::remove_dir_all(&work);
    Ok(result?)
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = resolve_db_path(args.db.as_deref())?;
    if !path.exists() {
        bail!(
            "no vulnerability database at {}; run `portcullis db import <dir|file|url>` or `portcullis db update` first",
            path.display()
        );
    }
    // triage documents are read before the (slow) analysis so that a bad file fails fast
    let triage = Triage::load(&args.vex, args.ignore_file.as_slice())
        .context("reading the --vex / --ignore-file documents")?;
    let db = VulnDb::open(&path)
        .with_context(|| format!("opening the vulnerability database {}", path.display()))?;
    let sbom = match (&args.sbom, &args.source) {
        (Some(p), _) => read_sbom(p)?,
        (None, Some(s)) => analyse(s)?,
        (None, None) => bail!("give a source to analyse or --sbom <file>"),
    };
    for p in &sbom.problems {
        eprintln!("warning: {}: skipped {p}", sbom.source);
    }
    let mut report = db.match_sbom(&sbom)?;
    if report.db_version.is_empty() {
        bail!(
            "the vulnerability database {} is empty; run `portcullis db import` or `db update` first",
            path.display()
        );
    }
    if args.only_fixed {
        only_fixed(&mut report);
    }
    triage.apply(&mut report, chrono::Utc::now().date_naive());
    for w in &report.triage_warnings {
        eprintln!("warning: {w}");
    }
    if let Some(c) = report
        .coverage
        .as_ref()
        .filter(|c| c.packages_without_data_count > 0)
    {
        let listed: Vec<String> = c
            .packages_without_data
            .iter()
            .take(20)
            .map(|p| {
                format!(
                    "{} {} ({})",
                    p.name,
                    p.version,
                    p.namespace.as_deref().unwrap_or("unknown distro")
                )
            })
            .collect();
        eprintln!(
            "note: {} package(s) had no vulnerability data to match against, so their vulnerabilities are \
             unknown: {}{} (the JSON output lists them under coverage.packages_without_data)",
            c.packages_without_data_count,
            listed.join(", "),
            if c.packages_without_data_count > listed.len() {
                ", …"
            } else {
                ""
            }
        );
    }
    let mut text = render(&report, &sbom, args.output);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = std::io::Write::write_all(&mut out, text.as_bytes())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(e).context("writing the report");
    }
    Ok(match args.fail_on {
        Some(t) if gate_fails(&report, t) => {
            eprintln!("gate failed: findings at or above {t:?}");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    })
}
