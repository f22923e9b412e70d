//! The trace context follows `.await`, carries into spawned tasks when asked, and never mixes invocations.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::{FACADE, HEADER, ROOT, documents, named};
use serde_json::{Value, json};
use xray_core::diag::{self, DiagKind};
use xray_core::testing::MemorySink;
use xray_core::{Context, Subsegment, Trace, bind, current, handler, in_subsegment, put_annotation, subsegment};

fn header(root_suffix: usize, sampled: u8) -> String {
    format!("Root=1-5759e988-{root_suffix:024x};Parent=53995c3f42cd8ad8;Sampled={sampled}")
}

#[tokio::test]
async fn nested_subsegments_across_await_keep_their_parents() {
    let sink = MemorySink::new();
    sink.scope(Trace::lambda(Some(HEADER)).context().scope(in_subsegment("## handler", async {
        put_annotation("level", 0);
        in_subsegment("outer", async {
            tokio::time::sleep(Duration::from_millis(2)).await;
            in_subsegment("inner", async {
                tokio::task::yield_now().await;
                put_annotation("level", 2);
            })
            .await;
            put_annotation("level", 1);
        })
        .await;
    })))
    .await;
    let docs = documents(&sink);
    let names: Vec<&str> = docs.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["inner", "outer", "## handler"], "sent as each ends");
    let (h, o, i) = (named(&docs, "## handler"), named(&docs, "outer"), named(&docs, "inner"));
    assert_eq!(h["parent_id"], FACADE);
    assert_eq!(o["parent_id"], h["id"]);
    assert_eq!(i["parent_id"], o["id"]);
    for (doc, level) in [(h, 0), (o, 1), (i, 2)] {
        assert_eq!(doc["trace_id"], ROOT);
        assert_eq!(doc["annotations"]["level"], level);
        assert!(doc["start_time"].as_f64() <= doc["end_time"].as_f64());
    }
    assert!(o["end_time"].as_f64().unwrap_or(0.0) - o["start_time"].as_f64().unwrap_or(0.0) >= 0.002);
    assert!(h["start_time"].as_f64() <= o["start_time"].as_f64() && o["end_time"].as_f64() <= h["end_time"].as_f64());
}

#[test]
fn sync_guards_nest_and_restore() {
    let sink = MemorySink::new();
    sink.run(|| {
        let _ctx = Trace::lambda(Some(HEADER)).context().enter();
        let outer = subsegment("outer");
        {
            let inner = subsegment("inner");
            put_annotation("where", "inner");
            assert_ne!(inner.id(), outer.id());
        }
        put_annotation("where", "outer");
    });
    let docs = documents(&sink);
    assert_eq!(named(&docs, "inner")["parent_id"], named(&docs, "outer")["id"]);
    assert_eq!(named(&docs, "outer")["annotations"]["where"], "outer");
    assert!(Context::current().is_none(), "the guard restored the empty context");
}

#[test]
fn sync_guards_dropped_out_of_order_still_end() {
    let sink = MemorySink::new();
    sink.run(|| {
        let _ctx = Trace::lambda(Some(HEADER)).context().enter();
        let outer = subsegment("outer");
        let inner = subsegment("inner");
        drop(outer);
        put_annotation("where", "inner");
        drop(inner);
    });
    let docs = documents(&sink);
    assert_eq!(docs.iter().map(|d| d["name"].as_str()).collect::<Vec<_>>(), [Some("outer"), Some("inner")]);
    assert_eq!(named(&docs, "inner")["annotations"]["where"], "inner");
    assert!(docs.iter().all(|d| d.get("end_time").is_some()));
}

#[test]
fn a_guard_outliving_its_context_is_diagnosed_and_sent_in_progress_when_the_trace_ends() {
    let sink = MemorySink::new();
    let trace = Trace::lambda(Some(HEADER));
    let before = diag::count(DiagKind::ContextMissing);
    sink.run(|| {
        let entered = trace.context().enter();
        let guard = subsegment("outlives");
        drop(entered);
        drop(guard);
        assert!(sink.documents().is_empty(), "the guard could not end its subsegment");
        trace.end();
    });
    assert!(diag::count(DiagKind::ContextMissing) > before);
    let docs = documents(&sink);
    assert_eq!(docs.len(), 1);
    assert_eq!((&docs[0]["name"], &docs[0]["in_progress"]), (&json!("outlives"), &json!(true)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_carries_the_context_into_spawned_tasks() {
    let sink = MemorySink::new();
    sink.scope(Trace::lambda(Some(HEADER)).context().scope(in_subsegment("## handler", async {
        let traced = tokio::spawn(bind(in_subsegment("background", async { put_annotation("bound", true) })));
        let untraced = tokio::spawn(async { Context::current().is_none() });
        traced.await.expect("task");
        assert!(untraced.await.expect("task"), "without bind a spawned task has no context");
    })))
    .await;
    let docs = documents(&sink);
    assert_eq!(named(&docs, "background")["parent_id"], named(&docs, "## handler")["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_concurrent_invocations_make_a_hundred_separate_trees() {
    let sink = MemorySink::new();
    let tasks: Vec<_> = (0..100)
        .map(|n| {
            let header = header(n, 1);
            tokio::spawn(sink.scope(async move {
                Trace::lambda(Some(&header))
                    .context()
                    .scope(in_subsegment("## handler", async move {
                        handler().put_annotation("invocation", n as u64);
                        for step in 0..3u64 {
                            in_subsegment("step", async move {
                                tokio::time::sleep(Duration::from_micros(100 * (n as u64 % 7))).await;
                                put_annotation("invocation", n as u64);
                                put_annotation("step", step);
                            })
                            .await;
                        }
                    }))
                    .await;
            }))
        })
        .collect();
    for task in tasks {
        task.await.expect("invocation");
    }
    let docs = documents(&sink);
    assert_eq!(docs.len(), 400);
    let mut by_trace: HashMap<String, Vec<&Value>> = HashMap::new();
    for doc in &docs {
        by_trace.entry(doc["trace_id"].as_str().unwrap_or_default().to_owned()).or_default().push(doc);
    }
    assert_eq!(by_trace.len(), 100);
    for (trace_id, docs) in by_trace {
        let n = u64::from_str_radix(&trace_id[11..], 16).expect("hex");
        let handler = docs.iter().find(|d| d["name"] == "## handler").expect("handler");
        assert_eq!(handler["annotations"]["invocation"], n);
        let steps: Vec<_> = docs.iter().filter(|d| d["name"] == "step").collect();
        assert_eq!(steps.len(), 3);
        let mut seen = HashSet::new();
        for step in steps {
            assert_eq!(step["parent_id"], handler["id"], "a step of {trace_id} hangs under its own handler");
            assert_eq!(step["annotations"]["invocation"], n, "no annotation leaked from another invocation");
            seen.insert(step["annotations"]["step"].as_u64());
        }
        assert_eq!(seen.len(), 3);
    }
}

#[tokio::test]
async fn unsampled_and_missing_headers_record_nothing_but_still_propagate() {
    let sink = MemorySink::new();
    let propagated = sink
        .scope(async {
            let trace = Trace::lambda(Some(&header(1, 0)));
            trace
                .context()
                .scope(in_subsegment("## handler", async {
                    put_annotation("x", 1);
                    assert!(!current().is_recording());
                    Context::current().map(|c| c.trace_header().to_string())
                }))
                .await
        })
        .await;
    assert_eq!(
        propagated.as_deref(),
        Some("Root=1-5759e988-000000000000000000000001;Parent=53995c3f42cd8ad8;Sampled=0")
    );
    sink.scope(Trace::lambda(None).context().scope(in_subsegment("init", async {}))).await;
    assert!(sink.documents().is_empty());
}

#[tokio::test]
async fn malformed_headers_are_diagnosed_and_the_function_carries_on() {
    let sink = MemorySink::new();
    for bad in ["Root=1-zz;Sampled=1", "garbage", "Sampled=1", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"] {
        let before = xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader);
        let out = sink.scope(Trace::lambda(Some(bad)).context().scope(in_subsegment("h", async { 5 }))).await;
        assert_eq!(out, 5);
        assert!(xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader) > before, "{bad}");
    }
    assert!(sink.documents().is_empty());
}

// Regression (issue 10, point 1): a header failing strict parsing propagated a new random Root with `Sampled=0` and
// no Lineage, which broke the trace and Lambda's recursive-loop detection.
#[tokio::test]
async fn a_malformed_header_keeps_its_root_and_lineage_downstream() {
    let sink = MemorySink::new();
    let duplicate = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;\
                     Lineage=a87bd80c:1|68fd508a:5;Sampled=1";
    let (header, id) = sink
        .scope(Trace::lambda(Some(duplicate)).context().scope(in_subsegment("call", async {
            (Context::current().expect("context").trace_header_value(), current().id().map(|i| i.to_string()))
        })))
        .await;
    let id = id.expect("a salvaged, sampled header with its parent is recorded");
    assert_eq!(header, format!("Root={ROOT};Parent={id};Sampled=1;Lineage=a87bd80c:1|68fd508a:5"));
    assert_eq!(common::named(&common::documents(&sink), "call")["parent_id"], FACADE);

    // Without a usable Parent nothing is recorded, and the Root and Lineage still go downstream.
    let no_parent = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=;Sampled=0;Lineage=a87bd80c:1;Foo";
    let header = MemorySink::new()
        .scope(
            Trace::lambda(Some(no_parent))
                .context()
                .scope(async { Context::current().expect("context").trace_header_value() }),
        )
        .await;
    assert_eq!(header, format!("Root={ROOT};Sampled=0;Lineage=a87bd80c:1"));
}

#[tokio::test]
async fn propagated_header_names_the_open_subsegment_and_keeps_lineage() {
    let sink = MemorySink::new();
    let (header, id) = sink
        .scope(Trace::lambda(Some(HEADER)).context().scope(in_subsegment("call", async {
            let ctx = Context::current().expect("context");
            (ctx.trace_header().to_string(), current().id().map(|i| i.to_string()))
        })))
        .await;
    let id = id.expect("recording");
    assert_eq!(header, format!("Root={ROOT};Parent={id};Sampled=1;Lineage=a87bd80c:1"));
}

#[test]
fn recording_without_context_follows_context_missing() {
    let before = xray_core::diag::count(xray_core::diag::DiagKind::ContextMissing);
    put_annotation("orphan", 1);
    let _guard = subsegment("orphan");
    assert!(xray_core::diag::count(xray_core::diag::DiagKind::ContextMissing) >= before + 2);
    assert!(xray_core::try_current().is_ok(), "LOG_ERROR (the default) hands out a no-op recorder");
}

#[tokio::test]
async fn handler_target_reaches_the_handler_from_nested_code() {
    let sink = MemorySink::new();
    sink.scope(async {
        let trace = Trace::lambda(Some(HEADER));
        let handler_sub = Subsegment::begin_in(&trace.context(), "## handler");
        handler_sub.send_in_progress();
        let ctx = trace.context().with_handler(&handler_sub);
        ctx.scope(in_subsegment("deep", async {
            handler().put_annotation("Service", "orders");
            current().put_annotation("here", true);
        }))
        .await;
        handler_sub.end();
    })
    .await;
    let docs = documents(&sink);
    assert_eq!(docs[0]["in_progress"], true, "the handler is announced as in progress first");
    assert!(docs[0].get("end_time").is_none());
    let complete = docs.iter().rev().find(|d| d["name"] == "## handler").expect("complete handler");
    assert_eq!(complete["id"], docs[0]["id"]);
    assert_eq!(complete["annotations"], json!({"Service": "orders"}));
    assert_eq!(named(&docs, "deep")["annotations"], json!({"here": true}));
}

#[tokio::test]
async fn trace_end_sends_open_subsegments_in_progress_for_timeouts() {
    let sink = MemorySink::new();
    sink.scope(async {
        let trace = Trace::lambda(Some(HEADER));
        let _stuck = std::mem::ManuallyDrop::new(Subsegment::begin_in(&trace.context(), "stuck"));
        trace.end();
    })
    .await;
    let docs = documents(&sink);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["name"], "stuck");
    assert_eq!(docs[0]["in_progress"], true);
}

#[tokio::test]
async fn a_panic_inside_a_subsegment_marks_it_fault() {
    let sink = MemorySink::new();
    let trace = sink.run(|| Trace::lambda(Some(HEADER)));
    let result = tokio::spawn(trace.context().scope(in_subsegment("boom", async {
        if Context::current().is_some() {
            panic!("kaboom");
        }
    })))
    .await;
    assert!(result.is_err());
    let docs = documents(&sink);
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(docs[0]["cause"]["exceptions"][0]["type"], "panic");
}
