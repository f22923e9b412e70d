//! OTLP spans to segment documents, following AWS's translation (the collector's `awsxray` exporter, which X-Ray's
//! own OTLP endpoint follows): a SERVER span, or a span without a parent, becomes a segment and every other span an
//! independent subsegment of its parent span; a span's parent span id becomes `parent_id`.
//!
//! | span | document |
//! |---|---|
//! | trace id (16 bytes) | `trace_id` `1-{first 4 bytes}-{other 12}` in hex |
//! | span id, parent span id | `id`, `parent_id` |
//! | start, end (ns) | `start_time`, `end_time` (s); no end: `in_progress` |
//! | kind SERVER / no parent | segment; otherwise `type: "subsegment"` |
//! | `rpc.system=aws-api` (or `aws.service`) | `namespace: "aws"`; another CLIENT span `remote` |
//! | `aws.local.service` (SERVER), `aws.remote.service`, `peer.service`, `aws.service`, `db.name`, `service.name` (SERVER), `rpc.service`, `http.host`, `net.peer.name`, the span name | `name`, the first found, cleaned to the characters X-Ray allows, 200 at most |
//! | keys listed in `aws.xray.annotations` | `annotations` (keys cleaned to `[A-Za-z0-9_]`) |
//! | `aws.xray.metadata.<ns>` (a JSON string) | `metadata.<ns>`; other attributes `metadata.default` |
//! | `http.request.method`, `url.full`, `http.response.status_code`, `user_agent.original`, `client.address` (and their older names) | `http.request`, `http.response` |
//! | `rpc.method`, `aws.region`, `aws.request_id`, `aws.sqs.queue_url`, `aws.dynamodb.table_names` | `aws.operation`, `region`, `request_id`, `queue_url`, `table_name` |
//! | status ERROR; `exception` events | `fault` (or `error` for an HTTP 4xx, with `throttle` for 429); `cause.exceptions` |
//! | links | `links: [{trace_id, id, attributes}]` |
//! | resource attributes | `metadata.default["otel.resource.<key>"]` of segments |

use std::fmt::Write as _;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::{Map, Value, json};
use xray_core::rules::{MAX_NAME_CHARS, is_valid_name_char};

/// The segment documents of every span in `request`, in order: a document, or why the span cannot be one.
pub fn documents(request: &ExportTraceServiceRequest) -> Vec<Result<Value, String>> {
    let mut out = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        for scope in &resource_spans.scope_spans {
            for span in &scope.spans {
                out.push(document(span, resource).map_err(|why| format!("span {:?}: {why}", span.name)));
            }
        }
    }
    out
}

/// The X-Ray trace id of a 16-byte OTel trace id.
pub fn trace_id(bytes: &[u8]) -> Result<String, String> {
    if bytes.len() != 16 {
        return Err(format!("trace id has {} bytes, expected 16", bytes.len()));
    }
    if bytes.iter().all(|&b| b == 0) {
        return Err("trace id is all zeros".into());
    }
    let hex = hex(bytes);
    Ok(format!("1-{}-{}", &hex[..8], &hex[8..]))
}

/// The 16-hex id of an 8-byte span id.
pub fn span_id(bytes: &[u8], what: &str) -> Result<String, String> {
    if bytes.len() != 8 {
        return Err(format!("{what} has {} bytes, expected 8", bytes.len()));
    }
    if bytes.iter().all(|&b| b == 0) {
        return Err(format!("{what} is all zeros"));
    }
    Ok(hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Attributes by key; the last one wins, as in the collector.
struct Attrs<'a>(Vec<(&'a str, &'a Av)>);

impl<'a> Attrs<'a> {
    fn of(list: &'a [KeyValue]) -> Self {
        Attrs(list.iter().filter_map(|kv| Some((kv.key.as_str(), kv.value.as_ref()?.value.as_ref()?))).collect())
    }

    fn get(&self, key: &str) -> Option<&'a Av> {
        self.0.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn str(&self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            Av::StringValue(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    /// The first of `keys` present as a non-empty string.
    fn first(&self, keys: &[&str]) -> Option<&'a str> {
        keys.iter().find_map(|k| self.str(k))
    }

    fn int(&self, keys: &[&str]) -> Option<i64> {
        keys.iter().find_map(|k| match self.get(k)? {
            Av::IntValue(n) => Some(*n),
            Av::StringValue(s) => s.parse().ok(),
            Av::DoubleValue(d) if d.fract() == 0.0 => Some(*d as i64),
            _ => None,
        })
    }
}

/// An attribute value as JSON.
pub fn json_value(value: &Av) -> Value {
    match value {
        Av::StringValue(s) => Value::String(s.clone()),
        Av::BoolValue(b) => Value::Bool(*b),
        Av::IntValue(n) => json!(n),
        Av::DoubleValue(d) => serde_json::Number::from_f64(*d).map(Value::Number).unwrap_or(Value::Null),
        Av::ArrayValue(a) => Value::Array(a.values.iter().map(any_json).collect()),
        Av::KvlistValue(l) => Value::Object(
            l.values
                .iter()
                .map(|kv| (kv.key.clone(), kv.value.as_ref().map(any_json).unwrap_or(Value::Null)))
                .collect(),
        ),
        Av::BytesValue(b) => Value::String(hex(b)),
        Av::StringValueStrindex(_) => Value::Null,
    }
}

fn any_json(value: &AnyValue) -> Value {
    value.value.as_ref().map(json_value).unwrap_or(Value::Null)
}

/// Keys the translation turns into fields of their own, so they are not repeated in `metadata.default`.
const CONSUMED: &[&str] = &[
    "aws.xray.annotations",
    "aws.local.service",
    "aws.remote.service",
    "aws.span.kind",
    "peer.service",
    "aws.service",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "aws.operation",
    "aws.region",
    "aws.request_id",
    "aws.requestId",
    "aws.sqs.queue_url",
    "aws.queue_url",
    "aws.dynamodb.table_names",
    "aws.table_name",
    "http.request.method",
    "http.method",
    "url.full",
    "http.url",
    "http.response.status_code",
    "http.status_code",
    "user_agent.original",
    "http.user_agent",
    "client.address",
    "http.client_ip",
    "http.response.body.size",
    "http.response_content_length",
    "enduser.id",
    "db.system",
    "db.statement",
    "db.query.text",
    "db.connection_string",
    "db.user",
];

fn document(span: &Span, resource: &[KeyValue]) -> Result<Value, String> {
    let trace_id = trace_id(&span.trace_id)?;
    let id = span_id(&span.span_id, "span id")?;
    let parent =
        if span.parent_span_id.is_empty() { None } else { Some(span_id(&span.parent_span_id, "parent span id")?) };
    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    let segment = kind == SpanKind::Server || parent.is_none();
    let attrs = Attrs::of(&span.attributes);
    let res = Attrs::of(resource);
    let mut doc = Map::new();
    doc.insert("trace_id".into(), Value::String(trace_id));
    doc.insert("id".into(), Value::String(id));
    if let Some(parent) = parent {
        doc.insert("parent_id".into(), Value::String(parent));
    }
    if !segment {
        doc.insert("type".into(), "subsegment".into());
    }
    let aws_sdk = attrs.str("rpc.system") == Some("aws-api");
    let mut namespace = (aws_sdk || attrs.str("aws.service").is_some()).then_some("aws");
    let remote_kind = matches!(kind, SpanKind::Client | SpanKind::Producer | SpanKind::Consumer);
    if namespace.is_none()
        && !segment
        && (kind == SpanKind::Client || remote_kind && attrs.str("aws.remote.service").is_some())
    {
        namespace = Some("remote");
    }
    doc.insert("name".into(), Value::String(name(span, kind, &attrs, &res, aws_sdk)));
    if let Some(ns) = namespace.filter(|_| !segment) {
        doc.insert("namespace".into(), ns.into());
    }
    doc.insert("start_time".into(), json!(seconds(span.start_time_unix_nano)));
    if span.end_time_unix_nano == 0 {
        doc.insert("in_progress".into(), true.into());
    } else {
        doc.insert("end_time".into(), json!(seconds(span.end_time_unix_nano.max(span.start_time_unix_nano))));
    }
    let http = http(&attrs);
    let status = attrs.int(&["http.response.status_code", "http.status_code"]);
    if let Some(http) = http {
        doc.insert("http".into(), http);
    }
    marks(&mut doc, span, status);
    if let Some(aws) = aws(&attrs, &res, segment) {
        doc.insert("aws".into(), aws);
    }
    if let Some(sql) = sql(&attrs) {
        doc.insert("sql".into(), sql);
    }
    if let Some(user) = attrs.str("enduser.id") {
        doc.insert("user".into(), user.into());
    }
    let (annotations, metadata) = annotations_and_metadata(&attrs, &res, segment);
    if !annotations.is_empty() {
        doc.insert("annotations".into(), Value::Object(annotations));
    }
    if !metadata.is_empty() {
        doc.insert("metadata".into(), Value::Object(metadata));
    }
    let links: Vec<Value> = span
        .links
        .iter()
        .filter_map(|link| {
            let mut out = Map::new();
            out.insert("trace_id".into(), trace_id_of(&link.trace_id)?.into());
            out.insert("id".into(), span_id(&link.span_id, "link span id").ok()?.into());
            let attributes: Map<String, Value> =
                Attrs::of(&link.attributes).0.iter().map(|(k, v)| ((*k).to_owned(), json_value(v))).collect();
            if !attributes.is_empty() {
                out.insert("attributes".into(), Value::Object(attributes));
            }
            Some(Value::Object(out))
        })
        .collect();
    if !links.is_empty() {
        doc.insert("links".into(), Value::Array(links));
    }
    Ok(Value::Object(doc))
}

fn trace_id_of(bytes: &[u8]) -> Option<String> {
    trace_id(bytes).ok()
}

/// Nanoseconds since the epoch as the seconds X-Ray uses, at microsecond resolution.
fn seconds(nanos: u64) -> f64 {
    (nanos / 1000) as f64 / 1e6
}

/// The collector's order: service names first, then what names the thing called, then the span's own name.
fn name(span: &Span, kind: SpanKind, attrs: &Attrs<'_>, res: &Attrs<'_>, aws_sdk: bool) -> String {
    let mut name = None;
    if kind == SpanKind::Server || kind == SpanKind::Internal && attrs.str("aws.span.kind") == Some("LOCAL_ROOT") {
        name = attrs.str("aws.local.service");
    }
    if matches!(kind, SpanKind::Client | SpanKind::Producer | SpanKind::Consumer)
        && let Some(remote) = attrs.str("aws.remote.service")
    {
        name = Some(if aws_sdk { remote.strip_prefix("AWS.SDK.").unwrap_or(remote) } else { remote });
    }
    let name = name
        .or_else(|| attrs.str("peer.service"))
        .or_else(|| attrs.str("aws.service"))
        .or_else(|| attrs.str("db.name"))
        .or_else(|| if kind == SpanKind::Server { res.str("service.name") } else { None })
        .or_else(|| attrs.first(&["rpc.service", "http.host", "net.peer.name"]))
        .unwrap_or(&span.name);
    clean_name(name)
}

/// Drops the characters X-Ray does not allow in a name and keeps at most 200 characters.
fn clean_name(name: &str) -> String {
    let cleaned: String = name.chars().filter(|&c| is_valid_name_char(c)).take(MAX_NAME_CHARS).collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() { "unnamed".into() } else { trimmed.to_owned() }
}

fn http(attrs: &Attrs<'_>) -> Option<Value> {
    let mut request = Map::new();
    if let Some(method) = attrs.first(&["http.request.method", "http.method"]) {
        request.insert("method".into(), method.into());
    }
    if let Some(url) = attrs.first(&["url.full", "http.url"]) {
        request.insert("url".into(), url.into());
    }
    if let Some(agent) = attrs.first(&["user_agent.original", "http.user_agent"]) {
        request.insert("user_agent".into(), agent.into());
    }
    if let Some(ip) = attrs.first(&["client.address", "http.client_ip"]) {
        request.insert("client_ip".into(), ip.into());
    }
    let mut response = Map::new();
    if let Some(status) = attrs.int(&["http.response.status_code", "http.status_code"]) {
        response.insert("status".into(), json!(status));
    }
    if let Some(length) = attrs.int(&["http.response.body.size", "http.response_content_length"]) {
        response.insert("content_length".into(), json!(length));
    }
    if request.is_empty() && response.is_empty() {
        return None;
    }
    let mut http = Map::new();
    if !request.is_empty() {
        http.insert("request".into(), Value::Object(request));
    }
    if !response.is_empty() {
        http.insert("response".into(), Value::Object(response));
    }
    Some(Value::Object(http))
}

/// `fault`, `error`, `throttle` and `cause`, from the status, the HTTP status and the `exception` events.
fn marks(doc: &mut Map<String, Value>, span: &Span, http_status: Option<i64>) {
    let failed = span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32);
    let exceptions: Vec<Value> = span
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .enumerate()
        .map(|(i, event)| {
            let attrs = Attrs::of(&event.attributes);
            let mut exception = Map::new();
            exception.insert("id".into(), exception_id(span, i as u64 + 1).into());
            if let Some(t) = attrs.str("exception.type") {
                exception.insert("type".into(), t.into());
            }
            if let Some(m) = attrs.str("exception.message") {
                exception.insert("message".into(), m.into());
            }
            if let Some(stack) = attrs.str("exception.stacktrace") {
                let frames: Vec<Value> = stack
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .take(50)
                    .map(|l| json!({"label": l}))
                    .collect();
                exception.insert("stack".into(), Value::Array(frames));
            }
            Value::Object(exception)
        })
        .collect();
    let (mut fault, mut error, mut throttle) = (false, false, false);
    match http_status {
        Some(429) => (error, throttle) = (true, true),
        Some(400..=499) => error = true,
        Some(500..=599) => fault = true,
        _ if failed || !exceptions.is_empty() => fault = true,
        _ => {}
    }
    if failed && !fault && !error {
        fault = true;
    }
    for (key, on) in [("fault", fault), ("error", error), ("throttle", throttle)] {
        if on {
            doc.insert(key.into(), true.into());
        }
    }
    if !exceptions.is_empty() {
        doc.insert("cause".into(), json!({ "exceptions": exceptions }));
    } else if failed && let Some(message) = span.status.as_ref().map(|s| s.message.as_str()).filter(|m| !m.is_empty()) {
        doc.insert("cause".into(), json!({ "exceptions": [{ "id": exception_id(span, 0), "message": message }] }));
    }
}

/// An exception id only has to be unique within its document: the span id with the exception's number mixed in.
fn exception_id(span: &Span, n: u64) -> String {
    let mut id = [0u8; 8];
    let len = span.span_id.len().min(8);
    id[..len].copy_from_slice(&span.span_id[..len]);
    let mixed = u64::from_be_bytes(id) ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("{:016x}", if mixed == 0 { 1 } else { mixed })
}

fn aws(attrs: &Attrs<'_>, res: &Attrs<'_>, segment: bool) -> Option<Value> {
    let mut aws = Map::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value {
            aws.insert(key.into(), v.into());
        }
    };
    if !segment {
        put("operation", attrs.first(&["rpc.method", "aws.operation"]));
        put("request_id", attrs.first(&["aws.request_id", "aws.requestId"]));
        put("queue_url", attrs.first(&["aws.sqs.queue_url", "aws.queue_url"]));
        let table = match attrs.get("aws.dynamodb.table_names") {
            Some(Av::ArrayValue(a)) if a.values.len() == 1 => match a.values[0].value.as_ref() {
                Some(Av::StringValue(s)) => Some(s.as_str()),
                _ => None,
            },
            _ => attrs.str("aws.table_name"),
        };
        put("table_name", table);
    }
    put("region", attrs.str("aws.region").or_else(|| res.str("cloud.region")));
    put("account_id", res.str("cloud.account.id"));
    (!aws.is_empty()).then_some(Value::Object(aws))
}

fn sql(attrs: &Attrs<'_>) -> Option<Value> {
    let system = attrs.str("db.system")?;
    let mut sql = Map::new();
    sql.insert("database_type".into(), system.into());
    if let Some(q) = attrs.first(&["db.query.text", "db.statement"]) {
        sql.insert("sanitized_query".into(), q.into());
    }
    if let Some(c) = attrs.str("db.connection_string") {
        sql.insert("url".into(), c.into());
    }
    if let Some(u) = attrs.str("db.user") {
        sql.insert("user".into(), u.into());
    }
    Some(Value::Object(sql))
}

/// An annotation key as X-Ray allows it: every character outside `[A-Za-z0-9_]` becomes `_`.
fn annotation_key(key: &str) -> String {
    key.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).take(500).collect()
}

fn annotations_and_metadata(
    attrs: &Attrs<'_>,
    res: &Attrs<'_>,
    segment: bool,
) -> (Map<String, Value>, Map<String, Value>) {
    let indexed: Vec<&str> = match attrs.get("aws.xray.annotations") {
        Some(Av::ArrayValue(a)) => a
            .values
            .iter()
            .filter_map(|v| match v.value.as_ref()? {
                Av::StringValue(s) => Some(s.as_str()),
                _ => None,
            })
            .collect(),
        Some(Av::StringValue(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    let mut annotations = Map::new();
    let mut metadata = Map::new();
    let mut default = Map::new();
    for (key, value) in &attrs.0 {
        if indexed.contains(key) {
            let value = match value {
                Av::StringValue(s) => Value::String(s.chars().take(1000).collect()),
                Av::BoolValue(_) | Av::IntValue(_) | Av::DoubleValue(_) => json_value(value),
                _ => {
                    default.insert((*key).to_owned(), json_value(value));
                    continue;
                }
            };
            annotations.insert(annotation_key(key), value);
        } else if let Some(ns) = key.strip_prefix("aws.xray.metadata.") {
            let parsed = match value {
                Av::StringValue(s) => serde_json::from_str::<Value>(s).ok().filter(Value::is_object),
                _ => None,
            };
            match parsed {
                Some(object) if !ns.is_empty() => {
                    metadata.insert(ns.to_owned(), object);
                }
                _ => {
                    default.insert((*key).to_owned(), json_value(value));
                }
            }
        } else if !CONSUMED.contains(key) {
            default.insert((*key).to_owned(), json_value(value));
        }
    }
    if segment {
        for (key, value) in &res.0 {
            default.insert(format!("otel.resource.{key}"), json_value(value));
        }
    }
    if !default.is_empty() {
        match metadata.get_mut("default") {
            Some(Value::Object(existing)) => existing.extend(default),
            _ => {
                metadata.insert("default".into(), Value::Object(default));
            }
        }
    }
    (annotations, metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::ArrayValue;

    fn kv(key: &str, value: Av) -> KeyValue {
        KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
    }

    fn span(kind: SpanKind, parent: bool, attributes: Vec<KeyValue>) -> Span {
        Span {
            trace_id: vec![0x5f, 0x00, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
            span_id: vec![1; 8],
            parent_span_id: if parent { vec![2; 8] } else { Vec::new() },
            name: "GET /items/{id}".into(),
            kind: kind as i32,
            start_time_unix_nano: 1_500_000_000_123_456_789,
            end_time_unix_nano: 1_500_000_001_000_000_000,
            attributes,
            ..Default::default()
        }
    }

    #[test]
    fn server_spans_and_roots_are_segments_the_rest_subsegments_of_their_parent() {
        let doc = document(&span(SpanKind::Server, true, vec![]), &[]).expect("valid");
        assert_eq!((doc.get("type"), &doc["parent_id"]), (None, &json!("0202020202020202")));
        assert_eq!(doc["trace_id"], "1-5f000001-0102030405060708090a0b0c");
        assert_eq!(doc["start_time"], 1_500_000_000.123456);
        let root = document(&span(SpanKind::Internal, false, vec![]), &[]).expect("valid");
        assert_eq!(root.get("type"), None);
        let child = document(&span(SpanKind::Internal, true, vec![]), &[]).expect("valid");
        assert_eq!((&child["type"], child.get("namespace")), (&json!("subsegment"), None));
        // Characters X-Ray does not allow in names are dropped.
        assert_eq!(child["name"], "GET /items/id");
    }

    #[test]
    fn names_and_namespaces_follow_the_collectors_order() {
        let s = |v: &str| Av::StringValue(v.into());
        let aws = span(
            SpanKind::Client,
            true,
            vec![
                kv("rpc.system", s("aws-api")),
                kv("rpc.service", s("DynamoDB")),
                kv("aws.remote.service", s("AWS.SDK.DynamoDB")),
            ],
        );
        let doc = document(&aws, &[]).expect("valid");
        assert_eq!((&doc["name"], &doc["namespace"]), (&json!("DynamoDB"), &json!("aws")));
        let http = span(SpanKind::Client, true, vec![kv("peer.service", s("pricing")), kv("rpc.service", s("x"))]);
        let doc = document(&http, &[]).expect("valid");
        assert_eq!((&doc["name"], &doc["namespace"]), (&json!("pricing"), &json!("remote")));
        let server = document(&span(SpanKind::Server, false, vec![]), &[kv("service.name", s("shop"))]).expect("ok");
        assert_eq!(server["name"], "shop");
        assert_eq!(server["metadata"]["default"]["otel.resource.service.name"], "shop");
    }

    #[test]
    fn annotations_metadata_and_marks() {
        let s = |v: &str| Av::StringValue(v.into());
        let listed = Av::ArrayValue(ArrayValue {
            values: ["user.tier", "n"].iter().map(|k| AnyValue { value: Some(s(k)) }).collect(),
        });
        let attrs = vec![
            kv("aws.xray.annotations", listed),
            kv("user.tier", s("gold")),
            kv("n", Av::IntValue(3)),
            kv("aws.xray.metadata.cart", s("{\"items\":2}")),
            kv("other", Av::BoolValue(true)),
            kv("http.response.status_code", Av::IntValue(429)),
        ];
        let doc = document(&span(SpanKind::Client, true, attrs), &[]).expect("valid");
        assert_eq!(doc["annotations"], json!({"user_tier": "gold", "n": 3}));
        assert_eq!(doc["metadata"], json!({"cart": {"items": 2}, "default": {"other": true}}));
        assert_eq!((&doc["error"], &doc["throttle"], doc.get("fault")), (&json!(true), &json!(true), None));
    }

    #[test]
    fn spans_without_usable_ids_are_refused_with_a_reason() {
        let mut bad = span(SpanKind::Server, false, vec![]);
        bad.trace_id = vec![0; 16];
        assert_eq!(document(&bad, &[]), Err("trace id is all zeros".into()));
        bad.trace_id = vec![1; 4];
        assert_eq!(document(&bad, &[]), Err("trace id has 4 bytes, expected 16".into()));
    }
}
