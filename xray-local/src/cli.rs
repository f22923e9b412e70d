//! The command line: `daemon`, `traces`, `show`, `invalid`, `status`, `lambda`.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::daemon::{Config, Daemon};
use crate::render::{self, Color};
use crate::store::{Store, now_secs};

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

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Listen for segment documents like the X-Ray daemon and store them.
    ///
    /// One daemon per data dir: it holds an exclusive lock on daemon.lock there, and a second one is refused with
    /// the first one's pid. When the database cannot be written (a full or read-only disk), the daemon says so on
    /// stderr at once, and `status` marks its counters as stale.
    Daemon {
        /// UDP address to listen on.
        #[arg(long, default_value = "127.0.0.1:2000")]
        bind: SocketAddr,
        /// Also forward every valid document to the X-Ray API (PutTraceSegments) with the normal AWS config.
        #[arg(long)]
        forward: bool,
        /// Print the waterfall of each trace once it completes.
        #[arg(long)]
        follow: bool,
        /// Delete traces older than this (e.g. 30m, 12h, 7d; 0 keeps everything).
        #[arg(long, default_value = "7d", value_parser = parse_duration)]
        retention: Duration,
        /// Quiet time after which a trace with nothing in progress counts as complete (e.g. 500ms, 2s).
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        settle: Duration,
        /// Print the status line this often (0: only on exit).
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        status_every: Duration,
        /// Colour errors in --follow output.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
        /// Memory for documents waiting for the database (and for the forwarder), e.g. 64MiB; what does not fit
        /// is counted as dropped.
        #[arg(long, default_value = "64MiB", value_parser = parse_size)]
        queue_bytes: usize,
        /// How many refused datagrams to keep (the first KiB of each); older ones are deleted.
        #[arg(long, default_value_t = 10_000)]
        keep_invalid: usize,
        /// The most space the database may use (e.g. 512MiB, 1GiB; 0: no bound). Beyond it the least recently
        /// updated traces are deleted, oldest first, until it uses nine tenths of it; checked after each write,
        /// beside --retention.
        #[arg(long, default_value = "1GiB", value_parser = parse_size)]
        max_db_size: usize,
    },
    /// List stored traces, most recent first.
    Traces {
        /// Only traces with this annotation (repeatable; all must match).
        #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_pair)]
        annotations: Vec<(String, String)>,
        /// At most this many traces.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
        /// Keep printing traces as they are added or updated.
        #[arg(long)]
        follow: bool,
        /// Colour errors.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// Print the waterfall of one trace.
    Show {
        /// The trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx), or enough of it to name one stored trace.
        trace_id: String,
        /// The assembled tree as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Colour errors.
        #[arg(long, value_enum, default_value = "auto")]
        color: ColorChoice,
    },
    /// List refused datagrams with the reason, newest first.
    Invalid {
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// JSON lines instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show what the database holds, whether a daemon is running on it, and its counters (those of the last run
    /// when none is); counters a running daemon has not been able to record for a few seconds are marked stale.
    Status {
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
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
}

/// Parses `500ms`, `30s`, `5m`, `12h`, `7d` (or a bare number of seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration like 500ms, 30s, 5m, 12h or 7d"))?;
    let seconds = match unit {
        "ms" => value / 1e3,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        _ => return Err(format!("unknown unit `{unit}` in `{text}`: use ms, s, m, h or d")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `65536`, `512KiB`, `64MiB`, `1GiB` (or `B`, `K`, `M`, `G`, all powers of 1024) as bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: usize = number.parse().map_err(|_| format!("`{text}` is not a size like 65536, 512KiB or 64MiB"))?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        other => return Err(format!("unknown unit `{other}` in `{text}`: use B, KiB, MiB or GiB")),
    };
    value.checked_mul(1 << shift).ok_or_else(|| format!("`{text}` is too large"))
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

/// The data dir: `--data-dir`, else `$XDG_DATA_HOME/xray-local`, else `~/.local/share/xray-local`.
pub fn data_dir(option: Option<PathBuf>) -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    option
        .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("xray-local")))
        .or_else(|| env("HOME").map(|h| h.join(".local/share/xray-local")))
        .unwrap_or_else(|| PathBuf::from(".xray-local"))
}

fn color(choice: ColorChoice) -> Color {
    match choice {
        ColorChoice::Always => Color::Always,
        ColorChoice::Never => Color::Never,
        ColorChoice::Auto if std::io::stdout().is_terminal() => Color::Always,
        ColorChoice::Auto => Color::Never,
    }
}

/// Runs a parsed command line; the error is the message to print.
pub fn run(cli: Cli) -> Result<(), String> {
    let dir = data_dir(cli.data_dir);
    let open = || Store::open(&dir).map_err(|e| format!("cannot open the database in {}: {e}", dir.display()));
    let out = |text: &str| {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    };
    match cli.command {
        Command::Lambda(args) => crate::lambda::run(*args),
        Command::Daemon {
            bind,
            forward,
            follow,
            retention,
            settle,
            status_every,
            color: choice,
            queue_bytes,
            keep_invalid,
            max_db_size,
        } => {
            let mut config = Config::new(bind, dir.clone());
            config.forward = forward;
            config.queue_bytes = queue_bytes;
            config.invalid_rows = keep_invalid;
            config.max_db_bytes = (max_db_size > 0).then_some(max_db_size as u64);
            config.settle = settle;
            config.retention = (!retention.is_zero()).then_some(retention);
            config.status_every = (!status_every.is_zero()).then_some(status_every);
            if follow {
                let color = color(choice);
                config.on_settled = Some(Box::new(move |tree| {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "{}", render::waterfall(tree, color));
                    let _ = stdout.flush();
                }));
            }
            // A file-size limit (`ulimit -f`) then fails a write with EFBIG, told like a full disk, instead of
            // killing the daemon with SIGXFSZ.
            #[cfg(unix)]
            // SAFETY: setting a signal's disposition to "ignore" runs no handler code.
            unsafe {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            }
            let daemon = Daemon::start(config).map_err(|e| format!("cannot start on {bind}: {e}"))?;
            eprintln!(
                "xray-local: listening on udp://{} (receive buffer {} bytes), database {}{}",
                daemon.addr(),
                daemon.recv_buffer(),
                render::escape(&dir.join(crate::store::FILE_NAME).to_string_lossy()),
                if forward { ", forwarding to the X-Ray API" } else { "" }
            );
            wait_for_shutdown();
            daemon.stop();
            Ok(())
        }
        Command::Traces { annotations, limit, json, follow, color: choice } => {
            let store = open()?;
            let color = color(choice);
            let print = |list: &[crate::assemble::Summary]| {
                if json {
                    let lines: String = list
                        .iter()
                        .map(|s| render::json_safe(serde_json::to_string(s).unwrap_or_default()) + "\n")
                        .collect();
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
        Command::Show { trace_id, json, color: choice } => {
            let store = open()?;
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
        Command::Invalid { limit, json } => {
            let list = open()?.invalid(limit).map_err(|e| e.to_string())?;
            if json {
                out(&list
                    .iter()
                    .map(|item| render::json_safe(serde_json::to_string(item).unwrap_or_default()) + "\n")
                    .collect::<String>());
            } else {
                out(&render::invalid(&list));
            }
            Ok(())
        }
        Command::Status { json } => {
            let status = open()?.status().map_err(|e| e.to_string())?;
            if json {
                out(&(render::json_safe(serde_json::to_string_pretty(&status).map_err(|e| e.to_string())?) + "\n"));
            } else {
                out(&render::status(&status));
            }
            Ok(())
        }
    }
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_shutdown() {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(_) => loop {
            std::thread::park();
        },
    };
    runtime.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3w"), Err("unknown unit `w` in `3w`: use ms, s, m, h or d".into()));
    }

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_size("65536"), Ok(65_536));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64MB"), Err("unknown unit `MB` in `64MB`: use B, KiB, MiB or GiB".into()));
        assert!(parse_size("MiB").is_err());
    }
}
