//! Hostile registries on loopback (raw HTTP listeners written here): no upstream body reaches an error, bodies
//! are bounded, credentials never go to a token realm on another host, redirects to other hosts are refused, and
//! the registry policy refuses loopback before connecting when loopback is not allowed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use portcullis_image::{Client, Credential, ImageRef, NetworkPolicy, PullOptions};

type Seen = Arc<Mutex<Vec<String>>>;

/// Serves every connection on `ip` with `answer(request head)`; returns `host:port` and the request heads seen.
fn serve(ip: &str, answer: impl Fn(&str) -> Vec<u8> + Send + 'static) -> (String, Seen) {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let seen: Seen = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && c.read(&mut b).unwrap_or(0) == 1 {
                head.push(b[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            s.lock().unwrap().push(head.clone());
            let _ = c.write_all(&answer(&head));
        }
    });
    (addr, seen)
}

fn resp(status: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn opts() -> PullOptions {
    PullOptions {
        retries: 0,
        ..PullOptions::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn resolve(opts: &PullOptions, image: &str) -> String {
    let r = ImageRef::parse(image).unwrap();
    rt().block_on(async { Client::new(opts)?.resolve_digest(&r).await })
        .unwrap_err()
        .to_string()
}

fn pull(opts: &PullOptions, image: &str) -> String {
    let r = ImageRef::parse(image).unwrap();
    let work = tempfile::tempdir().unwrap();
    rt().block_on(async {
        Client::new(opts)?
            .pull(
                &r,
                work.path(),
                &|_, _, _| false,
                &portcullis_image::Limits::default(),
            )
            .await
    })
    .unwrap_err()
    .to_string()
}

#[test]
fn upstream_bodies_never_reach_the_message() {
    // Not a registry: whatever it serves at /v2/ must not be echoed.
    let (probe, _) = serve("127.0.0.1", |_| {
        resp("500 Oops", "", b"SECRET-INTERNAL-PAGE")
    });
    let e = pull(&opts(), &format!("{probe}/x:1"));
    assert!(e.contains("HTTP 500 (registry server error)"), "{e}");
    assert!(!e.contains("SECRET"), "{e}");
    // A registry whose manifest answer is a 4xx with a body.
    let (reg, _) = serve("127.0.0.1", |h| {
        if h.starts_with("GET /v2/ ") {
            resp("200 OK", "", b"{}")
        } else {
            resp(
                "400 Bad Request",
                "Content-Type: application/json\r\n",
                br#"{"errors":[{"code":"X","message":"SECRET-MANIFEST-BODY"}]}"#,
            )
        }
    });
    let e = pull(&opts(), &format!("{reg}/x:1"));
    assert!(e.contains("HTTP 400 (request refused)"), "{e}");
    assert!(!e.contains("SECRET"), "{e}");
}

#[test]
fn a_huge_manifest_is_refused_at_the_document_limit() {
    let (reg, _) = serve("127.0.0.1", |h| {
        if h.starts_with("GET /v2/ ") {
            resp("200 OK", "", b"{}")
        } else if h.contains("/manifests/announced") {
            // Announces 2 GiB: refused before reading.
            b"HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\nConnection: close\r\n\r\n{".to_vec()
        } else {
            // No length: 5 MiB streamed, refused once past 4 MiB.
            let mut r = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
            r.extend(std::iter::repeat_n(b' ', 5 << 20));
            r
        }
    });
    for tag in ["announced", "streamed"] {
        let e = pull(&opts(), &format!("{reg}/x:{tag}"));
        assert!(
            e.contains("4194304") && e.contains("max_document_bytes"),
            "{tag}: {e}"
        );
    }
}

#[test]
fn credentials_never_go_to_a_realm_on_another_host() {
    let (realm, realm_seen) = serve("127.0.0.2", |_| resp("200 OK", "", br#"{"token":"t"}"#));
    let challenge =
        format!("WWW-Authenticate: Bearer realm=\"http://{realm}/token\",service=\"r\"\r\n");
    let (reg, _) = serve("127.0.0.1", move |_| {
        resp("401 Unauthorized", &challenge, b"")
    });
    let mut o = opts();
    o.credentials = vec![Credential {
        registry: reg.clone(),
        username: "alice".into(),
        password: "s3cret".into(),
    }];
    let e = resolve(&o, &format!("{reg}/x:1"));
    assert!(e.contains("401"), "{e}");
    let seen = realm_seen.lock().unwrap();
    assert!(
        !seen.is_empty(),
        "the realm was asked for an anonymous token"
    );
    assert!(
        seen.iter()
            .all(|h| !h.to_ascii_lowercase().contains("authorization")),
        "credentials reached the foreign realm: {seen:?}"
    );
}

#[test]
fn redirects_to_other_hosts_are_refused() {
    let (other, other_seen) = serve("127.0.0.2", |_| resp("200 OK", "", b"{}"));
    let (reg, _) = serve("127.0.0.1", move |h| {
        if h.starts_with("GET /v2/ ") {
            resp("200 OK", "", b"{}")
        } else {
            resp(
                "307 Temporary Redirect",
                &format!("Location: http://{other}/internal\r\n"),
                b"",
            )
        }
    });
    let e = pull(&opts(), &format!("{reg}/x:1"));
    assert!(e.contains("redirect to another host"), "{e}");
    assert!(
        other_seen.lock().unwrap().is_empty(),
        "the other host was contacted"
    );
}

#[test]
fn loopback_and_metadata_are_refused_before_connecting_unless_allowed() {
    let (reg, seen) = serve("127.0.0.2", |_| resp("200 OK", "", b"{}"));
    let strict = PullOptions {
        network: NetworkPolicy {
            allow_loopback: false,
            ..NetworkPolicy::default()
        },
        ..opts()
    };
    let e = pull(&strict, &format!("{reg}/probe:1"));
    assert!(
        e.contains("refused by the registry policy") && e.contains("loopback"),
        "{e}"
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
    let e = pull(&strict, "169.254.169.254/latest:1");
    assert!(e.contains("link-local"), "{e}");
    // Marked insecure (explicitly allowed), the same registry is contacted.
    let allowed = PullOptions {
        insecure_registries: vec![reg.clone()],
        ..strict
    };
    let _ = pull(&allowed, &format!("{reg}/probe:1"));
    assert!(!seen.lock().unwrap().is_empty());
}
