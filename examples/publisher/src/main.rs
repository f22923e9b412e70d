//! The `publisher` Lambda function: the handler of the library crate, run by `lambda_runtime`.

use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // Built once per execution environment, shared by every invocation.
    let deps = publisher::Deps::from_env().await?;
    run(service_fn(|event| publisher::handler(&deps, event))).await
}
