//! A child process the stack started: its output kept in a log file (and its stderr lines in memory, to see when
//! it is ready), stopped with SIGTERM (then SIGKILL) when it is dropped.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a process gets to stop after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(5);

/// A running child process.
#[derive(Debug)]
pub struct Service {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    log: PathBuf,
}

impl Service {
    /// Starts `command` as `name`, its stdout and stderr written to `{log_dir}/{name}.log`.
    pub fn spawn(name: &str, mut command: Command, log_dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(log_dir)?;
        let log = log_dir.join(format!("{name}.log"));
        let file = File::create(&log)?;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot start {name} ({command:?}): {e}")))?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let (lines, mut file) = (lines.clone(), file);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _ = writeln!(file, "{line}");
                    lines.lock().unwrap_or_else(PoisonError::into_inner).push(line);
                }
            });
        }
        Ok(Self { name: name.to_owned(), child, lines, log })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `find` recognizes a line of stderr, and returns what it found.
    pub fn wait_for<T>(&mut self, timeout: Duration, find: impl Fn(&str) -> Option<T>) -> io::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = self.lines.lock().unwrap_or_else(PoisonError::into_inner).iter().find_map(|l| find(l))
            {
                return Ok(found);
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(self.failed(&format!("exited with {status}")));
            }
            if Instant::now() > deadline {
                return Err(self.failed(&format!("was not ready within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// An error naming the process, with the end of its log.
    fn failed(&self, what: &str) -> io::Error {
        std::thread::sleep(Duration::from_millis(100)); // the last lines, if it just exited
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect();
        io::Error::other(format!("{} {what}; the end of {}:\n{}", self.name, self.log.display(), tail.join("\n")))
    }

    /// Stops the process: SIGTERM, then SIGKILL after [`GRACE`].
    pub fn stop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        terminate(self.child.id());
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(unix)]
fn terminate(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) only sends a signal; `pid` is our own child, not yet reaped, so it names that process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

#[cfg(not(unix))]
fn terminate(_pid: u32) {}
