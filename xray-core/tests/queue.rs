//! A queue message processed in its producer's trace (continue) or linked from the consumer's (link).

mod common;

use common::{FACADE, ROOT, documents, named};
use serde_json::Value;
use xray_core::queue::{Mode, Processing, Received};
use xray_core::testing::MemorySink;
use xray_core::{Context, Trace, in_subsegment};

/// The producer's send call, as the `AWSTraceHeader` of its message names it.
const PRODUCER: &str = "Root=1-6560e000-aaaaaaaaaaaaaaaaaaaaaaaa;Parent=1111111111111111;Sampled=1;Lineage=a87bd80c:1";
const PRODUCER_ROOT: &str = "1-6560e000-aaaaaaaaaaaaaaaaaaaaaaaa";

fn received(header: Option<&str>) -> Received<'_> {
    Received { header, sent_at_ms: Some(now_ms() - 1500), message_id: Some("m-1"), queue: Some("orders") }
}

fn now_ms() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock");
    u64::try_from(now.as_millis()).expect("fits")
}

/// Processes `message` inside a consumer invocation traced with the fixture header; returns what the body saw as
/// the header a downstream call would carry, and the documents.
async fn consume(message: Received<'_>, mode: Mode) -> (String, Vec<Value>) {
    let sink = MemorySink::new();
    let invocation = Trace::lambda(Some(common::HEADER));
    let header = sink
        .scope(invocation.context().scope(async {
            let processing = Processing::begin(&message, mode, "orders-consumer", "handle_order");
            let header = processing
                .instrument(in_subsegment("DynamoDB", async {
                    Context::current().expect("context").trace_header_value()
                }))
                .await;
            processing.end();
            header
        }))
        .await;
    (header, documents(&sink))
}

#[tokio::test]
async fn continue_mode_is_a_segment_in_the_producers_trace_with_the_wait_and_the_work_under_it() {
    let (header, docs) = consume(received(Some(PRODUCER)), Mode::Continue).await;

    assert_eq!(docs.len(), 1, "one segment document holding its subsegments: {docs:#?}");
    let segment = &docs[0];
    assert_eq!(segment["name"], "orders-consumer");
    assert_eq!(segment["trace_id"], PRODUCER_ROOT);
    assert_eq!(segment["parent_id"], "1111111111111111");
    assert!(segment.get("type").is_none(), "a segment, not a subsegment");
    assert_eq!(segment["annotations"]["message_id"], "m-1");
    assert_eq!(segment["annotations"]["queue"], "orders");
    let children = segment["subsegments"].as_array().expect("subsegments");
    let wait = named(children, "orders wait");
    let work = named(children, "DynamoDB");
    let start = segment["start_time"].as_f64().expect("start");
    assert!((wait["end_time"].as_f64().expect("end") - start - 1.5).abs() < 0.5, "the wait is about 1.5 s: {wait}");
    assert_eq!(wait["start_time"], segment["start_time"]);
    assert!(work["start_time"].as_f64() >= wait["end_time"].as_f64());
    // Calls made while processing carry the producer's Root, their own subsegment as Parent, and its Lineage.
    let work_id = work["id"].as_str().expect("id");
    assert_eq!(header, format!("Root={PRODUCER_ROOT};Parent={work_id};Sampled=1;Lineage=a87bd80c:1"));
}

#[tokio::test]
async fn an_unsampled_producer_records_nothing_and_its_decision_travels_on() {
    let unsampled = PRODUCER.replace("Sampled=1", "Sampled=0");
    let (header, docs) = consume(received(Some(&unsampled)), Mode::Continue).await;

    assert_eq!(docs, Vec::<Value>::new());
    assert_eq!(header, format!("Root={PRODUCER_ROOT};Parent=1111111111111111;Sampled=0;Lineage=a87bd80c:1"));
}

#[tokio::test]
async fn link_mode_is_a_subsegment_of_the_consumer_annotated_with_the_producers_trace() {
    let (header, docs) = consume(received(Some(PRODUCER)), Mode::Link).await;

    let processing = named(&docs, "handle_order");
    assert_eq!(processing["trace_id"], ROOT);
    assert_eq!(processing["parent_id"], FACADE);
    assert_eq!(processing["annotations"]["linked_trace_id"], PRODUCER_ROOT);
    assert_eq!(processing["annotations"]["message_id"], "m-1");
    let work = named(&docs, "DynamoDB");
    assert_eq!(work["parent_id"], processing["id"]);
    assert!(header.starts_with(&format!("Root={ROOT};Parent={}", work["id"].as_str().expect("id"))), "{header}");
}

#[tokio::test]
async fn a_message_without_a_usable_header_is_processed_in_the_consumers_trace() {
    for header in [None, Some("Root=garbage;Sampled=1")] {
        let before = xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader);
        let (_, docs) = consume(received(header), Mode::Continue).await;
        let processing = named(&docs, "handle_order");
        assert_eq!(processing["trace_id"], ROOT, "{header:?}");
        assert!(processing["annotations"].get("linked_trace_id").is_none());
        let diagnosed = xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader) > before;
        assert_eq!(diagnosed, header.is_some(), "{header:?}");
    }
}

#[tokio::test]
async fn messages_processed_concurrently_keep_their_own_traces() {
    let sink = MemorySink::new();
    let roots: Vec<String> = (0..10).map(|i| format!("1-6560e000-{i:024x}")).collect();
    let headers: Vec<String> =
        roots.iter().enumerate().map(|(i, r)| format!("Root={r};Parent={:016x};Sampled=1", i + 1)).collect();
    let seen = sink
        .scope(futures_join_all(headers.iter().map(|header| async move {
            let message = Received { header: Some(header), ..Received::default() };
            let processing = Processing::begin(&message, Mode::Continue, "consumer", "handle");
            let seen = processing
                .instrument(async {
                    tokio::task::yield_now().await;
                    Context::current().expect("context").trace().trace_id().to_string()
                })
                .await;
            processing.end();
            seen
        })))
        .await;
    assert_eq!(seen, roots);
    let docs = documents(&sink);
    let mut sent: Vec<&str> = docs.iter().map(|d| d["trace_id"].as_str().expect("trace")).collect();
    sent.sort_unstable();
    assert_eq!(sent, roots);
}

/// Polls every future on one task, as `futures::future::join_all` does.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<_> = futures.into_iter().map(Box::pin).map(Some).collect();
    let mut done: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(future) = slot
                && let std::task::Poll::Ready(value) = future.as_mut().poll(cx)
            {
                *out = Some(value);
                *slot = None;
            }
        }
        if pending.iter().all(Option::is_none) { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    done.into_iter().map(|v| v.expect("finished")).collect()
}

#[test]
fn a_synchronous_body_runs_in_the_processings_context_and_its_panic_is_recorded() {
    let sink = MemorySink::new();
    let message = received(Some(PRODUCER));
    let header = sink.run(|| {
        let processing = Processing::begin(&message, Mode::Continue, "consumer", "handle");
        let header = processing.run(|| Context::current().expect("context").trace_header_value());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| processing.run(|| panic!("poisoned"))));
        assert!(caught.is_err(), "the panic goes on");
        processing.end();
        header
    });
    let docs = documents(&sink);
    assert_eq!((docs.len(), &docs[0]["trace_id"], &docs[0]["fault"]), (1, &PRODUCER_ROOT.into(), &true.into()));
    // A call made in the body names the processing's segment as its parent.
    let segment = docs[0]["id"].as_str().expect("id");
    assert_eq!(header, format!("Root={PRODUCER_ROOT};Parent={segment};Sampled=1;Lineage=a87bd80c:1"));
    assert_eq!(docs[0]["cause"]["exceptions"][0]["message"], "poisoned");
    // Outside it, the thread's context is what it was.
    assert!(Context::current().is_none());
}
