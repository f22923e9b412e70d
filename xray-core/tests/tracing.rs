//! `xray_core::tracing`: `tracing` spans recorded as subsegments by the layer, through a real `tracing-subscriber`
//! registry, asserted on the exact documents a `MemorySink` captures; and `xray_trace_id` in `fmt` output.

mod common;

use std::io;
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use common::documents;
use serde_json::{Value, json};
use tracing::{Instrument, info_span, instrument};
use tracing_subscriber::layer::SubscriberExt;
use xray_core::diag::{self, DiagKind};
use xray_core::testing::MemorySink;
use xray_core::{Trace, traced};
use xray_schema_check::fixtures::{FACADE, ROOT, SAMPLED, UNSAMPLED, named, names};

/// The process-wide subscriber every test here records through (worker threads of a multi-thread runtime see it).
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let layer = xray_core::tracing::layer().with_annotations(["order_id", "bad key"]);
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    });
}

/// Runs `f` inside a sampled Lambda invocation (header `header`) whose documents go to a new sink.
fn in_trace<R>(header: &str, f: impl FnOnce() -> R) -> (R, Vec<Value>) {
    install();
    let sink = MemorySink::new();
    let out = sink.run(|| {
        let _ctx = Trace::lambda(Some(header)).context().enter();
        f()
    });
    (out, documents(&sink))
}

/// The document without what changes from run to run: ids become `"<id>"` (at every depth), times are checked to be
/// in order and removed.
fn exact(doc: &Value) -> Value {
    let mut doc = doc.clone();
    let (start, end) = (doc["start_time"].as_f64(), doc["end_time"].as_f64());
    assert!(start.is_some() && end >= start, "times out of order in {doc}");
    scrub(&mut doc);
    doc
}

fn scrub(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("start_time");
            map.remove("end_time");
            for (key, value) in map.iter_mut() {
                match key.as_str() {
                    "id" | "cause" if value.is_string() => *value = "<id>".into(),
                    _ => scrub(value),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(scrub),
        _ => {}
    }
}

fn subsegment(name: &str, parent: &Value) -> Value {
    json!({"name": name, "id": "<id>", "trace_id": ROOT, "parent_id": parent, "type": "subsegment"})
}

#[test]
fn nested_sync_spans_are_nested_subsegments() {
    let (_, docs) = in_trace(SAMPLED, || {
        let outer = info_span!("outer");
        let _outer = outer.enter();
        info_span!("inner").in_scope(|| ());
    });
    assert_eq!(names(&docs), ["inner", "outer"]);
    assert_eq!(exact(&docs[1]), subsegment("outer", &json!(FACADE)));
    assert_eq!(exact(&docs[0]), subsegment("inner", &docs[1]["id"]));
}

#[instrument]
async fn fetch(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    tokio::task::yield_now().await;
    n * 10
}

#[instrument]
async fn fetch_both() -> u64 {
    let a = fetch(1).await;
    // Spawned without `xray_core::bind`: the span alone carries the trace to the other task.
    let b = tokio::spawn(fetch(2).instrument(info_span!("moved"))).await.expect("joined");
    a + b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumented_async_fns_keep_their_parents_across_await_and_tasks() {
    install();
    let sink = MemorySink::new();
    let out = sink.scope(async { Trace::lambda(Some(SAMPLED)).context().scope(fetch_both()).await }).await;
    assert_eq!(out, 30);
    let docs = documents(&sink);
    assert_eq!(docs.len(), 4, "{docs:#?}");
    let both = named(&docs, "fetch_both");
    let moved = named(&docs, "moved");
    assert_eq!(exact(both), subsegment("fetch_both", &json!(FACADE)));
    assert_eq!(exact(moved), subsegment("moved", &both["id"]));
    let fetches: Vec<&Value> = docs.iter().filter(|d| d["name"] == "fetch").collect();
    let mut parents: Vec<&Value> = fetches.iter().map(|d| &d["parent_id"]).collect();
    parents.sort_by_key(|p| p.as_str() != both["id"].as_str());
    assert_eq!(parents, [&both["id"], &moved["id"]]);
    for fetch in fetches {
        let n = if fetch["parent_id"] == both["id"] { 1 } else { 2 };
        assert_eq!(
            exact(fetch),
            json!({"name": "fetch", "id": "<id>", "trace_id": ROOT, "parent_id": fetch["parent_id"],
                   "type": "subsegment", "metadata": {"tracing": {"n": n}}})
        );
        assert!(fetch["end_time"].as_f64().unwrap_or(0.0) - fetch["start_time"].as_f64().unwrap_or(0.0) >= 0.002);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_traces_in_one_process_never_mix() {
    install();
    let roots: Vec<String> = (0..8).map(|i| format!("1-5759e988-{i:024x}")).collect();
    let sink = MemorySink::new();
    let tasks: Vec<_> = roots
        .iter()
        .map(|root| {
            let header = format!("Root={root};Parent={FACADE};Sampled=1");
            let trace = sink.run(|| Trace::lambda(Some(&header)));
            tokio::spawn(trace.context().scope(async {
                let outer = info_span!("invocation");
                async {
                    for n in 0..3 {
                        fetch(n).await;
                    }
                }
                .instrument(outer)
                .await;
            }))
        })
        .collect();
    for task in tasks {
        task.await.expect("joined");
    }
    let docs = documents(&sink);
    assert_eq!(docs.len(), 8 * 4);
    for root in &roots {
        let mine: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] == root.as_str()).collect();
        assert_eq!(mine.len(), 4, "trace {root}");
        let invocation = mine.iter().find(|d| d["name"] == "invocation").expect("invocation");
        assert_eq!(invocation["parent_id"], FACADE);
        for doc in mine.iter().filter(|d| d["name"] == "fetch") {
            assert_eq!(doc["parent_id"], invocation["id"], "trace {root}");
        }
    }
}

#[test]
fn a_span_entered_many_times_is_one_subsegment_ended_when_it_closes() {
    let (id, docs) = in_trace(SAMPLED, || {
        let span = info_span!("polled");
        let current = || xray_core::Context::current().and_then(|c| c.parent_id());
        let mut ids = Vec::new();
        for _ in 0..5 {
            let _entered = span.enter();
            ids.push(current().expect("the span's subsegment is current"));
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "one subsegment");
        assert_eq!(current(), None, "exiting made the trace's top current again");
        drop(span);
        ids[0].to_string()
    });
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["id"], id.as_str());
    assert_eq!(exact(&docs[0]), subsegment("polled", &json!(FACADE)));
}

#[test]
fn spans_exited_out_of_order_restore_the_context_they_found() {
    let (_, docs) = in_trace(SAMPLED, || {
        let current = || xray_core::Context::current().and_then(|c| c.parent_id());
        let (a, b) = (info_span!("a"), info_span!("b"));
        let entered_a = a.enter();
        let a_id = current().expect("a is current");
        let entered_b = b.enter();
        let b_id = current().expect("b is current");
        drop(entered_a);
        assert_eq!(current(), Some(b_id), "b stays current");
        drop(entered_b);
        assert_eq!(current(), None, "neither is current: the trace's top is");
        assert_ne!(a_id, b_id);
        drop(b);
        drop(a);
    });
    assert_eq!(names(&docs), ["b", "a"]);
    assert_eq!(exact(&docs[0]), subsegment("b", &json!(FACADE)));
    assert_eq!(exact(&docs[1]), subsegment("a", &json!(FACADE)));
}

#[test]
fn otel_name_renames_and_client_kind_is_remote() {
    let (_, docs) = in_trace(SAMPLED, || {
        info_span!("http", otel.name = "GET /orders", otel.kind = "client", url = "https://example.com/orders")
            .in_scope(|| ());
        let late = info_span!("late", otel.name = tracing::field::Empty);
        late.record("otel.name", "renamed later");
    });
    assert_eq!(
        exact(named(&docs, "GET /orders")),
        json!({"name": "GET /orders", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
               "namespace": "remote", "metadata": {"tracing": {"url": "https://example.com/orders"}}})
    );
    assert_eq!(exact(named(&docs, "renamed later")), subsegment("renamed later", &json!(FACADE)));
}

#[derive(Debug, PartialEq)]
struct OutOfStock;

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("item 7 is out of stock")
    }
}

impl std::error::Error for OutOfStock {}

#[instrument(err)]
fn reserve(id: u64) -> Result<u64, OutOfStock> {
    if id == 7 { Err(OutOfStock) } else { Ok(id) }
}

fn fault(name: &str, kind: &str, message: &str) -> Value {
    json!({"name": name, "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment", "fault": true,
           "cause": {"exceptions": [{"id": "<id>", "type": kind, "message": message}]}})
}

#[test]
fn instrument_err_marks_a_fault_with_the_error_as_cause() {
    let (out, docs) = in_trace(SAMPLED, || (reserve(7), reserve(8)));
    assert!(out.0.is_err() && out.1 == Ok(8));
    assert_eq!(docs.len(), 2);
    let mut failed = fault("reserve", "error", "item 7 is out of stock");
    failed["metadata"] = json!({"tracing": {"id": 7}});
    assert_eq!(exact(&docs[0]), failed);
    assert_eq!(
        exact(&docs[1]),
        json!({"name": "reserve", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
               "metadata": {"tracing": {"id": 8}}})
    );
}

#[instrument(err(Debug))]
async fn reserve_later(id: u64) -> Result<u64, OutOfStock> {
    tokio::task::yield_now().await;
    reserve(id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_instrument_err_and_a_late_status_mark_faults() {
    install();
    let sink = MemorySink::new();
    let out = sink
        .scope(Trace::lambda(Some(SAMPLED)).context().scope(async {
            let span = info_span!("settle", otel.status_code = tracing::field::Empty);
            async { tokio::task::yield_now().await }.instrument(span.clone()).await;
            span.record("otel.status_code", "ERROR");
            drop(span);
            tokio::spawn(xray_core::bind(reserve_later(7))).await.expect("joined")
        }))
        .await;
    assert_eq!(out, Err(OutOfStock));
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["settle", "reserve", "reserve_later"]);
    assert_eq!(exact(&docs[0])["fault"], true);
    assert_eq!(exact(&docs[0]).get("cause"), None);
    let mut later = fault("reserve_later", "error", "OutOfStock");
    later["metadata"] = json!({"tracing": {"id": 7}});
    assert_eq!(exact(&docs[2]), later);
    assert_eq!(docs[1]["parent_id"], docs[2]["id"]);
    assert_eq!(docs[1]["fault"], true);
}

#[test]
fn error_fields_mark_a_fault_with_a_cause() {
    let (_, docs) = in_trace(SAMPLED, || {
        let error: &(dyn std::error::Error + 'static) = &OutOfStock;
        info_span!("as_error", error).in_scope(|| ());
        info_span!("as_text", error = %OutOfStock).in_scope(|| ());
        info_span!("otel_exception", exception.r#type = "Timeout", exception.message = "no answer").in_scope(|| ());
        info_span!("by_event").in_scope(|| tracing::error!(error = "disk full", "write failed"));
        info_span!("by_log").in_scope(|| tracing::error!("only a log"));
    });
    assert_eq!(exact(named(&docs, "as_error")), fault("as_error", "OutOfStock", "item 7 is out of stock"));
    assert_eq!(exact(named(&docs, "as_text")), fault("as_text", "error", "item 7 is out of stock"));
    assert_eq!(exact(named(&docs, "otel_exception")), fault("otel_exception", "Timeout", "no answer"));
    assert_eq!(exact(named(&docs, "by_event")), fault("by_event", "error", "disk full"));
    assert_eq!(exact(named(&docs, "by_log")), subsegment("by_log", &json!(FACADE)), "a log is not a fault");
}

#[test]
fn listed_fields_are_annotations_the_rest_metadata() {
    let before = diag::count(DiagKind::InvalidAnnotation);
    let (_, docs) = in_trace(SAMPLED, || {
        let span = info_span!("order", order_id = 7_u64, customer = "c-1", total = 12.5, express = true, note = ?["x"]);
        span.record("bad key", "refused");
        let span = info_span!("order_later", order_id = tracing::field::Empty, "bad key" = "refused");
        span.record("order_id", "o-9");
    });
    assert_eq!(
        exact(named(&docs, "order")),
        json!({"name": "order", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
               "annotations": {"order_id": 7},
               "metadata": {"tracing": {"customer": "c-1", "total": 12.5, "express": true, "note": "[\"x\"]"}}})
    );
    assert_eq!(
        exact(named(&docs, "order_later")),
        json!({"name": "order_later", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
               "annotations": {"order_id": "o-9"}})
    );
    assert!(diag::count(DiagKind::InvalidAnnotation) > before, "the refused key got a diagnostic");
    assert!(diag::recent().iter().any(|(k, m)| *k == DiagKind::InvalidAnnotation && m.contains("bad key")));
}

#[test]
fn spans_outside_a_sampled_trace_record_nothing() {
    install();
    let sink = MemorySink::new();
    sink.run(|| {
        info_span!("no trace").in_scope(|| info_span!("child").in_scope(|| ()));
        let _ctx = Trace::lambda(Some(UNSAMPLED)).context().enter();
        info_span!("not sampled").in_scope(|| info_span!("child").in_scope(|| ()));
    });
    assert!(sink.documents().is_empty());
}

#[traced]
fn priced(n: u64) -> u64 {
    info_span!("lookup").in_scope(|| n + 1)
}

#[test]
fn traced_calls_nest_under_spans_and_spans_under_traced_calls() {
    let (_, docs) = in_trace(SAMPLED, || info_span!("checkout").in_scope(|| priced(1)));
    assert_eq!(names(&docs), ["lookup", "priced", "checkout"]);
    assert_eq!(exact(&docs[2]), subsegment("checkout", &json!(FACADE)));
    assert_eq!(exact(&docs[1]), subsegment("priced", &docs[2]["id"]));
    assert_eq!(exact(&docs[0]), subsegment("lookup", &docs[1]["id"]));
}

#[test]
fn a_span_with_an_explicit_parent_opens_under_it_wherever_it_is_created() {
    install();
    let sink = MemorySink::new();
    let parent = sink.run(|| {
        let _ctx = Trace::lambda(Some(SAMPLED)).context().enter();
        info_span!("parent")
    });
    // Created on another thread, where no trace is current.
    std::thread::spawn(move || {
        info_span!(parent: &parent, "child").in_scope(|| ());
        drop(parent);
    })
    .join()
    .expect("joined");
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["child", "parent"]);
    assert_eq!(exact(&docs[0]), subsegment("child", &docs[1]["id"]));
}

#[test]
fn trace_id_is_the_current_root() {
    install();
    assert_eq!(xray_core::trace_id(), None);
    let _ctx = Trace::lambda(Some(UNSAMPLED)).context().enter();
    assert_eq!(xray_core::trace_id().map(|id| id.to_string()).as_deref(), Some(ROOT));
}

/// A `fmt` writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Buffer {
        self.clone()
    }
}

impl Buffer {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8(bytes).expect("utf-8").lines().map(str::to_owned).collect()
    }
}

/// Logs four events through `fmt`, with the layer: outside a trace, in a trace, in a span of the trace, and with that
/// span as explicit parent once the trace is no longer current.
fn log_events(
    fmt: impl tracing_subscriber::Layer<
        tracing_subscriber::layer::Layered<xray_core::tracing::XRayLayer, tracing_subscriber::Registry>,
    > + Send
    + Sync,
) {
    let subscriber = tracing_subscriber::registry().with(xray_core::tracing::layer()).with(fmt);
    MemorySink::new().run(|| {
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(n = 1, "outside");
            let ctx = Trace::lambda(Some(SAMPLED)).context().enter();
            tracing::info!(n = 2, "in the trace");
            let step = info_span!("step");
            step.in_scope(|| tracing::info!(n = 3, "in a span"));
            drop(ctx);
            tracing::info!(parent: &step, n = 4, "after the trace");
        })
    });
}

#[test]
fn json_logs_carry_xray_trace_id_in_a_trace() {
    let buffer = Buffer::default();
    let json = tracing_subscriber::fmt::layer().json().with_writer(buffer.clone());
    log_events(json.map_event_format(xray_core::tracing::TraceIdFormat::json));
    let lines: Vec<Value> =
        buffer.lines().iter().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["fields"], json!({"message": "outside", "n": 1}));
    assert!(lines[0].get("xray_trace_id").is_none(), "{}", lines[0]);
    for line in &lines[1..] {
        assert_eq!(line["xray_trace_id"], ROOT, "{line}");
        assert_eq!(line["level"], "INFO");
    }
    assert_eq!(lines[2]["fields"], json!({"message": "in a span", "n": 3}));
    assert_eq!(lines[2]["span"]["name"], "step");
    assert_eq!(lines[3]["fields"], json!({"message": "after the trace", "n": 4}));
}

#[test]
fn text_logs_carry_xray_trace_id_in_a_trace() {
    let buffer = Buffer::default();
    let text = tracing_subscriber::fmt::layer().without_time().with_writer(buffer.clone());
    log_events(text.map_event_format(xray_core::tracing::TraceIdFormat::text));
    let lines = buffer.lines();
    let trace_id = format!(" xray_trace_id={ROOT}");
    assert_eq!(lines.len(), 4);
    assert!(lines[0].ends_with("outside n=1"), "{}", lines[0]);
    assert!(lines[1].ends_with(&format!("in the trace n=2{trace_id}")), "{}", lines[1]);
    assert!(lines[2].contains("step: ") && lines[2].ends_with(&format!("in a span n=3{trace_id}")), "{}", lines[2]);
    assert!(lines[3].ends_with(&format!("after the trace n=4{trace_id}")), "{}", lines[3]);
}

// lambda_runtime's own invocation span (`layers::TracingLayer`, the one `lambda_runtime::run` adds), around a
// handler service, as the runtime calls it.

use lambda_runtime::tower::{Layer as _, Service as _, service_fn};
use lambda_runtime::{LambdaInvocation, layers::TracingLayer};

/// One invocation as the runtime hands it to its services: `header` is the Runtime API's trace header.
fn lambda_invocation(request_id: &str, header: Option<&str>) -> LambdaInvocation {
    let mut context = lambda_runtime::Context::default();
    context.request_id = request_id.to_owned();
    context.xray_trace_id = header.map(str::to_owned);
    let (parts, ()) = http::Response::new(()).into_parts();
    LambdaInvocation { parts, body: Default::default(), context }
}

/// Runs `handler` for each invocation through lambda_runtime's `TracingLayer`, all at once on the runtime's
/// threads, with every document going to `sink`.
async fn run_invocations<F, Fut>(sink: &MemorySink, invocations: Vec<LambdaInvocation>, handler: F)
where
    F: Fn(lambda_runtime::Context) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    install();
    let mut service = TracingLayer::new().layer(service_fn(move |invocation: LambdaInvocation| {
        let handler = handler.clone();
        async move {
            handler(invocation.context).await;
            Ok::<(), lambda_runtime::Error>(())
        }
    }));
    // The span (and the invocation's trace) is opened by `call`, where the sink is in force.
    let calls: Vec<_> = invocations.into_iter().map(|i| sink.run(|| tokio::spawn(service.call(i)))).collect();
    for call in calls {
        call.await.expect("joined").expect("handled");
    }
}

#[instrument]
async fn load_order(id: u64) -> u64 {
    tokio::task::yield_now().await;
    price(id) + fetch(id).await
}

#[instrument]
fn price(id: u64) -> u64 {
    info_span!("tax").in_scope(|| id + 1)
}

/// The complete documents (no `in_progress`), each checked against the schema.
fn complete(sink: &MemorySink) -> Vec<Value> {
    documents(sink).into_iter().filter(|d| d.get("in_progress").is_none()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_runtime_span_starts_the_invocation_with_its_handler_subsegment() {
    let sink = MemorySink::new();
    run_invocations(&sink, vec![lambda_invocation("req-1", Some(SAMPLED))], |_| async {
        load_order(7).await;
    })
    .await;
    let all = documents(&sink);
    // `## handler` is sent `in_progress` as soon as the invocation starts, as `#[traced_handler]` does.
    assert_eq!(all[0]["name"], "## handler");
    assert_eq!(all[0]["in_progress"], true);
    let docs = complete(&sink);
    assert_eq!(names(&docs), ["tax", "price", "fetch", "load_order", "## handler"]);
    let handler = named(&docs, "## handler");
    assert_eq!(handler["parent_id"], FACADE);
    assert_eq!(handler["trace_id"], ROOT);
    assert!(handler["annotations"]["ColdStart"].is_boolean());
    assert!(handler["annotations"]["Service"].is_string());
    assert_eq!(handler["id"], all[0]["id"]);
    let load = named(&docs, "load_order");
    assert_eq!(load["parent_id"], handler["id"]);
    assert_eq!(named(&docs, "price")["parent_id"], load["id"]);
    assert_eq!(named(&docs, "fetch")["parent_id"], load["id"]);
    assert_eq!(named(&docs, "tax")["parent_id"], named(&docs, "price")["id"]);
}

#[xray_core::traced_handler]
async fn traced_and_instrumented(payload: u64, context: lambda_runtime::Context) -> Result<u64, String> {
    let _ = &context;
    Ok(load_order(payload).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traced_handler_under_the_runtime_span_records_nothing_twice() {
    let sink = MemorySink::new();
    run_invocations(&sink, vec![lambda_invocation("req-2", Some(SAMPLED))], |context| async move {
        traced_and_instrumented(3, context).await.expect("ok");
    })
    .await;
    let docs = complete(&sink);
    // One handler subsegment, named by `#[traced_handler]`, and each span once.
    assert_eq!(names(&docs), ["tax", "price", "fetch", "load_order", "## traced_and_instrumented"]);
    let handler = &docs[4];
    assert_eq!(handler["parent_id"], FACADE);
    assert_eq!(named(&docs, "load_order")["parent_id"], handler["id"]);
    let all = documents(&sink);
    let ids: std::collections::HashSet<&str> = all.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids.len(), 5, "every document is one of the five subsegments: {all:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runtime_invocations_never_mix() {
    let roots: Vec<String> = (0..8).map(|i| format!("1-5759e988-{:024x}", i + 100)).collect();
    let invocations = roots
        .iter()
        .enumerate()
        .map(|(i, root)| {
            lambda_invocation(&format!("req-{i}"), Some(&format!("Root={root};Parent={FACADE};Sampled=1")))
        })
        .collect();
    let sink = MemorySink::new();
    run_invocations(&sink, invocations, |_| async {
        for n in 0..3 {
            load_order(n).await;
        }
    })
    .await;
    let docs = complete(&sink);
    assert_eq!(docs.len(), 8 * (1 + 3 * 4));
    for root in &roots {
        let mine: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] == root.as_str()).collect();
        assert_eq!(mine.len(), 13, "trace {root}");
        let handler = mine.iter().find(|d| d["name"] == "## handler").expect("handler");
        assert_eq!(handler["parent_id"], FACADE);
        let ids: Vec<&Value> = mine.iter().map(|d| &d["id"]).collect();
        for doc in &mine {
            let expected = match doc["name"].as_str() {
                Some("load_order") => vec![&handler["id"]],
                Some("## handler") => vec![&handler["parent_id"]],
                _ => ids.clone(),
            };
            assert!(expected.contains(&&doc["parent_id"]), "{doc} in trace {root}");
        }
        for load in mine.iter().filter(|d| d["name"] == "load_order") {
            let children: Vec<&&Value> = mine.iter().filter(|d| d["parent_id"] == load["id"]).collect();
            assert_eq!(children.len(), 2, "price and fetch under each load_order of {root}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_that_outlives_its_invocation_is_sent_in_progress_then_complete() {
    let sink = MemorySink::new();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let done_tx = Arc::new(Mutex::new(Some(done_tx)));
    run_invocations(&sink, vec![lambda_invocation("req-3", Some(SAMPLED))], move |_| {
        let done_tx = done_tx.clone();
        async move {
            let late = async move {
                tokio::time::sleep(Duration::from_millis(30)).await;
                if let Some(tx) = done_tx.lock().unwrap_or_else(PoisonError::into_inner).take() {
                    let _ = tx.send(());
                }
            };
            drop(tokio::spawn(late.instrument(info_span!("late"))));
        }
    })
    .await;
    // The spawned span holds lambda_runtime's span open (a `tracing` parent lives as long as its children), so the
    // invocation ends when the late span does: nothing is lost, and the parent is exact.
    done_rx.await.expect("late span ran");
    tokio::time::sleep(Duration::from_millis(20)).await;
    let docs = complete(&sink);
    let (late, handler) = (named(&docs, "late"), named(&docs, "## handler"));
    assert_eq!(late["parent_id"], handler["id"]);
    assert_eq!(late["trace_id"], ROOT);
    assert!(handler["end_time"].as_f64() >= late["end_time"].as_f64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_under_the_runtime_span_mark_faults_with_a_cause() {
    let sink = MemorySink::new();
    run_invocations(&sink, vec![lambda_invocation("req-4", Some(SAMPLED))], |_| async {
        let _ = reserve_later(7).await;
    })
    .await;
    let docs = complete(&sink);
    let failed = named(&docs, "reserve_later");
    assert_eq!(failed["fault"], true);
    assert_eq!(failed["parent_id"], named(&docs, "## handler")["id"]);
    assert!(failed["cause"]["exceptions"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_or_missing_header_records_nothing_and_logs_still_carry_the_root() {
    let sink = MemorySink::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_in = seen.clone();
    run_invocations(
        &sink,
        vec![lambda_invocation("req-5", Some(UNSAMPLED)), lambda_invocation("req-6", None)],
        move |_| {
            let seen = seen_in.clone();
            async move {
                load_order(1).await;
                seen.lock().unwrap_or_else(PoisonError::into_inner).push(xray_core::trace_id().map(|t| t.to_string()));
            }
        },
    )
    .await;
    assert!(sink.documents().is_empty(), "{:?}", sink.documents());
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    assert!(seen.contains(&Some(ROOT.to_owned())), "{seen:?}");
}

/// Regression guard for issue 20: the AWS SDK's own spans (an operation span and an attempt span, as
/// aws-smithy-runtime opens them) record nothing, so a call under an `#[instrument]` span is not recorded twice
/// next to the interceptor's subsegment; spans inside them go under the span around the call.
#[test]
fn the_aws_sdks_own_spans_record_nothing() {
    let (_, docs) = in_trace(SAMPLED, || {
        info_span!("save").in_scope(|| {
            tracing::debug_span!(target: "aws_sdk_dynamodb::operation::put_item", "DynamoDB.PutItem",
                "rpc.service" = "DynamoDB", "rpc.method" = "PutItem", "rpc.system" = "aws-api")
            .in_scope(|| {
                tracing::debug_span!(target: "aws_smithy_runtime::client::orchestrator", "try_attempt", attempt = 1)
                    .in_scope(|| info_span!("inner").in_scope(|| ()))
            })
        })
    });
    assert_eq!(names(&docs), ["inner", "save"]);
    assert_eq!(docs[0]["parent_id"], docs[1]["id"]);
}

// A span that records nothing is kept out of its trace's arena until something needs it there: these check that it
// still reaches the documents exactly once, whatever needs it.

#[test]
fn a_span_open_when_its_trace_ends_is_sent_in_progress_then_complete() {
    install();
    let sink = MemorySink::new();
    let open = sink.run(|| {
        let trace = Trace::lambda(Some(SAMPLED));
        let ctx = trace.context().enter();
        let open = info_span!("still_open");
        open.in_scope(|| ());
        drop(ctx);
        // The invocation times out with the span open.
        trace.end();
        open
    });
    let sent = documents(&sink);
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!((&sent[0]["name"], &sent[0]["in_progress"]), (&json!("still_open"), &json!(true)));
    sink.run(|| drop(open));
    let docs = documents(&sink);
    assert_eq!(docs.len(), 2, "{docs:#?}");
    assert_eq!(docs[1]["id"], sent[0]["id"]);
    assert_eq!(exact(&docs[1]), subsegment("still_open", &json!(FACADE)));
}

#[test]
fn a_span_entered_on_two_threads_at_once_is_one_subsegment() {
    install();
    let sink = MemorySink::new();
    sink.run(|| {
        let trace = Trace::lambda(Some(SAMPLED));
        let _ctx = trace.context().enter();
        let shared = info_span!("shared");
        let both_in = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            for n in 0..2_u64 {
                let (shared, both_in) = (&shared, &both_in);
                s.spawn(move || {
                    shared.in_scope(|| {
                        both_in.wait();
                        info_span!("child", n).in_scope(|| ());
                        both_in.wait();
                    })
                });
            }
        });
        drop(shared);
        // Anything still open (a second copy of `shared`, say) would be sent now, `in_progress`.
        trace.end();
    });
    let docs = documents(&sink);
    assert_eq!(docs.len(), 3, "{docs:#?}");
    let shared = named(&docs, "shared");
    assert_eq!(exact(shared), subsegment("shared", &json!(FACADE)));
    let children: Vec<&Value> = docs.iter().filter(|d| d["name"] == "child").collect();
    assert_eq!(children.len(), 2);
    assert!(children.iter().all(|c| c["parent_id"] == shared["id"]), "{docs:#?}");
}

#[test]
fn a_span_recorded_on_while_entered_is_one_subsegment_with_its_children() {
    let (_, docs) = in_trace(SAMPLED, || {
        let span = info_span!("late_field", order_id = tracing::field::Empty);
        span.in_scope(|| {
            priced(1);
            span.record("order_id", 7);
            priced(2);
        });
    });
    let late = named(&docs, "late_field");
    assert_eq!(docs.iter().filter(|d| d["name"] == "late_field").count(), 1, "{docs:#?}");
    assert_eq!(late["annotations"]["order_id"], 7);
    let calls: Vec<&Value> = docs.iter().filter(|d| d["name"] == "priced").collect();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c["parent_id"] == late["id"]), "{docs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_ended_under_the_runtime_span_is_sent_when_the_handler_waits() {
    let sink = MemorySink::new();
    let seen_at_wait = Arc::new(Mutex::new(Vec::new()));
    let (seen, handler_sink) = (seen_at_wait.clone(), sink.clone());
    run_invocations(&sink, vec![lambda_invocation("req-5", Some(SAMPLED))], move |_| {
        let (seen, sink) = (seen.clone(), handler_sink.clone());
        async move {
            price(1);
            let open = info_span!("across_the_wait");
            async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                // The handler's first wait is over: what had ended then, and what was open, is already sent.
                *seen.lock().unwrap_or_else(PoisonError::into_inner) = documents(&sink);
            }
            .instrument(open)
            .await;
        }
    })
    .await;
    let seen = seen_at_wait.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let ended: Vec<&Value> = seen.iter().filter(|d| d.get("in_progress").is_none()).collect();
    assert_eq!(ended.iter().map(|d| d["name"].as_str()).collect::<Vec<_>>(), [Some("tax"), Some("price")], "{seen:#?}");
    let waiting = seen.iter().find(|d| d["name"] == "across_the_wait").expect("sent at the wait");
    assert_eq!(waiting["in_progress"], true);
    let docs = complete(&sink);
    assert_eq!(names(&docs), ["tax", "price", "across_the_wait", "## handler"]);
    assert_eq!(named(&docs, "across_the_wait")["id"], waiting["id"]);
}
