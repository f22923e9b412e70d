//! `xray-local traces`: the trace list, most recent first, once or as it changes (`--follow`).

use std::time::Duration;

use super::output::{ColorChoice, color, out};
use crate::assemble::Summary;
use crate::render;
use crate::store::{Store, now_secs};

/// The options of `xray-local traces`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only traces with this annotation (repeatable; all must match).
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub annotations: Vec<(String, String)>,
    /// At most this many traces.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
    /// Keep printing traces as they are added or updated.
    #[arg(long)]
    pub follow: bool,
    /// Colour errors.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

/// Prints the list from `store`; with `--follow` it never returns but on an error, the message to print.
pub fn run(args: Args, store: &Store) -> Result<(), String> {
    let Args { annotations, limit, json, follow, color: choice } = args;
    let color = color(choice);
    let print = |list: &[Summary]| {
        if json {
            let lines: String =
                list.iter().map(|s| render::json_safe(serde_json::to_string(s).unwrap_or_default()) + "\n").collect();
            out(&lines);
        } else {
            out(&render::list(list, color));
        }
    };
    let list = store.traces(&annotations, limit).map_err(|e| e.to_string())?;
    print(&list);
    if follow {
        let mut since = now_secs();
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let updated = store.updated_since(since, &annotations).map_err(|e| e.to_string())?;
            if let Some((last, _)) = updated.last() {
                since = *last;
            }
            let summaries: Vec<_> = updated.into_iter().map(|(_, s)| s).collect();
            print(&summaries);
        }
    }
    Ok(())
}
