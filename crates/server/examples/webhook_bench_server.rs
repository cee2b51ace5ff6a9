//! Benchmark servers for `bench/webhook`, in one binary so both are built the same way (plus `certs DIR`):
//!
//! - `webhook_bench_server portcullis ADDR CERT KEY CONFIG VERDICTS`: the real server (`portcullis_server::start`)
//!   answering from the in-memory verdicts file, registry lookups off (cached verdicts);
//! - `webhook_bench_server baseline ADDR CERT KEY`: a do-nothing axum + rustls handler that only parses the
//!   review (into `serde_json::Value`) and admits it, the peer the webhook is compared with.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

async fn baseline_handler(body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    let v: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let out = serde_json::json!({
        "apiVersion": v["apiVersion"],
        "kind": "AdmissionReview",
        "response": { "uid": v["request"]["uid"], "allowed": true }
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(&out).unwrap_or_default(),
    )
        .into_response()
}

async fn baseline(addr: SocketAddr, cert: PathBuf, key: PathBuf) {
    let resolver = Arc::new(portcullis_server::ReloadingCert::new(cert, key).expect("certificate"));
    let tls = portcullis_server::tls::server_config(resolver).expect("tls config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let app = Router::new().route("/validate", post(baseline_handler));
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    eprintln!(
        "baseline listening on {}",
        listener.local_addr().expect("addr")
    );
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let svc = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            if let Ok(tls) = acceptor.accept(tcp).await {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            }
        });
    }
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() == 3 && a[1] == "certs" {
        let b = portcullis_server::certs::generate(
            "portcullis",
            "portcullis",
            &["localhost".into(), "127.0.0.1".into()],
            7,
        )
        .expect("certificates");
        let dir = PathBuf::from(&a[2]);
        std::fs::write(dir.join("ca.crt"), b.ca_cert_pem).expect("write");
        std::fs::write(dir.join("tls.crt"), b.cert_pem).expect("write");
        std::fs::write(dir.join("tls.key"), b.key_pem).expect("write");
        return;
    }
    let usage = "usage: webhook_bench_server portcullis ADDR CERT KEY CONFIG VERDICTS | baseline ADDR CERT KEY";
    if a.len() < 5 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let addr: SocketAddr = a[2].parse().expect("ADDR");
    let (cert, key) = (PathBuf::from(&a[3]), PathBuf::from(&a[4]));
    match a[1].as_str() {
        "baseline" => baseline(addr, cert, key).await,
        "portcullis" if a.len() == 7 => {
            let verdicts = portcullis_admission::MemoryVerdicts::load(std::path::Path::new(&a[6]))
                .expect("verdicts file");
            let mut cfg = portcullis_server::ServerConfig::new(addr, cert, key);
            cfg.admission_config = Some(PathBuf::from(&a[5]));
            cfg.resolve_tags = false;
            let r =
                portcullis_server::start(cfg, portcullis_server::Parts::new(Arc::new(verdicts)))
                    .await
                    .expect("start");
            eprintln!("portcullis listening on {}", r.addr);
            r.wait().await;
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
