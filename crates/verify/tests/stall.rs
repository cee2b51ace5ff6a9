//! A registry that accepts connections and never answers cannot stall a verification past its deadline.

use std::time::{Duration, Instant};

use portcullis_image::{Client, ImageRef, PullOptions};
use portcullis_verify::{Error, Limits, PublicKey, verify};

#[tokio::test]
async fn a_stalling_registry_hits_the_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accept and hold every connection without a byte of answer.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in listener.incoming() {
            held.push(c);
        }
    });
    let key = PublicKey::from_pem(
        std::path::Path::new("k.pub"),
        b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let client = Client::new(&PullOptions {
        timeout: Some(Duration::from_secs(60)),
        retries: 0,
        ..PullOptions::default()
    })
    .unwrap();
    let image = ImageRef::parse(&format!("{addr}/app:v1")).unwrap();
    let limits = Limits {
        deadline: Duration::from_secs(2),
        ..Limits::default()
    };
    let t = Instant::now();
    let e = verify(&client, &image, std::slice::from_ref(&key), &limits)
        .await
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(matches!(e, Error::Deadline { .. }), "{e}");
    assert!(e.to_string().contains("did not finish within 2s"), "{e}");

    // Attestations are held to the same deadline.
    let t = Instant::now();
    let e = portcullis_verify::attest::verify_attestations(
        &client,
        &image,
        &portcullis_verify::Trust::keys(&[key]),
        &["cyclonedx".to_string()],
        &limits,
    )
    .await
    .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert!(e.to_string().contains("did not finish within 2s"), "{e}");
}
