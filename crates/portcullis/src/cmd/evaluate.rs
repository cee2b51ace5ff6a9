//! `portcullis evaluate`: evaluate an SBOM (and its findings) against an Anchore policy bundle.
//!
//! Exit codes: 0 pass (GO/WARN), 1 fail (STOP), 2 error. An engine-client form (`evaluate check <image>`)
//! can be added as a subcommand beside the positional input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis_policy::{Action, Bundle, EvalOptions, ImageInput, report};

/// Arguments of `portcullis evaluate`.
#[derive(clap::Args)]
pub struct Args {
    /// An SBOM file (Portcullis native JSON). Image references need the analysis pipeline (not in this build).
    input: String,
    /// The policy bundle (Anchore JSON, version 1_0 or 2).
    #[arg(long)]
    policy: PathBuf,
    /// The image's findings (native match report JSON, as `portcullis scan --json` writes).
    #[arg(long)]
    findings: Option<PathBuf>,
    /// The tag to evaluate as (for mappings); default: the SBOM's reference or source.
    #[arg(long)]
    tag: Option<String>,
    /// The image's actual Dockerfile, when there is one.
    #[arg(long)]
    dockerfile: Option<PathBuf>,
    /// When the vulnerability data was last synced (RFC 3339), for `stale_feed_data`.
    #[arg(long)]
    feed_synced: Option<String>,
    /// Final action for an image no mapping matches.
    #[arg(long, value_enum, default_value = "go")]
    unmapped: Unmapped,
    /// Print the evaluation table.
    #[arg(long)]
    detail: bool,
    /// Print JSON (Anchore's table JSON plus final action and reason).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Unmapped {
    Go,
    Stop,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a valid {what}", path.display()))
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input_path = Path::new(&args.input);
    if !input_path.is_file() {
        bail!(
            "`{}` is not a file; evaluating an image reference directly needs the image analysis pipeline, \
             which this build does not have yet: pass an SBOM file and --findings",
            args.input
        );
    }
    let bundle = Bundle::from_path(&args.policy)?;
    let sbom: portcullis_sbom::Sbom = read_json(input_path, "SBOM")?;
    let Some(findings) = &args.findings else {
        bail!(
            "no findings given: pass --findings <match-report.json> (without them every vulnerability rule would pass silently)"
        );
    };
    let findings: portcullis_vuln::MatchReport = read_json(findings, "match report")?;
    let dockerfile = match &args.dockerfile {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("cannot read Dockerfile {}", p.display()))?,
        ),
        None => None,
    };
    let tag = args
        .tag
        .clone()
        .or_else(|| sbom.metadata.reference.clone())
        .unwrap_or_else(|| sbom.source.clone());
    let mut input = ImageInput::new(
        &sbom,
        &findings,
        &tag,
        portcullis_policy::chrono::Utc::now(),
    );
    input.dockerfile = dockerfile.as_deref();
    if let Some(t) = &args.feed_synced {
        input.feed_synced = Some(
            portcullis_policy::chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| format!("--feed-synced `{t}` is not an RFC 3339 time"))?
                .with_timezone(&portcullis_policy::chrono::Utc),
        );
    }
    let opts = EvalOptions {
        unmapped: match args.unmapped {
            Unmapped::Go => Action::Go,
            Unmapped::Stop => Action::Stop,
        },
    };
    let verdict = bundle.evaluate_with(&input, &opts);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::to_json(&verdict))?
        );
    } else {
        print!("{}", report::to_text(&verdict, args.detail));
    }
    Ok(if verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
