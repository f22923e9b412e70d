//! A small Lambda function for `xray-local lambda` and its tests: a real `lambda_runtime` binary whose handler is
//! traced with `#[traced_handler]`. It answers with what it was given (payload, Context, Lambda's environment,
//! its process id and when it ran), so a caller can check what reached it.
//!
//! The payload steers it: `{"sleep_ms": 300}` waits first, `{"fail": "message"}` returns that error,
//! `{"exit": 3}` ends the process with that code, `{"respond_bytes": 7000000}` answers with a string that long.
//!
//! ```text
//! cargo build -p xray-rs-local --example lambda-echo
//! xray-local lambda target/debug/examples/lambda-echo --name echo
//! curl -d '{"hello": "world"}' http://127.0.0.1:3001/2015-03-31/functions/echo/invocations
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Error, LambdaEvent, Runtime, service_fn};
use serde_json::{Value, json};
use xray_core::traced_handler;

/// The Lambda environment the function reports back.
const ENV: &[&str] = &[
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_MAX_CONCURRENCY",
    "AWS_REGION",
    "AWS_XRAY_DAEMON_ADDRESS",
    "AWS_XRAY_CONTEXT_MISSING",
    "_HANDLER",
    "ECHO_GREETING",
];

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[traced_handler]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let started = now();
    let (payload, context) = event.into_parts();
    if let Some(ms) = payload["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(message) = payload["fail"].as_str() {
        return Err(message.into());
    }
    if let Some(bytes) = payload["respond_bytes"].as_u64() {
        return Ok(Value::String("x".repeat(usize::try_from(bytes).unwrap_or(0))));
    }
    if let Some(code) = payload["exit"].as_i64() {
        std::process::exit(i32::try_from(code).unwrap_or(1));
    }
    let env: serde_json::Map<String, Value> =
        ENV.iter().filter_map(|key| Some((key.to_string(), Value::String(std::env::var(key).ok()?)))).collect();
    Ok(json!({
        "payload": payload,
        "request_id": context.request_id,
        "trace_header": context.xray_trace_id,
        "invoked_function_arn": context.invoked_function_arn,
        "deadline_ms": context.deadline,
        "client_context": context.client_context,
        "identity": context.identity,
        "env": env,
        "pid": std::process::id(),
        "started": started,
        "ended": now(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // `run_concurrent` polls with AWS_LAMBDA_MAX_CONCURRENCY tasks when that is above 1, else one at a time.
    Runtime::new(service_fn(handler)).run_concurrent().await
}
