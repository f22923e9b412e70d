//! `xray-local invalid`: the refused datagrams with the reason, newest first.

use super::output::out;
use crate::render;
use crate::store::Store;

/// The options of `xray-local invalid`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints the refused datagrams kept in `store`; the error is the message to print.
pub fn run(args: Args, store: &Store) -> Result<(), String> {
    let list = store.invalid(args.limit).map_err(|e| e.to_string())?;
    if args.json {
        out(&list
            .iter()
            .map(|item| render::json_safe(serde_json::to_string(item).unwrap_or_default()) + "\n")
            .collect::<String>());
    } else {
        out(&render::invalid(&list));
    }
    Ok(())
}
