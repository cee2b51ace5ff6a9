//! `portcullis certs`: a CA and a serving certificate for the webhook Service.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

/// Arguments of `portcullis certs`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory for ca.crt, ca.key, tls.crt, tls.key.
    #[arg(long, default_value = ".")]
    pub out_dir: PathBuf,
    /// Service name.
    #[arg(long, default_value = "portcullis")]
    pub service: String,
    /// Service namespace.
    #[arg(long, default_value = "portcullis")]
    pub namespace: String,
    /// Extra subject alternative names (DNS names or IP addresses), repeatable.
    #[arg(long = "san")]
    pub sans: Vec<String>,
    /// Validity of the serving certificate in days (the CA gets one more year).
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let b =
        portcullis_server::certs::generate(&args.service, &args.namespace, &args.sans, args.days)?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let files = [
        ("ca.crt", &b.ca_cert_pem, false),
        ("ca.key", &b.ca_key_pem, true),
        ("tls.crt", &b.cert_pem, false),
        ("tls.key", &b.key_pem, true),
    ];
    for (name, _, _) in &files {
        let p = args.out_dir.join(name);
        if p.exists() && !args.force {
            anyhow::bail!("{} exists; pass --force to overwrite", p.display());
        }
    }
    for (name, pem, secret) in files {
        let p = args.out_dir.join(name);
        std::fs::write(&p, pem).with_context(|| format!("cannot write {}", p.display()))?;
        if secret {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot restrict {}", p.display()))?;
        }
    }
    println!(
        "wrote ca.crt, ca.key, tls.crt, tls.key to {} (SANs: {})",
        args.out_dir.display(),
        b.sans.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
