//! `portcullis verify`: checks an image's cosign signatures against public keys.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use portcullis_image::{Client, Credential, ImageRef, PullOptions};
use portcullis_verify::{Limits, Outcome, PublicKey};

/// Arguments of `portcullis verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The image reference (tag or digest) whose signatures to verify.
    pub image: String,
    /// Public key (PEM `PUBLIC KEY` file, e.g. cosign.pub); repeat for several accepted signers.
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// Registry (host[:port]) that may be reached over plain HTTP (loopback registries always may).
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Extra CA certificate (PEM file) to trust.
    #[arg(long = "ca-cert")]
    pub ca_certs: Vec<PathBuf>,
    /// Docker `config.json` to take registry credentials from.
    #[arg(long = "docker-config", env = "PORTCULLIS_DOCKER_CONFIG")]
    pub docker_config: Option<PathBuf>,
    /// Registry username (with --password) for the image's registry.
    #[arg(long, env = "PORTCULLIS_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Registry password.
    #[arg(long, env = "PORTCULLIS_REGISTRY_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
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
    let mut opts = PullOptions {
        insecure_registries: args.insecure_registries,
        ca_certs: args.ca_certs,
        timeout: Some(timeout),
        retries: 1,
        ..PullOptions::default()
    };
    if let Some(cfg) = &args.docker_config {
        opts.credentials = portcullis_image::auth::credentials_from_docker_config_file(cfg)?;
    }
    if let (Some(user), Some(password)) = (args.username, args.password) {
        opts.credentials.insert(
            0,
            Credential {
                registry: image.registry.clone(),
                username: user,
                password,
            },
        );
    }
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
