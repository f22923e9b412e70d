//! Shared by the behaviour tests: every captured document passes the official segment document schema (the same
//! check as `xray-core`'s tests), and a few lookups keep assertions short.
#![allow(dead_code, unreachable_pub, unused_imports)]

pub mod wire;

use serde_json::Value;
use xray_core::testing::MemorySink;

pub use xray_schema_check::fixtures::{FACADE, ROOT, SAMPLED, UNSAMPLED, named, names};

/// The sink's documents, each checked against the schema.
pub fn documents(sink: &MemorySink) -> Vec<Value> {
    xray_schema_check::all_valid(sink.documents())
}

/// Asserts `inner` ran within `outer`.
pub fn within(inner: &Value, outer: &Value) {
    let (start, end) = (inner["start_time"].as_f64().expect("start"), inner["end_time"].as_f64().expect("end"));
    assert!(outer["start_time"].as_f64().expect("start") <= start, "{inner} starts before {outer}");
    assert!(start <= end);
    assert!(end <= outer["end_time"].as_f64().expect("end"), "{inner} ends after {outer}");
}

/// The `cause` of a document with one exception: its type and message.
pub fn exception(doc: &Value) -> (&str, &str) {
    let exception = &doc["cause"]["exceptions"][0];
    (exception["type"].as_str().expect("type"), exception["message"].as_str().expect("message"))
}

/// The document with what changes from run to run replaced: `id` and exception ids become `"<id>"`, and the times
/// (checked to be in order) are removed; compare the rest exactly.
pub fn exact(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let map = doc.as_object_mut().expect("document is an object");
    let start = map.remove("start_time").and_then(|t| t.as_f64()).expect("start_time");
    if let Some(end) = map.remove("end_time") {
        assert!(end.as_f64().expect("end_time") >= start);
    }
    map.insert("id".into(), "<id>".into());
    if let Some(exceptions) = map.get_mut("cause").and_then(|c| c.get_mut("exceptions")) {
        for exception in exceptions.as_array_mut().expect("exceptions") {
            exception["id"] = "<id>".into();
            if exception.get("cause").is_some() {
                exception["cause"] = "<id>".into();
            }
        }
    }
    doc
}
