// Both handler forms, with options, as lambda_runtime's service_fn would call them.
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::Value;
use xray_core::traced_handler;

#[traced_handler]
async fn event_form(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[traced_handler(name = "## main", capture_response, err = false)]
pub async fn two_argument_form(payload: Value, context: lambda_runtime::Context) -> Result<String, Error> {
    Ok(format!("{payload} {}", context.request_id))
}

#[traced_handler(capture_response)]
async fn response_not_serialize(_event: LambdaEvent<()>) -> Result<std::time::Instant, Error> {
    Ok(std::time::Instant::now())
}

fn main() {
    let _ = event_form(LambdaEvent::new(Value::Null, Context::default()));
    let _ = two_argument_form(Value::Null, Context::default());
    let _ = response_not_serialize(LambdaEvent::new((), Context::default()));
}
