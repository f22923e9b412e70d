//! `#[traced_subscribe]` behaviour: the exact documents captured by an in-memory sink for each mode, carrier and
//! message type, for messages without a usable header, and for a Lambda batch processed concurrently.
#![allow(missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use common::{FACADE, ROOT, SAMPLED, documents, exception, named, names};
use futures::future::join_all;
use lambda_runtime::{Context as LambdaContext, Error, LambdaEvent};
use serde_json::{Value, json};
use xray_core::diag::{self, DiagKind};
use xray_core::sqs::{Carrier, SENT_TIMESTAMP, TRACE_ATTRIBUTE, batch_response, wrap_body};
use xray_core::testing::MemorySink;
use xray_core::{Context, Trace, traced, traced_handler, traced_subscribe};

/// The producer's send call, as the message names it.
const PRODUCER_ROOT: &str = "1-6560e000-aaaaaaaaaaaaaaaaaaaaaaaa";
const PRODUCER_PARENT: &str = "1111111111111111";
const PRODUCER: &str = "Root=1-6560e000-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1;Lineage=a87bd80c:1";
const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/orders";
const ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";
const BODY: &str = r#"{"order":7}"#;

#[derive(Debug, PartialEq)]
struct OrderError(&'static str);

impl std::fmt::Display for OrderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for OrderError {}

fn now_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    u64::try_from(now.as_millis()).expect("fits")
}

/// A message of an SQS event, sent 1.5 s ago, with `header` put on it by `carrier`.
fn event(id: &str, body: &str, header: Option<(Carrier, &str)>) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_owned());
    message.event_source_arn = Some(ARN.to_owned());
    message.attributes.insert(SENT_TIMESTAMP.to_owned(), (now_ms() - 1500).to_string());
    match header {
        Some((Carrier::SystemAttribute, header)) => {
            message.attributes.insert(TRACE_ATTRIBUTE.to_owned(), header.to_owned());
        }
        Some((Carrier::MessageAttribute, header)) => {
            let mut attribute = SqsMessageAttribute::default();
            attribute.data_type = Some("String".to_owned());
            attribute.string_value = Some(header.to_owned());
            message.message_attributes.insert(TRACE_ATTRIBUTE.to_owned(), attribute);
        }
        Some((Carrier::Body, header)) => message.body = Some(wrap_body(header, body)),
        None => {}
    }
    message
}

/// The same message as `ReceiveMessage` returns it.
fn sdk(id: &str, body: &str, header: Option<(Carrier, &str)>) -> Message {
    let sent = (now_ms() - 1500).to_string();
    let message =
        Message::builder().message_id(id).body(body).attributes(MessageSystemAttributeName::SentTimestamp, sent);
    match header {
        Some((Carrier::SystemAttribute, header)) => {
            message.attributes(MessageSystemAttributeName::AwsTraceHeader, header).build()
        }
        Some((Carrier::MessageAttribute, header)) => {
            let value = MessageAttributeValue::builder().data_type("String").string_value(header).build();
            message.message_attributes(TRACE_ATTRIBUTE, value.expect("attribute")).build()
        }
        Some((Carrier::Body, header)) => message.body(wrap_body(header, body)).build(),
        None => message.build(),
    }
}

/// What processing saw: the body, and the trace header a call it makes would carry.
type Seen = (String, String);

/// What a consumer returned, and the documents sent.
type Run = (Result<Seen, OrderError>, Vec<Value>);

/// A downstream call: the header it would send.
#[traced]
async fn store() -> String {
    tokio::task::yield_now().await;
    Context::current().map(|c| c.trace_header_value()).unwrap_or_default()
}

#[traced]
fn store_sync() -> String {
    Context::current().map(|c| c.trace_header_value()).unwrap_or_default()
}

fn check(body: Option<&str>) -> Result<String, OrderError> {
    match body {
        Some("poison") => Err(OrderError("cannot parse the order")),
        Some(body) => Ok(body.to_owned()),
        None => Err(OrderError("no body")),
    }
}

#[traced_subscribe]
async fn handle_order(message: SqsMessage) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store().await))
}

#[traced_subscribe]
async fn handle_order_ref(message: &SqsMessage) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store().await))
}

#[traced_subscribe(queue = QUEUE_URL)]
async fn poll_order(message: Message) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store().await))
}

#[traced_subscribe(queue = QUEUE_URL)]
async fn poll_order_ref(message: &Message) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store().await))
}

#[traced_subscribe]
fn handle_sync(message: SqsMessage) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store_sync()))
}

#[traced_subscribe(queue = QUEUE_URL)]
fn poll_sync_ref(message: &Message) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store_sync()))
}

#[traced_subscribe(mode = "link", name = "process order")]
async fn link_order(message: &SqsMessage) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store().await))
}

#[traced_subscribe(err = false)]
async fn handle_quietly(message: &SqsMessage) -> Result<Seen, OrderError> {
    let body = check(message.body.as_deref())?;
    Ok((body, store().await))
}

/// Runs `future` (a poller: no invocation around it) with a new sink.
async fn polled<F: Future>(future: F) -> (F::Output, Vec<Value>) {
    let sink = MemorySink::new();
    let out = sink.scope(future).await;
    (out, documents(&sink))
}

/// Runs `future` inside a sampled consumer invocation with a new sink.
async fn in_invocation<F: Future>(future: F) -> (F::Output, Vec<Value>) {
    let sink = MemorySink::new();
    let out = sink.scope(async { Trace::lambda(Some(SAMPLED)).context().scope(future).await }).await;
    // What was open when the code waited was sent `in_progress` too; the complete documents are what is checked.
    let complete = documents(&sink).into_iter().filter(|d| d["in_progress"] != true).collect();
    (out, complete)
}

/// The segment's nested subsegments by name, each with its id and times removed after checking they lie within
/// the segment.
fn children(segment: &Value) -> BTreeMap<String, Value> {
    let (start, end) = (segment["start_time"].as_f64().expect("start"), segment["end_time"].as_f64().expect("end"));
    let mut out = BTreeMap::new();
    for child in segment["subsegments"].as_array().expect("subsegments") {
        let mut child = child.clone();
        let map = child.as_object_mut().expect("object");
        let (s, e) = (map.remove("start_time"), map.remove("end_time"));
        let (s, e) = (s.and_then(|v| v.as_f64()).expect("start"), e.and_then(|v| v.as_f64()).expect("end"));
        assert!(start <= s && s <= e && e <= end, "{child} outside {segment}");
        map.remove("id");
        out.insert(map["name"].as_str().expect("name").to_owned(), child);
    }
    out
}

#[tokio::test]
async fn continue_mode_is_a_segment_in_the_producers_trace_with_the_wait_and_the_work_under_it() {
    let message = event("m-1", BODY, Some((Carrier::SystemAttribute, PRODUCER)));
    let (seen, docs) = polled(handle_order(message)).await;

    let (body, header) = seen.expect("processed");
    assert_eq!(body, BODY);
    assert_eq!(docs.len(), 1, "one segment holding its subsegments: {docs:#?}");
    let segment = &docs[0];
    let store_id = named(segment["subsegments"].as_array().expect("subsegments"), "store")["id"].as_str().expect("id");
    // Calls made while processing carry the producer's Root and Lineage, with their own subsegment as Parent.
    assert_eq!(header, format!("Root={PRODUCER_ROOT};Parent={store_id};Sampled=1;Lineage=a87bd80c:1"));
    let start = segment["start_time"].as_f64().expect("start");
    let sent = (now_ms() - 1500) as f64 / 1000.0;
    assert!((start - sent).abs() < 0.5, "the segment starts when the message was sent: {start} vs {sent}");
    let mut exact = segment.clone();
    for key in ["id", "start_time", "end_time", "subsegments"] {
        exact.as_object_mut().expect("object").remove(key);
    }
    // Named after the service: the function's name, as neither POWERTOOLS_SERVICE_NAME nor a Lambda function name
    // is set here (`handler_env.rs` sets one).
    assert_eq!(
        exact,
        json!({
            "name": "handle_order", "trace_id": PRODUCER_ROOT, "parent_id": PRODUCER_PARENT,
            "annotations": {"message_id": "m-1", "queue": "orders"},
        })
    );
    assert_eq!(
        children(segment),
        BTreeMap::from([
            ("orders wait".to_owned(), json!({"name": "orders wait"})),
            ("store".to_owned(), json!({"name": "store"})),
        ])
    );
}

#[tokio::test]
async fn link_mode_is_a_subsegment_of_the_consumers_trace_annotated_with_the_producers_trace_id() {
    let message = event("m-1", BODY, Some((Carrier::SystemAttribute, PRODUCER)));
    let (seen, docs) = in_invocation(link_order(&message)).await;

    let (_, header) = seen.expect("processed");
    assert_eq!(names(&docs), ["store", "process order"]);
    let processing = common::exact(&docs[1]);
    assert_eq!(
        processing,
        json!({
            "name": "process order", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {
                "linked_trace_id": PRODUCER_ROOT, "linked_trace_sampled": true, "message_id": "m-1", "queue": "orders",
            },
        })
    );
    assert_eq!(docs[0]["parent_id"], docs[1]["id"]);
    let store_id = docs[0]["id"].as_str().expect("id");
    assert_eq!(header, format!("Root={ROOT};Parent={store_id};Sampled=1"));
}

#[tokio::test]
async fn every_carrier_is_read_from_either_message_type_and_the_function_sees_the_original_body() {
    for carrier in Carrier::ALL {
        let header = Some((carrier, PRODUCER));
        let event = event("m-1", BODY, header);
        let sdk = sdk("m-1", BODY, header);
        let runs: Vec<(&str, Run)> = vec![
            ("event by value", polled(handle_order(event.clone())).await),
            ("event by reference", polled(handle_order_ref(&event)).await),
            ("sdk by value", polled(poll_order(sdk.clone())).await),
            ("sdk by reference", polled(poll_order_ref(&sdk)).await),
            ("sync event by value", polled(async { handle_sync(event.clone()) }).await),
            ("sync sdk by reference", polled(async { poll_sync_ref(&sdk) }).await),
        ];
        for (what, (seen, docs)) in runs {
            let (body, header) = seen.unwrap_or_else(|e| panic!("{carrier} {what}: {e}"));
            assert_eq!(body, BODY, "{carrier} {what}");
            assert!(header.starts_with(&format!("Root={PRODUCER_ROOT};")), "{carrier} {what}: {header}");
            assert_eq!(docs.len(), 1, "{carrier} {what}: {docs:#?}");
            assert_eq!((&docs[0]["trace_id"], &docs[0]["parent_id"]), (&json!(PRODUCER_ROOT), &json!(PRODUCER_PARENT)));
            assert_eq!(docs[0]["annotations"], json!({"message_id": "m-1", "queue": "orders"}), "{carrier} {what}");
            let store = if what.starts_with("sync") { "store_sync" } else { "store" };
            assert!(children(&docs[0]).contains_key(store), "{carrier} {what}: {docs:#?}");
        }
        // The caller's own message keeps its envelope: only the function's copy is unwrapped.
        assert_eq!(event.body.as_deref() == Some(BODY), carrier != Carrier::Body);
    }
}

#[tokio::test]
async fn a_message_without_a_usable_header_is_processed_in_the_consumers_trace() {
    let no_header = event("m-1", BODY, None);
    let invalid = event("m-2", BODY, Some((Carrier::SystemAttribute, "Root=garbage;Parent=1;Sampled=1")));
    for (message, diagnosed) in [(no_header, false), (invalid, true)] {
        let before = diag::count(DiagKind::MalformedHeader);
        let (seen, docs) = in_invocation(handle_order_ref(&message)).await;

        assert_eq!(seen.expect("processed").0, BODY);
        assert_eq!(names(&docs), ["store", "handle_order_ref"]);
        let processing = common::exact(&docs[1]);
        let id = message.message_id.as_deref().expect("id");
        assert_eq!(
            processing,
            json!({
                "name": "handle_order_ref", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
                "annotations": {"message_id": id, "queue": "orders"},
            })
        );
        assert_eq!(diag::count(DiagKind::MalformedHeader) > before, diagnosed, "{id}");
    }
}

#[tokio::test]
async fn outside_any_trace_a_message_without_a_header_is_processed_untraced() {
    let (seen, docs) = polled(poll_order(sdk("m-1", BODY, None))).await;
    assert_eq!(seen.expect("processed"), (BODY.to_owned(), String::new()));
    assert_eq!(docs, Vec::<Value>::new());
}

#[tokio::test]
async fn an_envelope_that_is_not_ours_is_the_body_as_it_arrived() {
    let others = [
        // Ours has `xray_envelope` first: this one is somebody else's JSON.
        format!(r#"{{"trace_header":"{PRODUCER}","body":"x","xray_envelope":1}}"#),
        // A version this crate does not know: a diagnostic, and the body as it is.
        format!(r#"{{"xray_envelope":2,"trace_header":"{PRODUCER}","body":"x"}}"#),
    ];
    for body in others {
        let message = event("m-1", &body, None);
        let (seen, docs) = in_invocation(handle_order(message)).await;
        assert_eq!(seen.expect("processed").0, body);
        assert_eq!(named(&docs, "handle_order")["trace_id"], ROOT, "processed in the consumer's trace");
    }
}

#[tokio::test]
async fn an_err_marks_the_processing_fault_with_its_cause_and_is_returned_unchanged() {
    let message = event("m-1", "poison", Some((Carrier::SystemAttribute, PRODUCER)));
    let (seen, docs) = polled(handle_order_ref(&message)).await;
    assert_eq!(seen, Err(OrderError("cannot parse the order")));
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(exception(&docs[0]), ("subscribe::OrderError", "cannot parse the order"));

    let (seen, docs) = polled(handle_quietly(&message)).await;
    assert!(seen.is_err());
    assert!(docs[0].get("fault").is_none() && docs[0].get("cause").is_none(), "err = false: {:#}", docs[0]);
}

#[traced_subscribe]
fn panics(message: &SqsMessage) -> usize {
    assert!(message.body.as_deref() != Some("poison"), "poisoned message");
    1
}

#[traced_subscribe]
async fn panics_async(message: SqsMessage) -> usize {
    tokio::task::yield_now().await;
    assert!(message.body.as_deref() != Some("poison"), "poisoned message");
    1
}

#[tokio::test]
async fn a_panic_is_recorded_on_the_processing_then_resumed() {
    let message = event("m-1", "poison", Some((Carrier::SystemAttribute, PRODUCER)));
    let sink = MemorySink::new();
    let caught = sink.run(|| catch_unwind(AssertUnwindSafe(|| panics(&message))));
    assert!(caught.is_err(), "the panic goes on");
    let caught = sink.scope(futures::FutureExt::catch_unwind(AssertUnwindSafe(panics_async(message.clone())))).await;
    assert!(caught.is_err(), "the panic goes on");
    let docs = documents(&sink);
    assert_eq!(docs.len(), 2, "{docs:#?}");
    for doc in &docs {
        assert_eq!((&doc["trace_id"], &doc["fault"]), (&json!(PRODUCER_ROOT), &json!(true)));
        assert_eq!(exception(doc), ("panic", "poisoned message"));
    }
}

/// A consumer Lambda: each record of the event processed concurrently, each in its own context; the calls' headers
/// kept to check what each message's processing passes on.
#[derive(Default)]
struct Consumer {
    headers: Mutex<BTreeMap<String, String>>,
}

impl Consumer {
    #[traced_handler]
    async fn consume(&self, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
        let results = join_all(event.payload.records.iter().map(|message| async move {
            let result = handle_order_ref(message).await;
            (message.message_id.clone(), result)
        }))
        .await;
        let mut headers = self.headers.lock().expect("lock");
        for (id, result) in &results {
            if let (Some(id), Ok((_, header))) = (id, result) {
                headers.insert(id.clone(), header.clone());
            }
        }
        Ok(batch_response(results))
    }
}

#[tokio::test]
async fn a_batch_of_ten_messages_from_three_traces_gives_each_message_its_own_segment_in_its_own_trace() {
    // Three producer traces: A and C sampled, B not; each message sent by its own call (its own Parent). A's third
    // message is poisoned.
    let producers = [("a", "1-6560e000-aaaaaaaaaaaaaaaaaaaaaaaa", 1), ("b", "1-6560e000-bbbbbbbbbbbbbbbbbbbbbbbb", 0)];
    let producers = [producers[0], producers[1], ("c", "1-6560e000-cccccccccccccccccccccccc", 1)];
    let mut records = Vec::new();
    let mut expected = BTreeMap::new();
    for i in 0..10 {
        let (name, root, sampled) = producers[i % 3];
        let id = format!("{name}{i}");
        let parent = format!("{:016x}", i + 1);
        let header = format!("Root={root};Parent={parent};Sampled={sampled}");
        let body = if i == 3 { "poison" } else { BODY };
        // Either carrier a Lambda consumer sees.
        let carrier = if i % 2 == 0 { Carrier::SystemAttribute } else { Carrier::Body };
        records.push(event(&id, body, Some((carrier, &header))));
        expected.insert(id, (root, parent, sampled == 1));
    }
    let mut sqs_event = SqsEvent::default();
    sqs_event.records = records;
    let mut context = LambdaContext::default();
    context.xray_trace_id = Some(SAMPLED.to_owned());

    let consumer = Consumer::default();
    let (response, docs) = polled(consumer.consume(LambdaEvent::new(sqs_event, context))).await;

    let response = response.expect("handled");
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["a3"]);
    // The invocation's own trace: its handler subsegment, in progress then complete, and nothing else.
    let handler: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] == ROOT).collect();
    assert_eq!(handler.len(), 2, "{docs:#?}");
    assert!(handler.iter().all(|d| d["name"] == "## consume" && d.get("fault").is_none()));
    // One segment per sampled message, in its producer's trace, under its own send call.
    let segments: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] != ROOT).collect();
    let ids: BTreeSet<&str> =
        segments.iter().map(|d| d["annotations"]["message_id"].as_str().expect("message id")).collect();
    let sampled: BTreeSet<&str> = expected.iter().filter(|(_, e)| e.2).map(|(id, _)| id.as_str()).collect();
    assert_eq!((segments.len(), &ids), (sampled.len(), &sampled));
    for segment in &segments {
        let id = segment["annotations"]["message_id"].as_str().expect("message id");
        let (root, parent, _) = &expected[id];
        assert!(segment.get("type").is_none(), "a segment: {segment}");
        assert_eq!((&segment["trace_id"], &segment["parent_id"]), (&json!(root), &json!(parent)), "{id}");
        // Only the poisoned message's segment is faulted, with its error as the cause.
        assert_eq!(segment.get("fault").is_some(), id == "a3", "{segment:#}");
        if id == "a3" {
            assert_eq!(exception(segment), ("subscribe::OrderError", "cannot parse the order"));
        }
    }
    // Every message's calls carried its own producer's trace: sampled or not.
    let headers = consumer.headers.lock().expect("lock");
    assert_eq!(headers.len(), 9);
    for (id, header) in headers.iter() {
        let (root, _, sampled) = &expected[id];
        let flag = if *sampled { "Sampled=1" } else { "Sampled=0" };
        assert!(header.starts_with(&format!("Root={root};")) && header.ends_with(flag), "{id}: {header}");
    }
}

/// The order a typed consumer's records hold: `lambda_runtime` deserializes each body into it before the handler runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    order: u32,
}

#[traced_subscribe]
async fn handle_typed(record: &aws_lambda_events::sqs::SqsMessageObj<Order>) -> Result<u32, OrderError> {
    Ok(record.body.order)
}

#[traced_subscribe(mode = "link")]
fn handle_typed_sync(record: aws_lambda_events::sqs::SqsMessageObj<Order>) -> Result<u32, OrderError> {
    Ok(record.body.order)
}

#[traced_handler]
async fn typed_handler(event: LambdaEvent<aws_lambda_events::sqs::SqsEventObj<Order>>) -> Result<Vec<u32>, Error> {
    let records = event.payload.records.iter().map(handle_typed);
    Ok(join_all(records).await.into_iter().filter_map(Result::ok).collect())
}

// Regression (issue 18, point 2): `#[traced_subscribe]` refused `aws_lambda_events`' typed records, so a consumer
// of `SqsEventObj<T>` could not continue its producers' traces.
#[tokio::test]
async fn typed_records_of_a_typed_event_continue_their_producers_traces_from_the_attributes() {
    let json = json!({"Records": [{
        "messageId": "m-1", "body": "{\"order\":7}", "eventSourceARN": ARN,
        "attributes": {"AWSTraceHeader": PRODUCER, "SentTimestamp": (now_ms() - 1500).to_string()},
        "messageAttributes": {},
    }]});
    let payload: aws_lambda_events::sqs::SqsEventObj<Order> = serde_json::from_value(json).expect("typed event");
    let mut context = LambdaContext::default();
    context.xray_trace_id = Some(SAMPLED.to_owned());
    let sink = MemorySink::new();
    let orders = sink.scope(typed_handler(LambdaEvent::new(payload.clone(), context))).await;
    assert_eq!(orders.expect("handled"), [7]);
    let docs = documents(&sink);
    let segment = docs.iter().find(|d| d["trace_id"] == PRODUCER_ROOT).expect("the record's segment");
    assert_eq!(
        (&segment["parent_id"], &segment["annotations"]["message_id"]),
        (&PRODUCER_PARENT.into(), &"m-1".into())
    );
    assert!(docs.iter().any(|d| d["trace_id"] == ROOT && d["name"] == "## typed_handler"), "{docs:#?}");

    let (linked, docs) = in_invocation(async { handle_typed_sync(payload.records[0].clone()) }).await;
    assert_eq!(linked, Ok(7));
    assert_eq!(named(&docs, "handle_typed_sync")["annotations"]["linked_trace_id"], PRODUCER_ROOT);
}

#[traced_subscribe(mode = "continue_or_link")]
async fn handle_untrusted(message: &SqsMessage) -> Result<Seen, OrderError> {
    Ok((message.body.clone().unwrap_or_default(), store().await))
}

// Regression (issue 18, point 13): a consumer could not record the messages a producer marked `Sampled=0`.
#[tokio::test]
async fn continue_or_link_records_an_unsampled_producers_message_in_the_consumers_trace() {
    let unsampled = PRODUCER.replace("Sampled=1", "Sampled=0");
    let message = event("m-1", BODY, Some((Carrier::SystemAttribute, &unsampled)));
    let (seen, docs) = in_invocation(handle_untrusted(&message)).await;
    seen.expect("processed");
    let processing = named(&docs, "handle_untrusted");
    assert_eq!(
        (&processing["trace_id"], &processing["annotations"]["linked_trace_sampled"]),
        (&ROOT.into(), &false.into())
    );
    let message = event("m-2", BODY, Some((Carrier::SystemAttribute, PRODUCER)));
    let (_, docs) = polled(handle_untrusted(&message)).await;
    assert_eq!((&docs[0]["trace_id"], &docs[0]["parent_id"]), (&PRODUCER_ROOT.into(), &PRODUCER_PARENT.into()));
}
