//! `portcullis sbom`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use portcullis_image::{Credential, Platform, PullOptions, Source};
use portcullis_sbom::OutputFormat;

/// Arguments of `portcullis sbom`.
#[derive(clap::Args)]
pub struct Args {
    /// What to analyse: an image reference, an OCI layout dir, a `docker save` archive or a root-filesystem dir
    /// (prefixes `registry:`, `oci-dir:`, `docker-archive:`, `dir:` force the kind).
    pub source: String,
    /// Output format: table, json (native schema), cyclonedx-json, spdx-json.
    #[arg(short = 'o', long = "output", default_value = "table")]
    pub output: String,
    /// Write the SBOM to this file instead of standard output.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Platform to select from a multi-platform image (`linux/arm64/v8`).
    #[arg(long)]
    pub platform: Option<String>,
    /// Registry access.
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Content-addressed blob cache directory (default: none).
    #[arg(long = "cache-dir")]
    pub cache_dir: Option<PathBuf>,
    /// Work directory for squashed content (default: a temporary directory, removed afterwards).
    #[arg(long = "work-dir")]
    pub work_dir: Option<PathBuf>,
}

/// Registry access flags, shared by `sbom` and `verify`.
#[derive(clap::Args)]
pub struct RegistryArgs {
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
    /// An analysis budget as NAME=VALUE (`max_layer_bytes=2GiB`, `max_path_depth=128`); repeatable. The names
    /// and defaults are listed in crates/image/README.md.
    #[arg(long = "budget", value_name = "NAME=VALUE")]
    pub budgets: Vec<String>,
}

impl RegistryArgs {
    /// Pull options from these flags; `--username`/`--password` apply to `registry` (`host[:port]`) and are
    /// tried before the Docker config's credentials.
    pub fn pull_options(self, registry: &str) -> anyhow::Result<PullOptions> {
        let mut opts = PullOptions {
            insecure_registries: self.insecure_registries,
            ca_certs: self.ca_certs,
            ..PullOptions::default()
        };
        for b in &self.budgets {
            opts.set_budget(b)
                .map_err(|e| anyhow::anyhow!("--budget: {e}"))?;
        }
        if let Some(cfg) = &self.docker_config {
            opts.credentials = portcullis_image::auth::credentials_from_docker_config_file(cfg)?;
        }
        if let (Some(user), Some(password)) = (self.username, self.password) {
            opts.credentials.insert(
                0,
                Credential {
                    registry: registry.to_string(),
                    username: user,
                    password,
                },
            );
        }
        Ok(opts)
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let format: OutputFormat = args.output.parse()?;
    let source = Source::parse(&args.source)?;
    let registry = match &source {
        Source::Registry(r) => r.registry.as_str(),
        _ => "",
    };
    let mut opts = args.registry.pull_options(registry)?;
    opts.cache_dir = args.cache_dir;
    if let Some(p) = &args.platform {
        opts.platform = Platform::parse(p)?;
    }
    let (work, temp) = match args.work_dir {
        Some(w) => (w, false),
        None => (
            std::env::temp_dir().join(format!("portcullis-sbom-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&work)
        .with_context(|| format!("creating work dir {}", work.display()))?;
    let progress = std::io::stderr().is_terminal();
    let name = portcullis_sbom::source_name(&source);
    if progress {
        eprint!("analysing {name} …");
    }
    let started = std::time::Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(portcullis_sbom::analyse(&source, &opts, &work));
    if temp {
        let _ = std::fs::remove_dir_all(&work);
    }
    let sbom = result?;
    for p in &sbom.problems {
        eprintln!("warning: {}: skipped {p}", sbom.source);
    }
    if progress {
        eprintln!(
            "\ranalysed {name}: {} packages, {} files in {:.1}s",
            sbom.packages.len(),
            sbom.file_count,
            started.elapsed().as_secs_f64()
        );
    }
    let bytes = portcullis_sbom::render(&sbom, format)?;
    match &args.file {
        Some(f) => std::fs::write(f, &bytes).with_context(|| format!("writing {}", f.display()))?,
        None => match std::io::stdout().lock().write_all(&bytes) {
            // `portcullis sbom … | head` closes the pipe early: not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other?,
        },
    }
    Ok(ExitCode::SUCCESS)
}
