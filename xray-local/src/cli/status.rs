//! `xray-local status`: what the database holds, whether a daemon runs on it, and its counters.

use super::output::out;
use crate::render;
use crate::store::Store;

/// The options of `xray-local status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints the status of `store`; the error is the message to print.
pub fn run(args: Args, store: &Store) -> Result<(), String> {
    let status = store.status().map_err(|e| e.to_string())?;
    if args.json {
        out(&(render::json_safe(serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?) + "\n"));
    } else {
        out(&render::status(&status));
    }
    Ok(())
}
