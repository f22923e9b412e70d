//! `#[traced]` behaviour: the exact documents captured by an in-memory sink for each kind of function and option.
#![allow(missing_docs)]

mod common;

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{FACADE, ROOT, SAMPLED, UNSAMPLED, documents, exact, exception, names, within};
use serde_json::json;
use xray_core::testing::MemorySink;
use xray_core::{Trace, traced};

/// Runs `f` inside a sampled Lambda invocation whose documents go to a new sink.
fn sampled<R>(f: impl FnOnce() -> R) -> (R, Vec<serde_json::Value>) {
    let sink = MemorySink::new();
    let out = sink.run(|| {
        let _in_trace = Trace::lambda(Some(SAMPLED)).context().enter();
        f()
    });
    (out, documents(&sink))
}

/// Runs `future` inside a sampled Lambda invocation whose documents go to a new sink.
async fn sampled_async<F: Future>(future: F) -> (F::Output, Vec<serde_json::Value>) {
    let sink = MemorySink::new();
    let out = sink.scope(async { Trace::lambda(Some(SAMPLED)).context().scope(future).await }).await;
    (out, documents(&sink))
}

#[traced]
fn leaf(x: u32) -> u32 {
    x + 1
}

#[traced]
fn outer(x: u32) -> u32 {
    leaf(x) * 2
}

#[test]
fn nested_sync_calls_are_nested_subsegments() {
    let (out, docs) = sampled(|| outer(1));
    assert_eq!(out, 4);
    assert_eq!(names(&docs), ["leaf", "outer"]);
    assert_eq!(
        exact(&docs[1]),
        json!({"name": "outer", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment"})
    );
    assert_eq!(
        exact(&docs[0]),
        json!({"name": "leaf", "id": "<id>", "trace_id": ROOT, "parent_id": docs[1]["id"], "type": "subsegment"})
    );
    within(&docs[0], &docs[1]);
}

#[traced]
async fn fetch(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n * 10
}

#[traced(name = "fetch both")]
async fn fetch_both() -> u32 {
    let a = fetch(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let b = fetch(2).await;
    a + b
}

#[tokio::test]
async fn nested_async_calls_across_await_points() {
    let (out, docs) = sampled_async(fetch_both()).await;
    assert_eq!(out, 30);
    assert_eq!(names(&docs), ["fetch", "fetch", "fetch both"]);
    let parent = &docs[2];
    assert_eq!(
        exact(parent),
        json!({"name": "fetch both", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment"})
    );
    for child in &docs[..2] {
        assert_eq!(
            exact(child),
            json!({"name": "fetch", "id": "<id>", "trace_id": ROOT, "parent_id": parent["id"], "type": "subsegment"})
        );
        within(child, parent);
    }
    assert!(docs[0]["end_time"].as_f64() <= docs[1]["start_time"].as_f64(), "the calls ran one after the other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_children_on_other_threads_keep_their_parent() {
    #[traced]
    async fn fan_out() -> u32 {
        let tasks: Vec<_> = (0..4).map(|n| tokio::spawn(xray_core::bind(fetch(n)))).collect();
        let mut sum = 0;
        for task in tasks {
            sum += task.await.expect("task");
        }
        sum
    }
    let (out, docs) = sampled_async(fan_out()).await;
    assert_eq!(out, 60);
    let parent = common::named(&docs, "fan_out");
    let children: Vec<_> = docs.iter().filter(|d| d["name"] == "fetch").collect();
    assert_eq!(children.len(), 4);
    for child in children {
        assert_eq!(child["parent_id"], parent["id"]);
    }
}

// A call that records nothing is kept out of the trace's arena while it runs (see `xray_core`'s `trace::Pending`);
// whatever needs it there (recording on it, a child, a copy of the context, a wait) adopts it. Each way must give the
// same documents, each sent once.

#[traced]
fn annotated_in_body(n: u32) -> u32 {
    xray_core::put_annotation("n", n);
    leaf(n)
}

#[test]
fn recording_in_a_sync_body_after_a_child_lands_on_the_call() {
    let (out, docs) = sampled(|| {
        let a = annotated_in_body(1);
        a + leaf(5)
    });
    assert_eq!(out, 8);
    assert_eq!(names(&docs), ["leaf", "annotated_in_body", "leaf"]);
    let call = common::named(&docs, "annotated_in_body");
    assert_eq!(
        exact(call),
        json!({"name": "annotated_in_body", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
               "annotations": {"n": 1}})
    );
    assert_eq!(docs[0]["parent_id"], call["id"]);
    assert_eq!(docs[2]["parent_id"], FACADE, "the call after it is its sibling");
}

#[tokio::test]
async fn interleaved_calls_in_one_task_record_on_their_own_subsegments() {
    #[traced]
    async fn step(n: u32) -> u32 {
        tokio::task::yield_now().await;
        xray_core::put_annotation("step", n);
        n
    }
    #[traced]
    async fn quick(n: u32) -> u32 {
        n
    }
    // `join!` polls both in this task: the two calls are current in turn in the same context.
    let (out, docs) = sampled_async(async {
        let (a, b) = tokio::join!(step(1), step(2));
        a + b + quick(3).await
    })
    .await;
    assert_eq!(out, 6);
    assert_eq!(docs.len(), 3, "each call sent once: {docs:?}");
    for n in [1, 2] {
        let doc = docs.iter().find(|d| d["annotations"]["step"] == n).expect("each step's annotation");
        assert_eq!(
            exact(doc),
            json!({"name": "step", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
                   "annotations": {"step": n}})
        );
    }
    assert_eq!(
        exact(common::named(&docs, "quick")),
        json!({"name": "quick", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_copied_inside_a_call_parents_what_runs_in_it() {
    #[traced]
    fn hand_over() -> xray_core::Context {
        xray_core::Context::current().expect("a context")
    }
    #[traced]
    async fn spawn_from_call() -> u32 {
        tokio::spawn(xray_core::bind(fetch(4))).await.expect("task")
    }
    let ((ctx_child, spawned), docs) = sampled_async(async {
        let ctx = hand_over();
        let child = xray_core::Subsegment::begin_in(&ctx, "by hand");
        let id = child.id();
        child.end();
        (id, spawn_from_call().await)
    })
    .await;
    assert_eq!(spawned, 40);
    assert_eq!(names(&docs), ["hand_over", "by hand", "fetch", "spawn_from_call"]);
    let hand_over = common::named(&docs, "hand_over");
    assert_eq!(docs[1]["parent_id"], hand_over["id"], "the copied context's subsegment is the call's");
    assert_eq!(docs[1]["id"], ctx_child.expect("recorded").to_string());
    assert_eq!(docs[2]["parent_id"], common::named(&docs, "spawn_from_call")["id"]);
}

#[test]
fn a_call_that_enters_another_trace_keeps_each_subsegment_in_its_own_trace() {
    const OTHER_ROOT: &str = "1-5759e988-00000000000000000000000a";
    const OTHER_PARENT: &str = "00000000000000bb";
    #[traced]
    fn in_other_trace() -> u32 {
        let other = Trace::lambda(Some(&format!("Root={OTHER_ROOT};Parent={OTHER_PARENT};Sampled=1")));
        let _in_other = other.context().enter();
        leaf(1)
    }
    let (out, docs) = sampled(in_other_trace);
    assert_eq!(out, 2);
    assert_eq!(names(&docs), ["leaf", "in_other_trace"]);
    assert_eq!(
        exact(&docs[0]),
        json!({"name": "leaf", "id": "<id>", "trace_id": OTHER_ROOT, "parent_id": OTHER_PARENT, "type": "subsegment"})
    );
    assert_eq!(
        exact(&docs[1]),
        json!({"name": "in_other_trace", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment"})
    );
}

#[tokio::test]
async fn a_call_never_polled_and_dropped_outside_its_trace_is_not_sent_and_does_not_fail() {
    let sink = MemorySink::new();
    let trace = Trace::lambda(Some(SAMPLED));
    let future = sink.run(|| {
        let _in_trace = trace.context().enter();
        fetch(1)
    });
    drop(future);
    sink.run(|| trace.end());
    assert!(documents(&sink).is_empty());
}

#[derive(Debug)]
struct NotFound(u32);

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "order {} not found", self.0)
    }
}

impl std::error::Error for NotFound {}

#[derive(Debug)]
struct Wrapped(NotFound);

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("lookup failed")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

fn find(id: u32) -> Result<u32, NotFound> {
    if id == 0 { Err(NotFound(id)) } else { Ok(id) }
}

#[traced]
fn lookup(id: u32) -> Result<u32, Wrapped> {
    let found = find(id).map_err(Wrapped)?;
    Ok(found * 2)
}

#[test]
fn question_mark_early_return_records_the_error_with_its_source_chain() {
    let (out, docs) = sampled(|| (lookup(0), lookup(3)));
    assert!(matches!(out.0, Err(Wrapped(NotFound(0)))), "the error is returned unchanged");
    assert_eq!(out.1.expect("ok"), 6);
    assert_eq!(
        exact(&docs[0]),
        json!({
            "name": "lookup", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "fault": true,
            "cause": {"exceptions": [
                {"id": "<id>", "type": "traced::Wrapped", "message": "lookup failed", "cause": "<id>"},
                {"id": "<id>", "type": "NotFound", "message": "order 0 not found"},
            ]},
        })
    );
    let exceptions = &docs[0]["cause"]["exceptions"];
    assert_eq!(exceptions[0]["cause"], exceptions[1]["id"]);
    assert_eq!(
        exact(&docs[1]),
        json!({"name": "lookup", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment"})
    );
}

#[traced]
async fn parse_async(text: &str) -> Result<u8, String> {
    tokio::task::yield_now().await;
    text.parse::<u8>().map_err(|e| format!("bad number {text:?}: {e}"))
}

#[tokio::test]
async fn display_only_errors_are_recorded_with_their_text() {
    let (out, docs) = sampled_async(parse_async("x")).await;
    assert_eq!(out, Err("bad number \"x\": invalid digit found in string".to_owned()));
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(exception(&docs[0]), ("alloc::string::String", "bad number \"x\": invalid digit found in string"));
}

#[traced(err = false)]
fn quiet(id: u32) -> Result<u32, NotFound> {
    find(id)
}

#[test]
fn err_false_leaves_errors_unrecorded() {
    let (out, docs) = sampled(|| quiet(0));
    assert!(out.is_err());
    assert_eq!(
        exact(&docs[0]),
        json!({"name": "quiet", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment"})
    );
}

#[traced]
fn explode(n: u32) -> u32 {
    if n > 0 {
        panic!("boom {n}");
    }
    n
}

#[traced]
fn calls_explode() -> u32 {
    explode(7)
}

#[test]
fn a_panic_marks_fault_with_its_message_and_keeps_unwinding() {
    let (caught, docs) = sampled(|| catch_unwind(calls_explode));
    let payload = caught.expect_err("the panic goes on to the caller");
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("boom 7"));
    assert_eq!(names(&docs), ["explode", "calls_explode"]);
    assert_eq!(
        exact(&docs[0]),
        json!({
            "name": "explode", "id": "<id>", "trace_id": ROOT, "parent_id": docs[1]["id"], "type": "subsegment",
            "fault": true, "cause": {"exceptions": [{"id": "<id>", "type": "panic", "message": "boom 7"}]},
        })
    );
    // The caller is unwound through, not panicking itself: fault with the generic cause xray-core gives.
    assert_eq!(docs[1]["fault"], true);
    // The context is restored: the trace goes on after the panic.
    let (after, docs) = sampled(|| {
        let _ = catch_unwind(|| explode(1));
        outer(1)
    });
    assert_eq!(after, 4);
    assert_eq!(names(&docs), ["explode", "leaf", "outer"]);
    assert_eq!(docs[2]["parent_id"], FACADE);
}

#[traced]
async fn explode_async(n: u32) -> u32 {
    tokio::task::yield_now().await;
    if n > 0 {
        panic!("async boom {n}");
    }
    n
}

#[tokio::test]
async fn a_panic_in_an_async_fn_marks_fault_with_its_message() {
    let sink = MemorySink::new();
    let task = tokio::spawn(sink.scope(Trace::lambda(Some(SAMPLED)).context().scope(explode_async(3))));
    let error = task.await.expect_err("the task panicked");
    let payload = error.into_panic();
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("async boom 3"));
    let docs = documents(&sink);
    assert_eq!(
        exact(&docs[0]),
        json!({
            "name": "explode_async", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "fault": true, "cause": {"exceptions": [{"id": "<id>", "type": "panic", "message": "async boom 3"}]},
        })
    );
}

#[tokio::test]
async fn a_dropped_future_still_closes_its_subsegment() {
    #[traced]
    async fn never_finishes() {
        std::future::pending::<()>().await;
    }
    let ((), docs) = sampled_async(async {
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(5), never_finishes()).await;
        assert!(timed_out.is_err());
    })
    .await;
    assert_eq!(
        exact(&docs[0]),
        json!({"name": "never_finishes", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment"})
    );
}

/// Polls `future` once, then hands it back, started.
async fn started<F: Future + Unpin>(mut future: F) -> F {
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut future).poll(cx))).await;
    assert!(polled.is_pending(), "the future should wait at least once");
    future
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_future_finished_in_a_bound_task_ends_its_subsegment_there() {
    let (out, docs) = sampled_async(async {
        let future = started(Box::pin(fetch_both())).await;
        tokio::spawn(xray_core::bind(future)).await.expect("task")
    })
    .await;
    assert_eq!(out, 30);
    assert_eq!(names(&docs), ["fetch", "fetch", "fetch both"]);
    let parent = common::named(&docs, "fetch both");
    assert!(docs.iter().filter(|d| d["name"] == "fetch").all(|d| d["parent_id"] == parent["id"]));
    assert!(docs.iter().all(|d| d.get("end_time").is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_future_finished_outside_its_trace_returns_the_same_and_is_sent_in_progress_at_the_end() {
    let sink = MemorySink::new();
    let trace = Trace::lambda(Some(SAMPLED));
    let before = xray_core::diag::count(xray_core::diag::DiagKind::ContextMissing);
    let future = sink.scope(trace.context().scope(started(Box::pin(fetch_both())))).await;
    // Finished in a task that was not given the context: the calls run untraced, and the result is unchanged.
    let out = tokio::spawn(future).await.expect("task");
    assert_eq!(out, 30);
    assert!(xray_core::diag::count(xray_core::diag::DiagKind::ContextMissing) > before);
    sink.run(|| trace.end());
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["fetch both", "fetch"], "both calls open when the task changed");
    assert!(docs.iter().all(|d| d["in_progress"] == true && d.get("end_time").is_none()));
}

#[test]
fn unsampled_and_contextless_calls_record_nothing_and_return_the_same() {
    let sink = MemorySink::new();
    let (a, b) = sink.run(|| {
        let a = {
            let _in_trace = Trace::lambda(Some(UNSAMPLED)).context().enter();
            (outer(1), lookup(0).is_err(), catch_unwind(|| explode(1)).is_err())
        };
        (a, (outer(1), lookup(0).is_err()))
    });
    assert_eq!(a, (4, true, true));
    assert_eq!(b, (4, true));
    assert!(sink.raw().is_empty());
    let missing = xray_core::diag::recent();
    assert!(!missing.iter().any(|(_, m)| m.contains("outer")), "no context is not an error for #[traced]: {missing:?}");
}

#[derive(Debug, serde::Serialize, Clone)]
struct Order {
    id: u64,
}

#[traced(
    name = "place order",
    namespace = "remote",
    annotate(order_id = order.id, "tier" = tier, express = express),
    metadata(order = order, note = "first"),
    capture_args,
    skip(secret),
    capture_ret
)]
fn place(order: &Order, tier: String, express: bool, secret: &str) -> Option<u64> {
    assert_eq!(secret.len(), 6);
    Some(order.id + tier.len() as u64)
}

#[test]
fn options_set_name_namespace_annotations_metadata_args_and_return() {
    let (out, docs) = sampled(|| place(&Order { id: 40 }, "gold".to_owned(), true, "hidden"));
    assert_eq!(out, Some(44));
    assert_eq!(
        exact(&docs[0]),
        json!({
            "name": "place order", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "namespace": "remote",
            "annotations": {"order_id": 40, "tier": "gold", "express": true},
            "metadata": {"default": {
                "order": {"id": 40},
                "note": "first",
                "args": {"order": "Order { id: 40 }", "tier": "\"gold\"", "express": "true"},
                "return": "Some(44)",
            }},
        })
    );
}

#[traced(capture_args, capture_ret, annotate(id = id), metadata(ids = [id, id + 1]))]
async fn load_async(id: u64, label: &str) -> Result<String, NotFound> {
    tokio::task::yield_now().await;
    if id == 0 { Err(NotFound(0)) } else { Ok(format!("{label}{id}")) }
}

#[tokio::test]
async fn options_apply_to_async_fns_too() {
    let ((ok, err), docs) = sampled_async(async { (load_async(4, "n").await, load_async(0, "z").await) }).await;
    assert_eq!(ok.expect("ok"), "n4");
    assert!(err.is_err());
    assert_eq!(
        exact(&docs[0]),
        json!({
            "name": "load_async", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {"id": 4},
            "metadata": {"default": {"ids": [4, 5], "args": {"id": "4", "label": "\"n\""}, "return": "Ok(\"n4\")"}},
        })
    );
    assert_eq!(
        exact(&docs[1]),
        json!({
            "name": "load_async", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "fault": true,
            "cause": {"exceptions": [{"id": "<id>", "type": "traced::NotFound", "message": "order 0 not found"}]},
            "annotations": {"id": 0},
            "metadata": {"default": {"ids": [0, 1], "args": {"id": "0", "label": "\"z\""}, "return": "Err(NotFound(0))"}},
        })
    );
}

#[traced(annotate(id = payload["id"].as_str().unwrap_or("")))]
fn tag(payload: &serde_json::Value) -> usize {
    let tenant = format!("tenant-{}", payload["tenant"].as_str().unwrap_or_default());
    xray_core::put_annotation("tenant", tenant.as_str());
    tenant.len()
}

#[test]
fn borrowed_strings_are_annotation_values_through_the_attribute_and_the_api() {
    // Regression (issue 10): `annotate(k = <&str>)` and `put_annotation(k, s.as_str())` required a `&'static str`.
    let (out, docs) = sampled(|| tag(&json!({"id": "o-7", "tenant": "acme"})));
    assert_eq!(out, 11);
    assert_eq!(docs[0]["annotations"], json!({"id": "o-7", "tenant": "tenant-acme"}));
}

#[traced(capture_args, skip_all, namespace = "aws")]
fn all_skipped(token: &str) -> usize {
    token.len()
}

#[test]
fn skip_all_captures_no_argument() {
    let (out, docs) = sampled(|| all_skipped("abc"));
    assert_eq!(out, 3);
    assert_eq!(
        exact(&docs[0]),
        json!({
            "name": "all_skipped", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "namespace": "aws",
        })
    );
}

struct Store {
    items: Vec<String>,
}

impl Store {
    #[traced]
    fn first(&self) -> Option<&str> {
        self.items.first().map(String::as_str)
    }

    #[traced]
    fn push(&mut self, item: impl Into<String>) -> &mut Vec<String> {
        self.items.push(item.into());
        &mut self.items
    }

    #[traced]
    fn into_len(self) -> usize {
        self.items.len()
    }

    #[traced]
    async fn first_async(&self) -> Option<&str> {
        tokio::task::yield_now().await;
        self.items.first().map(String::as_str)
    }

    #[traced]
    fn longest<'a>(&self, a: &'a str, b: &'a str) -> &'a str {
        if a.len() >= b.len() { a } else { b }
    }
}

#[traced]
fn generic_sum<T: Copy + Into<u64>, const N: usize>(values: [T; N]) -> u64 {
    values.iter().map(|&v| v.into()).sum()
}

trait Named {
    async fn label(&self, prefix: &str) -> String;
}

impl Named for Store {
    #[traced]
    async fn label(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.items.len())
    }
}

#[tokio::test]
async fn methods_generics_lifetimes_and_trait_impls_keep_their_behaviour() {
    let ((first, pushed, len, longest, sum), docs) = sampled(|| {
        let mut store = Store { items: vec!["a".into()] };
        let first = store.first().map(str::to_owned);
        let pushed = store.push("b").len();
        let longest = store.longest("xy", "z").to_owned();
        let sum = generic_sum([1u8, 2, 3]);
        (first, pushed, store.into_len(), longest, sum)
    });
    assert_eq!((first.as_deref(), pushed, len, longest.as_str(), sum), (Some("a"), 2, 2, "xy", 6));
    assert_eq!(names(&docs), ["first", "push", "longest", "generic_sum", "into_len"]);

    let store = Store { items: vec!["q".into()] };
    let ((first, label), docs) =
        sampled_async(async { (store.first_async().await.map(str::to_owned), store.label("n=").await) }).await;
    assert_eq!((first.as_deref(), label.as_str()), (Some("q"), "n=1"));
    assert_eq!(names(&docs), ["first_async", "label"]);
}

mod renamed {
    pub(crate) use ::xray_core as runtime;
}

#[traced(crate = crate::renamed::runtime)]
fn through_renamed_crate() -> u8 {
    1
}

#[test]
fn crate_option_points_at_a_renamed_runtime() {
    let (out, docs) = sampled(through_renamed_crate);
    assert_eq!(out, 1);
    assert_eq!(names(&docs), ["through_renamed_crate"]);
}

/// Whether a future is `Send`, told at compile time.
fn assert_send<F: Future + Send>(future: F) -> F {
    future
}

#[traced]
async fn holds_a_send_value(n: u32) -> u32 {
    let value = std::sync::Arc::new(n);
    tokio::task::yield_now().await;
    *value
}

#[tokio::test]
async fn a_traced_future_is_send_when_the_plain_one_is() {
    // Compile-time: these calls only type-check if the futures are Send.
    let a = assert_send(holds_a_send_value(2));
    let b = assert_send(fetch_both());
    let c = assert_send(Store { items: Vec::new() }.label_owned());
    assert_eq!((a.await, b.await, c.await), (2, 30, "0".to_owned()));
}

impl Store {
    #[traced]
    async fn label_owned(self) -> String {
        self.items.len().to_string()
    }
}

#[traced]
async fn not_send_across_await() -> u32 {
    let local = std::rc::Rc::new(5);
    tokio::task::yield_now().await;
    *local
}

#[tokio::test]
async fn a_non_send_future_stays_usable_locally() {
    // The plain function's future is not Send; the traced one runs the same on a local task.
    let local = tokio::task::LocalSet::new();
    let (out, docs) = local.run_until(sampled_async(not_send_across_await())).await;
    assert_eq!(out, 5);
    assert_eq!(names(&docs), ["not_send_across_await"]);
}

#[test]
fn panics_are_not_caught_when_unsampled() {
    let sink = MemorySink::new();
    let caught = sink.run(|| {
        let _in_trace = Trace::lambda(Some(UNSAMPLED)).context().enter();
        catch_unwind(AssertUnwindSafe(|| explode(2)))
    });
    assert!(caught.is_err());
    assert!(sink.raw().is_empty());
}
