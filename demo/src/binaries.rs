//! The programs the stack runs, built with the cargo that runs the demo (`$CARGO`), into the same target directory
//! and profile as the demo itself, so a second run finds them up to date.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace's root, where its `Cargo.toml` is.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Where the running executable was built: the target directory (the nearest ancestor holding Cargo's
/// `CACHEDIR.TAG`) and the profile directory inside it (`debug`, `release`, ...).
pub fn target_dirs() -> io::Result<(PathBuf, PathBuf)> {
    let exe = std::env::current_exe()?;
    let target = exe
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .ok_or_else(|| io::Error::other(format!("{} is not inside a Cargo target directory", exe.display())))?;
    let profile = exe
        .ancestors()
        .find(|dir| dir.parent() == Some(target))
        .ok_or_else(|| io::Error::other(format!("no profile directory above {}", exe.display())))?;
    Ok((target.to_path_buf(), profile.to_path_buf()))
}

/// Paths of the built programs.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `xray-local`.
    pub xray_local: PathBuf,
    profile: PathBuf,
}

impl Binaries {
    /// Builds `xray-local` and the functions' `packages` (each package's binary has its name), showing cargo's
    /// progress on stderr.
    pub fn build(packages: &[&str]) -> io::Result<Self> {
        let (target, profile) = target_dirs()?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut command = Command::new(&cargo);
        command.current_dir(workspace_root()).arg("build").arg("--target-dir").arg(&target);
        match profile.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => drop(command.arg("--release")),
            Some(other) => drop(command.args(["--profile", other])),
            None => {}
        }
        // With the demo itself among the packages, features resolve as for `cargo run -p demo`, whose dependencies
        // include these packages' libraries: nothing is compiled twice, only the binaries are linked.
        for package in ["demo", "xray-rs-local"].iter().chain(packages) {
            command.args(["-p", package]);
        }
        command.arg("--bins");
        let status = command.status().map_err(|e| io::Error::new(e.kind(), format!("cannot run {cargo:?}: {e}")))?;
        if !status.success() {
            return Err(io::Error::other(format!("{command:?} failed with {status}")));
        }
        let binaries = Self { xray_local: profile.join(exe("xray-local")), profile };
        Ok(binaries)
    }

    /// The binary of the function package `package`.
    pub fn function(&self, package: &str) -> PathBuf {
        self.profile.join(exe(package))
    }
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}
