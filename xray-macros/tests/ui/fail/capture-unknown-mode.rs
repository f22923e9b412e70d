use lambda_runtime::{Error, LambdaEvent};
use serde_json::Value;
use xray_core::traced_handler;

#[traced_handler(capture = "responses")]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

fn main() {}
