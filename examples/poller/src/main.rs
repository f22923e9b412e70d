//! The `poller` Lambda function: the handler of the library crate, run by `lambda_runtime`.

use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // In Lambda's init phase: settings, the daemon's socket and a first run of the traced path, so the first
    // invocation does not pay for them.
    xray_core::lambda::prepare();
    // Built once per execution environment, shared by every invocation.
    let deps = poller::Deps::from_env().await?;
    run(service_fn(|event| poller::handler(&deps, event))).await
}
