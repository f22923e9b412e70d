//! The handler called as `lambda_runtime` calls it for a schedule, with events built on `Context::default()`,
//! against a real moto server (SQS, DynamoDB): events published in other traces are fulfilled in those traces.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{Context, LambdaEvent};
use order_events::{OrderEvent, create_fulfilments_table, fulfilled_via, publish_order_event};
use poller::{Deps, Polled, handler};
use serde_json::Value;
use xray_core::Trace;
use xray_core::testing::MemorySink;
use xray_schema_check::fixtures::{ROOT, SAMPLED};
use xray_tests::{moto, schema, sdk};

/// The poller's own invocation: a trace of its own, as a scheduled Lambda gets.
const POLLER: &str = "Root=1-6560e000-cccccccccccccccccccccccc;Parent=cccccccccccccccc;Sampled=1";
const POLLER_ROOT: &str = "1-6560e000-cccccccccccccccccccccccc";
/// Another producer's invocation, not sampled.
const UNSAMPLED_PRODUCER: &str = "Root=1-6560e000-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=aaaaaaaaaaaaaaaa;Sampled=0";

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos:x}")
}

fn config() -> aws_config::SdkConfig {
    sdk::config(&moto::shared().endpoint)
}

/// A queue and a fulfilments table (unless `table` is false) of their own.
async fn setup(table: bool) -> (String, String) {
    let sqs = aws_sdk_sqs::Client::new(&config());
    let queue = sqs.create_queue().queue_name(unique("orders")).send().await.expect("queue").queue_url;
    let name = unique("fulfilments");
    if table {
        create_fulfilments_table(&aws_sdk_dynamodb::Client::new(&config()), &name).await.expect("table");
    }
    (queue.expect("url"), name)
}

/// Publishes `order_id`'s event in the trace of `header`, through a client without the X-Ray interceptor, and
/// returns the documents of that invocation.
async fn publish(queue_url: &str, header: &str, order_id: &str) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(&config());
    let event = OrderEvent::placed(order_id, "c-42", "book", 2, 2999, "EUR");
    let queues = [queue_url.to_owned()];
    let sink = MemorySink::new();
    let publishing = Trace::lambda(Some(header)).context().scope(publish_order_event(&sqs, &queues, &event));
    sink.scope(publishing).await.expect("published");
    sink.documents()
}

/// One scheduled run of the poller, in a trace of its own.
async fn run(deps: &Deps, sink: &MemorySink) -> Polled {
    let mut context = Context::default();
    context.xray_trace_id = Some(POLLER.to_owned());
    let mut scheduled = EventBridgeEvent::default();
    scheduled.detail_type = "Scheduled Event".to_owned();
    scheduled.source = "aws.events".to_owned();
    sink.scope(handler(deps, LambdaEvent::new(scheduled, context))).await.expect("polled")
}

/// The complete documents of `trace` named `name`.
fn named<'a>(docs: &'a [Value], trace: &str, name: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["trace_id"] == trace && d["name"] == name && d["in_progress"] != true).collect()
}

fn children(entity: &Value) -> Vec<&str> {
    entity["subsegments"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect()
}

#[tokio::test]
async fn each_event_is_fulfilled_in_the_trace_that_published_it_and_a_bad_one_stays_in_the_queue() {
    let (queue_url, table) = setup(true).await;
    let queue_name = queue_url.rsplit('/').next().expect("name").to_owned();
    let published = publish(&queue_url, SAMPLED, "o-sampled").await;
    publish(&queue_url, UNSAMPLED_PRODUCER, "o-unsampled").await;
    let plain = aws_sdk_sqs::Client::new(&config());
    plain.send_message().queue_url(&queue_url).message_body("not an event").send().await.expect("sent");

    let deps = Deps::new(&config(), &queue_url, &table);
    let sink = MemorySink::new();
    assert_eq!(run(&deps, &sink).await, Polled { received: 3, fulfilled: 2, failed: 1 });

    let dynamodb = aws_sdk_dynamodb::Client::new(&config());
    for order_id in ["o-sampled", "o-unsampled"] {
        assert_eq!(fulfilled_via(&dynamodb, &table, order_id).await.expect("query"), ["poller"], "{order_id}");
    }
    let docs = schema::documents(&sink);
    // The sampled producer's trace: its send call -> the processing -> wait, fulfil -> DynamoDB PutItem.
    let send = published.iter().find(|d| d["name"] == "SQS").expect("the send call");
    let processing = named(&docs, ROOT, "process");
    assert_eq!(processing.len(), 1, "{docs:#?}");
    let processing = processing[0];
    assert_eq!(processing["parent_id"], send["id"]);
    assert_eq!(processing["annotations"]["queue"], queue_name.as_str());
    assert_eq!(children(processing), [format!("{queue_name} wait").as_str(), "fulfil"]);
    let fulfil = &processing["subsegments"][1];
    assert_eq!(fulfil["annotations"]["order_id"], "o-sampled");
    assert_eq!(children(fulfil), ["DynamoDB"]);
    assert_eq!(fulfil["subsegments"][0]["aws"]["operation"], "PutItem");
    assert_eq!(fulfil["subsegments"][0]["aws"]["table_name"], table.as_str());
    // The unsampled producer's: nothing.
    assert!(docs.iter().all(|d| d["trace_id"] == ROOT || d["trace_id"] == POLLER_ROOT), "{docs:#?}");
    // The poller's own trace: its receives and the delete, and the message that had no trace header.
    let own: Vec<&str> =
        docs.iter().filter(|d| d["trace_id"] == POLLER_ROOT).filter_map(|d| d["name"].as_str()).collect();
    assert!(own.contains(&"## handler"), "{own:?}");
    // Each call complete (what was open when the handler waited was sent `in_progress` too).
    let calls: Vec<&Value> = docs
        .iter()
        .filter(|d| d["trace_id"] == POLLER_ROOT && d["name"] == "SQS" && d["in_progress"] != true)
        .collect();
    let operations: Vec<&str> = calls.iter().filter_map(|d| d["aws"]["operation"].as_str()).collect();
    assert_eq!(operations, ["ReceiveMessage", "DeleteMessageBatch", "ReceiveMessage"], "{calls:#?}");
    assert_eq!(calls[0]["aws"]["message_count"], 3);
    let unreadable = named(&docs, POLLER_ROOT, "process");
    assert_eq!(unreadable.len(), 1, "{docs:#?}");
    assert_eq!(unreadable[0]["fault"], true);
    let cause = &unreadable[0]["cause"]["exceptions"][0]["message"];
    assert!(cause.as_str().is_some_and(|m| m.starts_with("unreadable message: not an order event")), "{cause}");

    // The bad message is still there, for the next run (after its visibility timeout) or the dead-letter queue.
    let attributes = plain
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes");
    let in_flight = attributes.attributes().and_then(|a| a.values().next()).cloned();
    assert_eq!(in_flight.as_deref(), Some("1"));
}

#[tokio::test]
async fn a_failing_dynamodb_shows_as_a_fault_of_that_message_in_the_publishers_trace() {
    let (queue_url, table) = setup(false).await;
    publish(&queue_url, SAMPLED, "o-1").await;
    let deps = Deps::new(&config(), &queue_url, &table);
    let sink = MemorySink::new();
    assert_eq!(run(&deps, &sink).await, Polled { received: 1, fulfilled: 0, failed: 1 });

    let docs = schema::documents(&sink);
    let processing = named(&docs, ROOT, "process");
    assert_eq!(processing.len(), 1, "{docs:#?}");
    assert_eq!(processing[0]["fault"], true);
    let fulfil = &processing[0]["subsegments"][1];
    assert_eq!((&fulfil["name"], &fulfil["fault"]), (&"fulfil".into(), &true.into()));
    let put = &fulfil["subsegments"][0];
    assert_eq!((&put["aws"]["operation"], &put["error"]), (&"PutItem".into(), &true.into()));
    // The poller's own invocation went well: it read the queue and left the message there.
    let handler = docs.iter().rev().find(|d| d["name"] == "## handler").expect("handler");
    assert!(handler.get("fault").is_none(), "{handler:#}");
}
