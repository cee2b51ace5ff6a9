//! `portcullis serve`: the HTTPS admission webhook.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use portcullis_admission::{ImageVerdicts, MemoryVerdicts};
use portcullis_server::{Parts, ServerConfig, start};

/// Arguments of `portcullis serve`.
#[derive(clap::Args)]
pub struct Args {
    /// Listen address.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// PEM certificate chain (reloaded when it changes). Without `--tls-cert`/`--tls-key`, a CA and a serving
    /// certificate for `localhost` are generated once under the data directory.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (reloaded when it changes).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// CA certificate (PEM) of the client certificates `/validate` and `/mutate` require: the API server presents
    /// one when its AdmissionConfiguration gives a kubeconfig for Portcullis's service. Without it, anyone who
    /// can reach the port may call the webhook (and its audit records say the caller was unauthenticated).
    #[arg(long, env = "PORTCULLIS_CLIENT_CA")]
    pub client_ca: Option<PathBuf>,
    /// Admission configuration (native or Anchore controller format; reloaded when it changes).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// ContainerAdmissionPolicies (Calico's CRD shape; YAML/JSON, several documents or a `List`), applied after
    /// each image's mode and reloaded when the file changes.
    #[arg(long)]
    pub admission_policies: Option<PathBuf>,
    /// Kubernetes integration settings (the chart's `kubernetes.yaml`): when given, serve talks to the API
    /// server (in-cluster, or `KUBECONFIG`) for namespace labels, ContainerAdmissionPolicy objects, pull
    /// secrets, denial Events, ImageReports and the leader-elected audit of running Pods.
    #[arg(
        long,
        env = "PORTCULLIS_KUBE_CONFIG",
        conflicts_with = "admission_policies"
    )]
    pub kube_config: Option<PathBuf>,
    /// Answer from a verdicts file instead of running the engine (no store, no analysis, no REST API).
    #[arg(long, conflicts_with_all = ["policy_bundles", "active_bundle"])]
    pub verdicts: Option<PathBuf>,
    /// An Anchore policy bundle file (JSON) to store at start and again whenever it changes; repeatable.
    /// A bundle with `"active": true` becomes the active bundle when loaded. Portcullis's own default bundle
    /// (`portcullis-default`) is always stored, and active while no other bundle is.
    #[arg(long = "policy-bundle")]
    pub policy_bundles: Vec<PathBuf>,
    /// The id of the bundle to activate at start (one of the `--policy-bundle` files', or one already stored).
    #[arg(long)]
    pub active_bundle: Option<String>,
    /// Where generated state lives (SQLite store, vulnerability DB, generated TLS files and admin token, work
    /// and cache directories). Default: the user's data directory + `/portcullis`.
    #[arg(long, env = "PORTCULLIS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Engine store: a SQLite file path (`sqlite:PATH` also accepted) or a `postgres://` URL for several
    /// replicas. Default: `portcullis.db` in the data directory.
    #[arg(long, env = "PORTCULLIS_STORE_DSN", hide_env_values = true)]
    pub store: Option<String>,
    /// Vulnerability database file (default: `PORTCULLIS_DB`, else the user's data directory).
    #[arg(long = "vuln-db")]
    pub vuln_db: Option<PathBuf>,
    /// A vulnerability database bundle (`portcullis db export`) installed into the vulnerability database at
    /// start (checked first, then renamed in; an unusable bundle stops the start), so replicas serve the
    /// same pinned data.
    #[arg(long, env = "PORTCULLIS_VULN_DB_BUNDLE")]
    pub vuln_db_bundle: Option<PathBuf>,
    /// A vulnerability data source to sync from; repeatable, in order (`PORTCULLIS_VULN_SOURCES`,
    /// whitespace-separated, when none is given). What `db import` takes (file, directory, archive, `file://`
    /// or `http(s)://` URL of upstream data or of a mirror), or a `db export` bundle (file or URL) that the
    /// sources after it add to. Default: the bundle of `--vuln-db-bundle` when given, else the public upstream
    /// sources `db update` uses.
    #[arg(long = "vuln-source")]
    pub vuln_sources: Vec<String>,
    /// Sync the vulnerability data when it is older than this (at start too, and when missing): `24h`, `30m`,
    /// `90s` or seconds; `0` never syncs on its own (`POST /v1/system/feeds` still does). A sync builds the new
    /// database beside the old one and swaps it in when complete; a failed sync keeps the old data.
    #[arg(
        long,
        env = "PORTCULLIS_VULN_SYNC_INTERVAL",
        default_value = "24h",
        value_parser = parse_interval
    )]
    pub vuln_sync_interval: std::time::Duration,
    /// A VEX document (OpenVEX, CycloneDX VEX or CSAF VEX JSON) applied to every match; repeatable. Its
    /// `not_affected`/`fixed` statements suppress findings (kept, shown as suppressed, not counted by the
    /// policy gates). Read at start; a bad document stops the start.
    #[arg(long = "vex")]
    pub vex: Vec<PathBuf>,
    /// An ignore-rules file (YAML or JSON, as `scan --ignore-file` reads) applied to every match; repeatable.
    #[arg(long = "ignore-file")]
    pub ignore_file: Vec<PathBuf>,
    /// Concurrent analyses in this replica.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Most analyses of one registry's images running at once in this replica (0: no limit). Default: one
    /// less than `--workers` (at least 1), so a registry that does not answer never holds every worker.
    #[arg(long)]
    pub max_analyses_per_registry: Option<u32>,
    /// A docker `config.json` with registry credentials for pulls (also `PORTCULLIS_REGISTRY_AUTH`).
    #[arg(long, env = "PORTCULLIS_REGISTRY_AUTH")]
    pub registry_auth: Option<PathBuf>,
    /// A registry (host[:port]) that may be reached over plain HTTP; repeatable (this also allows it when it is a
    /// loopback address). Loopback registries may always use plain HTTP once allowed.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// Extra CA certificate (PEM) trusted for registries; repeatable.
    #[arg(long = "registry-ca")]
    pub registry_cas: Vec<PathBuf>,
    /// Registry allowlist entry (host glob `*.corp.example`, `host:port` or CIDR); repeatable. When given, only
    /// matching registries, token realms and redirect targets are contacted.
    #[arg(
        long = "registry-allow",
        env = "PORTCULLIS_REGISTRY_ALLOW",
        value_delimiter = ','
    )]
    pub registry_allow: Vec<String>,
    /// Registry denylist entry (host glob or CIDR, checked after DNS too); repeatable.
    #[arg(
        long = "registry-deny",
        env = "PORTCULLIS_REGISTRY_DENY",
        value_delimiter = ','
    )]
    pub registry_deny: Vec<String>,
    /// Allow loopback registries (`localhost`, `127.0.0.0/8`, `::1`) without listing them, for tests and
    /// development. By default they are refused unless matched by `--registry-allow` or `--insecure-registry`
    /// (link-local and metadata addresses are always refused unless allowlisted).
    #[arg(long, env = "PORTCULLIS_ALLOW_LOOPBACK_REGISTRIES")]
    pub allow_loopback_registries: bool,
    /// Where analyses (pull, squash, catalogue) run: `process` (default) starts a worker process per analysis
    /// with its own memory, CPU, file-size and wall-time limits, so a hostile image kills at most its own
    /// analysis; `inline` runs them in this process (bounded by the budgets only).
    #[arg(
        long,
        env = "PORTCULLIS_ANALYSIS_ISOLATION",
        value_enum,
        default_value_t = Isolation::Process
    )]
    pub analysis_isolation: Isolation,
    /// Memory limit of one analysis worker in MiB (`RLIMIT_DATA`; the default keeps its RSS, code included,
    /// within 256 MB). Its address space (`RLIMIT_AS`) gets twice this or 512 MiB more, whichever is larger.
    #[arg(
        long,
        env = "PORTCULLIS_ANALYSIS_MEMORY_LIMIT_MIB",
        default_value_t = 224,
        value_parser = clap::value_parser!(u64).range(16..=1 << 20)
    )]
    pub analysis_memory_limit_mib: u64,
    /// CPU seconds one analysis worker may use.
    #[arg(
        long,
        env = "PORTCULLIS_ANALYSIS_CPU_SECONDS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub analysis_cpu_seconds: u64,
    /// Seconds one analysis worker may run before its process group is killed.
    #[arg(
        long,
        env = "PORTCULLIS_ANALYSIS_TIMEOUT",
        default_value_t = 600,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub analysis_timeout: u64,
    /// An analysis budget as NAME=VALUE (`max_layer_bytes=2GiB`); repeatable (or comma-separated in
    /// `PORTCULLIS_BUDGETS`). Names and defaults: crates/image/README.md. Each analysis worker gets them.
    #[arg(
        long = "budget",
        env = "PORTCULLIS_BUDGETS",
        value_delimiter = ',',
        value_name = "NAME=VALUE"
    )]
    pub budgets: Vec<String>,
    /// Tag lookups (registry HEAD/GET of a tag) running at once in this replica.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub resolve_concurrency: u64,
    /// Tag lookups running at once against one registry (a slow registry holds at most this many).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub resolve_per_registry: u64,
    /// Seconds one tag lookup may take, waiting for a slot included.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub resolve_timeout: u64,
    /// Consecutive failures to reach a registry that open its circuit breaker (lookups then fail at once,
    /// naming the registry).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub registry_breaker_failures: u32,
    /// Seconds an open breaker fails lookups at once before letting one probe through.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub registry_breaker_cool_down: u64,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 3 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most reviews processed at once.
    #[arg(long, default_value_t = 1024)]
    pub max_concurrency: usize,
    /// Do not look up tags at registries during requests (answer from cached digests only).
    #[arg(long)]
    pub no_resolve: bool,
    /// Seconds a tag → digest resolution is trusted; after that the tag is re-resolved off the request path
    /// (reviews meanwhile decide on the newest known digest and say so), so a moved tag takes effect.
    #[arg(long, default_value_t = 120)]
    pub tag_ttl: u64,
    /// Seconds an image's signature verification is trusted; after that the next review has it verified
    /// again off the request path (so a signature, attestation or VEX pushed later takes effect), deciding on
    /// the previous result meanwhile. 0: never re-checked.
    #[arg(long, default_value_t = 600)]
    pub signature_recheck: u64,
    /// A platform (`os/arch[/variant]`) the cluster runs; repeatable. Every one of them a multi-platform image
    /// offers is analysed, and the image's verdict is the worst of theirs. Default: the platforms of the
    /// cluster's Nodes (with `--kube-config`), else linux/amd64.
    #[arg(long = "platform", env = "PORTCULLIS_PLATFORMS", value_delimiter = ',')]
    pub platforms: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Where analyses run (`--analysis-isolation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Isolation {
    /// A worker process per analysis, with resource limits.
    Process,
    /// In the serving process.
    Inline,
}

/// Runs the subcommand until SIGINT/SIGTERM, then shuts down gracefully.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n);
    }
    let rt = rt.enable_all().build()?;
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<ExitCode> {
    let data_dir = data_dir(args.data_dir.as_deref())?;
    let (tls_cert, tls_key) = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => generated_tls(&data_dir)?,
    };
    let (engine_stop, engine_shutdown) = tokio::sync::watch::channel(false);
    let learned = portcullis_engine::stages::LearnedCredentials::default();
    let mut key_secrets: Option<portcullis_engine::key_secrets::KeySecrets> = None;
    let mut parts = match &args.verdicts {
        Some(p) => Parts::new(Arc::new(MemoryVerdicts::load(p)?)),
        None => {
            let service = start_engine(&args, &data_dir, engine_shutdown, learned.clone()).await?;
            let verdicts: Arc<dyn ImageVerdicts> = service.verdicts.clone();
            let mut parts = Parts::new(verdicts);
            parts.extra = Some(service.router);
            key_secrets = Some(service.engine.signature_cache().key_secrets().clone());
            let engine_metrics = service.engine.metrics().clone();
            parts.metrics = Some(Box::new(move |registry| engine_metrics.register(registry)));
            parts
        }
    };
    if let Some(path) = &args.kube_config {
        let settings = portcullis_kube::settings::KubeSettings::load(path)?;
        let client = kube::Client::try_default().await.context(
            "cannot reach the Kubernetes API server (in-cluster service account or KUBECONFIG); \
             unset PORTCULLIS_KUBE_CONFIG / --kube-config to run without it",
        )?;
        let identity = std::env::var("POD_NAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "portcullis".into());
        let learn: Option<portcullis_kube::integration::LearnCredentials> =
            args.verdicts.is_none().then(|| {
                let learned = learned.clone();
                Arc::new(
                    move |ns: &str,
                          r: &portcullis_image::ImageRef,
                          c: &[portcullis_image::Credential]| {
                        learned.learn(ns, r, c)
                    },
                ) as portcullis_kube::integration::LearnCredentials
            });
        let kube = portcullis_kube::integration::start(
            client,
            portcullis_kube::integration::IntegrationOptions {
                settings,
                admission_config: args.config.clone(),
                identity,
                learn_credentials: learn,
                key_secrets: key_secrets.map(|ks| {
                    // Until the first read, blocks naming a Secret say "not read yet" (not "integration off").
                    ks.enable();
                    Arc::new(move |keys| ks.replace(keys))
                        as portcullis_kube::key_secrets::KeySecretSink
                }),
            },
            parts.verdicts.clone(),
        );
        parts.verdicts = kube.verdicts;
        parts.namespaces = Some(kube.namespaces);
        parts.policies = Some(kube.policies);
        parts.owners = Some(kube.owners);
        eprintln!(
            "portcullis: Kubernetes integration on (settings {})",
            path.display()
        );
    }
    let webhook_pulls = pull_options(&args, &data_dir)?;
    let mut cfg = ServerConfig::new(args.listen, tls_cert, tls_key);
    cfg.admission_config = args.config;
    cfg.admission_policies = args.admission_policies;
    cfg.max_body_bytes = args.max_body_bytes;
    cfg.max_concurrency = args.max_concurrency;
    cfg.resolve_tags = !args.no_resolve;
    cfg.digest_ttl = std::time::Duration::from_secs(args.tag_ttl);
    cfg.client_ca = args.client_ca;
    // The webhook's own tag lookups obey the same registry policy as the engine's (loopback refusal, allow and
    // deny lists, CAs): without this they ran with the library defaults and reached loopback registries.
    parts.resolver = Some(portcullis_server::DigestResolver::registry(
        portcullis_image::PullOptions {
            timeout: Some(cfg.resolve_budget),
            cache_dir: None,
            ..webhook_pulls
        },
        cfg.digest_ttl,
        cfg.negative_ttl,
    ));
    let running = start(cfg, parts).await?;
    eprintln!(
        "portcullis: serving the admission webhook{} on https://{}",
        if args.verdicts.is_some() {
            ""
        } else {
            " and the engine API"
        },
        running.addr
    );
    let stop = running.stopper();
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        eprintln!("portcullis: shutting down");
        let _ = stop.send(true);
        let _ = engine_stop.send(true);
    });
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// The data directory, created when missing.
fn data_dir(given: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    let dir = match given {
        Some(d) => d.to_path_buf(),
        None => dirs::data_local_dir()
            .map(|d| d.join("portcullis"))
            .context(
                "no data directory known for this user: pass --data-dir or set PORTCULLIS_DATA_DIR",
            )?,
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    Ok(dir)
}

/// A CA and a `localhost` serving certificate under `<data>/tls`, generated on first use.
fn generated_tls(data_dir: &std::path::Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("tls");
    let (cert, key, ca) = (dir.join("tls.crt"), dir.join("tls.key"), dir.join("ca.crt"));
    if !(cert.exists() && key.exists()) {
        let sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let b = portcullis_server::certs::generate("portcullis", "default", &sans, 365)?;
        super::certs::write_bundle(&dir, &b, true)?;
        eprintln!(
            "portcullis: generated a serving certificate for localhost; clients trust {}",
            ca.display()
        );
    }
    Ok((cert, key))
}

/// The API admin token: `PORTCULLIS_ADMIN_TOKEN`/`PORTCULLIS_ADMIN_TOKEN_FILE`, else one generated once into
/// `<data>/admin-token` (mode 0600). The token itself is never printed.
fn admin_token(data_dir: &std::path::Path) -> anyhow::Result<String> {
    if let Ok(t) = portcullis_engine::api::ApiConfig::admin_token_from_env() {
        return Ok(t);
    }
    let path = data_dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").context("cannot read /dev/urandom")?,
        &mut bytes,
    )
    .context("cannot read /dev/urandom")?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    super::certs::write_private(&path, &token)?;
    eprintln!(
        "portcullis: generated an API admin token in {} (use it as PORTCULLIS_TOKEN)",
        path.display()
    );
    Ok(token)
}

/// Opens the store and the vulnerability database and starts the analysis workers.
async fn start_engine(
    args: &Args,
    data_dir: &std::path::Path,
    shutdown: tokio::sync::watch::Receiver<bool>,
    learned: portcullis_engine::stages::LearnedCredentials,
) -> anyhow::Result<portcullis_engine::service::Service> {
    use portcullis_engine::service::{ServiceConfig, start as start_service};
    use portcullis_engine::stages::{FeedSource, IndexMatcher, Matcher, VulnDbFeeds};

    let store_url = match &args.store {
        Some(s) => s.clone(),
        None => data_dir.join("portcullis.db").display().to_string(),
    };
    let vuln_path = match &args.vuln_db {
        Some(p) => p.clone(),
        None => match std::env::var_os("PORTCULLIS_DB") {
            Some(p) => PathBuf::from(p),
            None => data_dir.join("vuln.db"),
        },
    };
    let env_sources: Vec<String> = std::env::var("PORTCULLIS_VULN_SOURCES")
        .map(|env| env.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let sources: Vec<String> = if !args.vuln_sources.is_empty() {
        args.vuln_sources.clone()
    } else if !env_sources.is_empty() {
        env_sources
    } else if let Some(bundle) = &args.vuln_db_bundle {
        vec![bundle.display().to_string()]
    } else {
        super::db::DEFAULT_SOURCES
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    if let Some(bundle) = &args.vuln_db_bundle {
        let st = portcullis_vuln::install_bundle(bundle, &vuln_path).with_context(|| {
            format!(
                "installing the vulnerability database bundle {} into {}",
                bundle.display(),
                vuln_path.display()
            )
        })?;
        eprintln!(
            "portcullis: vulnerability data {} installed from {}",
            st.db_version,
            bundle.display()
        );
    }
    // Unusable vulnerability data does not stop the webhook: without a matcher, images get SBOMs but no
    // findings, so policy evaluation reports them unevaluated and each mode's rule decides (policy denies).
    let triage = portcullis_vuln::triage::Triage::load(&args.vex, &args.ignore_file)
        .context("reading the --vex / --ignore-file documents")?;
    type Vulns = (Option<Arc<dyn Matcher>>, Option<Arc<dyn FeedSource>>);
    let (matcher, feeds): Vulns = match portcullis_vuln::VulnDb::open(&vuln_path)
        .map_err(|e| e.to_string())
        .and_then(|db| IndexMatcher::load(&db).map_err(|e| e.to_string()))
        .map(|m| m.with_triage(triage))
    {
        Ok(m) => {
            let m = Arc::new(m);
            let feeds = Arc::new(VulnDbFeeds {
                path: vuln_path,
                sources,
                matcher: m.clone(),
            });
            (Some(m), Some(feeds))
        }
        Err(e) => {
            tracing::error!(
                db = %vuln_path.display(),
                error = %e,
                "the vulnerability database is unusable; serving without vulnerability matching (images stay \
                 unevaluated) — fix or remove the file and restart"
            );
            eprintln!(
                "portcullis: WARNING: vulnerability database {} is unusable ({e}); serving without vulnerability \
                 matching",
                vuln_path.display()
            );
            (None, None)
        }
    };
    let opts = pull_options(args, data_dir)?;
    for path in &args.policy_bundles {
        let file =
            portcullis_engine::bundles::read_bundle_file(path).map_err(anyhow::Error::msg)?;
        use portcullis_engine::stages::Evaluator as _;
        portcullis_engine::stages::PolicyEvaluator::default()
            .compile(&file.bundle)
            .map_err(|e| anyhow::anyhow!("policy bundle file {}: {e}", path.display()))?;
    }
    let work_dir = data_dir.join("work");
    std::fs::create_dir_all(&work_dir)
        .with_context(|| format!("cannot create {}", work_dir.display()))?;
    let platforms = platforms(args).await?;
    eprintln!(
        "portcullis: analysing the platforms {} of multi-platform images",
        platforms
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stages = portcullis_engine::Stages::registry(
        opts.clone(),
        work_dir.clone(),
        matcher,
        feeds,
        learned.clone(),
        platforms.clone(),
    );
    if args.analysis_isolation == Isolation::Process {
        let program = std::env::current_exe()
            .context("cannot find this program's own path to start analysis workers; run with --analysis-isolation inline")?;
        let limits = portcullis_engine::isolate::WorkerLimits {
            memory_bytes: args.analysis_memory_limit_mib << 20,
            cpu_seconds: args.analysis_cpu_seconds,
            wall_time: std::time::Duration::from_secs(args.analysis_timeout),
            ..Default::default()
        };
        stages.analyser = Arc::new(portcullis_engine::isolate::ProcessAnalyser {
            program,
            args: vec!["analyse-worker".into()],
            opts,
            work_dir,
            learned,
            limits,
            platforms,
        });
    }
    let mut config = ServiceConfig {
        store_url,
        engine: Default::default(),
        api: portcullis_engine::api::ApiConfig {
            tokens: vec![admin_token(data_dir)?],
            max_body_bytes: args.max_body_bytes,
        },
        verdict_refresh: std::time::Duration::from_secs(2),
        bundles: portcullis_engine::bundles::BundleSources {
            files: args.policy_bundles.clone(),
            active: args.active_bundle.clone(),
            interval: std::time::Duration::from_secs(2),
        },
        vuln_sync_interval: args.vuln_sync_interval,
    };
    config.engine.workers = args.workers.max(1);
    config.engine.signature_recheck = std::time::Duration::from_secs(args.signature_recheck);
    config.engine.resolve = portcullis_engine::resolve::ResolveConfig {
        concurrency: usize::try_from(args.resolve_concurrency).unwrap_or(usize::MAX),
        per_registry: usize::try_from(args.resolve_per_registry).unwrap_or(usize::MAX),
        deadline: std::time::Duration::from_secs(args.resolve_timeout),
        failures_to_open: args.registry_breaker_failures,
        cool_down: std::time::Duration::from_secs(args.registry_breaker_cool_down),
    };
    config.engine.rate_limits.max_claimed_per_registry =
        args.max_analyses_per_registry.unwrap_or_else(|| {
            u32::try_from(config.engine.workers.saturating_sub(1).max(1)).unwrap_or(u32::MAX)
        });
    Ok(start_service(config, stages, shutdown).await?)
}

/// The registry options of every connection `serve` makes — the engine's pulls and tag lookups and the webhook's
/// own tag lookups alike: insecure registries, extra CAs, the allow/deny lists and loopback refusal, credentials.
fn pull_options(
    args: &Args,
    data_dir: &std::path::Path,
) -> anyhow::Result<portcullis_image::PullOptions> {
    let mut opts = portcullis_image::PullOptions {
        insecure_registries: args.insecure_registries.clone(),
        ca_certs: args.registry_cas.clone(),
        cache_dir: Some(data_dir.join("blobs")),
        network: portcullis_image::NetworkPolicy {
            allow: args.registry_allow.clone(),
            deny: args.registry_deny.clone(),
            allow_loopback: args.allow_loopback_registries,
        },
        ..Default::default()
    };
    for b in &args.budgets {
        opts.set_budget(b)
            .map_err(|e| anyhow::anyhow!("--budget: {e}"))?;
    }
    if let Some(auth) = &args.registry_auth {
        opts.credentials = portcullis_image::credentials_from_docker_config_file(auth)
            .with_context(|| format!("reading registry credentials from {}", auth.display()))?;
    }
    Ok(opts)
}

/// The platforms to analyse: `--platform`, else those the cluster's Nodes report (with `--kube-config`), else
/// linux/amd64.
async fn platforms(args: &Args) -> anyhow::Result<Vec<portcullis_image::Platform>> {
    if !args.platforms.is_empty() {
        return args
            .platforms
            .iter()
            .map(|p| {
                portcullis_image::Platform::parse(p.trim())
                    .with_context(|| format!("--platform {p:?}"))
            })
            .collect();
    }
    let fallback = vec![portcullis_image::Platform::default()];
    if args.kube_config.is_none() {
        return Ok(fallback);
    }
    let found = match kube::Client::try_default().await {
        Ok(client) => portcullis_kube::platforms::node_platforms(&client)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("cannot reach the Kubernetes API server: {e}")),
    };
    match found {
        Ok(p) if !p.is_empty() => Ok(p),
        Ok(_) => {
            tracing::warn!("no Node reports its platform; analysing linux/amd64");
            Ok(fallback)
        }
        Err(e) => {
            tracing::warn!(error = %e, "the Nodes' platforms are unknown; analysing linux/amd64");
            Ok(fallback)
        }
    }
}

/// `--vuln-sync-interval`: `0`, seconds, or a number with the unit `s`, `m`, `h` or `d`.
fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: give e.g. 24h, 30m, 90s or 0"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    n.checked_mul(unit_secs)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_interval;
    use std::time::Duration;

    #[test]
    fn sync_intervals_parse_with_units_and_bad_ones_say_why() {
        assert_eq!(parse_interval("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_interval("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_interval("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_interval("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_interval("0"), Ok(Duration::ZERO));
        assert!(parse_interval("1w").unwrap_err().contains("unknown unit"));
        assert!(parse_interval("h").unwrap_err().contains("not a duration"));
        assert!(parse_interval("99999999999999999999h").is_err());
    }
}
