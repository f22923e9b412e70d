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
    Received {
        trace_header: header.map(Into::into),
        sent_timestamp_ms: Some(now_ms() - 1500),
        message_id: Some("m-1"),
        queue: Some("orders"),
        ..Received::default()
    }
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
    // The invocation's documents leave when it ends, as in Lambda.
    invocation.end();
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
    for (id, header) in [("m-none", None), ("m-garbage", Some("Root=garbage;Sampled=1"))] {
        let (_, docs) = consume(Received { message_id: Some(id), ..received(header) }, Mode::Continue).await;
        let processing = named(&docs, "handle_order");
        assert_eq!(processing["trace_id"], ROOT, "{header:?}");
        assert!(processing["annotations"].get("linked_trace_id").is_none());
        // Other tests report diagnostics of the same kind at the same time: this message's is told by its id.
        let said = format!("message {id} has no usable trace header");
        let diagnosed = xray_core::diag::recent().iter().any(|(_, text)| text.contains(&said));
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
            let message = Received { trace_header: Some(header.into()), ..Received::default() };
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

// Regression (issue 18, point 12): a malformed `AWSTraceHeader` lost its valid Root and Lineage, where the HTTP path
// keeps them: the message was processed in the consumer's trace and Lambda's loop detection was cut.
#[tokio::test]
async fn a_malformed_header_keeps_its_root_and_lineage_as_the_http_path_does() {
    let malformed = format!("{PRODUCER};garbage");
    let before = xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader);
    let (header, docs) = consume(received(Some(&malformed)), Mode::Continue).await;
    assert!(xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader) > before);
    assert_eq!(docs.len(), 1, "{docs:#?}");
    assert_eq!((&docs[0]["trace_id"], &docs[0]["parent_id"]), (&PRODUCER_ROOT.into(), &"1111111111111111".into()));
    let work = named(docs[0]["subsegments"].as_array().expect("subsegments"), "DynamoDB");
    let work_id = work["id"].as_str().expect("id");
    assert_eq!(header, format!("Root={PRODUCER_ROOT};Parent={work_id};Sampled=1;Lineage=a87bd80c:1"));
}

// Regression (issue 18, point 12): a `SentTimestamp` of 0, or a year ahead, became a 57-year (or negative) wait.
#[tokio::test]
async fn a_sent_timestamp_far_in_the_past_or_future_is_clamped_with_a_diagnostic() {
    const DAY_MS: u64 = 24 * 3600 * 1000;
    for sent in [0, now_ms() + 365 * DAY_MS] {
        let before = xray_core::diag::count(xray_core::diag::DiagKind::Carrier);
        let message = Received { sent_timestamp_ms: Some(sent), ..received(Some(PRODUCER)) };
        let (_, docs) = consume(message, Mode::Continue).await;
        assert!(xray_core::diag::count(xray_core::diag::DiagKind::Carrier) > before, "{sent}");
        let segment = &docs[0];
        let (start, end) = (segment["start_time"].as_f64().expect("start"), segment["end_time"].as_f64().expect("end"));
        // SQS keeps a message 14 days at most: no wait is longer, none is negative.
        assert!(end - start <= 14.0 * 86400.0 + 1.0 && end >= start, "{sent}: {segment}");
        let wait = named(segment["subsegments"].as_array().expect("subsegments"), "orders wait");
        assert!(wait["end_time"].as_f64() >= wait["start_time"].as_f64(), "{sent}: {wait}");
    }
}

/// A header with `Lineage` and an unknown key `junk` of `junk` bytes, as an attacker can put on a message.
fn oversized(junk: usize) -> String {
    format!("{PRODUCER};junk={}", "x".repeat(junk))
}

// Regression (issue 18, point 9): a 200 KB `AWSTraceHeader` was passed on to every downstream call, whose service
// refused the request, and the message became a poison message.
#[tokio::test]
async fn an_oversized_header_keeps_root_parent_sampled_and_lineage_and_drops_the_rest_with_a_diagnostic() {
    let huge = oversized(200 * 1024);
    let many_keys: String = (0..40).fold(PRODUCER.to_owned(), |h, i| format!("{h};k{i}=v"));
    for text in [&huge, &many_keys] {
        let before = xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader);
        let (header, docs) = consume(received(Some(text)), Mode::Continue).await;
        assert!(xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader) > before);
        assert_eq!(docs[0]["trace_id"], PRODUCER_ROOT);
        let work = named(docs[0]["subsegments"].as_array().expect("subsegments"), "DynamoDB");
        let work_id = work["id"].as_str().expect("id");
        assert_eq!(header, format!("Root={PRODUCER_ROOT};Parent={work_id};Sampled=1;Lineage=a87bd80c:1"));
    }
    // The same bound holds for an invocation's header and an incoming request's.
    let lambda = huge.replace("Parent=1111111111111111", &format!("Parent={FACADE}"));
    let invocation = Trace::lambda(Some(&lambda));
    let passed = invocation.context().scope(async { Context::current().expect("context").trace_header_value() });
    assert_eq!(passed.await, format!("Root={PRODUCER_ROOT};Parent={FACADE};Sampled=1;Lineage=a87bd80c:1"));
    let request = xray_core::sampling::SamplingRequest { host: None, method: None, url_path: None };
    let segment = Trace::segment("api", Some(&huge), &request);
    let passed = segment.context().scope(async { Context::current().expect("context").trace_header_value() });
    assert!(!passed.await.contains("junk"));
    segment.end();
    // A header within the bound is passed on whole.
    let (header, _) = consume(received(Some(&oversized(100))), Mode::Continue).await;
    assert!(header.ends_with(&format!(";Lineage=a87bd80c:1;junk={}", "x".repeat(100))), "{header}");
}

// Regression (issue 18, point 4): in link mode an unsampled producer's trace id was annotated as if there were a
// trace to find.
#[tokio::test]
async fn link_mode_records_an_unsampled_producers_message_in_the_consumers_trace_and_says_the_link_is_unsampled() {
    let unsampled = PRODUCER.replace("Sampled=1", "Sampled=0");
    let (_, docs) = consume(received(Some(&unsampled)), Mode::Link).await;
    let processing = named(&docs, "handle_order");
    assert_eq!(processing["trace_id"], ROOT);
    assert_eq!(processing["annotations"]["linked_trace_id"], PRODUCER_ROOT);
    assert_eq!(processing["annotations"]["linked_trace_sampled"], false);
    let (_, docs) = consume(received(Some(PRODUCER)), Mode::Link).await;
    assert_eq!(named(&docs, "handle_order")["annotations"]["linked_trace_sampled"], true);
}

// Regression (issue 18, point 13): a producer's `Sampled=0` hid the processing from every consumer that continued
// its trace, with no choice on the consumer's side.
#[tokio::test]
async fn continue_or_link_continues_a_sampled_producer_and_records_an_unsampled_ones_message_in_the_consumers_trace() {
    let (_, docs) = consume(received(Some(PRODUCER)), Mode::ContinueOrLink).await;
    assert_eq!(
        (docs.len(), &docs[0]["trace_id"], &docs[0]["name"]),
        (1, &PRODUCER_ROOT.into(), &"orders-consumer".into())
    );

    let unsampled = PRODUCER.replace("Sampled=1", "Sampled=0");
    let (header, docs) = consume(received(Some(&unsampled)), Mode::ContinueOrLink).await;
    let processing = named(&docs, "handle_order");
    assert_eq!((&processing["trace_id"], &processing["parent_id"]), (&ROOT.into(), &FACADE.into()));
    assert_eq!(processing["annotations"]["linked_trace_id"], PRODUCER_ROOT);
    assert_eq!(processing["annotations"]["linked_trace_sampled"], false);
    // Calls made while processing carry the consumer's trace, not the producer's.
    assert!(header.starts_with(&format!("Root={ROOT};")), "{header}");
}

// Regression (issue 18 review, item 1): in continue_or_link mode a malformed header that salvages to no decision
// (`Sampled=1;Sampled=0`) or to no parent (`Parent=zz`) was continued, `Trace::continued` recorded nothing, and the
// producer hid the processing; a header that leaves the decision open was continued under the local rules alike.
#[tokio::test]
async fn continue_or_link_links_every_header_whose_continuation_would_not_be_recorded() {
    for evasive in [
        format!("{PRODUCER};Sampled=0"),
        PRODUCER.replace("Parent=1111111111111111", "Parent=zz"),
        PRODUCER.replace(";Parent=1111111111111111", ""),
        PRODUCER.replace("Sampled=1", "Sampled=?"),
        PRODUCER.replace(";Sampled=1", ""),
    ] {
        let (header, docs) = consume(received(Some(&evasive)), Mode::ContinueOrLink).await;
        let processing = named(&docs, "handle_order");
        assert_eq!((&processing["trace_id"], &processing["parent_id"]), (&ROOT.into(), &FACADE.into()), "{evasive}");
        assert_eq!(processing["annotations"]["linked_trace_id"], PRODUCER_ROOT, "{evasive}");
        assert!(header.starts_with(&format!("Root={ROOT};")), "{evasive}: {header}");
    }
}

// Regression (issue 18 review, item 6): `linked_trace_sampled` said `true` for `Sampled=?`, for no `Sampled` and
// for conflicting ones, where nothing says the producer's trace was recorded.
#[tokio::test]
async fn linked_trace_sampled_is_true_only_for_sampled_1_and_absent_without_a_decision() {
    for (text, expected) in [
        (PRODUCER.to_owned(), Some(true)),
        (PRODUCER.replace("Sampled=1", "Sampled=0"), Some(false)),
        (PRODUCER.replace("Sampled=1", "Sampled=?"), None),
        (PRODUCER.replace(";Sampled=1", ""), None),
        (format!("{PRODUCER};Sampled=0"), None),
    ] {
        let (_, docs) = consume(received(Some(&text)), Mode::Link).await;
        let annotations = &named(&docs, "handle_order")["annotations"];
        assert_eq!(annotations["linked_trace_id"], PRODUCER_ROOT, "{text}");
        assert_eq!(annotations.get("linked_trace_sampled").and_then(Value::as_bool), expected, "{text}");
    }
}
