//! Segment documents to OTLP spans, for `--forward-otlp`: the reverse of [`super::translate`], so a backend that
//! speaks OTLP (Jaeger, Tempo, a collector, X-Ray's own endpoint) shows the same tree.
//!
//! Every entity (segment, subsegment, embedded subsegment) becomes one span with its own id; its parent span is the
//! document's `parent_id`, or the entity it is embedded in. Segments are SERVER spans, subsegments with a
//! `namespace` CLIENT spans, the others INTERNAL. Annotations become attributes listed in `aws.xray.annotations`,
//! each metadata namespace an `aws.xray.metadata.<ns>` JSON string, `aws` and `http` the semantic-convention
//! attributes, `fault`/`error` status ERROR and `cause.exceptions` `exception` events. Each span's resource names
//! its segment as `service.name`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Av;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use serde_json::{Map, Value};

/// A span and the service (segment name) it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpan {
    /// The name of the segment the span belongs to, its resource's `service.name`; `None` when the document is an
    /// independent subsegment whose segment is not known.
    pub service: Option<String>,
    /// The span.
    pub span: Span,
}

/// The spans of one valid document (see [`crate::daemon::validate`]); an entity whose ids cannot be read is left
/// out with its embedded subsegments.
pub fn spans(doc: &Value) -> Vec<ServiceSpan> {
    let mut out = Vec::new();
    let Some(object) = doc.as_object() else { return out };
    let Some(trace_id) = object.get("trace_id").and_then(Value::as_str).and_then(trace_id_bytes) else { return out };
    let segment = object.get("type").and_then(Value::as_str) != Some("subsegment");
    let service = segment.then(|| text(object, "name").to_owned());
    let parent = object.get("parent_id").and_then(Value::as_str).and_then(span_id_bytes).unwrap_or_default();
    entity(object, &trace_id, parent, segment, &service, &mut out);
    out
}

fn entity(
    e: &Map<String, Value>,
    trace_id: &[u8],
    parent: Vec<u8>,
    segment: bool,
    service: &Option<String>,
    out: &mut Vec<ServiceSpan>,
) {
    let Some(id) = e.get("id").and_then(Value::as_str).and_then(span_id_bytes) else { return };
    let namespace = e.get("namespace").and_then(Value::as_str);
    let kind = match (segment, namespace) {
        (true, _) => SpanKind::Server,
        (false, Some(_)) => SpanKind::Client,
        (false, None) => SpanKind::Internal,
    };
    let start = nanos(e.get("start_time"));
    let end = if e.get("in_progress").and_then(Value::as_bool) == Some(true) { 0 } else { nanos(e.get("end_time")) };
    let mut attributes = Vec::new();
    let name = text(e, "name").to_owned();
    match namespace {
        Some("aws") => {
            attributes.push(kv("rpc.system", string("aws-api")));
            attributes.push(kv("rpc.service", string(&name)));
        }
        Some(_) => attributes.push(kv("peer.service", string(&name))),
        None => {}
    }
    if let Some(aws) = e.get("aws").and_then(Value::as_object) {
        copy_strings(
            aws,
            &[
                ("operation", "rpc.method"),
                ("region", "aws.region"),
                ("request_id", "aws.request_id"),
                ("queue_url", "aws.sqs.queue_url"),
                ("account_id", "cloud.account.id"),
            ],
            &mut attributes,
        );
        if let Some(table) = aws.get("table_name").and_then(Value::as_str) {
            attributes.push(kv("aws.dynamodb.table_names", array(vec![string(table)])));
        }
    }
    let http = e.get("http").and_then(Value::as_object);
    let request = http.and_then(|h| h.get("request")).and_then(Value::as_object);
    let response = http.and_then(|h| h.get("response")).and_then(Value::as_object);
    if let Some(request) = request {
        copy_strings(
            request,
            &[
                ("method", "http.request.method"),
                ("url", "url.full"),
                ("user_agent", "user_agent.original"),
                ("client_ip", "client.address"),
            ],
            &mut attributes,
        );
    }
    if let Some(response) = response {
        for (field, key) in [("status", "http.response.status_code"), ("content_length", "http.response.body.size")] {
            if let Some(n) = response.get(field).and_then(Value::as_i64) {
                attributes.push(kv(key, AnyValue { value: Some(Av::IntValue(n)) }));
            }
        }
    }
    if let Some(sql) = e.get("sql").and_then(Value::as_object) {
        copy_strings(
            sql,
            &[
                ("database_type", "db.system"),
                ("sanitized_query", "db.query.text"),
                ("url", "db.connection_string"),
                ("user", "db.user"),
            ],
            &mut attributes,
        );
    }
    if let Some(user) = e.get("user").and_then(Value::as_str) {
        attributes.push(kv("enduser.id", string(user)));
    }
    if let Some(annotations) = e.get("annotations").and_then(Value::as_object)
        && !annotations.is_empty()
    {
        for (key, value) in annotations {
            attributes.push(kv(key, any(value)));
        }
        attributes.push(kv("aws.xray.annotations", array(annotations.keys().map(|k| string(k)).collect())));
    }
    if let Some(metadata) = e.get("metadata").and_then(Value::as_object) {
        for (ns, value) in metadata {
            attributes.push(kv(&format!("aws.xray.metadata.{ns}"), string(&value.to_string())));
        }
    }
    let flag = |key: &str| e.get(key).and_then(Value::as_bool) == Some(true);
    let exceptions = e.get("cause").and_then(|c| c.get("exceptions")).and_then(Value::as_array);
    let events: Vec<Event> = exceptions
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|x| {
            let mut attributes = Vec::new();
            copy_strings(x, &[("type", "exception.type"), ("message", "exception.message")], &mut attributes);
            if let Some(stack) = x.get("stack").and_then(Value::as_array) {
                let lines: Vec<String> = stack.iter().map(frame).collect();
                attributes.push(kv("exception.stacktrace", string(&lines.join("\n"))));
            }
            Event {
                time_unix_nano: if end > 0 { end } else { start },
                name: "exception".into(),
                attributes,
                ..Default::default()
            }
        })
        .collect();
    let status = (flag("fault") || flag("error")).then(|| Status {
        code: StatusCode::Error as i32,
        message: exceptions
            .and_then(|x| x.first())
            .and_then(|x| x.get("message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    });
    let links: Vec<Link> = e
        .get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|link| {
            let trace_id = trace_id_bytes(link.get("trace_id")?.as_str()?)?;
            let span_id = span_id_bytes(link.get("id")?.as_str()?)?;
            let attributes = match link.get("attributes").and_then(Value::as_object) {
                Some(a) => a.iter().map(|(k, v)| kv(k, any(v))).collect(),
                None => Vec::new(),
            };
            Some(Link { trace_id, span_id, attributes, ..Default::default() })
        })
        .collect();
    let span = Span {
        trace_id: trace_id.to_vec(),
        span_id: id.clone(),
        parent_span_id: parent,
        name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        events,
        links,
        status,
        ..Default::default()
    };
    out.push(ServiceSpan { service: service.clone(), span });
    for child in e.get("subsegments").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object) {
        entity(child, trace_id, id.clone(), false, service, out);
    }
}

/// Each string `field` of `object` as the attribute `key`.
fn copy_strings(object: &Map<String, Value>, pairs: &[(&str, &str)], attributes: &mut Vec<KeyValue>) {
    for (field, key) in pairs {
        if let Some(v) = object.get(*field).and_then(Value::as_str) {
            attributes.push(kv(key, string(v)));
        }
    }
}

/// One stack frame as a line of a stack trace: `label (path:line)`.
fn frame(frame: &Value) -> String {
    let label = frame.get("label").and_then(Value::as_str).unwrap_or_default();
    match (frame.get("path").and_then(Value::as_str), frame.get("line").and_then(Value::as_i64)) {
        (Some(path), Some(line)) => format!("{label} ({path}:{line})"),
        (Some(path), None) => format!("{label} ({path})"),
        _ => label.to_owned(),
    }
}

/// One request holding `spans`, a resource per service (`service.name`, `unknown_service` when not known).
pub fn request(spans: Vec<ServiceSpan>) -> ExportTraceServiceRequest {
    let mut groups: Vec<(Option<String>, Vec<Span>)> = Vec::new();
    for ServiceSpan { service, span } in spans {
        match groups.iter_mut().find(|(s, _)| *s == service) {
            Some((_, list)) => list.push(span),
            None => groups.push((service, vec![span])),
        }
    }
    let resource_spans = groups
        .into_iter()
        .map(|(service, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", string(service.as_deref().unwrap_or("unknown_service")))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "xray-local".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }
}

fn text<'a>(e: &'a Map<String, Value>, key: &str) -> &'a str {
    e.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn nanos(seconds: Option<&Value>) -> u64 {
    // Microseconds first, as documents carry them, so 1.000001 s does not become 1000000999 ns.
    seconds.and_then(Value::as_f64).map(|s| ((s * 1e6).round() as u64).saturating_mul(1000)).unwrap_or(0)
}

/// The 16 bytes of `1-{8 hex}-{24 hex}`.
pub fn trace_id_bytes(id: &str) -> Option<Vec<u8>> {
    let rest = id.strip_prefix("1-")?;
    let (time, random) = rest.split_once('-')?;
    if time.len() != 8 || random.len() != 24 {
        return None;
    }
    hex_bytes(&format!("{time}{random}"))
}

/// The 8 bytes of a 16-hex id.
pub fn span_id_bytes(id: &str) -> Option<Vec<u8>> {
    if id.len() != 16 {
        return None;
    }
    hex_bytes(id)
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.is_ascii() || !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok()).collect()
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue { key: key.to_owned(), value: Some(value), ..Default::default() }
}

fn string(s: &str) -> AnyValue {
    AnyValue { value: Some(Av::StringValue(s.to_owned())) }
}

fn array(values: Vec<AnyValue>) -> AnyValue {
    AnyValue { value: Some(Av::ArrayValue(ArrayValue { values })) }
}

/// An annotation or link attribute value: strings, booleans and numbers as themselves, anything else as JSON text.
fn any(value: &Value) -> AnyValue {
    let v = match value {
        Value::String(s) => Av::StringValue(s.clone()),
        Value::Bool(b) => Av::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Av::IntValue(i),
            None => Av::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        other => Av::StringValue(other.to_string()),
    };
    AnyValue { value: Some(v) }
}
