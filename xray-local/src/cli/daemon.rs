//! `xray-local daemon`: receive, check and store until SIGINT or SIGTERM (see [`crate::daemon`]).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::output::{ColorChoice, color};
use crate::daemon::{Config, Daemon};
use crate::render;
use crate::units::{parse_duration, parse_size};

/// The options of `xray-local daemon`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// UDP address to listen on.
    #[arg(long, default_value = "127.0.0.1:2000")]
    pub bind: SocketAddr,
    /// Also forward every valid document to the X-Ray API (PutTraceSegments) with the normal AWS config.
    #[arg(long)]
    pub forward: bool,
    /// Also take OTLP/HTTP (POST /v1/traces, protobuf or JSON, gzip or not) on this address, e.g. 127.0.0.1:4318.
    /// T1S/T1U datagrams are taken on the UDP address either way.
    #[arg(long, value_name = "ADDR")]
    pub otlp_http: Option<SocketAddr>,
    /// Also forward every stored trace as OTLP/HTTP protobuf to this URL (a collector, Jaeger, Tempo), e.g.
    /// http://127.0.0.1:4318/v1/traces.
    #[arg(long, value_name = "URL", value_parser = parse_otlp_url)]
    pub forward_otlp: Option<String>,
    /// Print the waterfall of each trace once it completes.
    #[arg(long)]
    pub follow: bool,
    /// Delete traces older than this (e.g. 30m, 12h, 7d; 0 keeps everything).
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub retention: Duration,
    /// Quiet time after which a trace with nothing in progress counts as complete (e.g. 500ms, 2s).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Print the status line this often (0: only on exit).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub status_every: Duration,
    /// Colour errors in --follow output.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
    /// Memory for documents waiting for the database (and for the forwarder), e.g. 64MiB; what does not fit
    /// is counted as dropped.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub queue_bytes: usize,
    /// How many refused datagrams to keep (the first KiB of each); older ones are deleted.
    #[arg(long, default_value_t = 10_000)]
    pub keep_invalid: usize,
    /// The most space the database may use (e.g. 512MiB, 1GiB; 0: no bound). Beyond it the least recently
    /// updated traces are deleted, oldest first, until it uses nine tenths of it; checked after each write,
    /// beside --retention.
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub max_db_size: usize,
}

/// Runs the daemon on the data dir `dir` until SIGINT or SIGTERM; the error is the message to print.
pub fn run(args: Args, dir: PathBuf) -> Result<(), String> {
    let Args {
        bind,
        forward,
        otlp_http,
        forward_otlp,
        follow,
        retention,
        settle,
        status_every,
        color: choice,
        queue_bytes,
        keep_invalid,
        max_db_size,
    } = args;
    let mut config = Config::new(bind, dir.clone());
    config.forward = forward;
    config.otlp_http = otlp_http;
    config.forward_otlp = forward_otlp.clone();
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
    let http = daemon.otlp_http_addr().map(|a| format!(" and http://{a}/v1/traces")).unwrap_or_default();
    let mut forwarding = Vec::new();
    if forward {
        forwarding.push("the X-Ray API".to_owned());
    }
    if let Some(url) = &forward_otlp {
        forwarding.push(format!("{} (OTLP)", render::escape(url)));
    }
    eprintln!(
        "xray-local: listening on udp://{}{http} (receive buffer {} bytes), database {}{}",
        daemon.addr(),
        daemon.recv_buffer(),
        render::escape(&dir.join(crate::store::FILE_NAME).to_string_lossy()),
        if forwarding.is_empty() { String::new() } else { format!(", forwarding to {}", forwarding.join(" and ")) }
    );
    wait_for_shutdown();
    daemon.stop();
    Ok(())
}

/// An http:// or https:// URL, taken as given (the OTLP/HTTP path, usually `/v1/traces`, included).
fn parse_otlp_url(url: &str) -> Result<String, String> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(url.to_owned()),
        _ => Err(format!("{url:?} is not an http:// or https:// URL, e.g. http://127.0.0.1:4318/v1/traces")),
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
