//! The blocks a document may carry beside its name and times: the downstream namespace, `http`, `aws`, `sql`, and
//! the `cause` of an error with its exceptions. Plain data, written as the schema spells it.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::ids::SegmentId;

/// The downstream kind of a subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// A call to an AWS service.
    Aws,
    /// A call to any other downstream service.
    Remote,
}

impl Namespace {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Remote => "remote",
        }
    }
}

/// The `http` block: an incoming or outgoing HTTP request and its response.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Http {
    /// The request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// The response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

/// `http.request`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpRequest {
    /// Request method, e.g. `GET`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Full URL (at most 250 characters are kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The caller's user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The caller's IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// Whether `client_ip` came from an `X-Forwarded-For` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_forwarded_for: Option<bool>,
    /// For outgoing calls: whether the downstream service is traced too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traced: Option<bool>,
}

/// `http.response`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpResponse {
    /// Response status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Body length in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
}

/// The `aws` block of a subsegment for an AWS SDK call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Aws {
    /// The API operation, e.g. `SendMessage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The region the call went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The request id the service returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The account that owns the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// How many times the call was retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Per-service resource fields, such as `queue_url` or `table_name`.
    #[serde(flatten)]
    pub resources: serde_json::Map<String, serde_json::Value>,
}

/// The `sql` block of a subsegment for a database query.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sql {
    /// Connection URL without the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Connection string without the password, for databases that do not use URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// The query with user values removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sanitized_query: Option<String>,
    /// The database engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    /// The database version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    /// The client driver's name and version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// The database user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `call` or `statement`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
}

/// One frame of an exception's stack.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StackFrame {
    /// Source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Line number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Function name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One exception in a `cause`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exception {
    /// The exception's id, unique in the trace.
    pub id: SegmentId,
    /// The error's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The error's type name.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the error came from a downstream service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
    /// Stack frames left out because there were too many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u32>,
    /// Exceptions left out because they were already recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u32>,
    /// The id of the exception that caused this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<SegmentId>,
    /// Stack frames.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
}

impl Exception {
    /// An exception with a new id, a type name and a message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            id: SegmentId::new(),
            message: Some(message.into()),
            kind: Some(kind.into()),
            remote: None,
            truncated: None,
            skipped: None,
            cause: None,
            stack: Vec::new(),
        }
    }
}

/// The `cause` of an error, fault or throttle.

#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// The id of an exception recorded in another subsegment of the trace.
    Reference(SegmentId),
    /// The exceptions themselves.
    Detail {
        /// The process's working directory.
        working_directory: Option<String>,
        /// Source paths the stack frames refer to.
        paths: Vec<String>,
        /// The exceptions, outermost first; each names the next as its `cause`.
        exceptions: Vec<Exception>,
    },
}

impl Cause {
    /// A cause built from an error and its `source()` chain, one exception per error, outermost first.
    ///
    /// The outermost error's type is `kind`, unless that names a trait object (`Box<dyn Error>`, what a handler
    /// returning `lambda_runtime::Error` gives): then, like every error of the chain, it is named by the variant or
    /// type its `Debug` output starts with. An AWS SDK error (`SdkError`, whose own text is just "service error")
    /// is named after the service's error code and carries the whole chain as its message, as the SDK's
    /// `DisplayErrorContext` writes it.
    pub fn from_error(kind: &str, error: &(dyn std::error::Error + '_)) -> Self {
        let mut exceptions: Vec<Exception> = Vec::new();
        let mut next = Some(error);
        while let Some(current) = next {
            if exceptions.len() == 32 {
                break;
            }
            let exception = describe(current, (exceptions.is_empty() && !kind.contains("dyn ")).then_some(kind));
            if let Some(last) = exceptions.last_mut() {
                last.cause = Some(exception.id);
            }
            exceptions.push(exception);
            next = current.source();
        }
        Self::Detail { working_directory: None, paths: Vec::new(), exceptions }
    }

    /// Adds an exception to the cause (turning a reference into a detailed cause).
    pub fn push(&mut self, exception: Exception) {
        match self {
            Self::Detail { exceptions, .. } => exceptions.push(exception),
            Self::Reference(_) => {
                *self = Self::Detail { working_directory: None, paths: Vec::new(), exceptions: vec![exception] };
            }
        }
    }
}

/// What the AWS SDK's `SdkError` variants say of themselves: a wrapper whose meaning is in its source.
const SDK_WRAPPERS: [&str; 5] =
    ["service error", "dispatch failure", "timeout error", "response error", "failed to construct request"];

/// One exception for `error`: its type (`kind`, else read off its `Debug` output) and its message.
fn describe(error: &(dyn std::error::Error + '_), kind: Option<&str>) -> Exception {
    let message = error.to_string();
    if SDK_WRAPPERS.contains(&message.as_str())
        && let Some(source) = error.source()
    {
        let mut chain = message;
        let mut next = Some(source);
        while let Some(inner) = next {
            chain.push_str(": ");
            chain.push_str(&inner.to_string());
            next = inner.source();
        }
        return Exception::new(debug_name(source), chain);
    }
    Exception::new(kind.map_or_else(|| debug_name(error), str::to_owned), message)
}

/// The identifier `error`'s `Debug` output starts with: the variant or type name of derived `Debug`
/// (`ResourceNotFoundException(..)`, `NotFound { .. }`), or `Error` when it starts with none.
fn debug_name(error: &(dyn std::error::Error + '_)) -> String {
    /// Keeps the first 64 bytes written and then refuses more, so a huge `Debug` output is not formatted whole.
    struct Prefix(String);
    impl fmt::Write for Prefix {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let room = 64 - self.0.len();
            let cut = s.char_indices().map(|(i, _)| i).chain([s.len()]).take_while(|&i| i <= room).last();
            self.0.push_str(&s[..cut.unwrap_or(0)]);
            if s.len() > room { Err(fmt::Error) } else { Ok(()) }
        }
    }
    let mut prefix = Prefix(String::new());
    let _ = fmt::write(&mut prefix, format_args!("{error:?}"));
    let name: String = prefix.0.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) { "Error".to_owned() } else { name }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Reference(id) => id.serialize(serializer),
            Self::Detail { working_directory, paths, exceptions } => {
                let mut map = serializer.serialize_map(None)?;
                if let Some(dir) = working_directory {
                    map.serialize_entry("working_directory", dir)?;
                }
                if !paths.is_empty() {
                    map.serialize_entry("paths", paths)?;
                }
                map.serialize_entry("exceptions", exceptions)?;
                map.end()
            }
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_becomes_linked_exceptions() {
        let outer = Wrapper(std::io::Error::other("disk full"));
        let Cause::Detail { exceptions, .. } = Cause::from_error("Wrapper", &outer) else {
            panic!("detail expected");
        };
        assert_eq!(exceptions.len(), 2);
        assert_eq!(exceptions[0].kind.as_deref(), Some("Wrapper"));
        assert_eq!(exceptions[0].message.as_deref(), Some("wrapped"));
        assert_eq!(exceptions[0].cause, Some(exceptions[1].id));
        assert_eq!(exceptions[1].message.as_deref(), Some("disk full"));
        // `io::Error::other` is `Custom { kind: Other, error: .. }` in `Debug`.
        assert_eq!(exceptions[1].kind.as_deref(), Some("Custom"));
    }

    // Regression (issue 10, point 3): a handler returning `lambda_runtime::Error` recorded the type
    // `alloc::boxed::Box<dyn core::error::Error + ...>` and the message "service error".
    #[test]
    fn boxed_sdk_errors_are_named_by_their_code_with_the_whole_chain() {
        let boxed: Box<dyn std::error::Error + Send + Sync> =
            Box::new(ServiceError(ResourceNotFoundException("Requested resource not found")));
        let Cause::Detail { exceptions, .. } =
            Cause::from_error(std::any::type_name::<Box<dyn std::error::Error + Send + Sync>>(), &*boxed)
        else {
            panic!("detail expected");
        };
        assert_eq!(exceptions[0].kind.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(
            exceptions[0].message.as_deref(),
            Some("service error: ResourceNotFoundException: Requested resource not found")
        );
        assert_eq!(exceptions[1].kind.as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(exceptions[1].message.as_deref(), Some("ResourceNotFoundException: Requested resource not found"));
    }

    /// Shaped like the SDK's `SdkError::ServiceError` and an operation error's variant.
    #[derive(Debug)]
    struct ServiceError(ResourceNotFoundException);
    impl fmt::Display for ServiceError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("service error")
        }
    }
    impl std::error::Error for ServiceError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
    #[derive(Debug)]
    struct ResourceNotFoundException(&'static str);
    impl fmt::Display for ResourceNotFoundException {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "ResourceNotFoundException: {}", self.0)
        }
    }
    impl std::error::Error for ResourceNotFoundException {}

    #[test]
    fn debug_names_are_read_off_the_start() {
        assert_eq!(debug_name(&ResourceNotFoundException("x")), "ResourceNotFoundException");
        assert_eq!(debug_name(&std::fmt::Error), "Error");
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
