//! The `orders-api` Lambda function: the handler of the library crate, run by `lambda_http`.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Optional: the first invocation's tracing set-up (settings, the daemon's socket, a first run of the traced
    // path: about 100 us) done in Lambda's init phase instead, where it takes about 130 us; worth it where init
    // runs ahead of requests (provisioned concurrency). BENCHMARKS.md, "Cold start".
    xray_core::lambda::prepare();
    // Built once per execution environment, shared by every invocation.
    let deps = orders_api::Deps::from_env().await?;
    run(service_fn(|request| orders_api::handler(&deps, request))).await
}
