//! A real registry for tests: Debian's `docker-registry` (CNCF distribution) on 127.0.0.1 with a free port, in
//! one of three modes — plain HTTP, TLS with htpasswd basic auth, or bearer tokens from a small token issuer
//! running in the test process. Images are pushed with `skopeo`. The registry is stopped on drop.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";
const SETUP_HINT: &str =
    "run scripts/setup.d/20-image.sh (apt-get install docker-registry skopeo apache2-utils)";

/// How the registry authenticates clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Plain HTTP, anonymous.
    Plain,
    /// HTTPS with a freshly generated CA, htpasswd (bcrypt) basic auth for `user`/`password`.
    TlsBasic {
        /// Username.
        user: String,
        /// Password.
        password: String,
    },
    /// Plain HTTP with bearer-token auth; the token issuer accepts `user`/`password` and grants pull and push.
    /// Accounts added with [`Registry::add_token_user_without_access`] log in but are refused (HTTP 403) every
    /// repository scope.
    Token {
        /// Username.
        user: String,
        /// Password.
        password: String,
    },
}

/// A running `docker-registry`.
pub struct Registry {
    child: Child,
    dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// How it authenticates.
    pub mode: Mode,
    /// The CA certificate (PEM file) that signed its TLS certificate, in TLS mode.
    pub ca_pem: Option<PathBuf>,
    token: Option<TokenIssuer>,
}

fn other(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

impl Registry {
    /// Starts a registry in `mode` on 127.0.0.1 and waits until it accepts connections.
    pub fn start(mode: Mode) -> io::Result<Registry> {
        Self::start_on(mode, "127.0.0.1")
    }

    /// Starts a registry listening on `ip` (e.g. a non-loopback address, to test the plain-HTTP rules).
    pub fn start_on(mode: Mode, ip: &str) -> io::Result<Registry> {
        if !Path::new(REGISTRY_BIN).exists() {
            return Err(other(format!("{REGISTRY_BIN} is missing: {SETUP_HINT}")));
        }
        let dir = tempfile::Builder::new()
            .prefix("portcullis-registry-")
            .tempdir()?;
        let port = TcpListener::bind((ip, 0))?.local_addr()?.port();
        let addr = format!("{ip}:{port}");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage)?;
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            storage.display()
        );
        let mut ca_pem = None;
        let mut token = None;
        match &mode {
            Mode::Plain => {}
            Mode::TlsBasic { user, password } => {
                let (ca, cert, key) = tls_material()
                    .map_err(|e| other(format!("generating test certificates: {e}")))?;
                let (ca_p, cert_p, key_p) = (
                    dir.path().join("ca.pem"),
                    dir.path().join("cert.pem"),
                    dir.path().join("key.pem"),
                );
                std::fs::write(&ca_p, ca)?;
                std::fs::write(&cert_p, cert)?;
                std::fs::write(&key_p, key)?;
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .map_err(|e| other(format!("htpasswd: {e}: {SETUP_HINT}")))?;
                if !out.status.success() {
                    return Err(other(format!(
                        "htpasswd failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )));
                }
                let ht = dir.path().join("htpasswd");
                std::fs::write(&ht, out.stdout)?;
                cfg.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: portcullis-test\n    path: {}\n",
                    cert_p.display(),
                    key_p.display(),
                    ht.display()
                ));
                ca_pem = Some(ca_p);
            }
            Mode::Token { user, password } => {
                let issuer = TokenIssuer::start(user, password)?;
                let bundle = dir.path().join("token-signer.pem");
                std::fs::write(&bundle, &issuer.cert_pem)?;
                cfg.push_str(&format!(
                    "auth:\n  token:\n    realm: http://{}/token\n    service: portcullis-registry\n    issuer: portcullis-token-issuer\n    rootcertbundle: {}\n",
                    issuer.addr,
                    bundle.display()
                ));
                token = Some(issuer);
            }
        }
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| other(format!("starting {REGISTRY_BIN}: {e}: {SETUP_HINT}")))?;
        let mut reg = Registry {
            child,
            dir,
            addr,
            mode,
            ca_pem,
            token,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if TcpStream::connect(&reg.addr).is_ok() {
                return Ok(reg);
            }
            if let Some(st) = reg.child.try_wait()? {
                return Err(other(format!(
                    "docker-registry exited with {st}: {}",
                    reg.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(other(format!(
                    "docker-registry did not listen on {} within 15 s: {}",
                    reg.addr,
                    reg.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The registry's log (access log included).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Where the registry stores the data of blob `digest` (for corrupting it in tests).
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `user:password` in the authenticated modes.
    pub fn creds(&self) -> Option<(String, String)> {
        match &self.mode {
            Mode::Plain => None,
            Mode::TlsBasic { user, password } | Mode::Token { user, password } => {
                Some((user.clone(), password.clone()))
            }
        }
    }

    /// Pushes `oci:LAYOUT:NAME` to `ADDR/REPO_TAG` with skopeo (`all` copies every platform of an index).
    pub fn push(&self, layout: &Path, name: &str, repo_tag: &str, all: bool) -> io::Result<()> {
        self.push_with(layout, name, repo_tag, all, &[])
    }

    /// [`Registry::push`] with extra skopeo arguments (e.g. `--format=v2s2` for Docker schema 2 manifests).
    pub fn push_with(
        &self,
        layout: &Path,
        name: &str,
        repo_tag: &str,
        all: bool,
        extra: &[&str],
    ) -> io::Result<()> {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--quiet", "--dest-tls-verify=false"]);
        cmd.args(extra);
        if all {
            cmd.arg("--all");
        }
        if let Some((u, p)) = self.creds() {
            cmd.arg(format!("--dest-creds={u}:{p}"));
        }
        cmd.arg(format!("oci:{}:{name}", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.addr));
        let out = cmd
            .output()
            .map_err(|e| other(format!("skopeo: {e}: {SETUP_HINT}")))?;
        if !out.status.success() {
            return Err(other(format!(
                "skopeo copy to {}/{repo_tag} failed: {}",
                self.addr,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Token mode: adds an account the token issuer authenticates but refuses access to every repository, as
    /// issuers that check permissions per scope do: it answers 403 to a token request with a repository
    /// scope by this account (and grants an empty token to a login without a scope).
    pub fn add_token_user_without_access(&self, user: &str, password: &str) -> io::Result<()> {
        self.add_limited_user(user, password, true)
    }

    /// Token mode: adds an account the token issuer authenticates and answers with a token granting nothing,
    /// whatever scope it asks for (as Docker Hub does for a private repository the account cannot see); the
    /// registry then refuses the token with 401 `insufficient_scope`.
    pub fn add_token_user_with_empty_grants(&self, user: &str, password: &str) -> io::Result<()> {
        self.add_limited_user(user, password, false)
    }

    fn add_limited_user(&self, user: &str, password: &str, forbid: bool) -> io::Result<()> {
        let Some(t) = &self.token else {
            return Err(other(
                "only a Mode::Token registry has a token issuer to add users to",
            ));
        };
        t.denied
            .lock()
            .map_err(|_| other("token issuer state poisoned"))?
            .push(Limited {
                auth: basic_header(user, password),
                user: user.to_string(),
                forbid,
            });
        Ok(())
    }

    /// How many times the access log shows a GET of blob `digest`.
    pub fn blob_gets(&self, digest: &str) -> usize {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("GET /v2/")
                    && l.contains(&format!("/blobs/{digest}"))
                    && l.contains("\" 200 ")
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.token.take());
    }
}

/// A CA, and a server certificate for `127.0.0.1`/`localhost` signed by it: (ca_pem, cert_pem, key_pem).
pub fn tls_material() -> Result<(String, String, String), rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "portcullis test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key)?;
    let key = KeyPair::generate()?;
    let mut p = CertificateParams::new(vec!["localhost".to_string()])?;
    p.subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    p.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let cert = p.signed_by(&key, &ca_cert, &ca_key)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

/// A minimal Docker token issuer (the `realm` of the registry's bearer challenge): checks basic credentials and
/// returns an ES256 JWT, signed with a key whose certificate the registry trusts, granting what was asked.
/// Hand-written because the protocol is a single GET and no crate ships a test token server.
struct TokenIssuer {
    addr: String,
    cert_pem: String,
    /// Accounts that authenticate but may access no repository.
    denied: Arc<Mutex<Vec<Limited>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TokenIssuer {
    fn start(user: &str, password: &str) -> io::Result<TokenIssuer> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| other(e.to_string()))?;
        let mut p = rcgen::CertificateParams::new(Vec::<String>::new())
            .map_err(|e| other(e.to_string()))?;
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "portcullis token signer");
        let cert = p.self_signed(&key).map_err(|e| other(e.to_string()))?;
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.serialize_der(),
            &rng,
        )
        .map_err(|e| other(format!("token key: {e}")))?;
        let x5c = base64::engine::general_purpose::STANDARD.encode(cert.der());
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?.to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let expected = basic_header(user, password);
        let user = user.to_string();
        let stop2 = stop.clone();
        let denied = Arc::new(Mutex::new(Vec::new()));
        let denied2 = denied.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let denied = denied2.lock().map(|d| d.clone()).unwrap_or_default();
                let _ = serve_token(conn, &expected, &denied, &user, &signer, &rng, &x5c);
            }
        });
        Ok(TokenIssuer {
            addr,
            cert_pem: cert.pem(),
            denied,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An account of the token issuer that may access no repository.
#[derive(Clone)]
struct Limited {
    /// Its `Authorization` header.
    auth: String,
    /// Its user name.
    user: String,
    /// Answer 403 to scoped token requests (else: grant an empty token).
    forbid: bool,
}

/// The `Authorization` header value of HTTP basic auth.
fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn serve_token(
    conn: TcpStream,
    expected_auth: &str,
    denied: &[Limited],
    user: &str,
    signer: &ring::signature::EcdsaKeyPair,
    rng: &ring::rand::SystemRandom,
    x5c: &str,
) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut r = BufReader::new(conn.try_clone()?);
    let mut request_line = String::new();
    r.read_line(&mut request_line)?;
    let mut auth = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            auth = Some(v.trim().to_string());
        }
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or("/");
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut access = Vec::new();
    let mut service = String::new();
    for kv in query.split('&') {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        let v = percent_decode(v);
        match k {
            "scope" => {
                for scope in v.split(' ') {
                    let parts: Vec<&str> = scope.split(':').collect();
                    if parts.len() >= 3 {
                        let actions = parts[parts.len() - 1];
                        let name = parts[1..parts.len() - 1].join(":");
                        access.push(serde_json::json!({
                            "type": parts[0], "name": name,
                            "actions": actions.split(',').collect::<Vec<_>>(),
                        }));
                    }
                }
            }
            "service" => service = v,
            _ => {}
        }
    }
    let mut w = conn;
    let limited = denied
        .iter()
        .find(|l| auth.as_deref() == Some(l.auth.as_str()));
    let granted = |sub: &str, access: &[serde_json::Value]| -> io::Result<(&str, String)> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [x5c]});
        let claims = serde_json::json!({
            "iss": "portcullis-token-issuer", "sub": sub, "aud": service,
            "exp": now + 600, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", access.len()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = signer
            .sign(rng, signing_input.as_bytes())
            .map_err(|e| other(format!("signing: {e}")))?;
        let token = format!("{signing_input}.{}", b64url(sig.as_ref()));
        Ok((
            "200 OK",
            serde_json::json!({"token": token, "access_token": token, "expires_in": 600})
                .to_string(),
        ))
    };
    let (status, body) = match (auth.as_deref(), limited) {
        (_, Some(l)) if l.forbid && !access.is_empty() => (
            "403 Forbidden",
            r#"{"errors":[{"code":"DENIED","message":"access to the requested resource is denied"}]}"#
                .to_string(),
        ),
        (_, Some(l)) => granted(&l.user, &[])?,
        (Some(a), None) if a == expected_auth => granted(user, &access)?,
        (_, None) => (
            "401 Unauthorized",
            r#"{"details":"bad credentials"}"#.to_string(),
        ),
    };
    write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    w.flush()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This machine's primary non-loopback IPv4 address (the source address of a route to a public IP; no packet
/// is sent).
pub fn non_loopback_ip() -> io::Result<std::net::IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
    s.connect("192.0.2.255:9")
        .or_else(|_| s.connect("8.8.8.8:53"))?;
    let ip = s.local_addr()?.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        return Err(other("this machine has no non-loopback IPv4 address"));
    }
    Ok(ip)
}
