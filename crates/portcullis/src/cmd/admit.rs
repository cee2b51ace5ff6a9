//! `portcullis admit`: decide an AdmissionReview or manifests offline, exactly as `/validate` would.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use portcullis_admission::{Config, Context, Endpoint, MemoryVerdicts, decide, read_input};

/// Output format.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Output {
    /// A readable summary.
    Summary,
    /// The AdmissionReview response exactly as `/validate` (or `/mutate`) sends it; one per line for several objects.
    Json,
}

/// Arguments of `portcullis admit`.
#[derive(clap::Args)]
pub struct Args {
    /// AdmissionReview JSON, or Kubernetes manifests (YAML/JSON, several documents); `-` reads stdin.
    pub input: PathBuf,
    /// Admission configuration (native or Anchore controller format); default: passive mode, policy `default`.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// ContainerAdmissionPolicies (YAML/JSON) applied after each image's mode, as `serve --admission-policies`.
    #[arg(long)]
    pub admission_policies: Option<PathBuf>,
    /// Verdicts file (`{"images": [{"image", "digest", "verdicts": {policy: Verdict}}]}`); default: every image unknown.
    #[arg(long)]
    pub verdicts: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "summary")]
    pub output: Output,
    /// Answer as `/mutate` (JSONPatch pinning digests) instead of `/validate`.
    #[arg(long)]
    pub mutate: bool,
    /// Namespace for manifests that name none.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
}

/// Runs the subcommand: exit 0 admitted, 1 denied, 2 error.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let origin = args.input.display().to_string();
    let text = if origin == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read standard input")?;
        s
    } else {
        std::fs::read_to_string(&args.input).with_context(|| format!("cannot read {origin}"))?
    };
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let verdicts = match &args.verdicts {
        Some(p) => MemoryVerdicts::load(p)?,
        None => MemoryVerdicts::new(),
    };
    let policies = match &args.admission_policies {
        Some(p) => Some(portcullis_admission::load_policies(p)?),
        None => None,
    };
    let inputs = read_input(&text, &origin, &args.namespace)?;
    let endpoint = if args.mutate {
        Endpoint::Mutate
    } else {
        Endpoint::Validate
    };
    let mut all_allowed = true;
    for input in &inputs {
        let ctx = Context {
            policies: policies.as_ref(),
            ..Context::new(endpoint)
        };
        let d = decide(&input.review, &config, &verdicts, &ctx);
        all_allowed &= d.allowed;
        match args.output {
            Output::Json => println!("{}", String::from_utf8_lossy(&d.to_review_json())),
            Output::Summary => print!("{}", d.summary()),
        }
    }
    Ok(if all_allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
