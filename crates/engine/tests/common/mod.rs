//! Test harness: an engine with real store, queue, API server (TCP on 127.0.0.1) and client, driven by
//! stand-in stages built from values the tests construct. The stand-ins exist because this suite tests the
//! engine's own parts; the real resolver/analyser (`portcullis_engine::stages::Registry*`) run once the image
//! and sbom crates land, and the real matcher comes from the vuln crate. The policy evaluator is the real one (`PolicyEvaluator`).

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_engine::api::{ApiConfig, router};
use portcullis_engine::stages::{
    Access, Analyser, Analysis, BoxFuture, FeedSource, Matcher, PolicyEvaluator, Resolver,
    StageError,
};
use portcullis_engine::{Engine, EngineConfig, Stages};
use portcullis_image::{Digest, ImageRef};
use portcullis_sbom::{Distro, Package, PackageType, Sbom};
use portcullis_store::Store;
use portcullis_vuln::{Finding, FixState, MatchReport, Severity};
use tokio::sync::watch;

pub const TOKEN: &str = "test-admin-token-7f3a";

#[allow(unused_imports)] // not every test target of this crate reads the shared data
pub use portcullis_testkit::shared;

/// A digest made from a number.
pub fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

/// Tag → digest, as a registry would answer.
#[derive(Default)]
pub struct TableResolver(pub Mutex<HashMap<String, String>>);

impl Resolver for TableResolver {
    fn resolve<'a>(
        &'a self,
        image: &'a ImageRef,
        _namespace: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Digest, StageError>> {
        Box::pin(async move {
            let pull = image.to_string();
            let d = self
                .0
                .lock()
                .unwrap()
                .get(&pull)
                .cloned()
                .ok_or_else(|| StageError::permanent(format!("{pull}: manifest unknown")))?;
            Digest::parse(&d).map_err(|e| StageError::permanent(e.to_string()))
        })
    }

    /// The table's registry has no authentication: everyone may pull what it serves.
    fn access<'a>(
        &'a self,
        _image: &'a ImageRef,
        _namespace: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Option<Access>, StageError>> {
        Box::pin(async { Ok(Some(Access::Shared)) })
    }
}

/// Builds an SBOM per pull string from a package list; counts analyses per digest.
pub struct TableAnalyser {
    pub packages: Vec<Package>,
    pub calls: Mutex<HashMap<String, usize>>,
    pub delay: Duration,
    pub label: String,
    pub fail_first: Mutex<HashMap<String, usize>>,
}

impl TableAnalyser {
    pub fn new(label: &str, delay: Duration) -> Self {
        Self {
            packages: vec![
                pkg("openssl", "3.0.11-1~deb12u2", PackageType::Deb),
                pkg("zlib1g", "1:1.2.13.dfsg-1", PackageType::Deb),
                pkg("requests", "2.19.0", PackageType::Python),
            ],
            calls: Mutex::new(HashMap::new()),
            delay,
            label: label.into(),
            fail_first: Mutex::new(HashMap::new()),
        }
    }
    pub fn total_calls(&self) -> usize {
        self.calls.lock().unwrap().values().sum()
    }
}

pub fn pkg(name: &str, version: &str, t: PackageType) -> Package {
    portcullis_testkit::package(t, name, version)
        .purl(format!("pkg:x/{name}@{version}"))
        .location("/var/lib/dpkg/status")
        .build()
}

impl Analyser for TableAnalyser {
    fn analyse<'a>(
        &'a self,
        image: &'a ImageRef,
        _namespaces: &'a [String],
    ) -> BoxFuture<'a, Result<Analysis, StageError>> {
        Box::pin(async move {
            let pull = image.to_string();
            let digest = image.digest.clone().unwrap_or_default();
            *self
                .calls
                .lock()
                .unwrap()
                .entry(digest.clone())
                .or_default() += 1;
            if let Some(n) = self.fail_first.lock().unwrap().get_mut(&digest)
                && *n > 0
            {
                *n -= 1;
                return Err(StageError::transient(format!("{pull}: registry timed out")));
            }
            tokio::time::sleep(self.delay).await;
            let mut sbom = Sbom {
                schema_version: "1".into(),
                analyser_version: self.label.clone(),
                source: pull.clone(),
                distro: Some(Distro {
                    id: "debian".into(),
                    version_id: Some("12".into()),
                    ..Default::default()
                }),
                packages: self.packages.clone(),
                ..Default::default()
            };
            sbom.metadata.manifest_digest = Some(digest.clone());
            Ok(Analysis {
                image_id: Some(format!("sha256:{:0>64}", "c0f16")),
                sbom,
                platforms: Vec::new(),
                pulled_with: Access::Shared,
            })
        })
    }
}

/// (id, package name, severity, fixed version).
pub type Advisory = (String, String, Severity, Option<String>);

/// Matches package names against an advisory table; `advisories` and `version` change on a feed sync.
pub struct TableMatcher {
    pub advisories: Mutex<Vec<Advisory>>,
    pub version: Mutex<String>,
    pub calls: AtomicUsize,
}

impl TableMatcher {
    pub fn new() -> Self {
        Self {
            advisories: Mutex::new(vec![
                (
                    "CVE-2023-0286".into(),
                    "openssl".into(),
                    Severity::High,
                    Some("3.0.13-1~deb12u1".into()),
                ),
                (
                    "CVE-2018-18074".into(),
                    "requests".into(),
                    Severity::Medium,
                    Some("2.20.0".into()),
                ),
            ]),
            version: Mutex::new("db-1".into()),
            calls: AtomicUsize::new(0),
        }
    }
}

impl Matcher for TableMatcher {
    fn db_version(&self) -> String {
        self.version.lock().unwrap().clone()
    }
    fn match_sbom(&self, sbom: &Sbom) -> Result<MatchReport, StageError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let advisories = self.advisories.lock().unwrap();
        let mut findings = Vec::new();
        for p in &sbom.packages {
            for (id, name, sev, fixed) in advisories.iter() {
                if *name == p.name {
                    findings.push(Finding {
                        id: id.clone(),
                        aliases: vec![],
                        package_name: p.name.clone(),
                        package_version: p.version.clone(),
                        package_type: p.package_type,
                        package_location: p.location.clone(),
                        namespace: "debian:12".into(),
                        severity: *sev,
                        cvss: vec![],
                        fix_state: if fixed.is_some() {
                            FixState::Fixed
                        } else {
                            FixState::NotFixed
                        },
                        fixed_in: fixed.clone(),
                        fix_date: None,
                        published: None,
                        url: Some(format!("https://security-tracker.debian.org/tracker/{id}")),
                        description: None,
                        kev: false,
                        epss: None,
                        suppressed: None,
                        vex: None,
                    });
                }
            }
        }
        Ok(MatchReport {
            findings,
            db_version: self.db_version(),
            ..Default::default()
        })
    }
}

/// A feed source that bumps the matcher's data: adds an advisory for zlib1g and moves to `db-2`.
pub struct BumpFeeds(pub Arc<TableMatcher>);

impl FeedSource for BumpFeeds {
    fn sync(&self) -> Result<(Vec<(String, i64)>, String), StageError> {
        let mut adv = self.0.advisories.lock().unwrap();
        adv.push((
            "CVE-2023-45853".into(),
            "zlib1g".into(),
            Severity::Critical,
            None,
        ));
        *self.0.version.lock().unwrap() = "db-2".into();
        Ok((vec![("debian".into(), adv.len() as i64)], "db-2".into()))
    }
}

/// A running engine with its API on a local port.
pub struct Server {
    pub url: String,
    pub engine: Arc<Engine>,
    pub rt: Option<tokio::runtime::Runtime>,
    shutdown: watch::Sender<bool>,
}

impl Server {
    pub fn start(
        store: Arc<dyn Store>,
        stages: Stages,
        config: EngineConfig,
        workers: bool,
    ) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let engine = Engine::new(store, stages, config);
        let api = ApiConfig {
            tokens: vec![TOKEN.into()],
            max_body_bytes: 256 * 1024,
        };
        let app = router(engine.clone(), &api);
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        rt.spawn(async move { axum::serve(listener, app).await });
        let (tx, rx) = watch::channel(false);
        if workers {
            let e = engine.clone();
            rt.block_on(async move {
                e.spawn_workers(rx);
            });
        }
        Server {
            url,
            engine,
            rt: Some(rt),
            shutdown: tx,
        }
    }

    pub fn start_workers(&self) {
        let e = self.engine.clone();
        let rx = self.shutdown.subscribe();
        self.rt.as_ref().expect("running").block_on(async move {
            e.spawn_workers(rx);
        });
    }

    pub fn client(&self) -> portcullis_client::Client {
        portcullis_client::Client::new(&self.url, Some(TOKEN)).expect("client")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

pub struct TestStages {
    pub resolver: Arc<TableResolver>,
    pub analyser: Arc<TableAnalyser>,
    pub matcher: Arc<TableMatcher>,
}

pub fn stages(label: &str, delay: Duration) -> (TestStages, Stages) {
    let resolver = Arc::new(TableResolver::default());
    let analyser = Arc::new(TableAnalyser::new(label, delay));
    let matcher = Arc::new(TableMatcher::new());
    let s = Stages {
        resolver: resolver.clone(),
        analyser: analyser.clone(),
        matcher: Some(matcher.clone()),
        evaluator: Some(Arc::new(PolicyEvaluator::default())),
        feeds: Some(Arc::new(BumpFeeds(matcher.clone()))),
        verifier: None,
    };
    (
        TestStages {
            resolver,
            analyser,
            matcher,
        },
        s,
    )
}

pub fn fast_config(replica: &str) -> EngineConfig {
    EngineConfig {
        workers: 4,
        lease: Duration::from_secs(2),
        heartbeat: Duration::from_millis(300),
        poll: Duration::from_millis(50),
        retry: portcullis_store::RetryPolicy {
            base: Duration::from_millis(50),
            max: Duration::from_millis(200),
        },
        replica_id: replica.into(),
        ..Default::default()
    }
}

pub fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
