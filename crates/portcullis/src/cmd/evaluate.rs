//! `portcullis evaluate`: evaluate an SBOM (and its findings) against an Anchore policy bundle.
//!
//! Findings come from `--findings`, or else from matching the SBOM against the local vulnerability database
//! (which also tells `stale_feed_data` and `vulnerability_data_unavailable` what they need).
//! Exit codes: 0 pass (GO/WARN), 1 fail (STOP), 2 error. `evaluate check <image>` asks a running engine
//! instead (same exit codes).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use portcullis_policy::{Action, Bundle, EvalOptions, ImageInput, report};

/// Arguments of `portcullis evaluate`.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    #[command(subcommand)]
    check: Option<Check>,
    /// An SBOM file (Portcullis native JSON, CycloneDX or SPDX JSON), or an image source to analyse: image
    /// reference, OCI layout, `docker save` archive or directory (prefixes `registry:`, `oci-dir:`,
    /// `docker-archive:`, `dir:` force the kind).
    #[arg(required = true)]
    input: Option<String>,
    /// The policy bundle (Anchore JSON, version 1_0 or 2).
    #[arg(long, required = true)]
    policy: Option<PathBuf>,
    /// The image's findings (native match report JSON, as `portcullis scan -o json` writes); default: match
    /// the SBOM against the vulnerability database.
    #[arg(long)]
    findings: Option<PathBuf>,
    /// Vulnerability database (default: `PORTCULLIS_DB`, else `<user data dir>/portcullis/vuln.db`).
    #[arg(long, conflicts_with = "findings")]
    db: Option<PathBuf>,
    /// The tag to evaluate as (for mappings); default: the SBOM's reference or source.
    #[arg(long)]
    tag: Option<String>,
    /// The image's actual Dockerfile, when there is one.
    #[arg(long)]
    dockerfile: Option<PathBuf>,
    /// When the vulnerability data was last synced (RFC 3339), for `stale_feed_data` (default with the
    /// database: the oldest import among the sources of the data the image was matched against).
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

/// `portcullis evaluate check`.
#[derive(clap::Subcommand)]
enum Check {
    /// Engine client: evaluate an analysed image (tag, digest or pull string) against the active bundle or
    /// `--policy`; exit 0 pass, 1 fail, 2 error.
    Check {
        /// The image.
        image: String,
        /// Bundle id (default: the active bundle).
        #[arg(long)]
        policy: Option<String>,
        /// The tag to evaluate as (default: the image's tag).
        #[arg(long)]
        tag: Option<String>,
        /// Print the evaluation table.
        #[arg(long)]
        detail: bool,
        #[command(flatten)]
        conn: super::image::ConnectionArgs,
    },
}

/// Runs `evaluate check` against the engine.
fn check(
    image: &str,
    policy: Option<&str>,
    tag: Option<&str>,
    detail: bool,
    conn: &super::image::ConnectionArgs,
) -> anyhow::Result<ExitCode> {
    let client = conn.client()?;
    let record = client.find_image(image)?;
    let tag = tag.map(str::to_string).or_else(|| {
        (!image.contains('@') && !image.starts_with("sha256:")).then(|| image.to_string())
    });
    let result = client.check(&record.digest, tag.as_deref(), policy, detail)?;
    if conn.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!("Manifest Digest: {}", result.image_digest);
        println!(
            "Status: {} (evaluation {})",
            result.status, result.evaluation_id
        );
        print!("{}", report::to_text(&result.verdict, detail));
    }
    Ok(if result.verdict.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
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

/// Findings from the database; the report records its coverage (the sync time of the data used and whether
/// the image's distro has data), which `stale_feed_data` and `vulnerability_data_unavailable` read.
fn match_with_db(
    sbom: &portcullis_sbom::Sbom,
    db: Option<&Path>,
) -> anyhow::Result<portcullis_vuln::MatchReport> {
    let path = portcullis_vuln::resolve_db_path(db)?;
    if !path.exists() {
        bail!(
            "no vulnerability database at {}: run `portcullis db import <dir|file|url>`, or pass --findings",
            path.display()
        );
    }
    let db = portcullis_vuln::VulnDb::open(&path)?;
    Ok(db.match_sbom(sbom)?)
}

fn parse_time(
    t: &str,
    what: &str,
) -> anyhow::Result<portcullis_policy::chrono::DateTime<portcullis_policy::chrono::Utc>> {
    Ok(portcullis_policy::chrono::DateTime::parse_from_rfc3339(t)
        .with_context(|| format!("{what} `{t}` is not an RFC 3339 time"))?
        .with_timezone(&portcullis_policy::chrono::Utc))
}

/// Reads `input` as an SBOM file, or else analyses it as an image source (reference, OCI layout,
/// `docker save` archive, directory).
fn load_or_analyse(input: &str) -> anyhow::Result<portcullis_sbom::Sbom> {
    let path = Path::new(input);
    let as_sbom = if path.is_file() {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        match portcullis_sbom::read_sbom(&bytes) {
            Ok(sbom) => return Ok(sbom),
            Err(e) => Some(e),
        }
    } else {
        None
    };
    analyse(input).map_err(|e| match as_sbom {
        Some(sbom_err) => anyhow::anyhow!(
            "{input} is neither a readable SBOM ({sbom_err}) nor an image source ({e:#})"
        ),
        None => e,
    })
}

fn analyse(input: &str) -> anyhow::Result<portcullis_sbom::Sbom> {
    let src = portcullis_image::Source::parse(input)?;
    let work = std::env::temp_dir().join(format!("portcullis-evaluate-{}", std::process::id()));
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(portcullis_sbom::analyse(
        &src,
        &portcullis_image::PullOptions::default(),
        &work,
    ));
    let _ = std::fs::remove_dir_all(&work);
    Ok(result?)
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Check::Check {
        image,
        policy,
        tag,
        detail,
        conn,
    }) = &args.check
    {
        return check(image, policy.as_deref(), tag.as_deref(), *detail, conn);
    }
    let (Some(input), Some(policy)) = (&args.input, &args.policy) else {
        bail!("evaluate needs an SBOM or image and --policy (or the `check` subcommand)");
    };
    let bundle = Bundle::from_path(policy)?;
    let sbom = load_or_analyse(input)?;
    let report = match &args.findings {
        Some(p) => read_json(p, "match report")?,
        None => match_with_db(&sbom, args.db.as_deref())?,
    };
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
    let mut input = ImageInput::new(&sbom, &report, &tag, portcullis_policy::chrono::Utc::now());
    input.dockerfile = dockerfile.as_deref();
    if let Some(t) = &args.feed_synced {
        input.feed_synced = Some(parse_time(t, "--feed-synced")?);
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
