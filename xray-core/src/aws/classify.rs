//! What an operation's outcome means for X-Ray: `error`, `throttle` or `fault`, and the `cause`.
//!
//! The service's error code and message are read from the raw response the way the SDK's protocol parsers read
//! them (JSON `__type` / `code` and `message`, XML `<Code>` and `<Message>`, the `x-amzn-query-error` and
//! `x-amzn-errortype` headers), so this works for any service without knowing its error types.

use aws_smithy_runtime_api::client::interceptors::context::Error as OperationError;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, OrchestratorError};
use serde::Deserialize;

use crate::document::Exception;
use crate::record::Recorder;

/// Error codes that mean the caller was throttled, whatever the status code (as the SDKs' retry classifiers list
/// them).
pub(super) const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// How an operation ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Outcome {
    /// The last response's status code.
    pub status: Option<u16>,
    /// The last response's body length.
    pub content_length: Option<u64>,
    /// The request id the service returned.
    pub request_id: Option<String>,
    /// A client error.
    pub error: bool,
    /// Throttled.
    pub throttle: bool,
    /// A server error, a timeout or a transport failure.
    pub fault: bool,
    /// The service's error code and message (`remote: true`), or the failure that kept the call from completing.
    pub exception: Option<Exception>,
}

impl Outcome {
    /// Writes the flags and the cause.
    pub(super) fn record(&self, recorder: &Recorder) {
        if self.throttle {
            recorder.mark_throttle();
        } else if self.error {
            recorder.mark_error();
        }
        if self.fault {
            recorder.mark_fault();
        }
        if let Some(exception) = &self.exception {
            recorder.add_exception(exception.clone());
        }
    }
}

/// The outcome of an operation from its last response (if one arrived) and its error (if it failed).
pub(super) fn outcome(response: Option<&HttpResponse>, error: Option<&OrchestratorError<OperationError>>) -> Outcome {
    let mut outcome = Outcome::default();
    if let Some(response) = response {
        let status = response.status().as_u16();
        outcome.status = Some(status);
        outcome.content_length = response
            .headers()
            .get("content-length")
            .and_then(|v| v.trim().parse().ok())
            .or_else(|| response.body().bytes().map(|b| b.len() as u64));
        outcome.request_id = request_id(response);
        outcome.throttle = status == 429;
        outcome.error = (400..500).contains(&status);
        outcome.fault = status >= 500;
    }
    let Some(error) = error else { return outcome };
    let service = response.filter(|r| !r.status().is_success()).map(service_error);
    match service {
        Some(ServiceError { code, message }) => {
            if code.as_deref().is_some_and(|c| THROTTLING_CODES.contains(&c)) {
                // A throttled call is not the service's fault, even when it answers 503 (S3's `SlowDown`).
                outcome.throttle = true;
                outcome.error = true;
                outcome.fault = false;
            }
            let status = outcome.status.unwrap_or_default();
            let mut exception =
                Exception::new(code.unwrap_or_else(|| format!("HTTP {status}")), message.unwrap_or_default());
            if exception.message.as_deref() == Some("") {
                exception.message = None;
            }
            exception.remote = Some(true);
            outcome.exception = Some(exception);
        }
        None => {
            // No error response: the call timed out, could not connect, or its response could not be read.
            outcome.fault = true;
            outcome.error = false;
            outcome.throttle = false;
            outcome.exception = Some(Exception::new(failure_kind(error), error_chain(error)));
        }
    }
    outcome
}

fn failure_kind(error: &OrchestratorError<OperationError>) -> &'static str {
    if error.is_timeout_error() || error.as_connector_error().is_some_and(|c| c.is_timeout()) {
        "TimeoutError"
    } else if error.is_connector_error() {
        "DispatchFailure"
    } else if error.is_response_error() {
        "ResponseError"
    } else if error.is_operation_error() {
        "OperationError"
    } else {
        "SdkError"
    }
}

/// The error's message followed by its sources, so the root cause (`Connection refused`) is visible.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let next = inner.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = inner.source();
    }
    text
}

fn request_id(response: &HttpResponse) -> Option<String> {
    let headers = response.headers();
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .iter()
        .find_map(|name| headers.get(*name))
        .map(str::to_owned)
        .or_else(|| {
            // Query protocol services (SNS, STS, ...) put it in the body only.
            let body = std::str::from_utf8(response.body().bytes()?).ok()?;
            xml_element(body, "RequestId")
        })
}

/// An error code and message as the service sent them.
#[derive(Debug, Default, PartialEq)]
struct ServiceError {
    code: Option<String>,
    message: Option<String>,
}

// Separate fields rather than serde aliases: services may send both spellings, and a repeated alias is an error.
#[derive(Deserialize)]
struct JsonError {
    #[serde(rename = "__type")]
    kind: Option<String>,
    code: Option<String>,
    #[serde(rename = "Code")]
    code_upper: Option<String>,
    message: Option<String>,
    #[serde(rename = "Message")]
    message_upper: Option<String>,
    #[serde(rename = "errorMessage")]
    error_message: Option<String>,
}

fn service_error(response: &HttpResponse) -> ServiceError {
    let headers = response.headers();
    // Services that kept their query-protocol error codes (SQS) send them in this header, and the SDK reports that
    // code (`ProvideErrorMetadata::code`), so X-Ray shows the same one.
    let query_code = headers.get("x-amzn-query-error").map(|v| v.split(';').next().unwrap_or_default().to_owned());
    let body = response.body().bytes().and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default().trim();
    let mut found = if body.starts_with('{') {
        serde_json::from_str::<JsonError>(body)
            .map(|e| ServiceError {
                code: e.kind.or(e.code).or(e.code_upper),
                message: e.message.or(e.message_upper).or(e.error_message),
            })
            .unwrap_or_default()
    } else if body.starts_with('<') {
        ServiceError { code: xml_element(body, "Code"), message: xml_element(body, "Message") }
    } else {
        ServiceError::default()
    };
    found.code = query_code.or(found.code).or_else(|| headers.get("x-amzn-errortype").map(str::to_owned));
    found.code = found.code.as_deref().map(sanitize_code).filter(|c| !c.is_empty());
    found
}

/// `com.amazonaws.sqs#QueueDoesNotExist` and `ValidationException:http://...` both name `QueueDoesNotExist` /
/// `ValidationException`.
fn sanitize_code(code: &str) -> String {
    let code = code.rsplit('#').next().unwrap_or(code);
    code.split(':').next().unwrap_or(code).trim().to_owned()
}

/// The text of the first `<name>...</name>` element, unescaped.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = start + body[start..].find("</")?;
    let text = &body[start..end];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, headers: &[(&'static str, &'static str)], body: &'static str) -> HttpResponse {
        let mut response = HttpResponse::new(StatusCode::try_from(status).expect("status"), SdkBody::from(body));
        for (k, v) in headers {
            response.headers_mut().insert(*k, *v);
        }
        response
    }

    fn failed() -> OrchestratorError<OperationError> {
        OrchestratorError::operation(OperationError::erase(std::fmt::Error))
    }

    #[test]
    fn json_protocol_errors_name_the_code_the_sdk_reports() {
        let r = response(
            400,
            &[],
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist.",
               "Message":"The specified queue does not exist."}"#,
        );
        let o = outcome(Some(&r), Some(&failed()));
        assert!(o.error && !o.fault && !o.throttle);
        let e = o.exception.expect("exception");
        assert_eq!(e.kind.as_deref(), Some("QueueDoesNotExist"));
        assert_eq!(e.message.as_deref(), Some("The specified queue does not exist."));
        assert_eq!(e.remote, Some(true));
        let r = response(
            400,
            &[("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender")],
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}"#,
        );
        let e = outcome(Some(&r), Some(&failed())).exception.expect("exception");
        assert_eq!(e.kind.as_deref(), Some("AWS.SimpleQueueService.NonExistentQueue"));
    }

    #[test]
    fn xml_errors_and_body_request_ids_are_read() {
        let r = response(
            404,
            &[],
            "<ErrorResponse><Error><Type>Sender</Type><Code>NotFound</Code><Message>Topic &amp; co does not exist\
             </Message></Error><RequestId>req-1</RequestId></ErrorResponse>",
        );
        let o = outcome(Some(&r), Some(&failed()));
        assert_eq!(o.request_id.as_deref(), Some("req-1"));
        let e = o.exception.expect("exception");
        assert_eq!((e.kind.as_deref(), e.message.as_deref()), (Some("NotFound"), Some("Topic & co does not exist")));
    }

    #[test]
    fn throttling_codes_throttle_whatever_the_status() {
        let r = response(503, &[], "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>");
        let o = outcome(Some(&r), Some(&failed()));
        assert!(o.throttle && o.error && !o.fault, "{o:?}");
        let r = response(429, &[("x-amzn-errortype", "TooManyRequestsException:http://x")], "");
        let o = outcome(Some(&r), Some(&failed()));
        assert!(o.throttle && o.error && !o.fault, "{o:?}");
        assert_eq!(o.exception.and_then(|e| e.kind).as_deref(), Some("TooManyRequestsException"));
    }

    #[test]
    fn server_errors_without_a_code_are_faults_named_by_status() {
        let r = response(500, &[("content-length", "0")], "");
        let o = outcome(Some(&r), Some(&failed()));
        assert!(o.fault && !o.error, "{o:?}");
        assert_eq!(o.content_length, Some(0));
        assert_eq!(o.exception.and_then(|e| e.kind).as_deref(), Some("HTTP 500"));
    }

    #[test]
    fn success_sets_no_flags() {
        let r = response(200, &[("x-amzn-RequestId", "abc")], "{}");
        let o = outcome(Some(&r), None);
        assert_eq!(
            o,
            Outcome {
                status: Some(200),
                content_length: Some(2),
                request_id: Some("abc".into()),
                ..Outcome::default()
            }
        );
    }

    #[test]
    fn transport_failures_are_faults_with_their_source_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let err =
            OrchestratorError::connector(aws_smithy_runtime_api::client::result::ConnectorError::io(Box::new(io)));
        let o = outcome(None, Some(&err));
        assert!(o.fault && !o.error && !o.throttle);
        let e = o.exception.expect("exception");
        assert_eq!(e.kind.as_deref(), Some("DispatchFailure"));
        assert!(e.message.as_deref().is_some_and(|m| m.contains("Connection refused")), "{e:?}");
        assert_eq!(e.remote, None);
    }
}
