//! The Invoke endpoint callers use: `POST /2015-03-31/functions/{name}/invocations`, as the Lambda Invoke API, so
//! `aws lambda invoke --endpoint-url`, an SDK client or curl can call the function.
//!
//! - `X-Amzn-Trace-Id` (optional): the caller's trace header; see [`super::trace`].
//! - `X-Amz-Invocation-Type`: `RequestResponse` (default) waits for the function, `Event` answers 202 at once,
//!   `DryRun` answers 204.
//! - `X-Amz-Client-Context` (optional): base64 JSON, passed on as `Lambda-Runtime-Client-Context`.
//! - The body is the payload, up to 6 MB (6,291,456 bytes; more gets 413 `RequestEntityTooLargeException`); an
//!   empty body reaches the function as `{}`.
//! - `X-Amz-Cognito-Identity` (optional, not part of the Invoke API, where the identity comes from the caller's
//!   credentials): JSON passed on as `Lambda-Runtime-Cognito-Identity`.
//!
//! The answer is the function's response with `x-amzn-RequestId`, `X-Amz-Executed-Version` and `X-Amzn-Trace-Id`
//! (the header the function got); a function error (error response, crash, timeout) is a 200 with
//! `X-Amz-Function-Error: Unhandled` and the error document, as Lambda answers.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::sync::oneshot;
use xray_core::SegmentId;

use super::body::{BodyError, MAX_REQUEST_PAYLOAD, read_body};
use super::hub::Hub;
use super::invocations::{Reply, Request};
use crate::clock::now_secs;

/// The routes, sharing `hub`.
pub(crate) fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .fallback(not_found)
        .with_state(hub)
}

async fn invoke(
    State(hub): State<Arc<Hub>>,
    Path(function): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    payload: Body,
) -> Response {
    let received = now_secs();
    let (name, qualifier) = function_name(&function, uri.query());
    if name != hub.function.name || qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
        let arn = match &qualifier {
            Some(q) => {
                format!("arn:aws:lambda:{}:{}:function:{name}:{q}", hub.function.region, hub.function.account_id)
            }
            None => format!("arn:aws:lambda:{}:{}:function:{name}", hub.function.region, hub.function.account_id),
        };
        return service_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {arn}"),
        );
    }
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let wait = match text("x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => true,
        "Event" => false,
        "DryRun" => return StatusCode::NO_CONTENT.into_response(),
        other => {
            let message = format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            );
            return service_error(StatusCode::BAD_REQUEST, "InvalidParameterValueException", &message);
        }
    };
    let payload = match read_body(payload, MAX_REQUEST_PAYLOAD).await {
        Ok(payload) => payload,
        Err(BodyError::TooLarge) => {
            let message =
                format!("Request must be smaller than {MAX_REQUEST_PAYLOAD} bytes for the InvokeFunction operation");
            return service_error(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLargeException", &message);
        }
        Err(BodyError::Broken(problem)) => {
            let message = format!("Could not read the request body: {problem}");
            return service_error(StatusCode::BAD_REQUEST, "InvalidRequestContentException", &message);
        }
    };
    let client_context = match text("x-amz-client-context").map(decode_client_context) {
        None => None,
        Some(Some(json)) => Some(json),
        Some(None) => {
            let message = "Client context must be a valid Base64-encoded JSON object.";
            return service_error(StatusCode::BAD_REQUEST, "InvalidParameterValueException", message);
        }
    };
    // Like Lambda, no payload at all (`aws lambda invoke` without --payload) reaches the function as `{}`.
    let payload = if payload.is_empty() { Bytes::from_static(b"{}") } else { payload };
    let (trace, problem) = hub.trace(text("x-amzn-trace-id"));
    if let Some(problem) = problem {
        crate::render::warn(format_args!("{}: {problem}; keeping what is valid of it", hub.function.name));
    }
    let id = request_id();
    let trace_header = trace.header.to_string();
    let (sender, answer) = oneshot::channel();
    let request = Request {
        id: id.clone(),
        payload,
        trace,
        received,
        invoked_arn: hub.function.arn.clone(),
        client_context,
        cognito_identity: text("x-amz-cognito-identity").map(str::to_owned),
        reply: wait.then_some(sender),
    };
    if hub.submit(request).is_err() {
        return stopping();
    }
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-amzn-requestid", &id);
    set("x-amzn-trace-id", &trace_header);
    if !wait {
        return (StatusCode::ACCEPTED, headers).into_response();
    }
    set("x-amz-executed-version", "$LATEST");
    set("content-type", "application/json");
    match answer.await {
        Ok(Reply::Response(body)) => (StatusCode::OK, headers, Body::from(body)).into_response(),
        Ok(Reply::FunctionError(body)) => {
            headers.insert(HeaderName::from_static("x-amz-function-error"), HeaderValue::from_static("Unhandled"));
            (StatusCode::OK, headers, Body::from(body)).into_response()
        }
        Ok(Reply::Stopped) | Err(_) => stopping(),
    }
}

/// The function name and qualifier from the path (a name, `name:qualifier`, or a full or partial ARN) and the
/// `Qualifier` query parameter.
fn function_name(path: &str, query: Option<&str>) -> (String, Option<String>) {
    let rest = match path.find("function:") {
        Some(at) if path.starts_with("arn:") || path.split(':').count() >= 3 => &path[at + "function:".len()..],
        _ => path,
    };
    let (name, mut qualifier) = match rest.split_once(':') {
        Some((name, qualifier)) => (name.to_owned(), Some(qualifier.to_owned())),
        None => (rest.to_owned(), None),
    };
    for pair in query.unwrap_or_default().split('&') {
        if let Some(value) = pair.strip_prefix("Qualifier=").filter(|v| !v.is_empty()) {
            qualifier = Some(value.replace("%24", "$"));
        }
    }
    (name, qualifier)
}

/// The JSON text of a base64 client context, if it is one.
fn decode_client_context(encoded: &str) -> Option<String> {
    let bytes = base64_decode(encoded)?;
    let text = String::from_utf8(bytes).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok().filter(|v| v.is_object()).map(|_| text)
}

/// Standard base64 (padding optional).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let text = text.trim_end_matches('=').as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for &c in text {
        bits = (bits << 6) | u32::from(digit(c)?);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

/// A request id shaped like Lambda's (a version 4 UUID).
fn request_id() -> String {
    let (a, b) = (SegmentId::new().as_u64(), SegmentId::new().as_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

fn stopping() -> Response {
    service_error(StatusCode::SERVICE_UNAVAILABLE, "ServiceException", "xray-local is stopping")
}

async fn not_found() -> Response {
    service_error(StatusCode::NOT_FOUND, "UnknownOperationException", "only Invoke is served here")
}

/// An error of the Lambda API itself, as the SDKs parse it.
fn service_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    let kind = if status.is_server_error() { "Service" } else { "User" };
    let body = json!({"Type": kind, "message": message}).to_string();
    (status, [("content-type", "application/json"), ("x-amzn-errortype", error_type)], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_come_as_names_arns_and_with_qualifiers() {
        let named = |path: &str, query: Option<&str>| function_name(path, query);
        assert_eq!(named("orders", None), ("orders".into(), None));
        assert_eq!(named("orders:$LATEST", None), ("orders".into(), Some("$LATEST".into())));
        assert_eq!(named("arn:aws:lambda:us-east-1:123456789012:function:orders", None), ("orders".into(), None));
        assert_eq!(named("123456789012:function:orders:live", None), ("orders".into(), Some("live".into())));
        assert_eq!(named("orders", Some("Qualifier=%24LATEST")), ("orders".into(), Some("$LATEST".into())));
    }

    #[test]
    fn client_contexts_are_base64_json_objects() {
        // {"custom":{"k":"v"}}
        assert_eq!(decode_client_context("eyJjdXN0b20iOnsiayI6InYifX0=").as_deref(), Some(r#"{"custom":{"k":"v"}}"#));
        assert_eq!(decode_client_context("eyJjdXN0b20iOnsiayI6InYifX0").as_deref(), Some(r#"{"custom":{"k":"v"}}"#));
        assert_eq!(decode_client_context("WzFd"), None, "[1] is not an object");
        assert_eq!(decode_client_context("not base64!"), None);
        assert_eq!(base64_decode("TWFu").as_deref(), Some(&b"Man"[..]));
        assert_eq!(base64_decode("TWE").as_deref(), Some(&b"Ma"[..]));
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, request_id());
    }
}
