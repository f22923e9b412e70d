//! The `xray-local` command; see the library docs.

use clap::Parser;

fn main() -> std::process::ExitCode {
    match xray_local::cli::run(xray_local::cli::Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            // A message can quote a trace id or a path as typed; it is shown like everything else.
            eprintln!("xray-local: {}", xray_local::render::escape(&message));
            std::process::ExitCode::FAILURE
        }
    }
}
