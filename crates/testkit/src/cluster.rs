//! A real Kubernetes control plane on loopback for end-to-end tests: etcd, kube-apiserver and
//! (optionally) kube-controller-manager, built from the Go modules pinned in `tests/cluster` by
//! `scripts/cluster-build` and cached under `$HOME/.cache/portcullis/`.
//!
//! [`Cluster::start`] generates a CA, serving and client certificates and a service-account key,
//! starts the processes on free loopback ports in a temporary directory, writes a kubeconfig and
//! waits until `/readyz` answers `ok`. Dropping the [`Cluster`] stops every process and removes the
//! directory (logs are printed first if `PORTCULLIS_KEEP_CLUSTER_LOGS` is set).

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};

/// Errors from starting or driving the test control plane.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The control-plane binaries could not be built or located.
    #[error(
        "control-plane binaries unavailable: {0} (run scripts/cluster-build, or set PORTCULLIS_K8S_BIN to a directory holding etcd, kube-apiserver, kube-controller-manager, kubectl, helm)"
    )]
    Binaries(String),
    /// Generating a certificate or key failed.
    #[error("generating test certificates: {0}")]
    Certs(#[from] rcgen::Error),
    /// A filesystem or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A component did not become ready in time.
    #[error("{component} did not become ready within {seconds}s; last log lines:\n{log}")]
    NotReady {
        /// Which component.
        component: String,
        /// How long we waited.
        seconds: u64,
        /// Tail of its log.
        log: String,
    },
    /// A component exited early.
    #[error("{component} exited early ({status}); last log lines:\n{log}")]
    Exited {
        /// Which component.
        component: String,
        /// Its exit status.
        status: String,
        /// Tail of its log.
        log: String,
    },
    /// Building a Kubernetes client from the generated kubeconfig failed.
    #[error("kube client for the test cluster: {0}")]
    Client(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HarnessError {
    let what = what.into();
    move |source| HarnessError::Io { what, source }
}

static BIN_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// The directory holding the control-plane binaries: `PORTCULLIS_K8S_BIN` if set, else whatever
/// `scripts/cluster-build` prints (it builds on first use and returns the cache afterwards).
pub fn bin_dir() -> Result<PathBuf, HarnessError> {
    BIN_DIR
        .get_or_init(|| {
            if let Some(dir) = std::env::var_os("PORTCULLIS_K8S_BIN") {
                return Ok(PathBuf::from(dir));
            }
            let script = crate::repo_root().join("scripts/cluster-build");
            let out = Command::new("bash")
                .arg(&script)
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("running {}: {e}", script.display()))?;
            if !out.status.success() {
                return Err(format!("{} failed ({})", script.display(), out.status));
            }
            let stdout = String::from_utf8_lossy(&out.stdout);
            stdout
                .lines()
                .last()
                .map(|l| PathBuf::from(l.trim()))
                .ok_or_else(|| format!("{} printed no directory", script.display()))
        })
        .clone()
        .map_err(HarnessError::Binaries)
        .and_then(|dir| {
            for name in ["etcd", "kube-apiserver", "kube-controller-manager"] {
                if !dir.join(name).is_file() {
                    return Err(HarnessError::Binaries(format!(
                        "{} is missing",
                        dir.join(name).display()
                    )));
                }
            }
            Ok(dir)
        })
}

/// Path of one cached tool (`kubectl`, `helm`, ...), checked to exist.
pub fn tool(name: &str) -> Result<PathBuf, HarnessError> {
    let p = bin_dir()?.join(name);
    if p.is_file() {
        Ok(p)
    } else {
        Err(HarnessError::Binaries(format!(
            "{} is missing",
            p.display()
        )))
    }
}

/// A free loopback port, as a harness error.
fn free_port() -> Result<u16, HarnessError> {
    crate::free_port().map_err(io("binding a free loopback port"))
}

/// A certificate authority able to sign serving and client certificates (also usable by tests for
/// the webhook server's certificate).
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A PEM certificate and its PEM private key.
#[derive(Clone)]
pub struct CertPair {
    /// Certificate, PEM.
    pub cert_pem: String,
    /// Private key (PKCS#8), PEM.
    pub key_pem: String,
}

impl TestCa {
    /// A new self-signed CA with the given common name.
    pub fn new(cn: &str) -> Result<Self, HarnessError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Self { cert, key })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// A serving certificate for the given DNS names and IP addresses.
    pub fn serving(&self, dns: &[&str], ips: &[IpAddr]) -> Result<CertPair, HarnessError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(
            DnType::CommonName,
            dns.first().copied().unwrap_or("localhost"),
        );
        params.subject_alt_names = dns
            .iter()
            .map(|d| d.to_string().try_into().map(SanType::DnsName))
            .collect::<Result<Vec<_>, _>>()?;
        params
            .subject_alt_names
            .extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        self.sign(params)
    }

    /// A client certificate for user `cn` in the given groups (organisations).
    pub fn client(&self, cn: &str, groups: &[&str]) -> Result<CertPair, HarnessError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, cn);
        for g in groups {
            params.distinguished_name.push(DnType::OrganizationName, *g);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Result<CertPair, HarnessError> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Also run kube-controller-manager (Deployments create ReplicaSets and Pods, namespaces get their
    /// `default` ServiceAccount).
    pub controller_manager: bool,
    /// How long to wait for each component.
    pub ready_timeout: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            controller_manager: true,
            ready_timeout: Duration::from_secs(120),
        }
    }
}

struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

/// A running control plane; stopped on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    procs: Vec<Proc>,
    /// `https://127.0.0.1:<port>` of the API server.
    pub server_url: String,
    /// Path of an admin kubeconfig (user `admin`, group `system:masters`).
    pub kubeconfig: PathBuf,
    /// The cluster CA (signs the API server's serving cert and the client certs).
    pub ca: TestCa,
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn write(path: &Path, contents: &str) -> Result<(), HarnessError> {
    std::fs::write(path, contents).map_err(io(format!("writing {}", path.display())))
}

/// Writes a kubeconfig for `server` using the given CA and client cert files.
fn kubeconfig_text(server: &str, ca: &Path, cert: &Path, key: &Path) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: portcullis-test\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    client-certificate: {cert}\n    client-key: {key}\ncontexts:\n- name: portcullis-test\n  context:\n    cluster: portcullis-test\n    user: admin\ncurrent-context: portcullis-test\n",
        ca = ca.display(),
        cert = cert.display(),
        key = key.display()
    );
    s
}

impl Cluster {
    /// Starts etcd, kube-apiserver and (if asked) kube-controller-manager, and waits until the API
    /// server reports ready. The ports are picked free just before use; when one is taken in between (by
    /// another process's outgoing connection, say), the start is retried on fresh ports, at most three times.
    pub async fn start(opts: ClusterOptions) -> Result<Cluster, HarnessError> {
        let mut attempt = 1;
        loop {
            match Cluster::start_once(opts.clone()).await {
                Err(HarnessError::Exited { log, .. })
                    if attempt < 3 && log.contains("address already in use") =>
                {
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn start_once(opts: ClusterOptions) -> Result<Cluster, HarnessError> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("portcullis-cluster-")
            .tempdir()
            .map_err(io("creating the cluster's temp dir"))?;
        let d = dir.path().to_path_buf();
        let ca = TestCa::new("portcullis-test-ca")?;
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let serving = ca.serving(
            &[
                "localhost",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
            ],
            &[lo, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))],
        )?;
        let admin = ca.client("admin", &["system:masters"])?;
        let sa = KeyPair::generate()?;
        let files = [
            ("ca.pem", ca.cert_pem()),
            ("apiserver.pem", serving.cert_pem),
            ("apiserver-key.pem", serving.key_pem),
            ("admin.pem", admin.cert_pem),
            ("admin-key.pem", admin.key_pem),
            ("sa.pem", sa.serialize_pem()),
            ("sa-pub.pem", sa.public_key_pem()),
        ];
        for (name, text) in &files {
            write(&d.join(name), text)?;
        }
        let mut cluster = Cluster {
            server_url: String::new(),
            kubeconfig: d.join("kubeconfig"),
            dir,
            procs: Vec::new(),
            ca,
        };

        let etcd_client = free_port()?;
        let etcd_peer = free_port()?;
        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        cluster.spawn(
            "etcd",
            &bin.join("etcd"),
            &[
                "--name=default".to_string(),
                format!("--data-dir={}", d.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=default={peer_url}"),
                "--unsafe-no-fsync=true".to_string(),
                "--log-level=warn".to_string(),
            ],
        )?;

        let port = free_port()?;
        cluster.server_url = format!("https://127.0.0.1:{port}");
        let p = |n: &str| d.join(n).display().to_string();
        cluster.spawn(
            "kube-apiserver",
            &bin.join("kube-apiserver"),
            &[
                format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={port}"),
                format!("--cert-dir={}", p("apiserver-certs")),
                format!("--tls-cert-file={}", p("apiserver.pem")),
                format!("--tls-private-key-file={}", p("apiserver-key.pem")),
                format!("--client-ca-file={}", p("ca.pem")),
                format!("--service-account-key-file={}", p("sa-pub.pem")),
                format!("--service-account-signing-key-file={}", p("sa.pem")),
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
                "--service-cluster-ip-range=10.0.0.0/24".into(),
                "--authorization-mode=RBAC".into(),
                // Resolve webhook Services through their endpoints (there is no kube-proxy here), so a
                // Service with no ready Portcullis Pods fails fast, as in a real cluster.
                "--enable-aggregator-routing=true".into(),
                "--profiling=false".into(),
                "--v=1".into(),
            ],
        )?;
        write(
            &cluster.kubeconfig,
            &kubeconfig_text(
                &cluster.server_url,
                &d.join("ca.pem"),
                &d.join("admin.pem"),
                &d.join("admin-key.pem"),
            ),
        )?;
        cluster.wait_ready(opts.ready_timeout).await?;

        if opts.controller_manager {
            let kcm_port = free_port()?;
            cluster.spawn(
                "kube-controller-manager",
                &bin.join("kube-controller-manager"),
                &[
                    format!("--kubeconfig={}", cluster.kubeconfig.display()),
                    format!("--authentication-kubeconfig={}", cluster.kubeconfig.display()),
                    format!("--authorization-kubeconfig={}", cluster.kubeconfig.display()),
                    "--bind-address=127.0.0.1".into(),
                    format!("--secure-port={kcm_port}"),
                    format!("--cert-dir={}", p("kcm-certs")),
                    format!("--service-account-private-key-file={}", p("sa.pem")),
                    format!("--root-ca-file={}", p("ca.pem")),
                    "--leader-elect=false".into(),
                    "--use-service-account-credentials=false".into(),
                    "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service,-persistentvolume-binder,-attachdetach".into(),
                    "--v=1".into(),
                ],
            )?;
        }
        Ok(cluster)
    }

    fn spawn(
        &mut self,
        name: &'static str,
        bin: &Path,
        args: &[String],
    ) -> Result<(), HarnessError> {
        let log = self.dir.path().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let err = out.try_clone().map_err(io("duplicating log handle"))?;
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(io(format!("starting {}", bin.display())))?;
        self.procs.push(Proc { name, child, log });
        Ok(())
    }

    /// Fails with the log tail if any started process has exited.
    pub fn check_alive(&mut self) -> Result<(), HarnessError> {
        for p in &mut self.procs {
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(HarnessError::Exited {
                    component: p.name.to_string(),
                    status: status.to_string(),
                    log: tail(&p.log, 30),
                });
            }
        }
        Ok(())
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), HarnessError> {
        let start = Instant::now();
        let client = self.client().await?;
        loop {
            self.check_alive()?;
            let req = http::Request::get("/readyz")
                .body(Vec::new())
                .map_err(|e| HarnessError::Client(e.to_string()))?;
            if let Ok(text) = client.request_text(req).await
                && text.trim() == "ok"
            {
                return Ok(());
            }
            if start.elapsed() > timeout {
                let log = self
                    .procs
                    .iter()
                    .map(|p| format!("== {}\n{}", p.name, tail(&p.log, 20)))
                    .collect::<Vec<_>>()
                    .join("\n");
                return Err(HarnessError::NotReady {
                    component: "kube-apiserver".into(),
                    seconds: timeout.as_secs(),
                    log,
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A `kube::Client` authenticated as the admin user.
    pub async fn client(&self) -> Result<kube::Client, HarnessError> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| HarnessError::Client(e.to_string()))?;
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .map_err(|e| HarnessError::Client(e.to_string()))?;
        kube::Client::try_from(cfg).map_err(|e| HarnessError::Client(e.to_string()))
    }

    /// The cluster's temporary directory (certificates, logs, kubeconfig).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last `lines` lines of one component's log (`etcd`, `kube-apiserver`, ...).
    pub fn log_tail(&self, component: &str, lines: usize) -> String {
        self.procs
            .iter()
            .find(|p| p.name == component)
            .map(|p| tail(&p.log, lines))
            .unwrap_or_default()
    }

    /// Runs the cached `kubectl` against this cluster with the given arguments; returns stdout, or
    /// an error carrying stderr.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let kubectl = tool("kubectl").map_err(|e| e.to_string())?;
        let out = Command::new(kubectl)
            .arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .args(args)
            .output()
            .map_err(|e| format!("running kubectl: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "kubectl {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let keep = std::env::var_os("PORTCULLIS_KEEP_CLUSTER_LOGS").is_some();
        // Stop in reverse start order: controller-manager, API server, then etcd.
        for p in self.procs.iter_mut().rev() {
            if keep {
                eprintln!(
                    "== {} log ({})\n{}",
                    p.name,
                    p.log.display(),
                    tail(&p.log, 40)
                );
            }
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}
