//! One recorded entity as an OTLP `Span`, written straight into a buffer (see the mapping table in the module
//! docs of `otlp`), and the `ExportTraceServiceRequest` around a run of spans.

use std::borrow::Cow;

use super::proto::{self, Value, attribute, bytes, delimited_len, fixed32, fixed64, message, string, uint};
use crate::clock::Timestamp;
use crate::document::{AnnotationValue, Aws, Cause, Entity, Exception, Extra, Http, Kind, Namespace, Sql};

/// `Span.SpanKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanKind {
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

/// `Span` field numbers.
mod span {
    pub(super) const TRACE_ID: u32 = 1;
    pub(super) const SPAN_ID: u32 = 2;
    pub(super) const PARENT_SPAN_ID: u32 = 4;
    pub(super) const NAME: u32 = 5;
    pub(super) const KIND: u32 = 6;
    pub(super) const START: u32 = 7;
    pub(super) const END: u32 = 8;
    pub(super) const ATTRIBUTES: u32 = 9;
    pub(super) const EVENTS: u32 = 11;
    pub(super) const LINKS: u32 = 13;
    pub(super) const STATUS: u32 = 15;
    pub(super) const FLAGS: u32 = 16;
}

/// The operations that put a message on a queue or a topic: PRODUCER spans.
const SENDS: [&str; 5] = ["SendMessage", "SendMessageBatch", "Publish", "PublishBatch", "PutEvents"];

/// The kind that AWS's translation turns back into what the segment documents say: SERVER for a segment (the only
/// kind that becomes one), CONSUMER for a message processed in link mode, PRODUCER for a send, CLIENT for any other
/// downstream call (`aws` or `remote`), INTERNAL for the rest (the handler, `#[traced]` functions).
pub(crate) fn kind(entity: &Entity) -> SpanKind {
    if entity.kind == Kind::Segment {
        return SpanKind::Server;
    }
    let extra = entity.extra.as_deref();
    match entity.namespace {
        Some(Namespace::Aws) => {
            let operation = extra.and_then(|e| e.aws.as_ref()).and_then(|a| a.operation.as_deref());
            if operation.is_some_and(|op| SENDS.contains(&op)) { SpanKind::Producer } else { SpanKind::Client }
        }
        Some(Namespace::Remote) => SpanKind::Client,
        None if extra.is_some_and(|e| !e.links.is_empty()) => SpanKind::Consumer,
        None => SpanKind::Internal,
    }
}

/// Nanoseconds since the epoch.
#[inline]
fn nanos(time: Timestamp) -> u64 {
    time.as_micros().saturating_mul(1000)
}

/// Writes `entity` as one span, the `spans` field (2) of a `ScopeSpans`; `now` ends a span still open (marked
/// `in_progress`). `sampled` sets the trace flags.
pub(crate) fn write_span(out: &mut Vec<u8>, entity: &Entity, trace_id: &[u8; 16], sampled: bool, now: Timestamp) {
    message(out, 2, |out| {
        bytes(out, span::TRACE_ID, trace_id);
        bytes(out, span::SPAN_ID, &entity.id.as_u64().to_be_bytes());
        if let Some(parent) = entity.parent_id {
            bytes(out, span::PARENT_SPAN_ID, &parent.as_u64().to_be_bytes());
        }
        string(out, span::NAME, &entity.name);
        let kind = kind(entity);
        uint(out, span::KIND, kind as u64);
        fixed64(out, span::START, nanos(entity.start));
        let end = entity.end.unwrap_or(now).max(entity.start);
        fixed64(out, span::END, nanos(end));
        write_attributes(out, entity, kind);
        let extra = entity.extra.as_deref();
        if let Some(Cause::Detail { exceptions, .. }) = extra.and_then(|e| e.cause.as_ref()) {
            for exception in exceptions {
                write_exception(out, exception, nanos(end));
            }
        }
        for link in extra.map_or(&[][..], |e| &e.links) {
            message(out, span::LINKS, |out| {
                bytes(out, 1, &link.trace_id.to_w3c_bytes());
                bytes(out, 2, &link.id.as_u64().to_be_bytes());
            });
        }
        let status = entity.status;
        if status.fault || status.error || status.throttle {
            // `Status`: message (2), code (3) = ERROR.
            message(out, span::STATUS, |out| {
                let message = first_message(extra);
                string(out, 2, message);
                uint(out, 3, 2);
            });
        }
        fixed32(out, span::FLAGS, u32::from(sampled));
    });
}

fn first_message(extra: Option<&Extra>) -> &str {
    match extra.and_then(|e| e.cause.as_ref()) {
        Some(Cause::Detail { exceptions, .. }) => exceptions.first().and_then(|x| x.message.as_deref()).unwrap_or(""),
        _ => "",
    }
}

/// An `exception` event: `exception.type`, `exception.message`, `exception.stacktrace` (one frame a line).
fn write_exception(out: &mut Vec<u8>, exception: &Exception, time: u64) {
    message(out, span::EVENTS, |out| {
        fixed64(out, 1, time);
        string(out, 2, "exception");
        if let Some(kind) = &exception.kind {
            attribute(out, 3, "exception.type", Value::Str(kind));
        }
        if let Some(text) = &exception.message {
            attribute(out, 3, "exception.message", Value::Str(text));
        }
        if !exception.stack.is_empty() {
            let mut stack = String::new();
            for frame in &exception.stack {
                let label = frame.label.as_deref().unwrap_or("?");
                let path = frame.path.as_deref().unwrap_or("?");
                match frame.line {
                    Some(line) => stack.push_str(&format!("at {label} ({path}:{line})\n")),
                    None => stack.push_str(&format!("at {label} ({path})\n")),
                }
            }
            attribute(out, 3, "exception.stacktrace", Value::Str(stack.trim_end()));
        }
        if exception.remote == Some(true) {
            attribute(out, 3, "exception.remote", Value::Bool(true));
        }
    });
}

fn annotation_value(value: &AnnotationValue) -> Value<'_> {
    match value {
        AnnotationValue::String(s) => Value::Str(s),
        AnnotationValue::Int(i) => Value::Int(*i),
        AnnotationValue::Float(f) => Value::Double(*f),
        AnnotationValue::Bool(b) => Value::Bool(*b),
    }
}

fn write_attributes(out: &mut Vec<u8>, entity: &Entity, kind: SpanKind) {
    const FIELD: u32 = span::ATTRIBUTES;
    if kind == SpanKind::Server {
        // A SERVER span's segment is named after the resource's `service.name` unless this says otherwise.
        attribute(out, FIELD, "aws.local.service", Value::Str(&entity.name));
    }
    if !entity.annotations.is_empty() {
        let mut keys: Vec<&str> = Vec::with_capacity(entity.annotations.len());
        for (key, value) in &entity.annotations {
            attribute(out, FIELD, key, annotation_value(value));
            keys.push(key);
        }
        attribute(out, FIELD, "aws.xray.annotations", Value::Strs(&keys));
    }
    let Some(extra) = entity.extra.as_deref() else { return };
    if entity.kind == Kind::Segment {
        if let Some(user) = &extra.user {
            attribute(out, FIELD, "enduser.id", Value::Str(user));
        }
        if let Some(version) = &extra.service_version {
            attribute(out, FIELD, "service.version", Value::Str(version));
        }
        if let Some(origin) = &extra.origin {
            attribute(out, FIELD, "aws.xray.origin", Value::Str(origin));
        }
    }
    if let Some(http) = &extra.http {
        write_http(out, http, kind);
    }
    if let Some(aws) = &extra.aws {
        write_aws(out, &entity.name, aws, kind);
    } else if entity.namespace == Some(Namespace::Aws) {
        attribute(out, FIELD, "rpc.system", Value::Str("aws-api"));
        attribute(out, FIELD, "rpc.service", Value::Str(&entity.name));
    }
    if let Some(sql) = extra.sql.as_ref().filter(|_| entity.kind == Kind::Subsegment) {
        write_sql(out, sql);
    }
    if kind == SpanKind::Consumer {
        attribute(out, FIELD, "messaging.operation.type", Value::Str("process"));
    }
    if entity.status.throttle && extra.http.as_ref().and_then(|h| h.response.as_ref()?.status).is_none() {
        attribute(out, FIELD, "http.response.status_code", Value::Int(429));
    }
    write_metadata(out, extra, entity.end.is_none());
}

fn write_http(out: &mut Vec<u8>, http: &Http, kind: SpanKind) {
    const FIELD: u32 = span::ATTRIBUTES;
    if let Some(request) = &http.request {
        if let Some(method) = &request.method {
            attribute(out, FIELD, "http.request.method", Value::Str(method));
        }
        if let Some(url) = &request.url {
            attribute(out, FIELD, "url.full", Value::Str(url));
            if kind != SpanKind::Server
                && let Some(host) = host_of(url)
            {
                attribute(out, FIELD, "server.address", Value::Str(host));
            }
        }
        if let Some(agent) = &request.user_agent {
            attribute(out, FIELD, "user_agent.original", Value::Str(agent));
        }
        if let Some(ip) = &request.client_ip {
            attribute(out, FIELD, "client.address", Value::Str(ip));
        }
    }
    if let Some(response) = &http.response {
        if let Some(status) = response.status {
            attribute(out, FIELD, "http.response.status_code", Value::Int(i64::from(status)));
        }
        if let Some(length) = response.content_length {
            attribute(out, FIELD, "http.response.body.size", Value::Int(length as i64));
        }
    }
}

/// The host of `scheme://host[:port]/...`.
fn host_of(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.split(':').next()?,
    };
    (!host.is_empty()).then_some(host)
}

fn write_aws(out: &mut Vec<u8>, service: &str, aws: &Aws, kind: SpanKind) {
    const FIELD: u32 = span::ATTRIBUTES;
    attribute(out, FIELD, "rpc.system", Value::Str("aws-api"));
    attribute(out, FIELD, "rpc.service", Value::Str(service));
    if let Some(operation) = &aws.operation {
        attribute(out, FIELD, "rpc.method", Value::Str(operation));
    }
    if let Some(region) = &aws.region {
        attribute(out, FIELD, "cloud.region", Value::Str(region));
    }
    if let Some(id) = &aws.request_id {
        attribute(out, FIELD, "aws.request_id", Value::Str(id));
    }
    if let Some(account) = &aws.account_id {
        attribute(out, FIELD, "cloud.account.id", Value::Str(account));
    }
    if kind == SpanKind::Producer {
        let system = if service.eq_ignore_ascii_case("sns") { "aws_sns" } else { "aws_sqs" };
        attribute(out, FIELD, "messaging.system", Value::Str(system));
        attribute(out, FIELD, "messaging.operation.type", Value::Str("send"));
    }
    for (key, value) in &aws.resources {
        let text: Cow<'_, str> = match value {
            serde_json::Value::String(s) => Cow::Borrowed(s),
            serde_json::Value::Number(n) if key.ends_with("_count") => {
                let name = match key.as_str() {
                    "message_count" => "messaging.batch.message_count",
                    _ => "aws.event_count",
                };
                attribute(out, FIELD, name, Value::Int(n.as_i64().unwrap_or(0)));
                continue;
            }
            serde_json::Value::Array(items) => {
                let names: Vec<&str> = items.iter().filter_map(serde_json::Value::as_str).collect();
                let name = match key.as_str() {
                    "table_names" => "aws.dynamodb.table_names",
                    other => &format!("aws.{other}"),
                };
                attribute(out, FIELD, name, Value::Strs(&names));
                continue;
            }
            other => Cow::Owned(other.to_string()),
        };
        match key.as_str() {
            "table_name" => attribute(out, FIELD, "aws.dynamodb.table_names", Value::Strs(&[&text])),
            "queue_url" => {
                attribute(out, FIELD, "aws.sqs.queue.url", Value::Str(&text));
                if let Some(name) = text.rsplit('/').next().filter(|n| !n.is_empty()) {
                    attribute(out, FIELD, "messaging.destination.name", Value::Str(name));
                }
            }
            "queue_name" => attribute(out, FIELD, "messaging.destination.name", Value::Str(&text)),
            "topic_arn" => attribute(out, FIELD, "aws.sns.topic.arn", Value::Str(&text)),
            "function_name" => attribute(out, FIELD, "faas.invoked_name", Value::Str(&text)),
            "stream_name" => attribute(out, FIELD, "aws.kinesis.stream_name", Value::Str(&text)),
            "bucket_name" => attribute(out, FIELD, "aws.s3.bucket", Value::Str(&text)),
            "key" => attribute(out, FIELD, "aws.s3.key", Value::Str(&text)),
            other => attribute(out, FIELD, &format!("aws.{other}"), Value::Str(&text)),
        }
    }
}

fn write_sql(out: &mut Vec<u8>, sql: &Sql) {
    const FIELD: u32 = span::ATTRIBUTES;
    for (name, value) in [
        ("db.connection_string", sql.url.as_ref().or(sql.connection_string.as_ref())),
        ("db.system", sql.database_type.as_ref()),
        ("db.statement", sql.sanitized_query.as_ref()),
        ("db.user", sql.user.as_ref()),
    ] {
        if let Some(value) = value {
            attribute(out, FIELD, name, Value::Str(value));
        }
    }
}

/// Metadata as one JSON attribute per namespace, `aws.xray.metadata.<namespace>`; what was trimmed and an entity
/// still open at the end go in namespace `xray`, as in segment documents.
fn write_metadata(out: &mut Vec<u8>, extra: &Extra, in_progress: bool) {
    if extra.metadata.is_empty() && extra.trimmed.is_none() && !in_progress {
        return;
    }
    let mut namespaces: Vec<&str> = Vec::new();
    for (namespace, _, _) in &extra.metadata {
        if !namespaces.contains(&namespace.as_ref()) {
            namespaces.push(namespace);
        }
    }
    for namespace in namespaces {
        let object: serde_json::Map<String, serde_json::Value> = extra
            .metadata
            .iter()
            .filter(|(n, _, _)| n == namespace)
            .map(|(_, k, v)| (k.to_string(), v.clone()))
            .collect();
        let json = serde_json::Value::Object(object).to_string();
        attribute(out, span::ATTRIBUTES, &format!("aws.xray.metadata.{namespace}"), Value::Str(&json));
    }
    if extra.trimmed.is_some() || in_progress {
        let mut xray = serde_json::Map::new();
        if let Some(what) = extra.trimmed {
            xray.insert("trimmed".into(), what.into());
        }
        if in_progress {
            xray.insert("in_progress".into(), true.into());
        }
        let json = serde_json::Value::Object(xray).to_string();
        attribute(out, span::ATTRIBUTES, "aws.xray.metadata.xray", Value::Str(&json));
    }
}

/// The size of the request around `spans_len` bytes of spans (see [`write_request`]).
pub(crate) fn request_len(resource: &[u8], scope: &[u8], spans_len: usize) -> usize {
    let scope_spans = delimited_len(1, scope.len()) + spans_len;
    let resource_spans = delimited_len(1, resource.len()) + delimited_len(2, scope_spans);
    delimited_len(1, resource_spans)
}

/// Writes an `ExportTraceServiceRequest` holding one `ResourceSpans` (`resource`, the fields of a `Resource`) with
/// one `ScopeSpans` (`scope`, the fields of an `InstrumentationScope`) around `spans`, spans written by
/// [`write_span`].
pub(crate) fn write_request(out: &mut Vec<u8>, resource: &[u8], scope: &[u8], spans: &[u8]) {
    let scope_spans = delimited_len(1, scope.len()) + spans.len();
    let resource_spans = delimited_len(1, resource.len()) + delimited_len(2, scope_spans);
    out.reserve(delimited_len(1, resource_spans));
    header(out, 1, resource_spans);
    bytes(out, 1, resource);
    header(out, 2, scope_spans);
    bytes(out, 1, scope);
    out.extend_from_slice(spans);
}

/// The key and length of a length-delimited field whose `len` bytes follow.
fn header(out: &mut Vec<u8>, field: u32, len: usize) {
    proto::varint(out, u64::from(field << 3 | 2));
    proto::varint(out, len as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_read_off_urls() {
        assert_eq!(host_of("https://api.example.com/v1?q=1"), Some("api.example.com"));
        assert_eq!(host_of("http://user:pw@127.0.0.1:8080/x"), Some("127.0.0.1"));
        assert_eq!(host_of("http://[::1]:9/x"), Some("::1"));
        assert_eq!(host_of("no-scheme"), None);
    }
}
