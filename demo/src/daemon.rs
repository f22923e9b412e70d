//! `xray-local daemon` as the X-Ray daemon of the stack, with a data directory of its own, and what it stored: read
//! through xray-local's store, and printed by `xray-local show`.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use xray_local::assemble::Tree;
use xray_local::store::Store;

use crate::process::Service;

/// A running `xray-local daemon`.
#[derive(Debug)]
pub struct Daemon {
    service: Service,
    addr: SocketAddr,
    binary: PathBuf,
    data_dir: PathBuf,
}

impl Daemon {
    /// Starts `xray-local daemon` on a free loopback port, storing into `data_dir`.
    pub fn start(binary: &Path, data_dir: &Path, log_dir: &Path) -> io::Result<Self> {
        let mut command = Command::new(binary);
        command.arg("--data-dir").arg(data_dir).arg("daemon");
        command.args(["--bind", "127.0.0.1:0", "--settle", "200ms", "--status-every", "0", "--retention", "0"]);
        let mut service = Service::spawn("xray-local-daemon", command, log_dir)?;
        let addr = service.wait_for(Duration::from_secs(20), |line| {
            line.split_once("listening on udp://")?.1.split_whitespace().next()?.parse().ok()
        })?;
        Ok(Self { service, addr, binary: binary.to_path_buf(), data_dir: data_dir.to_path_buf() })
    }

    /// Where segment documents go (`AWS_XRAY_DAEMON_ADDRESS`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The daemon's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.service.pid()
    }

    fn store(&self) -> io::Result<Store> {
        Store::open(&self.data_dir)
    }

    /// The assembled trace, if any document of it is stored.
    pub fn tree(&self, trace_id: &str) -> io::Result<Option<Tree>> {
        self.store()?.tree(trace_id).map_err(io::Error::other)
    }

    /// The stored documents of a trace, as the daemon received them (the complete one of each entity).
    pub fn documents(&self, trace_id: &str) -> io::Result<Vec<Value>> {
        self.store()?.documents(trace_id).map_err(io::Error::other)
    }

    /// The trace once it is whole: every parent received, nothing in progress, and nothing new for a moment.
    pub async fn complete_tree(&self, trace_id: &str, timeout: Duration) -> io::Result<Tree> {
        self.complete_tree_with(trace_id, &[], timeout).await
    }

    /// The trace once it is whole, as [`Daemon::complete_tree`], and has an entity of each of `names` (the
    /// segments of the functions that process its messages, which arrive later).
    pub async fn complete_tree_with(&self, trace_id: &str, names: &[&str], timeout: Duration) -> io::Result<Tree> {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let tree = self.tree(trace_id)?;
            let seen = serde_json::to_value(&tree)?;
            if let Some(tree) = tree
                && tree.missing_parents.is_empty()
                && tree.nodes.iter().all(|n| !n.entity.in_progress)
                && names.iter().all(|name| tree.nodes.iter().any(|n| n.entity.name == *name))
                && seen == last
            {
                return Ok(tree);
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("trace {trace_id} not complete after {timeout:?}: {seen}")));
            }
            last = seen;
        }
    }

    /// Prints the waterfall of a trace (`xray-local show`) to the demo's own stdout, in colour on a terminal.
    pub fn print_waterfall(&self, trace_id: &str) -> io::Result<()> {
        let status = Command::new(&self.binary)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["show", trace_id])
            .stdin(Stdio::null())
            .status()?;
        if status.success() { Ok(()) } else { Err(io::Error::other(format!("xray-local show {trace_id}: {status}"))) }
    }

    /// How many documents the daemon has stored, and how many datagrams it refused.
    pub fn counts(&self) -> io::Result<(u64, usize)> {
        let store = self.store()?;
        let stored = store.status().map_err(io::Error::other)?.documents;
        Ok((stored, store.invalid(usize::MAX).map_err(io::Error::other)?.len()))
    }

    /// Stops the daemon (it writes its counters on the way out).
    pub fn stop(&mut self) {
        self.service.stop();
    }
}
