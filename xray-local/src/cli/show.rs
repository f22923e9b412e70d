//! `xray-local show`: one trace as a waterfall, or its assembled tree as JSON.

use super::output::{ColorChoice, color, out};
use crate::render;
use crate::store::Store;

/// The options of `xray-local show`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx), or enough of it to name one stored trace.
    pub trace_id: String,
    /// The assembled tree as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Colour errors.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

/// Prints the trace that `args.trace_id` names in `store`; the error is the message to print.
pub fn run(args: Args, store: &Store) -> Result<(), String> {
    let Args { trace_id, json, color: choice } = args;
    let not_found = || format!("no trace {trace_id} in {}", store.path().display());
    let id = match store.resolve(&trace_id).map_err(|e| e.to_string())? {
        Ok(Some(id)) => id,
        Ok(None) => return Err(not_found()),
        Err(candidates) => {
            let more = if candidates.len() > 5 { ", ..." } else { "" };
            let shown = candidates.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            return Err(format!("{trace_id} matches several traces: {shown}{more}"));
        }
    };
    let tree = store.tree(&id).map_err(|e| e.to_string())?.ok_or_else(not_found)?;
    if json {
        out(&(render::json_safe(serde_json::to_string_pretty(&tree).map_err(|e| e.to_string())?) + "\n"));
    } else {
        out(&render::waterfall(&tree, color(choice)));
    }
    Ok(())
}
