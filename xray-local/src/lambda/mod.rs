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

mod body;
mod function;
mod hub;
mod invocations;
mod invoke;
mod process;
mod runtime_api;
mod segments;
mod trace;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use function::Args;
pub use trace::Sampling;

use crate::clock::now_secs;
use function::Function;
use hub::Hub;

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
