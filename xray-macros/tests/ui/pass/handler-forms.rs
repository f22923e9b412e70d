// Every handler form, with options, as lambda_runtime's service_fn would call them; lint-clean in the user's crate.
#![deny(warnings)]

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
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

#[traced_handler]
async fn inner_attribute(event: LambdaEvent<Value>) -> Result<Value, Error> {
    #![allow(unused_variables)]
    let unused = 1;
    Ok(event.payload)
}

struct Deps {
    greeting: String,
}

// Shared state before the event, for `service_fn(|event| shared_state(&deps, event))`.
#[traced_handler]
async fn shared_state(deps: &Deps, event: LambdaEvent<Value>) -> Result<String, Error> {
    Ok(format!("{} {}", deps.greeting, event.payload))
}

#[traced_handler]
async fn shared_state_two_argument_form(deps: &Deps, payload: Value, _context: Context) -> Result<Value, Error> {
    Ok(if deps.greeting.is_empty() { Value::Null } else { payload })
}

impl Deps {
    #[traced_handler(name = "## method")]
    async fn handle(&self, event: LambdaEvent<Value>) -> Result<usize, Error> {
        Ok(self.greeting.len() + usize::from(event.payload.is_null()))
    }
}

// lambda_http handlers, as `lambda_http::run(service_fn(..))` takes them.
#[traced_handler]
async fn http_impl_response(request: lambda_http::Request) -> Result<impl lambda_http::IntoResponse, Error> {
    Ok(format!("{} {}", request.method(), request.uri()))
}

#[traced_handler(name = "## api")]
async fn http_response(
    deps: &Deps,
    _request: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, Error> {
    Ok(lambda_http::Response::builder().status(200).body(deps.greeting.clone().into())?)
}

#[allow(dead_code)]
async fn run_http(deps: &Deps) -> Result<(), Error> {
    lambda_http::run(service_fn(http_impl_response)).await?;
    lambda_http::run(service_fn(|request| http_response(deps, request))).await
}

fn main() {
    let deps = Deps { greeting: "hi".into() };
    let _ = http_impl_response(lambda_http::Request::default());
    let _ = http_response(&deps, lambda_http::Request::default());
    let _ = service_fn(|event| shared_state(&deps, event));
    let _ = shared_state_two_argument_form(&deps, Value::Null, Context::default());
    let _ = deps.handle(LambdaEvent::new(Value::Null, Context::default()));
    let _ = inner_attribute(LambdaEvent::new(Value::Null, Context::default()));
    let _ = event_form(LambdaEvent::new(Value::Null, Context::default()));
    let _ = two_argument_form(Value::Null, Context::default());
    let _ = response_not_serialize(LambdaEvent::new((), Context::default()));
}
