//! Slow and idle clients over real TLS: half a request header, a trickled body and a full connection table are
//! all cut off within their timeouts, and other clients keep being answered meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use portcullis_admission::MemoryVerdicts;
use portcullis_server::{Parts, Running, ServerConfig, certs, start};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Tls {
    dir: tempfile::TempDir,
    ca: String,
}

fn tls() -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let b = certs::generate("portcullis", "portcullis", &["localhost".into()], 30).unwrap();
    std::fs::write(dir.path().join("tls.crt"), &b.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &b.key_pem).unwrap();
    Tls {
        ca: b.ca_cert_pem,
        dir,
    }
}

async fn serve(t: &Tls, max_connections: usize) -> Running {
    let mut cfg = ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        t.dir.path().join("tls.crt"),
        t.dir.path().join("tls.key"),
    );
    cfg.header_read_timeout = Duration::from_secs(1);
    cfg.idle_timeout = Duration::from_secs(3);
    cfg.request_timeout = Duration::from_secs(2);
    cfg.max_connections = max_connections;
    start(cfg, Parts::new(Arc::new(MemoryVerdicts::new())))
        .await
        .unwrap()
}

/// A raw TLS connection to the server (handshake done, nothing sent).
async fn connect(t: &Tls, srv: &Running) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut t.ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or 10 s pass); returns what it sent and when it closed.
async fn until_closed(
    s: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> (String, Duration) {
    let t = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after 10 s; sent so far: {}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (String::from_utf8_lossy(&got).into_owned(), t.elapsed());
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn healthz(t: &Tls, srv: &Running) -> u16 {
    // A fresh client, so a fresh connection.
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(t.ca.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", srv.addr.port());
    client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_a_request_is_cut_off_and_others_are_served_meanwhile() {
    let t = tls();
    let srv = serve(&t, 64).await;
    let mut half = connect(&t, &srv).await;
    half.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
        .await
        .unwrap();
    half.flush().await.unwrap();
    assert_eq!(
        healthz(&t, &srv).await,
        200,
        "served while the half request waits"
    );
    let (_, after) = until_closed(&mut half).await;
    assert!(
        after < Duration::from_secs(3),
        "half a header held {after:?} (header_read_timeout 1 s)"
    );

    // Headers in full, then a body that never comes: 408 within the request deadline.
    let mut slow = connect(&t, &srv).await;
    slow.write_all(b"POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"kind\"")
        .await
        .unwrap();
    slow.flush().await.unwrap();
    let (sent, after) = until_closed(&mut slow).await;
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(
        after < Duration::from_secs(6),
        "a trickled body held {after:?}"
    );
    srv.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_at_the_cap_cannot_lock_others_out() {
    let t = tls();
    let srv = serve(&t, 2).await;
    // Two connections take every slot and send nothing.
    let mut a = connect(&t, &srv).await;
    let mut b = connect(&t, &srv).await;
    let start = Instant::now();
    // A third client waits in the backlog until the silent ones are cut off, then is answered.
    assert_eq!(healthz(&t, &srv).await, 200);
    let waited = start.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "third client waited {waited:?}"
    );
    let (_, a_after) = until_closed(&mut a).await;
    let (_, b_after) = until_closed(&mut b).await;
    assert!(a_after < Duration::from_secs(3) && b_after < Duration::from_secs(3));
    srv.shutdown().await;
}
