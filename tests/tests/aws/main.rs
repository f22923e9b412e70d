//! End-to-end: real `aws-sdk-*` clients with the X-Ray interceptor against a real moto server (directly, or through
//! the fault-injecting proxy), asserting on the exact subsegment documents and on the headers that went out.

mod dynamodb;
mod propagation;
mod sns;
mod sqs;
mod sqs_carriers;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};
use xray_core::Trace;
use xray_core::testing::MemorySink;
use xray_tests::schema;

// The invocation's header, as Lambda hands it over: with `Lineage` and a key this crate does not know.
use xray_schema_check::fixtures::{FACADE, ROOT, WITH_UNKNOWN as HEADER};

/// Runs `f` in a Lambda invocation traced with `header`; returns its output and the documents sent, each checked
/// against the schema.
async fn traced<F: Future>(header: &str, f: F) -> (F::Output, Vec<Value>) {
    let sink = MemorySink::new();
    // The trace is made inside the sink's scope so it keeps sending there, even from a future dropped later.
    let output = sink.scope(async { Trace::lambda(Some(header)).context().scope(f).await }).await;
    (output, schema::documents(&sink))
}

/// A name no other test uses on the shared moto server.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The document with the values that differ per run replaced by placeholders, after checking their form:
/// ids, times, request ids and response lengths.
fn normalized(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let is_id = |v: &Value| v.as_str().is_some_and(|s| s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(is_id(&doc["id"]), "{doc}");
    doc["id"] = "<id>".into();
    let (start, end) = (doc["start_time"].as_f64().expect("start"), doc["end_time"].as_f64().expect("end"));
    assert!(start > 1.7e9 && end >= start, "{doc}");
    doc["start_time"] = "<t>".into();
    doc["end_time"] = "<t>".into();
    if let Some(id) = doc.pointer_mut("/aws/request_id") {
        assert!(id.as_str().is_some_and(|s| !s.is_empty()), "{doc}");
        *id = "<request-id>".into();
    }
    if let Some(len) = doc.pointer_mut("/http/response/content_length") {
        assert!(len.is_u64(), "{doc}");
        *len = "<n>".into();
    }
    if let Some(exceptions) = doc.pointer_mut("/cause/exceptions").and_then(Value::as_array_mut) {
        for exception in exceptions {
            assert!(is_id(&exception["id"]), "{exception}");
            exception["id"] = "<id>".into();
        }
    }
    doc
}

/// The single document sent, normalized.
fn only(docs: &[Value]) -> Value {
    assert_eq!(docs.len(), 1, "{docs:#?}");
    normalized(&docs[0])
}

/// The header a call made in subsegment `doc` carries.
fn header_with_parent(doc: &Value, sampled: &str) -> String {
    let id = doc["id"].as_str().expect("id");
    format!("Root={ROOT};Parent={id};Sampled={sampled};Lineage=a87bd80c:1;Foo=bar")
}

/// The normalized document of an AWS call that succeeded at once: `resources` are the per-service fields.
fn succeeded(service: &str, operation: &str, resources: Value) -> Value {
    let mut aws = json!({"operation": operation, "region": "us-east-1", "request_id": "<request-id>", "retries": 0});
    if let (Some(aws), Value::Object(resources)) = (aws.as_object_mut(), resources) {
        aws.extend(resources);
    }
    json!({
        "name": service, "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
        "start_time": "<t>", "end_time": "<t>", "namespace": "aws", "aws": aws,
        "http": {"response": {"status": 200, "content_length": "<n>"}},
    })
}

/// A new SQS queue on the shared moto server, made without instrumentation; returns its URL.
async fn new_queue() -> String {
    let plain = aws_sdk_sqs::Client::new(&xray_tests::sdk::config(&xray_tests::moto::shared().endpoint));
    let created = plain.create_queue().queue_name(unique("q")).send().await.expect("queue created");
    created.queue_url().expect("queue url").to_owned()
}

/// A proxy in front of the shared moto server, to inject failures and see the headers that went out.
async fn proxy() -> xray_tests::proxy::Proxy {
    xray_tests::proxy::Proxy::start(&xray_tests::moto::shared().endpoint).await.expect("proxy starts")
}
