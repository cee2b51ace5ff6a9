//! A static file server on loopback for offline feed tests: serves the real files of a directory (the shared
//! vulnerability data) over plain HTTP, and can be switched to answer `503` to stand in for an upstream that
//! is down. Hand-written because the tests need one GET per connection and a fault switch, nothing more.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A running file server (its thread lives as long as the test process).
pub struct FileServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    failing: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
}

impl FileServer {
    /// Serves the files under `root` (a path with `..` or a missing file gets `404`).
    pub fn start(root: impl Into<PathBuf>) -> FileServer {
        let root: PathBuf = root.into();
        let l = TcpListener::bind("127.0.0.1:0").expect("binding a loopback file server");
        let url = format!("http://{}", l.local_addr().expect("file server address"));
        let failing = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let (f, n) = (failing.clone(), requests.clone());
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let (root, f, n) = (root.clone(), f.clone(), n.clone());
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                    let mut reader = BufReader::new(&s);
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    // Skip the headers.
                    let mut h = String::new();
                    while reader.read_line(&mut h).is_ok_and(|k| k > 2) {
                        h.clear();
                    }
                    n.fetch_add(1, Ordering::SeqCst);
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (status, body) = if f.load(Ordering::SeqCst) {
                        ("503 Service Unavailable", b"down for the test\n".to_vec())
                    } else {
                        match file_under(&root, &path).and_then(|p| std::fs::read(p).ok()) {
                            Some(b) => ("200 OK", b),
                            None => ("404 Not Found", b"not found\n".to_vec()),
                        }
                    };
                    let mut s = &s;
                    let _ = write!(
                        s,
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(&body);
                });
            }
        });
        FileServer {
            url,
            failing,
            requests,
        }
    }

    /// From now on every request gets `503` (`true`) or its file again (`false`).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The file `url_path` names under `root`; `None` for `..`, absolute components or a query.
fn file_under(root: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = Path::new(url_path.trim_start_matches('/'));
    if url_path.contains(['?', '#']) || !rel.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    Some(root.join(rel)).filter(|p| p.is_file())
}
