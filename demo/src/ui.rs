//! `xray-local ui` over the daemon's data directory: the stack's traces in a browser.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::process::Service;

/// A running `xray-local ui`.
#[derive(Debug)]
pub struct WebView {
    _service: Service,
    url: String,
}

impl WebView {
    /// Starts `xray-local ui` on a free loopback port, reading `data_dir`.
    pub fn start(binary: &Path, data_dir: &Path, log_dir: &Path) -> io::Result<Self> {
        let mut command = Command::new(binary);
        command.arg("--data-dir").arg(data_dir).args(["ui", "--bind", "127.0.0.1:0"]);
        let mut service = Service::spawn("xray-local-ui", command, log_dir)?;
        let url = service.wait_for(Duration::from_secs(20), |line| {
            Some(line.split_once("ui on ")?.1.split_whitespace().next()?.to_owned())
        })?;
        Ok(Self { _service: service, url })
    }

    /// The trace list's URL, `http://127.0.0.1:{port}/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL of a trace's waterfall.
    pub fn trace_url(&self, trace_id: &str) -> String {
        format!("{}trace/{trace_id}", self.url)
    }
}
