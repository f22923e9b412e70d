//! One daemon per data dir: an exclusive `flock` on `daemon.lock` in it, held while the daemon runs.
//!
//! Two daemons writing one database contend for SQLite's write lock; the loser's writes fail with "database is
//! locked" and what it held is lost. So a second daemon is refused at start with the first one's pid, and
//! `status` can tell whether a daemon is running on the dir (the lock is held) and which.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data dir.
pub const LOCK_FILE: &str = "daemon.lock";

/// The data dir's lock, released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Takes the lock of `dir` (created if needed) and writes this process's id into it; if another process holds
    /// it, the error names that process and the dir.
    pub fn acquire(dir: &Path) -> std::io::Result<DirLock> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        // `status` takes a shared lock for a moment to look, so a refusal is only believed when it lasts.
        let mut locked = try_lock(&file, true)?;
        for _ in 0..20 {
            if locked {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            locked = try_lock(&file, true)?;
        }
        if !locked {
            let holder = holder(&path).map_or_else(String::new, |pid| format!(" (pid {pid})"));
            return Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!(
                    "another xray-local daemon{holder} is running on the data dir {}; stop it, or give this one \
                     another --data-dir",
                    dir.display()
                ),
            ));
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(file, "{}", std::process::id())?;
        Ok(DirLock { _file: file })
    }
}

/// Whether a daemon is running on `dir`: `Some(pid)` (0 if it did not say) while one holds the lock.
pub fn running(dir: &Path) -> Option<u32> {
    let path: PathBuf = dir.join(LOCK_FILE);
    let file = File::open(&path).ok()?;
    match try_lock(&file, false) {
        Ok(false) => Some(holder(&path).unwrap_or(0)),
        Ok(true) | Err(_) => None,
    }
}

fn holder(path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(path).ok()?.take(64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Takes an exclusive (or shared) lock without waiting: `false` when another process holds a conflicting one. A
/// shared lock taken only to look is released when `file` is closed.
#[cfg(unix)]
fn try_lock(file: &File, exclusive: bool) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    let mode = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
    // SAFETY: flock on a file descriptor this `File` owns.
    if unsafe { libc::flock(file.as_raw_fd(), mode | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) { Ok(false) } else { Err(err) }
}

/// Elsewhere there is no lock: a second daemon is not refused.
#[cfg(not(unix))]
fn try_lock(_file: &File, _exclusive: bool) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_dir_is_refused_with_the_holder_s_pid_and_freed_on_drop() {
        let dir = std::env::temp_dir().join(format!("xray-local-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(running(&dir), None);
        let first = DirLock::acquire(&dir).expect("first");
        assert_eq!(running(&dir), Some(std::process::id()));
        let err = DirLock::acquire(&dir).expect_err("second");
        assert!(err.to_string().contains(&format!("(pid {})", std::process::id())), "{err}");
        drop(first);
        assert_eq!(running(&dir), None);
        assert!(DirLock::acquire(&dir).is_ok(), "free again");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
