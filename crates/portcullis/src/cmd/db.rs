//! `portcullis db`: import, update and inspect the local vulnerability database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use portcullis_vuln::{ImportReport, VulnDb, resolve_db_path};

/// Public upstream sources `db update` imports when none are configured.
pub const DEFAULT_SOURCES: &[&str] = &[
    "https://security-tracker.debian.org/tracker/data/json",
    "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data/DSA/list",
    "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data/DLA/list",
    "https://osv-vulnerabilities.storage.googleapis.com/Go/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/npm/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Maven/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/RubyGems/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Packagist/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/NuGet/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Alpine/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/AlmaLinux/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Rocky%20Linux/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Red%20Hat/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/SUSE/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/openSUSE/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Wolfi/all.zip",
    "https://osv-vulnerabilities.storage.googleapis.com/Chainguard/all.zip",
    "https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list",
    "https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list",
    // Red Hat's CSAF VEX archive (one document per CVE: fixed, known-affected and not-affected per RHEL stream;
    // the advisories archive has fixes only): `archive_latest.txt` names the current `csaf_vex_<date>.tar.zst`
    "https://security.access.redhat.com/data/csaf/v2/vex/archive_latest.txt",
    // NVD CVE API 2.0: severity and CVSS fallback; incremental after the first pull (`lastModStartDate`),
    // `NVD_API_KEY` honoured (the first full pull is about 150 pages: ~15 min without a key, ~2 min with one)
    "https://services.nvd.nist.gov/rest/json/cves/2.0",
    "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
    "https://epss.cyentia.com/epss_scores-current.csv.gz",
];

/// Appends a formatted line to a `String` buffer.
macro_rules! outln {
    ($buf:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($buf, $($arg)*);
    }};
}

/// Writes `text` to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e).context("writing to stdout"),
        _ => Ok(()),
    }
}

/// Arguments of `portcullis db`.
#[derive(clap::Args)]
pub struct Args {
    /// Database file (default: `PORTCULLIS_DB`, else `<user data dir>/portcullis/vuln.db`).
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Import advisory data from a directory, file, archive (.tar.gz, .tgz, .tar, .tar.zst, .zip, .gz) or URL
    /// (http://, https://, file://). Each source is one transaction; bad records are reported and skipped.
    /// A bundle written by `db export` replaces the whole database atomically (checked first, then renamed).
    Import {
        /// What to import.
        #[arg(required = true)]
        sources: Vec<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import the configured sources: `--source` flags, else `PORTCULLIS_VULN_SOURCES` (whitespace-separated),
    /// else the public upstream URLs (point them at a `file://` path or a local HTTP mirror when offline).
    Update {
        /// A source to import (repeatable).
        #[arg(long = "source")]
        sources: Vec<String>,
        /// Print the reports as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the whole database to FILE as one bundle that `db import FILE` and `serve --vuln-db-bundle FILE`
    /// read (written to a temporary file, then renamed).
    Export {
        /// The bundle file to write.
        file: PathBuf,
    },
    /// Show the database version, sources with import time and record counts.
    Status {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn print_report(out: &mut String, r: &ImportReport) {
    let p = &r.provenance;
    let records: Vec<String> = p.records.iter().map(|(k, v)| format!("{k}={v}")).collect();
    outln!(
        out,
        "imported {}: {} files ({} not advisory data), records: {}, package statements: {}, bad records: {}",
        p.source,
        p.files,
        p.skipped_files,
        records.join(" "),
        p.affected,
        p.bad
    );
    for b in &r.bad_records {
        outln!(out, "  bad record: {b}");
    }
    outln!(out, "database version {}", r.db_version);
}

fn import_all(db: &mut VulnDb, sources: &[String], json: bool) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut reports = Vec::new();
    let mut text = String::new();
    for s in sources {
        match db.import(s) {
            Ok(r) => {
                if !json {
                    print_report(&mut text, &r);
                }
                reports.push(r);
            }
            Err(e) => {
                eprintln!("error: import of {s} failed, previous data kept: {e}");
                failed = true;
            }
        }
    }
    if json {
        outln!(text, "{}", serde_json::to_string_pretty(&reports)?);
    }
    emit(&text)?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = resolve_db_path(args.db.as_deref())?;
    let mut db = VulnDb::open(&path)
        .with_context(|| format!("opening the vulnerability database {}", path.display()))?;
    match args.command {
        Command::Import { sources, json }
            if sources.len() == 1 && portcullis_vuln::is_bundle(Path::new(&sources[0])) =>
        {
            drop(db);
            let st = portcullis_vuln::install_bundle(Path::new(&sources[0]), &path).with_context(
                || format!("installing the bundle {}, previous data kept", sources[0]),
            )?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&st)?))?;
            } else {
                emit(&format!(
                    "installed {} into {}: database version {}, {} sources\n",
                    sources[0],
                    st.path,
                    st.db_version,
                    st.sources.len()
                ))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { file } => {
            db.export(&file).with_context(|| {
                format!("exporting the vulnerability database to {}", file.display())
            })?;
            emit(&format!(
                "wrote {} (database version {})\n",
                file.display(),
                db.db_version()?
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { sources, json } => import_all(&mut db, &sources, json),
        Command::Update { sources, json } => {
            let sources = if !sources.is_empty() {
                sources
            } else if let Ok(env) = std::env::var("PORTCULLIS_VULN_SOURCES") {
                env.split_whitespace().map(str::to_string).collect()
            } else {
                DEFAULT_SOURCES.iter().map(|s| s.to_string()).collect()
            };
            import_all(&mut db, &sources, json)
        }
        Command::Status { json } => {
            let st = db.status()?;
            let mut text = String::new();
            if json {
                outln!(text, "{}", serde_json::to_string_pretty(&st)?);
                emit(&text)?;
                return Ok(ExitCode::SUCCESS);
            }
            outln!(text, "database: {}", st.path);
            outln!(
                text,
                "version: {}",
                if st.db_version.is_empty() {
                    "(empty: run `portcullis db import` or `db update`)"
                } else {
                    &st.db_version
                }
            );
            for s in &st.sources {
                let records: Vec<String> =
                    s.records.iter().map(|(k, v)| format!("{k}={v}")).collect();
                outln!(
                    text,
                    "source {} imported {}: {} (statements {}, bad {})",
                    s.source,
                    s.imported_at,
                    records.join(" "),
                    s.affected,
                    s.bad
                );
            }
            for (ns, n) in &st.namespaces {
                outln!(text, "namespace {ns}: {n} package statements");
            }
            outln!(
                text,
                "vulnerabilities: {}, KEV: {}, EPSS: {}",
                st.vulns,
                st.kev,
                st.epss
            );
            emit(&text)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
