//! Registries that never answer: loopback listeners for fairness tests (one slow registry must delay no other).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// A listener on loopback that accepts connections and holds them open without ever answering; returns its
/// `host:port`.
pub fn silent_tarpit() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a loopback tarpit");
    let addr = l.local_addr().expect("tarpit address").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    addr
}

/// A listener on loopback that reads the request, then answers one byte every 300 ms and never finishes;
/// returns its `host:port`.
pub fn trickling_tarpit() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding a loopback tarpit");
    let addr = l.local_addr().expect("tarpit address").to_string();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: ";
                for b in answer.iter().chain(std::iter::repeat(&b'a')) {
                    if s.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            });
        }
    });
    addr
}
