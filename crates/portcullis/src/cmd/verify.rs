//! `portcullis verify`: checks an image's cosign signatures against public keys.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use portcullis_image::{Client, ImageRef};
use portcullis_verify::{Limits, Outcome, PublicKey};

/// Arguments of `portcullis verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The image reference (tag or digest) whose signatures to verify.
    pub image: String,
    /// Public key (PEM `PUBLIC KEY` file, e.g. cosign.pub); repeat for several accepted signers.
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// Registry access.
    #[command(flatten)]
    pub registry: super::sbom::RegistryArgs,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
    /// Time allowed for the whole verification, in seconds.
    #[arg(long, default_value_t = 30)]
    pub deadline: u64,
}

/// Runs the subcommand: exit 0 verified, 1 not verified, 2 error.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let image = ImageRef::parse(&args.image)?;
    let keys = args
        .keys
        .iter()
        .map(|p| PublicKey::from_pem_file(p))
        .collect::<Result<Vec<_>, _>>()?;
    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut opts = args.registry.pull_options(&image.registry)?;
    opts.timeout = Some(timeout);
    opts.retries = 1;
    let limits = Limits {
        request_timeout: timeout,
        deadline: Duration::from_secs(args.deadline.max(1)),
        ..Limits::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = Client::new(&opts)?;
    let report = rt.block_on(portcullis_verify::verify(&client, &image, &keys, &limits))?;
    println!("image {} ({})", report.image, report.digest);
    for note in &report.notes {
        println!("  note: {note}");
    }
    if report.signatures.is_empty() {
        println!("  no signature found");
    }
    for s in &report.signatures {
        match &s.outcome {
            Outcome::Verified { key } => println!(
                "  signature {} ({}): verified, signed by {key}",
                s.layer, s.source
            ),
            Outcome::Refused { reason } => {
                println!("  signature {} ({}): refused: {reason}", s.layer, s.source)
            }
        }
    }
    if report.verified() {
        println!("verified");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("not verified");
        Ok(ExitCode::from(1))
    }
}
