//! The `instrumented` Lambda function: the handler of the library crate, run by plain `lambda_runtime`, with up to
//! `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once (`run_concurrent`; one at a time without it).
// `run_concurrent`'s future, with the SDK call's inside it, is deeper than rustc's default layout limit.
#![recursion_limit = "256"]

use lambda_runtime::{Error, run_concurrent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The one line: lambda_runtime's log set-up, with every span recorded and `xray_trace_id` on every line.
    xray_core::tracing::init_default_subscriber(instrumented::layer());
    let deps = instrumented::Deps::from_env().await?;
    run_concurrent(service_fn(move |event| {
        let deps = deps.clone();
        async move { instrumented::handler(&deps, event).await }
    }))
    .await
}
