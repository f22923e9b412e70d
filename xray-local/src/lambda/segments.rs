//! The two segments Lambda sends for a sampled invocation, shaped as real Lambda traces show them.
//!
//! The service segment (`origin: AWS::Lambda`) spans the request inside the Lambda service, from the Invoke call
//! until its response, and is a child of the caller's segment:
//!
//! ```json
//! {"name":"orders","id":"9a3c...","trace_id":"1-...","parent_id":"<caller>","start_time":..,"end_time":..,
//!  "origin":"AWS::Lambda","resource_arn":"arn:aws:lambda:us-east-1:123456789012:function:orders",
//!  "http":{"response":{"status":200}},"aws":{"request_id":"<request id>"}}
//! ```
//!
//! The function segment (`origin: AWS::Lambda::Function`) is its child. Its subsegments are the phases of the
//! execution environment: `Initialization` (cold start only: process start until the runtime's first
//! `/next`), `Invocation` (handed to the runtime until its response) and `Overhead` (the response until the
//! runtime asks for the next event):
//!
//! ```json
//! {"name":"orders","id":"<the header's Parent>","trace_id":"1-...","parent_id":"9a3c...",
//!  "start_time":..,"end_time":..,"origin":"AWS::Lambda::Function",
//!  "aws":{"account_id":"123456789012","function_arn":"arn:...:function:orders","resource_names":["orders"]},
//!  "subsegments":[{"id":"..","name":"Invocation","start_time":..,"end_time":..,"aws":{"function_arn":"arn:..."}},
//!                 {"id":"..","name":"Overhead","start_time":..,"end_time":..,"aws":{"function_arn":"arn:..."}}]}
//! ```
//!
//! A function error, crash or timeout marks the function segment `fault` with the error as `cause`; the service
//! segment stays a 200, as the Invoke API answers 200 with `X-Amz-Function-Error` then.

use serde_json::{Map, Value, json};
use xray_core::SegmentId;

use super::function::Function;
use super::trace::Trace;

/// One phase of the execution environment, a subsegment of the function segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) start: f64,
    pub(crate) end: f64,
}

/// The longest error message kept in a cause, so a document always fits in a datagram.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// The `AWS::Lambda` segment.
pub(crate) fn service(function: &Function, trace: &Trace, request_id: &str, start: f64, end: f64) -> Value {
    let mut doc = json!({
        "name": function.name,
        "id": trace.service_id.to_string(),
        "trace_id": trace.root().to_string(),
        "start_time": micros(start),
        "end_time": micros(end.max(start)),
        "origin": "AWS::Lambda",
        "resource_arn": function.arn,
        "http": {"response": {"status": 200}},
        "aws": {"request_id": request_id},
    });
    if let (Some(caller), Some(map)) = (trace.caller, doc.as_object_mut()) {
        map.insert("parent_id".into(), Value::String(caller.to_string()));
    }
    doc
}

/// The `AWS::Lambda::Function` segment, spanning `phases` (in order, at least one), with `fault` as its cause.
pub(crate) fn function(function: &Function, trace: &Trace, phases: &[Phase], fault: Option<&Value>) -> Value {
    let start = phases.first().map_or(0.0, |p| p.start);
    let end = phases.iter().map(|p| p.end).fold(start, f64::max);
    let subsegments: Vec<Value> = phases
        .iter()
        .map(|phase| {
            json!({
                "id": SegmentId::new().to_string(),
                "name": phase.name,
                "start_time": micros(phase.start),
                "end_time": micros(phase.end.max(phase.start)),
                "aws": {"function_arn": function.arn},
            })
        })
        .collect();
    let mut doc = json!({
        "name": function.name,
        "id": trace.function_id.to_string(),
        "trace_id": trace.root().to_string(),
        "parent_id": trace.service_id.to_string(),
        "start_time": micros(start),
        "end_time": micros(end),
        "origin": "AWS::Lambda::Function",
        "aws": {
            "account_id": function.account_id,
            "function_arn": function.arn,
            "resource_names": [function.name],
        },
        "subsegments": subsegments,
    });
    if let (Some(cause), Some(map)) = (fault, doc.as_object_mut()) {
        map.insert("fault".into(), Value::Bool(true));
        map.insert("cause".into(), cause.clone());
    }
    doc
}

/// A cause with one exception.
pub(crate) fn cause(error_type: &str, message: &str) -> Value {
    json!({"exceptions": [{"id": SegmentId::new().to_string(), "message": shorten(message), "type": error_type}]})
}

/// The cause of an error the runtime reported: its `Lambda-Runtime-Function-XRay-Error-Cause` header when that
/// is a cause object with exceptions (ids filled in where missing), else one exception from the error body's
/// `errorType` and `errorMessage`.
pub(crate) fn runtime_cause(xray_header: Option<&str>, body: &[u8]) -> Value {
    if let Some(Ok(Value::Object(mut cause))) = xray_header.map(serde_json::from_str::<Value>)
        && let Some(Value::Array(exceptions)) = cause.get_mut("exceptions")
        && !exceptions.is_empty()
        && exceptions.iter().all(Value::is_object)
    {
        for exception in exceptions.iter_mut().filter_map(Value::as_object_mut) {
            if !exception.get("id").and_then(Value::as_str).is_some_and(is_id) {
                exception.insert("id".into(), Value::String(SegmentId::new().to_string()));
            }
            if let Some(Value::String(message)) = exception.get_mut("message") {
                *message = shorten(message);
            }
        }
        let cause = Value::Object(cause);
        if cause.to_string().len() <= 4 * MAX_MESSAGE_BYTES {
            return cause;
        }
    }
    let error: Map<String, Value> = serde_json::from_slice(body).unwrap_or_default();
    let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
    let message = text("errorMessage").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    cause(&text("errorType").unwrap_or_else(|| "Unhandled".into()), &message)
}

fn is_id(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn shorten(message: &str) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message.to_owned();
    }
    let mut cut = MAX_MESSAGE_BYTES;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &message[..cut])
}

/// Seconds rounded to the microsecond, the resolution X-Ray keeps.
fn micros(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::trace::Sampling;
    use xray_core::sampling::LocalSampler;

    fn function_config() -> Function {
        Function::for_tests("orders")
    }

    fn trace(header: Option<&str>) -> Trace {
        Trace::start(header, Sampling::Always, &LocalSampler::default()).0
    }

    #[test]
    fn the_service_segment_is_a_child_of_the_caller_and_names_the_function() {
        let f = function_config();
        let t = trace(Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"));
        let doc = service(&f, &t, "req-1", 1_700_000_000.123_456_7, 1_700_000_000.5);
        assert_eq!(doc["name"], "orders");
        assert_eq!(doc["origin"], "AWS::Lambda");
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(doc["id"], t.service_id.to_string());
        assert_eq!(doc["resource_arn"], "arn:aws:lambda:us-east-1:123456789012:function:orders");
        assert_eq!(doc["aws"]["request_id"], "req-1");
        assert_eq!(doc["http"]["response"]["status"], 200);
        assert_eq!(doc["start_time"], 1_700_000_000.123_457);
        assert!(xray_schema_check::errors(&doc).is_empty(), "{doc:#}");
        assert!(service(&f, &trace(None), "req-2", 1.0, 2.0).get("parent_id").is_none());
    }

    #[test]
    fn the_function_segment_spans_its_phases_under_the_service_segment() {
        let f = function_config();
        let t = trace(None);
        let phases = [
            Phase { name: "Initialization", start: 10.0, end: 10.2 },
            Phase { name: "Invocation", start: 10.25, end: 10.5 },
            Phase { name: "Overhead", start: 10.5, end: 10.51 },
        ];
        let doc = function(&f, &t, &phases, None);
        assert_eq!(doc["origin"], "AWS::Lambda::Function");
        assert_eq!(doc["id"], t.function_id.to_string());
        assert_eq!(doc["parent_id"], t.service_id.to_string());
        assert_eq!((doc["start_time"].as_f64(), doc["end_time"].as_f64()), (Some(10.0), Some(10.51)));
        assert_eq!(doc["aws"]["resource_names"][0], "orders");
        assert_eq!(doc["aws"]["account_id"], "123456789012");
        let names: Vec<&str> =
            doc["subsegments"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(names, ["Initialization", "Invocation", "Overhead"]);
        assert!(doc.get("fault").is_none());
        assert!(xray_schema_check::errors(&doc).is_empty(), "{doc:#}");
    }

    #[test]
    fn a_fault_carries_its_cause() {
        let f = function_config();
        let cause = runtime_cause(None, br#"{"errorType":"OrderError","errorMessage":"no such order"}"#);
        let doc = function(&f, &trace(None), &[Phase { name: "Invocation", start: 1.0, end: 2.0 }], Some(&cause));
        assert_eq!(doc["fault"], true);
        assert_eq!(doc["cause"]["exceptions"][0]["type"], "OrderError");
        assert_eq!(doc["cause"]["exceptions"][0]["message"], "no such order");
        assert!(xray_schema_check::errors(&doc).is_empty(), "{doc:#}");
    }

    #[test]
    fn the_runtime_s_xray_cause_header_wins_and_gets_ids() {
        let header = r#"{"working_directory":"/var/task","paths":[],"exceptions":[{"type":"E","message":"m"}]}"#;
        let cause = runtime_cause(Some(header), b"{}");
        assert_eq!(cause["working_directory"], "/var/task");
        assert!(cause["exceptions"][0]["id"].as_str().is_some_and(is_id));
        // Not a cause: the body decides; not JSON either: the body is the message.
        assert_eq!(runtime_cause(Some("[1]"), b"plain text")["exceptions"][0]["message"], "plain text");
        assert_eq!(runtime_cause(Some("[1]"), b"plain text")["exceptions"][0]["type"], "Unhandled");
    }

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let cut = shorten(&long);
        assert!(cut.len() <= MAX_MESSAGE_BYTES + 3 && cut.ends_with("..."));
    }
}
