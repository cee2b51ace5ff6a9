//! `portcullis verify`: checks an image's cosign signatures (public keys or keyless certificates, Rekor bundles
//! offline) and attestations, and says why each was accepted or refused.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use portcullis_image::{Client, ImageRef};
use portcullis_verify::attest::{AttestationReport, verify_attestations};
use portcullis_verify::{
    Keyless, Limits, Match, Outcome, PublicKey, Report, TlogEntry, Trust, TrustRoot,
};

/// Arguments of `portcullis verify`.
#[derive(clap::Args)]
pub struct Args {
    /// The image reference (tag or digest) whose signatures to verify.
    pub image: String,
    /// Public key (PEM `PUBLIC KEY` file, e.g. cosign.pub); repeat for several accepted signers.
    #[arg(long = "key")]
    pub keys: Vec<PathBuf>,
    /// Keyless: PEM bundle of the CA certificates signing certificates must chain to (e.g. Fulcio's root).
    #[arg(long)]
    pub trust_root: Option<PathBuf>,
    /// Keyless: the identity (SAN e-mail or URI) the certificate must carry, exactly.
    #[arg(long, conflicts_with = "certificate_identity_regexp")]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression (anchored at both ends) the certificate identity must match.
    #[arg(long)]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer the certificate must name, exactly.
    #[arg(long, conflicts_with = "certificate_oidc_issuer_regexp")]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression (anchored at both ends) the OIDC issuer must match.
    #[arg(long)]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Rekor public key (PEM) whose signed entry timestamps are trusted; repeatable. Checked offline.
    #[arg(long = "rekor-public-key")]
    pub rekor_keys: Vec<PathBuf>,
    /// Refuse a signature or attestation without a Rekor bundle verified by a --rekor-public-key.
    #[arg(long)]
    pub require_tlog: bool,
    /// Also require a verified attestation of this predicate type (cosign names: slsaprovenance,
    /// slsaprovenance1, cyclonedx, spdxjson, openvex; or a URI); repeatable.
    #[arg(long = "attestation-type")]
    pub attestation_types: Vec<String>,
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

/// The keyless signer the flags describe, if any; partial flags are an error saying what is missing.
fn keyless(args: &Args) -> anyhow::Result<Option<Keyless>> {
    let identity = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    ) {
        (Some(e), _) => Some(Match::exact(e)),
        (None, Some(r)) => Some(Match::regex("--certificate-identity-regexp", r)?),
        (None, None) => None,
    };
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    ) {
        (Some(e), _) => Some(Match::exact(e)),
        (None, Some(r)) => Some(Match::regex("--certificate-oidc-issuer-regexp", r)?),
        (None, None) => None,
    };
    match (&args.trust_root, identity, issuer) {
        (None, None, None) => Ok(None),
        (Some(root), Some(identity), Some(issuer)) => Ok(Some(Keyless {
            root: TrustRoot::from_pem_file(root)?,
            identity,
            issuer,
        })),
        (root, identity, issuer) => {
            let mut missing = Vec::new();
            if root.is_none() {
                missing.push("--trust-root FILE");
            }
            if identity.is_none() {
                missing.push("--certificate-identity or --certificate-identity-regexp");
            }
            if issuer.is_none() {
                missing.push("--certificate-oidc-issuer or --certificate-oidc-issuer-regexp");
            }
            bail!(
                "keyless verification needs a trust root, an identity and an issuer; missing: {}",
                missing.join(", ")
            )
        }
    }
}

fn trust(args: &Args) -> anyhow::Result<Trust> {
    let load = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| PublicKey::from_pem_file(p))
            .collect::<Result<Vec<_>, _>>()
    };
    let trust = Trust {
        keys: load(&args.keys)?,
        keyless: keyless(args)?.into_iter().collect(),
        rekor_keys: load(&args.rekor_keys)?,
        require_tlog: args.require_tlog,
    };
    trust.validate()?;
    Ok(trust)
}

fn tlog_line(t: &Option<TlogEntry>) -> String {
    match t {
        Some(t) => format!(
            "; in Rekor log {} at index {}, integrated {} (SET verified with {})",
            t.log_id,
            t.log_index,
            portcullis_verify::keyless::rfc3339(t.integrated_time.max(0) as u64),
            t.key
        ),
        None => String::new(),
    }
}

fn print_signatures(report: &Report) {
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
                "  signature {} ({}): verified, signed by {key}{}",
                s.layer,
                s.source,
                tlog_line(&s.tlog)
            ),
            Outcome::Refused { reason } => {
                println!("  signature {} ({}): refused: {reason}", s.layer, s.source)
            }
        }
    }
}

fn print_attestations(report: &AttestationReport) {
    for note in &report.notes {
        println!("  note: {note}");
    }
    if report.attestations.is_empty() {
        println!("  no attestation found");
    }
    for a in &report.attestations {
        let ty = a.predicate_type.as_deref().unwrap_or("unknown type");
        match &a.outcome {
            Outcome::Verified { key } => println!(
                "  attestation {} ({}, {ty}): verified, signed by {key}{}; {}",
                a.layer,
                a.source,
                tlog_line(&a.tlog),
                a.predicate
                    .as_ref()
                    .map(|p| p.summary())
                    .unwrap_or_default()
            ),
            Outcome::Refused { reason } => println!(
                "  attestation {} ({}, {ty}): refused: {reason}",
                a.layer, a.source
            ),
        }
    }
    for m in report.missing() {
        println!("  missing: no verified attestation of type {m}");
    }
}

/// Runs the subcommand: exit 0 verified, 1 not verified, 2 error.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let image = ImageRef::parse(&args.image)?;
    let trust = trust(&args)?;
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
    let report = rt.block_on(portcullis_verify::verify_trust(
        &client, &image, &trust, &limits,
    ))?;
    print_signatures(&report);
    let mut ok = report.verified();
    if !args.attestation_types.is_empty() {
        let pinned = image.with_digest(&report.digest);
        let att = rt.block_on(verify_attestations(
            &client,
            &pinned,
            &trust,
            &args.attestation_types,
            &limits,
        ))?;
        print_attestations(&att);
        ok &= att.verified();
    }
    if ok {
        println!("verified");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("not verified");
        Ok(ExitCode::from(1))
    }
}
