//! A real moto server (PyPI `moto[server]`) on 127.0.0.1, started by the tests themselves.
//!
//! Nothing has to be installed by hand: on first use, moto is installed at a pinned version into a virtualenv under
//! the target directory (`target/moto-venv`), and reused after that. `XRAY_MOTO_PYTHON` names another interpreter
//! that has `moto[server]` already.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A moto server process; dropping it kills the server.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:{port}`, the endpoint URL for SDK clients.
    pub endpoint: String,
    port: u16,
    child: Child,
}

// `python3 -m moto.server`, with a watchdog thread that exits when stdin closes: the server then dies with the test
// process even when `Drop` never runs (a `static` harness, or a test process that is killed).
const LAUNCH: &str = "import os, runpy, sys, threading\n\
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()\n\
    sys.argv = ['moto.server'] + sys.argv[1:]\n\
    runpy.run_module('moto.server', run_name='__main__')\n";

impl Moto {
    /// Starts `python3 -m moto.server` on 127.0.0.1 on a free port and waits until it answers.
    pub fn start() -> io::Result<Moto> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let python = python()?;
        let child = Command::new(&python)
            .args(["-c", LAUNCH, "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{} -m moto.server: {e}", python.display())))?;
        let mut moto = Moto { endpoint: format!("http://127.0.0.1:{port}"), port, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if moto.request("GET", "/moto-api/data.json").is_ok_and(|status| status == 200) {
                return Ok(moto);
            }
            if let Some(status) = moto.child.try_wait()? {
                return Err(io::Error::other(format!("moto server exited with {status}")));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "moto server did not answer within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clears every resource moto holds (`POST /moto-api/reset`).
    pub fn reset(&self) {
        let status = self.request("POST", "/moto-api/reset");
        assert!(matches!(status, Ok(200)), "moto reset failed: {status:?}");
    }

    /// Sends a bodiless request and returns the status code.
    fn request(&self, method: &str, path: &str) -> io::Result<u16> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("not HTTP: {response:.80}")))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The moto release the harness installs.
pub const MOTO_VERSION: &str = "5.2.1";

/// An interpreter with `moto[server]`: `XRAY_MOTO_PYTHON`, else the virtualenv under the target directory, created
/// and filled on first use.
pub fn python() -> io::Result<PathBuf> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(|| match std::env::var_os("XRAY_MOTO_PYTHON") {
            Some(python) => Ok(PathBuf::from(python)),
            None => crate::venv::python_with(
                "moto-venv",
                &[&format!("moto[server]=={MOTO_VERSION}")],
                &format!(".moto-{MOTO_VERSION}"),
            )
            .map_err(|e| e.to_string()),
        })
        .clone()
        .map_err(io::Error::other)
}

/// One moto server for the whole test process, started on first use. Tests sharing it use resource names of their
/// own rather than [`Moto::reset`], since they run in parallel.
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| Moto::start().expect("moto server starts"))
}
