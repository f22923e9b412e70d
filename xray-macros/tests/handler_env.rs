//! `#[traced_handler]` and the process: the cold start, the environment variables it reads, and the
//! `_X_AMZN_TRACE_ID` fallback; `#[traced_subscribe]`'s segment named after the same service. One test in its own
//! process, because all of these are process-wide.
#![allow(missing_docs)]

mod common;

use common::{FACADE, ROOT, SAMPLED, documents, exact};
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{Value, json};
use xray_core::testing::MemorySink;
use xray_core::{traced_handler, traced_subscribe};

const ENV_ROOT: &str = "1-5759e988-000000000000000000000e57";
const ENV_HEADER: &str = "Root=1-5759e988-000000000000000000000e57;Parent=00000000000e0e57;Sampled=1";

#[traced_handler]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "got": event.payload }))
}

#[traced_subscribe]
async fn process(message: aws_lambda_events::sqs::SqsMessage) -> Option<String> {
    message.body
}

fn event(header: Option<&str>, payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.xray_trace_id = header.map(str::to_owned);
    LambdaEvent::new(payload, context)
}

#[tokio::test(flavor = "current_thread")]
async fn cold_start_service_capture_switch_and_env_header_fallback() {
    // SAFETY: the only test of this process, and no other thread reads the environment yet.
    unsafe {
        std::env::set_var("POWERTOOLS_SERVICE_NAME", "orders");
        std::env::set_var("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "true");
        std::env::set_var("_X_AMZN_TRACE_ID", ENV_HEADER);
    }
    let sink = MemorySink::new();
    // The Context's header wins over the process-wide variable.
    sink.scope(handler(event(Some(SAMPLED), json!(1)))).await.expect("ok");
    // Without one in the Context, the variable is used.
    sink.scope(handler(event(None, json!(2)))).await.expect("ok");
    let docs = documents(&sink);
    assert_eq!(docs.len(), 4);
    assert_eq!(
        exact(&docs[1]),
        json!({
            "name": "## handler", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {"ColdStart": true, "Service": "orders"},
            "metadata": {"orders": {"## handler response": {"got": 1}}},
        })
    );
    assert_eq!(
        exact(&docs[3]),
        json!({
            "name": "## handler", "id": "<id>", "trace_id": ENV_ROOT, "parent_id": "00000000000e0e57",
            "type": "subsegment",
            "annotations": {"ColdStart": false, "Service": "orders"},
            "metadata": {"orders": {"## handler response": {"got": 2}}},
        })
    );

    // A message processed in its producer's trace: the segment is named after the service.
    let mut message = aws_lambda_events::sqs::SqsMessage::default();
    message.attributes.insert("AWSTraceHeader".to_owned(), SAMPLED.to_owned());
    sink.clear();
    sink.scope(process(message)).await;
    let docs = documents(&sink);
    assert_eq!((docs.len(), &docs[0]["name"], &docs[0]["parent_id"]), (1, &json!("orders"), &json!(FACADE)));
}
