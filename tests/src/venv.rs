//! Virtualenvs under the target directory, created and filled from PyPI on first use and reused after that: what
//! [`crate::moto`] and [`crate::otlp`] run their Python parts in. Nothing has to be installed by hand.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The target directory the running binary was built into: the nearest ancestor holding Cargo's `CACHEDIR.TAG`.
pub fn target_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the test binary: {e}"))?;
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} is not inside a Cargo target directory", exe.display()))
}

/// Makes `target/{name}` a virtualenv holding `requirements` (pinned), unless it holds the file `mark` already
/// (name the pinned versions in it, so that a changed pin installs again); returns its python. Test binaries may race
/// here: the first to create `{name}.lock` installs, the others wait for the mark.
pub fn python_with(name: &str, requirements: &[&str], mark: &str) -> io::Result<PathBuf> {
    let venv = target_dir().map_err(io::Error::other)?.join(name);
    let python = venv.join("bin").join("python3");
    let ready = venv.join(mark);
    let lock = venv.with_extension("lock");
    let deadline = Instant::now() + Duration::from_secs(900);
    while !ready.exists() {
        match std::fs::create_dir(&lock) {
            Ok(()) => {
                let result =
                    create(&venv, &python, requirements).and_then(|()| std::fs::write(&ready, requirements.join(" ")));
                let _ = std::fs::remove_dir(&lock);
                result?;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if Instant::now() > deadline {
                    return Err(io::Error::other(format!("{} still held after 15 minutes", lock.display())));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(python)
}

fn create(venv: &Path, python: &Path, requirements: &[&str]) -> io::Result<()> {
    eprintln!("installing {} into {} (once)", requirements.join(" "), venv.display());
    run(Command::new("python3").arg("-m").arg("venv").arg("--clear").arg(venv))?;
    run(Command::new(python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .args(requirements))
}

fn run(command: &mut Command) -> io::Result<()> {
    let output = command.stdin(Stdio::null()).output()?;
    if output.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{command:?} failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    )))
}
