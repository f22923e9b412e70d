//! `xray-local lambda`: runs a Lambda function's own binary locally as Lambda would, keeping its trace.
//!
//! It serves the Lambda Runtime API to the binary (built with `lambda_runtime`, or any custom runtime), takes
//! invocations on a local Invoke API endpoint, passes the caller's trace header on to the function with
//! Lambda's function segment as `Parent` (or starts a trace), and sends the `AWS::Lambda` and
//! `AWS::Lambda::Function` segments Lambda itself sends, so a trace shown by `xray-local daemon` is complete
//! from the caller down to the function's own subsegments.
//!
//! ```text
//! xray-local daemon &                                  # or anything listening where --daemon points
//! cargo build -p orders-api
//! xray-local lambda target/debug/orders-api --name orders-api --env TABLE=orders
//! curl -H 'X-Amzn-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' \
//!      -d '{"id": 7}' http://127.0.0.1:3001/2015-03-31/functions/orders-api/invocations
//! aws lambda invoke --endpoint-url http://127.0.0.1:3001 --function-name orders-api --payload '{"id": 7}' out.json
//! ```
//!
//! What the function sees is what Lambda sets: `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`,
//! `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_REGION`, `AWS_XRAY_DAEMON_ADDRESS`
//! (the `--daemon` address), `AWS_XRAY_CONTEXT_MISSING=LOG_ERROR`, `_HANDLER`, `AWS_LAMBDA_MAX_CONCURRENCY` with
//! `--max-concurrency`, on top of xray-local's own environment (so local credentials and endpoints reach it), then
//! each `--env KEY=VALUE`.
//!
//! - Traces (`trace.rs`): the caller's header is kept with `Parent` replaced; `--sampled` decides only when the
//!   caller left it open. `Sampled=0` sends nothing, but the function still gets the header.
//! - Segments (`segments.rs`, shapes with examples): `AWS::Lambda` under the caller, `AWS::Lambda::Function` under
//!   it with `Initialization` (cold start), `Invocation` and `Overhead`.
//! - Concurrency: one invocation at a time, the rest queued; with `--max-concurrency N` the function gets
//!   `AWS_LAMBDA_MAX_CONCURRENCY=N` and up to N at once (lambda_runtime's `run_concurrent` polls with N tasks).
//! - Failures: an error response, a crash (`Runtime.ExitError`), a timeout (`--timeout`, `Sandbox.Timedout`), a
//!   response over 6 MB (`Function.ResponseSizeTooLarge`, at once; the runtime gets 413 and keeps running) or a
//!   process that fails to start (`Runtime.InvalidEntrypoint`, its own `/runtime/init/error`, or not asking for an
//!   invocation within `--init-timeout`) answer the caller with `X-Amz-Function-Error: Unhandled` and mark the
//!   function segment `fault`. After a crash or a timeout the next invocation starts a new process (a cold start,
//!   with `Initialization`). An Invoke payload over 6 MB is refused before it reaches the function: 413
//!   `RequestEntityTooLargeException` (`x-amzn-ErrorType` and a JSON body, as the Lambda API answers).
//! - `/runtime/init/error` is handled one way whenever it comes: the process is stopped at once, every
//!   invocation running in it fails with the posted error document (`X-Amz-Function-Error: Unhandled`), or,
//!   before the runtime's first `/next`, the invocation waiting for it does; an answer the runtime posts
//!   afterwards gets `InvalidRequestID`, and the next invocation starts a new process (a cold start).
//! - Ctrl-C or SIGTERM: waiting callers get 503, the function's process group gets SIGTERM, then SIGKILL.

mod invocations;
mod invoke;
mod process;
mod runtime_api;
mod segments;
mod trace;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;

pub use trace::Sampling;

use invocations::Hub;

/// The largest payload Lambda takes on a synchronous invocation (6 MiB, 6,291,456 bytes).
const MAX_REQUEST_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest response it returns: 100 bytes more than it takes (6,291,556 bytes).
const MAX_RESPONSE_PAYLOAD: usize = MAX_REQUEST_PAYLOAD + 100;
/// How much of an oversized body is still read (and thrown away) to count it and answer on the same connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Why a request body was not read whole.
#[derive(Debug)]
enum BodyError {
    /// Longer than allowed.
    TooLarge,
    /// The connection failed while reading it.
    Broken(String),
}

/// Reads a request body of at most `limit` bytes. Reading goes on past the limit only to count (never to keep)
/// what comes, so an oversized body gets Lambda's own error, not a bare 413 from the HTTP server.
async fn read_body(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, BodyError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
        size = size.saturating_add(chunk.len());
        if size > DRAIN_LIMIT {
            break;
        }
        if size <= limit {
            kept.extend_from_slice(&chunk);
        } else {
            kept = Vec::new();
        }
    }
    if size > limit { Err(BodyError::TooLarge) } else { Ok(kept.into()) }
}

/// The options of `xray-local lambda`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The function's executable (a `lambda_runtime` binary, or a cargo-lambda `bootstrap`).
    pub binary: PathBuf,
    /// Arguments for the executable (after `--`).
    #[arg(last = true)]
    pub args: Vec<String>,
    /// The function's name [default: the executable's file name].
    #[arg(long)]
    pub name: Option<String>,
    /// Where the Invoke API listens (POST /2015-03-31/functions/NAME/invocations).
    #[arg(long, default_value = "127.0.0.1:3001")]
    pub bind: SocketAddr,
    /// Where the Runtime API listens (port 0: any free port); the function gets it as AWS_LAMBDA_RUNTIME_API.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub runtime_api: SocketAddr,
    /// Where segment documents go, also given to the function as AWS_XRAY_DAEMON_ADDRESS
    /// [default: $AWS_XRAY_DAEMON_ADDRESS, else 127.0.0.1:2000].
    #[arg(long)]
    pub daemon: Option<String>,
    /// How long an invocation may run (e.g. 3s, 500ms, 15m).
    #[arg(long, default_value = "3s", value_parser = crate::units::parse_duration)]
    pub timeout: Duration,
    /// How long a new process may take to ask for its first invocation, as Lambda's init limit.
    #[arg(long, default_value = "10s", value_parser = crate::units::parse_duration)]
    pub init_timeout: Duration,
    /// Memory size in MB, as AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
    #[arg(long, default_value_t = 128)]
    pub memory: u32,
    /// Run up to this many invocations at once in one process (sets AWS_LAMBDA_MAX_CONCURRENCY); without it one at
    /// a time, the rest queued.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrency: Option<u32>,
    /// Region, as AWS_REGION and in the function's ARN [default: $AWS_REGION, else us-east-1].
    #[arg(long)]
    pub region: Option<String>,
    /// Account id in the function's ARN.
    #[arg(long, default_value = "123456789012")]
    pub account_id: String,
    /// Sampling of invocations whose caller leaves it open (no header, or no `Sampled`, or `Sampled=?`); a
    /// caller's `Sampled=1` or `Sampled=0` is always kept.
    #[arg(long, value_enum, default_value = "always")]
    pub sampled: Sampling,
    /// An environment variable for the function (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// The handler setting, as _HANDLER.
    #[arg(long, default_value = "bootstrap")]
    pub handler: String,
}

/// The function as configured, with what follows from the options.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) arn: String,
    pub(crate) account_id: String,
    pub(crate) region: String,
    pub(crate) binary: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) bind: SocketAddr,
    pub(crate) runtime_api: SocketAddr,
    /// The daemon address as given, for AWS_XRAY_DAEMON_ADDRESS.
    pub(crate) daemon: String,
    pub(crate) daemon_udp: SocketAddr,
    pub(crate) timeout: Duration,
    pub(crate) init_timeout: Duration,
    pub(crate) memory: u32,
    pub(crate) max_concurrency: Option<u32>,
    pub(crate) sampling: Sampling,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) handler: String,
}

impl Function {
    fn from_args(args: Args) -> Result<Self, String> {
        if !args.binary.is_file() {
            return Err(format!("no function executable at {}", args.binary.display()));
        }
        let name = match args.name {
            Some(name) => name,
            None => args.binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        if name.is_empty()
            || name.len() > 64
            || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!("function name `{name}` is not 1 to 64 letters, digits, - or _ (use --name)"));
        }
        if args.account_id.len() != 12 || !args.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("account id `{}` is not 12 digits", args.account_id));
        }
        let env = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
        let region = args.region.or_else(|| env("AWS_REGION")).unwrap_or_else(|| "us-east-1".into());
        let daemon = args.daemon.or_else(|| env("AWS_XRAY_DAEMON_ADDRESS")).unwrap_or_else(|| "127.0.0.1:2000".into());
        let daemon_udp = xray_core::config::DaemonAddress::parse(&daemon).map_err(|e| e.to_string())?.udp;
        if args.timeout.is_zero() || args.init_timeout.is_zero() {
            return Err("--timeout and --init-timeout must be more than 0".into());
        }
        Ok(Self {
            arn: format!("arn:aws:lambda:{region}:{}:function:{name}", args.account_id),
            name,
            account_id: args.account_id,
            region,
            binary: args.binary,
            args: args.args,
            bind: args.bind,
            runtime_api: args.runtime_api,
            daemon,
            daemon_udp,
            timeout: args.timeout,
            init_timeout: args.init_timeout,
            memory: args.memory,
            max_concurrency: args.max_concurrency,
            sampling: args.sampled,
            env: args.env,
            handler: args.handler,
        })
    }

    /// How many invocations may run at once.
    fn slots(&self) -> usize {
        self.max_concurrency.map_or(1, |n| n as usize)
    }

    #[cfg(test)]
    pub(crate) fn for_tests(name: &str) -> Self {
        let local: SocketAddr = ([127, 0, 0, 1], 0).into();
        Self {
            name: name.into(),
            arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
            binary: PathBuf::from("bootstrap"),
            args: Vec::new(),
            bind: local,
            runtime_api: local,
            daemon: "127.0.0.1:2000".into(),
            daemon_udp: ([127, 0, 0, 1], 2000).into(),
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            memory: 128,
            max_concurrency: None,
            sampling: Sampling::Always,
            env: Vec::new(),
            handler: "bootstrap".into(),
        }
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// Seconds since the Unix epoch.
fn now_secs() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Runs `xray-local lambda` until Ctrl-C or SIGTERM; the error is the message to print.
pub fn run(args: Args) -> Result<(), String> {
    let function = Function::from_args(args)?;
    // One thread: the function's process is started from it, and its parent-death signal is tied to it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(function, shutdown_signal()))
}

/// Serves both APIs and supervises the function until `shutdown` resolves, then stops it all.
async fn serve(function: Function, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    let listen = |addr: SocketAddr| async move {
        TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    let invoke_listener = listen(function.bind).await?;
    let runtime_listener = listen(function.runtime_api).await?;
    let address = |l: &TcpListener| l.local_addr().map_err(|e| format!("cannot read a listening address: {e}"));
    let (invoke_addr, runtime_addr) = (address(&invoke_listener)?, address(&runtime_listener)?);
    eprintln!(
        "xray-local: function {name}: invoke at http://{invoke_addr}/2015-03-31/functions/{name}/invocations, \
         Runtime API at {runtime_addr}, segments to udp://{daemon}, sampled {sampling}, {slots} at a time",
        name = function.name,
        daemon = function.daemon_udp,
        sampling = function.sampling.name(),
        slots = function.slots(),
    );
    let hub = Arc::new(Hub::new(function));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    let mut invoke_server = tokio::spawn(
        axum::serve(invoke_listener, invoke::router(hub.clone()))
            .with_graceful_shutdown(until_stopped(stopped.clone()))
            .into_future(),
    );
    let runtime_server = tokio::spawn(
        axum::serve(runtime_listener, runtime_api::router(hub.clone()))
            .with_graceful_shutdown(until_stopped(stopped))
            .into_future(),
    );
    let supervisor = tokio::spawn(process::supervise(hub.clone(), runtime_addr));
    let failure = tokio::select! {
        () = shutdown => None,
        result = &mut invoke_server => Some(format!("the Invoke API stopped: {result:?}")),
    };
    hub.stop(now_secs());
    let _ = supervisor.await;
    let _ = stop.send(true);
    // Idle keep-alive connections close at once; a caller still reading gets a moment.
    for server in [Some(invoke_server).filter(|_| failure.is_none()), Some(runtime_server)].into_iter().flatten() {
        let abort = server.abort_handle();
        if tokio::time::timeout(process::GRACE, server).await.is_err() {
            abort.abort();
        }
    }
    failure.map_or(Ok(()), Err)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: Args,
    }

    fn function(extra: &[&str]) -> Result<Function, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let exe = exe.to_string_lossy().into_owned();
        let argv = ["xray-local-lambda"].into_iter().chain(extra.iter().copied()).chain([exe.as_str()]);
        Function::from_args(Command::try_parse_from(argv).map_err(|e| e.to_string())?.args)
    }

    #[test]
    fn options_make_the_function_s_arn_and_limits() {
        let f =
            function(&["--name", "orders", "--region", "eu-west-1", "--max-concurrency", "3", "--timeout", "500ms"])
                .expect("valid options");
        assert_eq!(f.arn, "arn:aws:lambda:eu-west-1:123456789012:function:orders");
        assert_eq!(f.slots(), 3);
        assert_eq!(f.timeout, Duration::from_millis(500));
        assert_eq!(function(&["--name", "orders"]).map(|f| f.slots()), Ok(1));
    }

    #[test]
    fn bad_options_are_refused_with_a_reason() {
        let refused = |extra: &[&str]| function(extra).err().unwrap_or_default();
        assert!(refused(&["--name", "no spaces"]).contains("is not 1 to 64 letters"));
        assert!(refused(&["--name", "f", "--account-id", "12"]).contains("is not 12 digits"));
        assert!(refused(&["--name", "f", "--daemon", "nowhere"]).contains("daemon address"));
        assert!(refused(&["--name", "f", "--max-concurrency", "0"]).contains("0"));
        assert!(refused(&["--name", "f", "--env", "=x"]).contains("is not KEY=VALUE"));
        let missing = Function::from_args(Command::parse_from(["x", "/no/such/binary"]).args).err();
        assert_eq!(missing.as_deref(), Some("no function executable at /no/such/binary"));
    }
}
