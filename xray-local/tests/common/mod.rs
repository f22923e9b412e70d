//! Shared by the end-to-end tests: the `xray-local` binary run as a real process, a scratch data dir, the segment
//! schema check (from `xray-schema-check`).
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_xray-local");

/// A data dir removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "xray-local-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `xray-local --data-dir dir args...` to completion.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("--data-dir").arg(dir).args(args).output().expect("xray-local runs")
}

/// Runs a command expected to succeed and returns its stdout.
pub fn stdout(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "xray-local {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `xray-local status --json`.
pub fn status(dir: &Path) -> Value {
    serde_json::from_str(&stdout(dir, &["status", "--json"])).expect("status is JSON")
}

/// A counter of the last daemon run, from `status --json`.
pub fn counter(status: &Value, name: &str) -> u64 {
    status["counters"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["name"] == name))
        .and_then(|c| c["value"].as_u64())
        .unwrap_or(0)
}

/// A running `xray-local daemon`, stopped with SIGTERM when dropped.
pub struct Daemon {
    child: Child,
    pub addr: SocketAddr,
    /// The receive buffer the system granted, in bytes.
    pub recv_buffer: usize,
    pub dir: PathBuf,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

fn pump(stream: impl std::io::Read + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            lines.lock().expect("lines").push(line);
        }
    });
}

impl Daemon {
    /// Starts the daemon on a free loopback port with `extra` arguments and environment.
    pub fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(["daemon", "--bind", "127.0.0.1:0", "--status-every", "0"])
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("xray-local daemon starts");
        let (stdout, stderr) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        pump(child.stdout.take().expect("stdout"), stdout.clone());
        pump(child.stderr.take().expect("stderr"), stderr.clone());
        let deadline = Instant::now() + Duration::from_secs(20);
        let (addr, recv_buffer) = loop {
            // xray-local: listening on udp://127.0.0.1:40000 (receive buffer 425984 bytes), database ...
            let found = stderr.lock().expect("lines").iter().find_map(|l| {
                let rest = l.strip_prefix("xray-local: listening on udp://")?;
                let addr = rest.split(' ').next()?.parse().ok()?;
                let buffer = rest.split_once("(receive buffer ")?.1.split(' ').next()?.parse().ok()?;
                Some((addr, buffer))
            });
            if let Some(found) = found {
                break found;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("daemon exited with {status}: {:?}", stderr.lock().expect("lines"));
            }
            assert!(Instant::now() < deadline, "daemon did not start: {:?}", stderr.lock().expect("lines"));
            std::thread::sleep(Duration::from_millis(20));
        };
        Daemon { child, addr, recv_buffer, dir: dir.to_owned(), stdout, stderr }
    }

    /// Waits until the counter `name` of the running daemon reaches `n` (counters are written to the database
    /// every 200 ms at most).
    pub fn wait_counter(&self, name: &str, n: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = status(&self.dir);
            if counter(&s, name) >= n {
                return s;
            }
            assert!(Instant::now() < deadline, "{name} did not reach {n}: {s:#}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines printed so far on stderr.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("lines").clone()
    }

    /// Lines printed so far on stdout.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().expect("lines").clone()
    }

    /// Sends the process a signal by name (`STOP`, `CONT`, ...).
    pub fn signal(&self, name: &str) {
        let sent = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -{name} failed");
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops it with SIGTERM and returns its stderr lines.
    pub fn stop(mut self) -> Vec<String> {
        self.terminate();
        std::thread::sleep(Duration::from_millis(100));
        self.stderr.lock().expect("lines").clone()
    }

    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The AWS environment of a process that talks to a local `endpoint` (moto, a proxy) and nothing else: region,
/// dummy credentials, no profile files.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_CONFIG_FILE", "/nonexistent".into()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
    ]
}

/// A datagram as the SDKs send it.
pub fn datagram(doc: &Value) -> Vec<u8> {
    [xray_core::emit::DATAGRAM_HEADER, doc.to_string().as_bytes()].concat()
}

pub use xray_schema_check::{errors as schema_errors, valid};
