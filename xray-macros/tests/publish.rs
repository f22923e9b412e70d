//! `#[traced_publish]` behaviour: the documents captured by an in-memory sink and the requests captured on the wire
//! (an SQS client without the X-Ray interceptor whose requests never leave the process), then each message read
//! back by `#[traced_subscribe]`.
#![allow(missing_docs)]

mod common;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry};
use common::wire::{Request, Wire};
use common::{FACADE, ROOT, SAMPLED, UNSAMPLED, documents, names};
use futures::future::join_all;
use serde_json::{Value, json};
use xray_core::aws::XRayInterceptor;
use xray_core::sqs::{Carrier, TRACE_ATTRIBUTE, unwrap_body};
use xray_core::testing::MemorySink;
use xray_core::{Trace, traced_publish, traced_subscribe};

const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/orders";

type Sent = Result<(), SdkError<SendMessageError>>;

#[traced_publish]
async fn by_system_attribute(sqs: &Client, body: &str) -> Sent {
    sqs.send_message().queue_url(QUEUE_URL).message_body(body).send().await?;
    Ok(())
}

#[traced_publish(carrier = "message_attribute")]
async fn by_message_attribute(sqs: &Client, body: &str) -> Sent {
    sqs.send_message().queue_url(QUEUE_URL).message_body(body).send().await?;
    Ok(())
}

#[traced_publish(carrier = "body", name = "publish order")]
async fn by_body(sqs: &Client, body: &str) -> Sent {
    sqs.send_message().queue_url(QUEUE_URL).message_body(body).send().await?;
    Ok(())
}

#[traced_subscribe(queue = QUEUE_URL)]
async fn consume(message: Message) -> Option<String> {
    message.body
}

/// Runs `future` inside a Lambda invocation traced with `header`, with a new sink.
async fn invoked<F: std::future::Future>(header: &str, future: F) -> (F::Output, Vec<Value>) {
    let sink = MemorySink::new();
    let out = sink.scope(async { Trace::lambda(Some(header)).context().scope(future).await }).await;
    (out, documents(&sink))
}

/// The message a consumer would receive for a captured `SendMessage` request (or batch entry).
fn received(entry: &Value) -> Message {
    let mut message = Message::builder()
        .message_id("m-1")
        .body(entry["MessageBody"].as_str().expect("body"))
        .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000000");
    if let Some(header) = entry.pointer("/MessageSystemAttributes/AWSTraceHeader/StringValue") {
        message = message.attributes(MessageSystemAttributeName::AwsTraceHeader, header.as_str().expect("header"));
    }
    if let Some(header) = entry.pointer("/MessageAttributes/AWSTraceHeader/StringValue") {
        let value = MessageAttributeValue::builder().data_type("String").string_value(header.as_str().expect("header"));
        message = message.message_attributes(TRACE_ATTRIBUTE, value.build().expect("attribute"));
    }
    message.build()
}

/// Where a captured message carries its trace header, and the header.
fn carried(entry: &Value) -> Vec<(Carrier, String)> {
    let mut found = Vec::new();
    if let Some(header) = entry.pointer("/MessageSystemAttributes/AWSTraceHeader/StringValue") {
        found.push((Carrier::SystemAttribute, header.as_str().expect("header").to_owned()));
    }
    if let Some(header) = entry.pointer("/MessageAttributes/AWSTraceHeader/StringValue") {
        found.push((Carrier::MessageAttribute, header.as_str().expect("header").to_owned()));
    }
    if let Some(envelope) = entry["MessageBody"].as_str().and_then(unwrap_body) {
        found.push((Carrier::Body, envelope.trace_header.into_owned()));
    }
    found
}

fn only(requests: &[Request]) -> &Request {
    assert_eq!(requests.len(), 1, "{requests:#?}");
    &requests[0]
}

#[tokio::test]
async fn each_carrier_puts_the_send_calls_subsegment_on_the_message_and_the_consumer_continues_there() {
    for carrier in Carrier::ALL {
        let wire = Wire::default();
        let sqs = wire.sqs();
        let publish = match carrier {
            Carrier::SystemAttribute => by_system_attribute(&sqs, "order 7").await,
            Carrier::MessageAttribute => by_message_attribute(&sqs, "order 7").await,
            Carrier::Body => by_body(&sqs, "order 7").await,
        };
        // Outside any trace the send goes out as written; inside one:
        assert!(publish.is_ok(), "{carrier}");
        let (sent, docs) = invoked(SAMPLED, async {
            match carrier {
                Carrier::SystemAttribute => by_system_attribute(&sqs, "order 7").await,
                Carrier::MessageAttribute => by_message_attribute(&sqs, "order 7").await,
                Carrier::Body => by_body(&sqs, "order 7").await,
            }
        })
        .await;
        sent.expect("sent");

        // The send call is a subsegment of the function's, recorded once, by the per-call interceptor.
        let function = match carrier {
            Carrier::SystemAttribute => "by_system_attribute",
            Carrier::MessageAttribute => "by_message_attribute",
            Carrier::Body => "publish order",
        };
        assert_eq!(names(&docs), ["SQS", function], "{carrier}");
        let (call, outer) = (&docs[0], &docs[1]);
        assert_eq!((&outer["parent_id"], &call["parent_id"]), (&json!(FACADE), &outer["id"]));
        assert_eq!(call["aws"]["operation"], "SendMessage");
        let call_id = call["id"].as_str().expect("id");
        let header = format!("Root={ROOT};Parent={call_id};Sampled=1");

        // On the wire: the call's header as HTTP header and, by the carrier, on the message, and nowhere else.
        let requests = wire.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(carried(&requests[0].body), Vec::new(), "outside a trace nothing is carried");
        let request = &requests[1];
        assert_eq!(request.trace_header.as_deref(), Some(header.as_str()));
        assert_eq!(carried(&request.body), [(carrier, header.clone())], "{carrier}");

        // Read back: the consumer's segment continues the trace under the send call, and sees the body as sent.
        let sink = MemorySink::new();
        let body = sink.scope(consume(received(&request.body))).await;
        assert_eq!(body.as_deref(), Some("order 7"), "{carrier}");
        let consumed = documents(&sink);
        assert_eq!((&consumed[0]["trace_id"], &consumed[0]["parent_id"]), (&json!(ROOT), &json!(call_id)));
    }
}

#[traced_publish]
async fn publish_all(sqs: &Client, bodies: &[&str]) -> Vec<bool> {
    let entries = bodies.iter().enumerate().map(|(i, body)| {
        SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(*body).build().expect("entry")
    });
    let batch = sqs.send_message_batch().queue_url(QUEUE_URL).set_entries(Some(entries.collect())).send().await;
    // One send per body, concurrently: closures are rewritten too.
    let each = join_all(bodies.iter().map(|body| sqs.send_message().queue_url(QUEUE_URL).message_body(*body).send()));
    let mut sent = vec![batch.is_ok()];
    sent.extend(each.await.iter().map(Result::is_ok));
    // Not a publishing call: not recorded, as the client has no interceptor of its own.
    let _ = sqs.receive_message().queue_url(QUEUE_URL).send().await;
    sent
}

#[tokio::test]
async fn batch_entries_and_sends_in_closures_each_carry_their_calls_subsegment() {
    let wire = Wire::default();
    let (sent, docs) = invoked(SAMPLED, publish_all(&wire.sqs(), &["a", "b"])).await;

    assert_eq!(sent, [true, true, true]);
    assert_eq!(names(&docs), ["SQS", "SQS", "SQS", "publish_all"]);
    let operations: Vec<&Value> = docs[..3].iter().map(|d| &d["aws"]["operation"]).collect();
    assert_eq!(operations, [&json!("SendMessageBatch"), &json!("SendMessage"), &json!("SendMessage")]);
    assert!(docs[..3].iter().all(|d| d["parent_id"] == docs[3]["id"]));
    let requests = wire.requests();
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_deref().unwrap_or_default()).collect();
    assert_eq!(
        targets,
        ["AmazonSQS.SendMessageBatch", "AmazonSQS.SendMessage", "AmazonSQS.SendMessage", "AmazonSQS.ReceiveMessage"]
    );
    let header = |doc: &Value| format!("Root={ROOT};Parent={};Sampled=1", doc["id"].as_str().expect("id"));
    for entry in requests[0].body["Entries"].as_array().expect("entries") {
        assert_eq!(carried(entry), [(Carrier::SystemAttribute, header(&docs[0]))]);
    }
    // Which send got which subsegment depends on the order they ran in; each got one of its own.
    let mut singles: Vec<String> = requests[1..3]
        .iter()
        .flat_map(|r| carried(&r.body))
        .map(|(carrier, header)| {
            assert_eq!(carrier, Carrier::SystemAttribute);
            header
        })
        .collect();
    singles.sort();
    let mut expected = vec![header(&docs[1]), header(&docs[2])];
    expected.sort();
    assert_eq!(singles, expected);
}

#[tokio::test]
async fn an_unsampled_publish_records_nothing_and_its_message_says_sampled_0() {
    let wire = Wire::default();
    let (sent, docs) = invoked(UNSAMPLED, by_body(&wire.sqs(), "x")).await;

    sent.expect("sent");
    assert_eq!(docs, Vec::<Value>::new());
    let request = only(&wire.requests()).clone();
    assert_eq!(carried(&request.body), [(Carrier::Body, UNSAMPLED.to_owned())]);
}

#[tokio::test]
async fn with_the_clients_interceptor_too_the_call_is_recorded_once_and_the_functions_carrier_wins() {
    let wire = Wire::default();
    let config = wire.sqs().config().to_builder().interceptor(XRayInterceptor::new()).build();
    let sqs = Client::from_conf(config);
    let (sent, docs) = invoked(SAMPLED, by_body(&sqs, "x")).await;

    sent.expect("sent");
    assert_eq!(names(&docs), ["SQS", "publish order"]);
    let header = format!("Root={ROOT};Parent={};Sampled=1", docs[0]["id"].as_str().expect("id"));
    assert_eq!(carried(&only(&wire.requests()).body), [(Carrier::Body, header)]);
}

// Regression: `#[traced_publish(carrier = $c)]` inside `macro_rules!` with `$c:literal` was refused ("`carrier`
// expects a string literal"): the fragment reaches the attribute as an invisible group around the literal. Every
// string option (and `err`, `crate`) written through a fragment must read as written.
macro_rules! publisher {
    ($fn_name:ident, $carrier:literal, $name:literal, $err:literal, $krate:path) => {
        #[traced_publish(carrier = $carrier, name = $name, namespace = "remote", err = $err, crate = $krate)]
        async fn $fn_name(sqs: &Client, body: &str) -> Sent {
            sqs.send_message().queue_url(QUEUE_URL).message_body(body).send().await?;
            Ok(())
        }
    };
}

publisher!(by_body_from_a_macro, "body", "publish from a macro", true, ::xray_core);

#[tokio::test]
async fn options_given_as_macro_rules_fragments_are_read_as_written() {
    let wire = Wire::default();
    let sqs = wire.sqs();
    let (sent, docs) = invoked(SAMPLED, by_body_from_a_macro(&sqs, "order 7")).await;
    sent.expect("sent");
    assert_eq!(names(&docs), ["SQS", "publish from a macro"]);
    assert_eq!(docs[1]["namespace"], "remote");
    let request = &wire.requests()[0];
    let header = format!("Root={ROOT};Parent={};Sampled=1", docs[0]["id"].as_str().expect("id"));
    assert_eq!(carried(&request.body), [(Carrier::Body, header)]);
}
