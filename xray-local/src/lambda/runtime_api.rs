//! The Lambda Runtime API (version 2018-06-01) the function's runtime talks to, at `AWS_LAMBDA_RUNTIME_API`.
//!
//! - `GET /2018-06-01/runtime/invocation/next` waits for an invocation and answers with its payload and the
//!   headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn`,
//!   `Lambda-Runtime-Trace-Id`, and `Lambda-Runtime-Client-Context` / `Lambda-Runtime-Cognito-Identity` when the
//!   caller sent them. Several may wait at once (lambda_runtime's concurrent mode); as many get an invocation as
//!   the function's concurrency allows.
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../error` end an invocation (202); an id that is
//!   not running (unknown, answered, timed out) gets 400 `InvalidRequestID`.
//! - `POST /2018-06-01/runtime/init/error` reports a runtime that cannot start, and is handled the same way
//!   whenever it comes: the process is stopped, every invocation running in it fails at once with the posted
//!   error (or, before its first `/next`, the invocation waiting for it), and the next invocation starts a new
//!   process.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::body::{BodyError, MAX_RESPONSE_PAYLOAD, read_body};
use super::hub::Hub;
use super::invocations::{Handout, Outcome, error_body};
use super::segments;
use crate::clock::now_secs;

/// The routes, sharing `hub`.
pub(crate) fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(not_found)
        .with_state(hub)
}

async fn next(State(hub): State<Arc<Hub>>) -> Response {
    hub.next_called(now_secs());
    loop {
        let notified = hub.changed();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(handout) = hub.try_hand_out(now_secs()) {
            tokio::spawn(deadline(hub.clone(), handout.id.clone(), handout.generation, handout.deadline));
            return invocation(handout);
        }
        notified.await;
    }
}

async fn deadline(hub: Arc<Hub>, id: String, generation: u64, at: tokio::time::Instant) {
    tokio::time::sleep_until(at).await;
    hub.timed_out(&id, generation, now_secs());
}

/// `/next`'s answer.
fn invocation(handout: Handout) -> Response {
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        // A value that cannot be a header (a client context with a line break, say) is left out, not fatal.
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &handout.id);
    set("lambda-runtime-deadline-ms", &handout.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &handout.invoked_arn);
    set("lambda-runtime-trace-id", &handout.trace_header);
    if let Some(context) = &handout.client_context {
        set("lambda-runtime-client-context", context);
    }
    if let Some(identity) = &handout.cognito_identity {
        set("lambda-runtime-cognito-identity", identity);
    }
    (StatusCode::OK, headers, Body::from(handout.payload)).into_response()
}

async fn response(State(hub): State<Arc<Hub>>, Path(id): Path<String>, body: Body) -> Response {
    match read_answer(&hub, &id, body).await {
        Ok(body) => finish(&hub, &id, Outcome::Response(body), now_secs()),
        Err(refused) => refused,
    }
}

async fn error(State(hub): State<Arc<Hub>>, Path(id): Path<String>, headers: HeaderMap, body: Body) -> Response {
    let body = match read_answer(&hub, &id, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let (body, cause) = reported_error(&headers, body);
    finish(&hub, &id, Outcome::Error { body, cause }, now_secs())
}

/// The body of a runtime's answer. One over Lambda's response limit ends the invocation at once as Lambda does
/// (`Function.ResponseSizeTooLarge` to the caller) and the runtime gets 413, so the process stays warm.
async fn read_answer(hub: &Arc<Hub>, id: &str, body: Body) -> Result<Bytes, Response> {
    match read_body(body, MAX_RESPONSE_PAYLOAD).await {
        Ok(body) => Ok(body),
        Err(BodyError::Broken(problem)) => {
            Err(api_error(StatusCode::BAD_REQUEST, "InvalidRequestBody", &format!("cannot read the body: {problem}")))
        }
        Err(BodyError::TooLarge) => {
            let message =
                format!("Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes).");
            let outcome = Outcome::Error {
                body: error_body("Function.ResponseSizeTooLarge", &message),
                cause: segments::cause("Function.ResponseSizeTooLarge", &message),
            };
            Err(match hub.complete(id, outcome, now_secs()) {
                Ok(()) => {
                    close_overheads_later(hub);
                    let message = format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes).");
                    api_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message)
                }
                Err(_) => invalid_request_id(id),
            })
        }
    }
}

async fn init_error(State(hub): State<Arc<Hub>>, headers: HeaderMap, body: Body) -> Response {
    // An error document too large to keep still fails the process the same way, with a message saying so.
    let (body, answer) = match read_body(body, MAX_RESPONSE_PAYLOAD).await {
        Ok(body) => (body, accepted()),
        Err(BodyError::TooLarge) => {
            let message = format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes).");
            (Bytes::from(message.clone()), api_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", &message))
        }
        Err(BodyError::Broken(problem)) => {
            let message = format!("cannot read the body: {problem}");
            (Bytes::from(message.clone()), api_error(StatusCode::BAD_REQUEST, "InvalidRequestBody", &message))
        }
    };
    let (body, cause) = reported_error(&headers, body);
    hub.init_failed(body, cause, now_secs());
    answer
}

fn finish(hub: &Arc<Hub>, id: &str, outcome: Outcome, now: f64) -> Response {
    match hub.complete(id, outcome, now) {
        Ok(()) => {
            close_overheads_later(hub);
            accepted()
        }
        Err(_) => invalid_request_id(id),
    }
}

/// A runtime that never asks for the next invocation still gets its `Overhead` closed.
fn close_overheads_later(hub: &Arc<Hub>) {
    let hub = hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(super::invocations::OVERHEAD_LIMIT).await;
        hub.close_overheads(now_secs());
    });
}

/// The error document the caller gets, and its cause for the function segment. The document is passed on as the
/// runtime wrote it when it is JSON (as Lambda does); other text becomes `errorMessage`, typed by the
/// `Lambda-Runtime-Function-Error-Type` header.
fn reported_error(headers: &HeaderMap, body: Bytes) -> (Bytes, Value) {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let body = if serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object()) {
        body
    } else {
        error_body(text("lambda-runtime-function-error-type").unwrap_or("Unhandled"), &String::from_utf8_lossy(&body))
    };
    let cause = segments::runtime_cause(text("lambda-runtime-function-xray-error-cause"), &body);
    (body, cause)
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, [("content-type", "application/json")], json!({"status": "OK"}).to_string()).into_response()
}

fn invalid_request_id(id: &str) -> Response {
    api_error(StatusCode::BAD_REQUEST, "InvalidRequestID", &format!("Invalid request ID: \"{id}\" is not running"))
}

async fn not_found() -> Response {
    api_error(StatusCode::NOT_FOUND, "NotFound", "not a Runtime API 2018-06-01 path")
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (status, [("content-type", "application/json")], error_body(error_type, message)).into_response()
}
