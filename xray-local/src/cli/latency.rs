//! `xray-local latency`: where an entry point's time goes, at p50 and p99, as [`crate::store::latency`] splits
//! it; without an entry point, the entry points the traces hold.

use std::time::Duration;

use super::output::out;
use crate::render;
use crate::store::latency::{Entry, Range};
use crate::store::{Store, now_secs};
use crate::units::parse_duration;

/// The options of `xray-local latency`.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("entry").multiple(false))]
pub struct Args {
    /// Segments of this name (a service, a function).
    #[arg(long, group = "entry")]
    pub service: Option<String>,
    /// Segments serving this route: `METHOD /path`, a trailing `*` matching any rest of the path.
    #[arg(long, group = "entry", value_parser = Entry::route)]
    pub route: Option<Entry>,
    /// The processing of this queue's messages, its wait in the queue included.
    #[arg(long, group = "entry")]
    pub queue: Option<String>,
    /// Only traces that started this long ago or later (e.g. 1h, 7d).
    #[arg(long, value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Only traces that started this long ago or earlier.
    #[arg(long, value_parser = parse_duration)]
    pub until: Option<Duration>,
    /// Only traces that started at or after this time, seconds since the epoch.
    #[arg(long, conflicts_with = "since")]
    pub from: Option<f64>,
    /// Only traces that started at or before this time, seconds since the epoch.
    #[arg(long, conflicts_with = "until")]
    pub to: Option<f64>,
    /// JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Prints the split of the chosen entry point's latency, or the entry points; the error is the message to print.
pub fn run(args: Args, store: &Store) -> Result<(), String> {
    let now = now_secs();
    let ago = |d: Option<Duration>| d.map(|d| now - d.as_secs_f64());
    let range = Range { from: args.from.or(ago(args.since)), to: args.to.or(ago(args.until)) };
    let service = args.service.map(|name| Entry::Service { name });
    let entry = service.or(args.route).or(args.queue.map(|name| Entry::Queue { name }));
    match entry {
        Some(entry) => {
            let latency = store.latency(&entry, range).map_err(|e| e.to_string())?;
            out(&if args.json { json(&latency)? } else { render::latency(&latency) });
        }
        None => {
            let points = store.entry_points(range).map_err(|e| e.to_string())?;
            out(&if args.json { json(&points)? } else { render::entry_points(&points) });
        }
    }
    Ok(())
}

/// `value` as pretty JSON, safe to print.
fn json(value: &impl serde::Serialize) -> Result<String, String> {
    Ok(render::json_safe(serde_json::to_string_pretty(value).map_err(|e| e.to_string())?) + "\n")
}
