//! `portcullis image`: engine client for images (anchore-cli's `image add|get|list|vuln|wait`).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use portcullis_client::{Client, format_ms, table};
use portcullis_engine::VulnKind;

/// Engine connection flags shared by the engine client commands (`image`, `system`, `feeds`; `policy` and
/// `evaluate check` can flatten it too).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Engine URL.
    #[arg(
        long,
        global = true,
        env = "PORTCULLIS_URL",
        default_value = "https://localhost:8443"
    )]
    pub url: String,
    /// CA certificate (PEM) to trust for the engine's HTTPS. Default: the CA `portcullis serve` generated in
    /// its data directory, when there is one.
    #[arg(long, global = true, env = "PORTCULLIS_CA_CERT")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// API token.
    #[arg(long, global = true, env = "PORTCULLIS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of a table or text.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ConnectionArgs {
    /// The API client.
    pub fn client(&self) -> anyhow::Result<Client> {
        let generated = std::env::var_os("PORTCULLIS_DATA_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| dirs::data_local_dir().map(|d| d.join("portcullis")))
            .map(|d| d.join("tls/ca.crt"))
            .filter(|p| p.exists());
        let ca = self.ca_cert.clone().or(generated);
        Ok(Client::with_ca(
            &self.url,
            self.token.as_deref(),
            ca.as_deref(),
        )?)
    }
}

/// Arguments of `portcullis image`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    conn: ConnectionArgs,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Add an image for analysis.
    Add {
        /// Pull string: `registry/repo:tag` or `registry/repo@sha256:…`.
        image: String,
        /// Annotation `key=value` (repeatable).
        #[arg(long = "annotation", value_name = "KEY=VALUE")]
        annotations: Vec<String>,
        /// Re-analyse even when already analysed.
        #[arg(long)]
        force: bool,
    },
    /// Show one image (by tag, digest or pull string).
    Get {
        /// Image.
        image: String,
    },
    /// List images.
    List {
        /// Only images seen with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
    /// List an image's vulnerabilities.
    Vuln {
        /// Image.
        image: String,
        /// `os`, `non-os` or `all`.
        #[arg(default_value = "all")]
        kind: String,
    },
    /// Wait until an image is analysed.
    Wait {
        /// Image.
        image: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Poll interval in seconds.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn print_image(img: &portcullis_engine::api::Image) {
    let mut rows = vec![
        ("Image Digest", img.digest.clone()),
        ("Analysis Status", img.status.as_str().to_string()),
        ("Image ID", img.image_id.clone().unwrap_or_default()),
        (
            "Analyzed At",
            img.analyzed_at.map(format_ms).unwrap_or_default(),
        ),
        ("Added At", format_ms(img.created_at)),
    ];
    if let Some(e) = &img.error {
        rows.push(("Analysis Error", e.clone()));
    }
    for t in &img.tags {
        rows.push(("Full Tag", t.clone()));
    }
    for (k, v) in &img.annotations {
        rows.push(("Annotation", format!("{k}={v}")));
    }
    for (k, v) in rows {
        println!("{k}: {v}");
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = args.conn.client()?;
    match args.command {
        Cmd::Add {
            image,
            annotations,
            force,
        } => {
            let mut ann = BTreeMap::new();
            for a in annotations {
                let (k, v) = a
                    .split_once('=')
                    .with_context(|| format!("annotation {a:?} is not KEY=VALUE"))?;
                ann.insert(k.to_string(), v.to_string());
            }
            let r = client.add_image(&image, ann, force)?;
            if args.conn.json {
                print_json(&r)?;
            } else {
                print!(
                    "{}",
                    table(
                        &["Full Tag", "Image Digest", "Analysis Status"],
                        &[vec![
                            image,
                            r.image.digest.clone(),
                            r.image.status.as_str().into()
                        ]]
                    )
                );
            }
        }
        Cmd::Get { image } => {
            let img = client.find_image(&image)?;
            if args.conn.json {
                print_json(&img)?;
            } else {
                print_image(&img);
            }
        }
        Cmd::List { tag } => {
            let images = client.list_images(tag.as_deref())?;
            if args.conn.json {
                print_json(&images)?;
            } else {
                let mut rows = Vec::new();
                for i in &images {
                    let tags = if i.tags.is_empty() {
                        vec![String::new()]
                    } else {
                        i.tags.clone()
                    };
                    for t in tags {
                        rows.push(vec![t, i.digest.clone(), i.status.as_str().into()]);
                    }
                }
                print!(
                    "{}",
                    table(&["Full Tag", "Image Digest", "Analysis Status"], &rows)
                );
            }
        }
        Cmd::Vuln { image, kind } => {
            let kind = VulnKind::parse(&kind)
                .with_context(|| format!("vulnerability type {kind:?}: use os, non-os or all"))?;
            let img = client.find_image(&image)?;
            let report = client.vuln(&img.digest, kind)?;
            if args.conn.json {
                print_json(&report)?;
            } else {
                let rows: Vec<Vec<String>> = report
                    .vulnerabilities
                    .iter()
                    .map(|f| {
                        vec![
                            f.id.clone(),
                            format!("{}-{}", f.package_name, f.package_version),
                            format!("{:?}", f.severity),
                            f.fixed_in.clone().unwrap_or_else(|| "None".into()),
                            f.aliases.join(","),
                            f.url.clone().unwrap_or_default(),
                            f.package_type.to_string(),
                            f.namespace.clone(),
                            f.package_location.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table(
                        &[
                            "Vulnerability ID",
                            "Package",
                            "Severity",
                            "Fix",
                            "CVE Refs",
                            "Vulnerability URL",
                            "Type",
                            "Feed Group",
                            "Package Path"
                        ],
                        &rows
                    )
                );
                for u in &report.unmatched {
                    println!("NOT CHECKED: {} package(s): {}", u.packages, u.reason);
                }
            }
        }
        Cmd::Wait {
            image,
            timeout,
            interval,
        } => {
            let img = client.wait_image(
                &image,
                Duration::from_secs(timeout),
                Duration::from_secs(interval.max(1)),
            )?;
            if args.conn.json {
                print_json(&img)?;
            } else {
                print_image(&img);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
