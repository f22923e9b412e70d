use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;
use xray_core::traced_handler;

#[traced_handler]
async fn handler(event: String) -> Result<String, Error> {
    Ok(event)
}

#[traced_handler]
async fn no_arguments() -> Result<(), Error> {
    Ok(())
}

#[traced_handler]
async fn event_not_last(event: LambdaEvent<Value>, deps: &str) -> Result<Value, Error> {
    Ok(if deps.is_empty() { Value::Null } else { event.payload })
}

#[traced_handler]
async fn context_alone(context: Context) -> Result<String, Error> {
    Ok(context.request_id)
}

#[traced_handler]
async fn destructured(LambdaEvent { payload, .. }: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(payload)
}

fn main() {}
