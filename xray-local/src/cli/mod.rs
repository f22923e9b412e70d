//! The command line: the [`Cli`] type with the options every subcommand shares (`--data-dir`), and the dispatch to
//! one file per subcommand: [`daemon`], [`traces`], [`show`], [`invalid`], [`status`], [`latency`], [`pull`], [`lambda`], [`ui`]. The readers go
//! through [`crate::store::query`], so another view of the store asks the same questions the same way.

pub mod daemon;
pub mod invalid;
pub mod lambda;
pub mod latency;
mod output;
pub mod pull;
pub mod show;
pub mod status;
pub mod traces;
pub mod ui;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub use output::ColorChoice;

use crate::store::Store;

/// A local stand-in for the AWS X-Ray daemon: receives segment documents over UDP, checks them, assembles and
/// stores traces, shows them as waterfalls and can forward them to the X-Ray API.
#[derive(Debug, Parser)]
#[command(name = "xray-local", version)]
pub struct Cli {
    /// Directory of the database [default: $XDG_DATA_HOME/xray-local or ~/.local/share/xray-local]
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Listen for segment documents like the X-Ray daemon and store them.
    ///
    /// One daemon per data dir: it holds an exclusive lock on daemon.lock there, and a second one is refused with
    /// the first one's pid. When the database cannot be written (a full or read-only disk), the daemon says so on
    /// stderr at once, and `status` marks its counters as stale.
    Daemon(daemon::Args),
    /// List stored traces, most recent first.
    Traces(traces::Args),
    /// Print the waterfall of one trace.
    Show(show::Args),
    /// List refused datagrams with the reason, newest first.
    Invalid(invalid::Args),
    /// Show what the database holds, whether a daemon is running on it, and its counters (those of the last run
    /// when none is); counters a running daemon has not been able to record for a few seconds are marked stale.
    Status(status::Args),
    /// Where the time of a service, an API route or a queue consumer goes, at p50 and p99: its end-to-end
    /// duration split along the critical path into the own time of each subsegment name, queue waits and the time
    /// no subsegment covers. Without --service, --route or --queue: the entry points the traces hold.
    Latency(latency::Args),
    /// Import traces from the X-Ray API (the normal AWS configuration, AWS_ENDPOINT_URL included) into the
    /// store, back to 30 days in windows of 6 hours; a pull resumes where the last one stopped, and traces pulled
    /// are kept past --retention.
    Pull(pull::Args),
    /// Run a Lambda function's binary behind the Lambda Runtime API, sending the segments Lambda sends.
    ///
    /// Payloads are limited as Lambda's synchronous ones: an Invoke payload over 6 MB (6,291,456 bytes) gets 413
    /// RequestEntityTooLargeException; a response over 6,291,556 bytes fails the invocation at once with
    /// Function.ResponseSizeTooLarge, and the function's process keeps running.
    ///
    /// A /runtime/init/error is handled one way whenever it comes: the process is stopped, every invocation
    /// running in it (or, before the runtime first asked for one, the invocation waiting for it) fails at once
    /// with the posted error and X-Amz-Function-Error: Unhandled, and the next invocation starts a new process.
    Lambda(Box<crate::lambda::Args>),
    /// Serve the stored traces in a browser: the trace list with filters (/), a trace's waterfall
    /// (/trace/<id>), the service map (/map) and where the time goes (/latency). Prints its URL; only reads the
    /// store.
    Ui(ui::Args),
}

/// The data dir: `--data-dir`, else `$XDG_DATA_HOME/xray-local`, else `~/.local/share/xray-local`.
pub fn data_dir(option: Option<PathBuf>) -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    option
        .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("xray-local")))
        .or_else(|| env("HOME").map(|h| h.join(".local/share/xray-local")))
        .unwrap_or_else(|| PathBuf::from(".xray-local"))
}

/// Opens the database of the data dir `dir` for a reading subcommand.
fn open(dir: &Path) -> Result<Store, String> {
    Store::open(dir).map_err(|e| format!("cannot open the database in {}: {e}", dir.display()))
}

/// Runs a parsed command line; the error is the message to print.
pub fn run(cli: Cli) -> Result<(), String> {
    let dir = data_dir(cli.data_dir);
    match cli.command {
        Command::Lambda(args) => lambda::run(*args),
        Command::Daemon(args) => daemon::run(args, dir),
        Command::Traces(args) => traces::run(args, &open(&dir)?),
        Command::Show(args) => show::run(args, &open(&dir)?),
        Command::Invalid(args) => invalid::run(args, &open(&dir)?),
        Command::Status(args) => status::run(args, &open(&dir)?),
        Command::Ui(args) => ui::run(args, &dir),
        Command::Latency(args) => latency::run(args, &open(&dir)?),
        Command::Pull(args) => pull::run(args, &mut open(&dir)?),
    }
}
