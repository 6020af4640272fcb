//! Helpers shared by the integration tests: start the real `doppel` binary on loopback ports,
//! talk HTTP to it with a minimal client, and clean up.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_doppel");

pub fn example_plant() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plants/example.toml")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `doppel` process, killed (SIGKILL) on drop.
pub struct Doppel {
    pub child: Child,
    pub http: SocketAddr,
    pub log: PathBuf,
    args: Vec<String>,
}

impl Doppel {
    /// Starts `doppel <args>` and waits until `/api/health` answers.
    pub fn start(args: &[&str], http_port: u16, log: &Path) -> Doppel {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        let child = Command::new(BIN)
            .args(args)
            .env("DOPPEL_LOG", "info,rumqttd=off")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("cannot start the doppel binary");
        let mut d = Doppel {
            child,
            http: SocketAddr::from(([127, 0, 0, 1], http_port)),
            log: log.to_path_buf(),
            args: args.iter().map(|a| a.to_string()).collect(),
        };
        d.wait_healthy(Duration::from_secs(60));
        d
    }

    /// `doppel serve` of the example plant on `http_port` with its data (and log) in `data_dir`.
    pub fn serve(http_port: u16, data_dir: &Path, extra: &[&str]) -> Doppel {
        std::fs::create_dir_all(data_dir).unwrap();
        let (plant, port, dir) = (example_plant().display().to_string(), http_port.to_string(), data_dir.display().to_string());
        let mut args = vec!["serve", "--plant", &plant, "--port", &port, "--data-dir", &dir];
        args.extend_from_slice(extra);
        Doppel::start(&args, http_port, &data_dir.join("doppel.log"))
    }

    /// SIGKILL, then the same command again (same ports, same data directory).
    pub fn crash_and_restart(&mut self) {
        self.kill9();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let port = self.http.port();
        *self = Doppel::start(&args, port, &self.log.clone());
    }

    pub fn wait_healthy(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok((200, _)) = try_http(self.http, "GET", "/api/health", None) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "doppel exited early with {status}; log:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "doppel did not become healthy; log:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        let (status, body) = http(self.http, "GET", path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Doppel {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Minimal HTTP/1.1 request; panics on connection errors.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    try_http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// Minimal HTTP/1.1 request (Connection: close).
pub fn try_http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP header in {text:?}")))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn tempdir(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!(
        "doppel-test-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    ));
    std::fs::create_dir_all(&p).unwrap();
    p
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// Fails with an install hint when a peer program is missing (tests never skip silently).
pub fn require(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("`{program}` is required by this test: install it with `apt-get install -y {package}` (scripts/test.sh does this)");
}
