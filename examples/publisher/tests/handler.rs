//! The handler called as `lambda_runtime` calls it, with events built on `Context::default()`, against a real moto
//! server (SQS): each message carries the trace, with its own `SendMessage` subsegment as the parent.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use lambda_runtime::{Context, LambdaEvent};
use order_events::OrderEvent;
use publisher::{Deps, handler};
use serde_json::Value;
use xray_core::testing::MemorySink;
use xray_schema_check::fixtures::{FACADE, ROOT, SAMPLED, UNSAMPLED, named};
use xray_tests::{moto, schema, sdk};

fn plain() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk::config(&moto::shared().endpoint))
}

async fn queue() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let created = plain().create_queue().queue_name(format!("orders-{nanos:x}")).send().await.expect("queue");
    created.queue_url.expect("url")
}

fn invocation(trace_header: &str) -> LambdaEvent<OrderEvent> {
    let mut context = Context::default();
    context.xray_trace_id = Some(trace_header.to_owned());
    LambdaEvent::new(OrderEvent::placed("o-1", "c-42", "book", 2, 2999, "EUR"), context)
}

/// The one message in the queue: its body and `AWSTraceHeader`.
async fn received(queue_url: &str) -> (String, String) {
    let received = plain()
        .receive_message()
        .queue_url(queue_url)
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .expect("received");
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let header = messages[0].attributes().and_then(|a| a.get(&MessageSystemAttributeName::AwsTraceHeader));
    (messages[0].body().unwrap_or_default().to_owned(), header.cloned().unwrap_or_default())
}

#[tokio::test]
async fn each_queue_gets_the_event_with_its_own_send_call_as_the_parent() {
    let queues = [queue().await, queue().await];
    let deps = Deps::new(&sdk::config(&moto::shared().endpoint), queues.clone());
    let sink = MemorySink::new();

    let published = sink.scope(handler(&deps, invocation(SAMPLED))).await.expect("published");
    assert_eq!(published.message_ids.len(), 2);

    let docs = schema::documents(&sink);
    let publish = named(&docs, "publish_order_event");
    assert_eq!(publish["annotations"]["order_id"], "o-1");
    assert_eq!(publish["parent_id"], named(&docs, "## handler")["id"]);
    // Each send complete (what was open when the handler waited was sent `in_progress` too).
    let sends: Vec<&Value> = docs.iter().filter(|d| d["name"] == "SQS" && d["in_progress"] != true).collect();
    assert_eq!(sends.len(), 2, "{docs:#?}");
    for (queue_url, message_id) in queues.iter().zip(&published.message_ids) {
        let send = sends.iter().find(|s| s["aws"]["queue_url"] == queue_url.as_str()).expect("its send call");
        assert_eq!((&send["aws"]["operation"], &send["parent_id"]), (&"SendMessage".into(), &publish["id"]));
        let (body, header) = received(queue_url).await;
        assert_eq!(OrderEvent::parse(&body).expect("the event").order_id, "o-1");
        let id = send["id"].as_str().expect("id");
        assert_eq!(header, format!("Root={ROOT};Parent={id};Sampled=1"), "message {message_id}");
    }
    assert_eq!(named(&docs, "## handler")["parent_id"], FACADE);
}

#[tokio::test]
async fn an_unsampled_invocation_records_nothing_and_still_passes_the_decision_on() {
    let queue_url = queue().await;
    let deps = Deps::new(&sdk::config(&moto::shared().endpoint), [queue_url.clone()]);
    let sink = MemorySink::new();
    sink.scope(handler(&deps, invocation(UNSAMPLED))).await.expect("published");
    assert!(sink.documents().is_empty());
    let (_, header) = received(&queue_url).await;
    assert!(header.starts_with(&format!("Root={ROOT};Parent=")) && header.ends_with(";Sampled=0"), "{header}");
}

#[tokio::test]
async fn a_send_that_fails_fails_the_invocation_and_shows_as_a_fault() {
    let missing = format!("{}/123456789012/no-such-queue", moto::shared().endpoint);
    let deps = Deps::new(&sdk::config(&moto::shared().endpoint), [missing]);
    let sink = MemorySink::new();
    let error = sink.scope(handler(&deps, invocation(SAMPLED))).await.expect_err("no such queue");
    assert!(error.to_string().starts_with("SendMessage failed: "), "{error}");
    let docs = schema::documents(&sink);
    assert_eq!(named(&docs, "publish_order_event")["fault"], true);
    assert_eq!(named(&docs, "SQS")["error"], true, "the service refused the call: {docs:#?}");
}
