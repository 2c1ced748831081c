//! Real servers the tests start for themselves: `redis-server` and an SMTP server (Python's
//! `aiosmtpd`). When one is not installed the test says so and passes, unless
//! `MARKETPLACE_REQUIRE_SERVERS` is set (CI sets it), when a missing server fails the test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

fn missing(what: &str) {
    if std::env::var_os("MARKETPLACE_REQUIRE_SERVERS").is_some() {
        panic!("{what} is required (MARKETPLACE_REQUIRE_SERVERS is set) but is not installed");
    }
    eprintln!("SKIPPED: {what} is not installed here; CI installs it and runs this test");
}

/// Waits until something accepts connections on `port`, or panics after 10 s.
fn await_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{what} did not listen on port {port} within 10 s");
}

/// A `redis-server` on a free port with persistence off, stopped when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    pub fn start() -> Option<RedisServer> {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(child) => child,
            Err(_) => {
                missing("redis-server");
                return None;
            }
        };
        await_port(port, &mut child, "redis-server");
        Some(RedisServer { child, port })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An SMTP server (`python3 -m aiosmtpd`) that stores what it receives in a maildir, stopped when
/// dropped.
pub struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    pub fn start() -> Option<SmtpServer> {
        let has_aiosmtpd = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            missing("Python's aiosmtpd (pip install aiosmtpd)");
            return None;
        }
        let maildir = tempfile::tempdir().expect("a temp dir");
        let port = free_port();
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs");
        await_port(port, &mut child, "aiosmtpd");
        Some(SmtpServer {
            child,
            port,
            maildir,
        })
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages received so far, raw.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let new = self.maildir.path().join("mail").join("new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    }

    /// Waits (up to 10 s) until at least `n` messages have arrived.
    pub async fn await_messages(&self, n: usize) -> Vec<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let received = self.received();
            if received.len() >= n || tokio::time::Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
