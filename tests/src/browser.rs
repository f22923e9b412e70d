//! A real headless Chromium (Debian's `chromium` and `chromium-driver`) driven over WebDriver, for the tests of
//! `xray-local ui`'s pages: `chromedriver` on a free loopback port, a fresh profile, no network beyond loopback.
//!
//! `XRAY_CHROMEDRIVER` and `XRAY_CHROMIUM` name other binaries than `chromedriver` and `chromium` on `PATH`.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::json;

/// The flags Chromium runs with: headless, without a sandbox (CI runs as root), and without anything that would
/// reach beyond loopback (updates, sync, QUIC, background networking).
pub const FLAGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// A WebDriver session in a headless Chromium of its own; dropping it ends the browser and the driver.
#[derive(Debug)]
pub struct Browser {
    /// The session.
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

fn binary(variable: &str, name: &str) -> PathBuf {
    std::env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(name))
}

impl Browser {
    /// Starts `chromedriver` and a Chromium with [`FLAGS`], a window of `width` x `height` and a fresh profile
    /// under `scratch`.
    pub async fn start(scratch: &Path, width: u32, height: u32) -> io::Result<Browser> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let driver_binary = binary("XRAY_CHROMEDRIVER", "chromedriver");
        let mut command = Command::new(&driver_binary);
        // A process group of its own, so the browsers it starts end with it (`stop`).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut driver = command
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot start {}: {e} (install Debian's chromium and chromium-driver: \
                         apt-get install chromium chromium-driver)",
                        driver_binary.display()
                    ),
                )
            })?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = driver.try_wait()? {
                return Err(io::Error::other(format!("chromedriver exited with {status}")));
            }
            if Instant::now() > deadline {
                stop(&mut driver);
                return Err(io::Error::new(io::ErrorKind::TimedOut, "chromedriver did not listen within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = scratch.join(format!("chromium-profile-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile)?;
        let mut args: Vec<String> = FLAGS.iter().map(|f| (*f).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.push(format!("--window-size={width},{height}"));
        let mut options = json!({ "args": args });
        if let Some(chromium) = std::env::var_os("XRAY_CHROMIUM") {
            options["binary"] = json!(PathBuf::from(chromium));
        } else if Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = match ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => client,
            Err(e) => {
                stop(&mut driver);
                return Err(io::Error::other(format!("cannot start a Chromium session: {e}")));
            }
        };
        Ok(Browser { client, driver, profile })
    }

    /// Ends the session, then the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        stop(&mut self.driver);
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that failed before `close`: the driver's process group takes its browser with it.
        stop(&mut self.driver);
    }
}

/// Kills the driver and everything in its process group (the browser it started).
fn stop(driver: &mut Child) {
    #[cfg(unix)]
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", driver.id())]).stderr(Stdio::null()).status();
    let _ = driver.kill();
    let _ = driver.wait();
}
