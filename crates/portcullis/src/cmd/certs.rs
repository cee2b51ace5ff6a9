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
    write_bundle(&args.out_dir, &b, args.force)?;
    println!(
        "wrote ca.crt, ca.key, tls.crt, tls.key to {} (SANs: {})",
        args.out_dir.display(),
        b.sans.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `ca.crt`, `ca.key`, `tls.crt` and `tls.key` into `dir` (created when missing); the keys are readable
/// by their owner only. Refuses to overwrite an existing file unless `force`.
pub fn write_bundle(
    dir: &std::path::Path,
    b: &portcullis_server::certs::CertBundle,
    force: bool,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = [
        ("ca.crt", &b.ca_cert_pem, false),
        ("ca.key", &b.ca_key_pem, true),
        ("tls.crt", &b.cert_pem, false),
        ("tls.key", &b.key_pem, true),
    ];
    for (name, _, _) in &files {
        let p = dir.join(name);
        if p.exists() && !force {
            anyhow::bail!("{} exists; pass --force to overwrite", p.display());
        }
    }
    for (name, pem, secret) in files {
        let p = dir.join(name);
        if secret {
            write_private(&p, pem)?;
        } else {
            std::fs::write(&p, pem).with_context(|| format!("cannot write {}", p.display()))?;
        }
    }
    Ok(())
}

/// Writes a file created readable by its owner only (never briefly readable by others).
pub fn write_private(path: &std::path::Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(content.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}
