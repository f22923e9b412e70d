//! The handler called as `lambda_runtime` calls it for an SQS event source mapping, with events built on
//! `Context::default()` from messages really sent to and received from moto: each record is fulfilled in the trace
//! that published it, and only the failed ones are reported back.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::SqsEventObj;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use consumer::{Deps, handler};
use lambda_runtime::{Context, LambdaEvent};
use order_events::{OrderEvent, create_fulfilments_table, fulfilled_via, publish_order_event};
use serde_json::Value;
use xray_core::Trace;
use xray_core::testing::MemorySink;
use xray_schema_check::fixtures::SAMPLED;
use xray_tests::{event_source, moto, schema, sdk};

/// The consumer's own invocation, a trace of its own as Lambda starts one for each batch.
const CONSUMER: &str = "Root=1-6560e000-cccccccccccccccccccccccc;Parent=cccccccccccccccc;Sampled=1";
const CONSUMER_ROOT: &str = "1-6560e000-cccccccccccccccccccccccc";

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos:x}")
}

fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&sdk::config(&moto::shared().endpoint))
}

fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk::config(&moto::shared().endpoint))
}

/// A trace header of a sampled producer invocation of its own: trace `n`.
fn producer(n: u8) -> String {
    SAMPLED.replace("bd862e3fe1be46a994272793", &format!("{n:024x}"))
}

/// Publishes one event per `(header, order id)` in that trace, receives them all back as the event source mapping
/// does, and returns them with the publishers' documents.
async fn published(queue_url: &str, events: &[(String, &str)]) -> (Vec<Message>, Vec<Value>) {
    let sink = MemorySink::new();
    let (queues, client) = ([queue_url.to_owned()], sqs());
    for (header, order_id) in events {
        let event = OrderEvent::placed(order_id, "c-42", "book", 1, 1749, "EUR");
        let publishing = Trace::lambda(Some(header)).context().scope(publish_order_event(&client, &queues, &event));
        sink.scope(publishing).await.expect("published");
    }
    sqs().send_message().queue_url(queue_url).message_body(not_placed()).send().await.expect("sent");
    let mut messages = Vec::new();
    while messages.len() < events.len() + 1 {
        let received = sqs()
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("received");
        messages.extend(received.messages.unwrap_or_default());
    }
    (messages, sink.documents())
}

/// An order event this consumer does not process: it reads as an `OrderEvent`, as every record of the typed
/// event must, and `fulfil` refuses it.
fn not_placed() -> String {
    let mut event = OrderEvent::placed("o-x", "c-42", "book", 1, 1749, "EUR");
    event.kind = "OrderCancelled".to_owned();
    event.to_body()
}

/// The event Lambda delivers for `messages`, deserialized as `lambda_runtime` does for the handler's typed payload.
fn invocation(messages: &[Message], queue_url: &str) -> LambdaEvent<SqsEventObj<OrderEvent>> {
    let mut context = Context::default();
    context.xray_trace_id = Some(CONSUMER.to_owned());
    let json = serde_json::to_value(event_source::event(messages, queue_url)).expect("event");
    LambdaEvent::new(serde_json::from_value(json).expect("typed event"), context)
}

#[tokio::test]
async fn a_batch_from_three_traces_continues_each_and_reports_only_the_bad_record() {
    let queue_url = sqs().create_queue().queue_name(unique("orders")).send().await.expect("queue").queue_url;
    let queue_url = queue_url.expect("url");
    let table = unique("fulfilments");
    create_fulfilments_table(&dynamodb(), &table).await.expect("table");
    let events = [(producer(1), "o-1"), (producer(2), "o-2"), (producer(3), "o-3")];
    let (messages, publishers) = published(&queue_url, &events).await;
    let bad = messages.iter().find(|m| m.body() == Some(not_placed().as_str())).expect("the bad message");

    let deps = Deps::new(&sdk::config(&moto::shared().endpoint), &table);
    let sink = MemorySink::new();
    let response = sink.scope(handler(&deps, invocation(&messages, &queue_url))).await.expect("handled");

    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, [bad.message_id().expect("id")]);
    for (_, order_id) in &events {
        assert_eq!(fulfilled_via(&dynamodb(), &table, order_id).await.expect("query"), ["consumer"]);
    }
    let docs = schema::documents(&sink);
    for (header, order_id) in &events {
        let trace = &header[5..40];
        let send = publishers.iter().find(|d| d["trace_id"] == trace && d["name"] == "SQS").expect("send");
        let processing: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] == trace).collect();
        assert_eq!(processing.len(), 1, "one segment in {trace}: {docs:#?}");
        let segment = processing[0];
        assert_eq!((&segment["type"], &segment["parent_id"]), (&Value::Null, &send["id"]), "a segment: {segment:#}");
        assert_eq!(segment["subsegments"][1]["annotations"]["order_id"], *order_id);
        assert_eq!(segment["subsegments"][1]["subsegments"][0]["aws"]["operation"], "PutItem");
        assert!(segment.get("fault").is_none());
    }
    // The invocation's own trace: its handler, and the record without a trace header, failed there.
    let own: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] == CONSUMER_ROOT).collect();
    let names: Vec<&str> = own.iter().filter_map(|d| d["name"].as_str()).collect();
    assert!(names.iter().all(|n| ["## handler", "process", "fulfil"].contains(n)), "{names:?}");
    let unreadable = own.iter().find(|d| d["name"] == "process").expect("the bad record");
    assert_eq!(unreadable["fault"], true);
    let fulfil = own.iter().find(|d| d["name"] == "fulfil").expect("its fulfil step");
    assert_eq!((&fulfil["parent_id"], &fulfil["fault"]), (&unreadable["id"], &true.into()));
    assert_eq!(unreadable["annotations"]["message_id"], bad.message_id().expect("id"));
    let handler_doc = own.iter().rev().find(|d| d["name"] == "## handler").expect("handler");
    assert!(handler_doc.get("fault").is_none(), "a partial failure is an answer, not a fault: {handler_doc:#}");
}

#[tokio::test]
async fn a_failing_dynamodb_fails_every_record_in_its_own_trace() {
    let queue_url = sqs().create_queue().queue_name(unique("orders")).send().await.expect("queue").queue_url;
    let queue_url = queue_url.expect("url");
    let (mut messages, _) = published(&queue_url, &[(SAMPLED.to_owned(), "o-1")]).await;
    messages.retain(|m| m.body() != Some(not_placed().as_str()));
    let deps = Deps::new(&sdk::config(&moto::shared().endpoint), unique("missing"));
    let sink = MemorySink::new();
    let response = sink.scope(handler(&deps, invocation(&messages, &queue_url))).await.expect("handled");
    assert_eq!(response.batch_item_failures.len(), 1);
    let docs = schema::documents(&sink);
    let segment = docs.iter().find(|d| d["trace_id"] != CONSUMER_ROOT).expect("the message's segment");
    assert_eq!(segment["fault"], true);
    let fulfil = &segment["subsegments"][1];
    assert_eq!((&fulfil["name"], &fulfil["fault"]), (&"fulfil".into(), &true.into()));
    assert_eq!(fulfil["subsegments"][0]["error"], true);
}

/// An SQS event of one record per body, as Lambda delivers it (JSON).
fn sqs_event(bodies: &[&str]) -> String {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            serde_json::json!({
                "messageId": format!("m-{i}"), "body": body, "attributes": {"SentTimestamp": "1545082649183"},
                "messageAttributes": {}, "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
            })
        })
        .collect();
    serde_json::json!({ "Records": records }).to_string()
}

// The trade-off of the typed event (README, "The event is typed"): one body that is not an order event fails the
// deserialization of the whole batch, before the handler runs, so every record of it is delivered again, the good
// ones too; no partial batch failure can name it. Shown here as `lambda_runtime` deserializes the payload.
#[test]
fn one_body_that_is_not_an_order_event_fails_the_whole_typed_batch() {
    let order = OrderEvent::placed("o-1", "c-42", "book", 1, 1749, "EUR").to_body();
    let good = serde_json::from_str::<SqsEventObj<OrderEvent>>(&sqs_event(&[&order, &not_placed()]));
    assert_eq!(good.map(|event| event.records.len()).ok(), Some(2), "order events of any type deserialize");
    for bad in ["not json", r#"{"order":7}"#, ""] {
        let batch = sqs_event(&[&order, bad, &order]);
        assert!(serde_json::from_str::<SqsEventObj<OrderEvent>>(&batch).is_err(), "{bad:?}");
    }
}
