//! The `xray-local` command; see the library docs.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match xray_local::cli::run(xray_local::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xray-local: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
