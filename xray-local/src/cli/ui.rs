//! `xray-local ui`: the store in a browser (see [`crate::ui`]), until the process is stopped.

use std::net::SocketAddr;
use std::path::Path;

use crate::ui::Ui;

/// The options of `xray-local ui`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to serve on; requests must name it in their Host header. Anything but a loopback address lets
    /// other machines read the stored traces.
    #[arg(long, default_value = "127.0.0.1:2020")]
    pub bind: SocketAddr,
}

/// Serves the store of the data dir `dir` until the process is stopped; the error is the message to print.
pub fn run(args: Args, dir: &Path) -> Result<(), String> {
    let ui = Ui::start(args.bind, dir).map_err(|e| format!("cannot serve the ui on {}: {e}", args.bind))?;
    eprintln!("xray-local: ui on {} (data in {})", ui.url(), crate::render::escape(&dir.display().to_string()));
    ui.wait();
    Ok(())
}
