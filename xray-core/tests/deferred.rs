//! What ends in a Lambda invocation waits in its trace and leaves in batches: when the handler waits, when
//! `MAX_ENDED` have ended, and when the invocation ends. A handler that times out (its process frozen at a wait and
//! never resumed) still shows what ended before that wait, and what was running as `in_progress`.
#![cfg(not(feature = "off"))]
#![allow(missing_docs)]

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

use common::{HEADER, valid};
use serde_json::Value;
use xray_core::emit::{Documents, Emitter};
use xray_core::{traced, traced_handler};

/// What each hand-over to the emitter carried: a `send` is a batch of one.
#[derive(Clone, Default)]
struct Batches(Arc<Mutex<Vec<Vec<Value>>>>);

impl Emitter for Batches {
    fn send(&self, document: &[u8]) {
        self.0.lock().expect("lock").push(vec![parsed(document)]);
    }

    fn send_all(&self, documents: Documents<'_>) {
        let batch = documents.iter().map(parsed).collect();
        self.0.lock().expect("lock").push(batch);
    }
}

/// A document read back, checked against the official schema.
fn parsed(document: &[u8]) -> Value {
    let doc = serde_json::from_slice(document).expect("json");
    valid(&doc);
    doc
}

impl Batches {
    fn take(&self) -> Vec<Vec<Value>> {
        std::mem::take(&mut self.0.lock().expect("lock"))
    }
}

#[traced]
fn price(x: u64) -> u64 {
    x * 2
}

#[traced]
async fn hang() {
    std::future::pending::<()>().await;
}

#[traced_handler]
async fn times_out(event: lambda_runtime::LambdaEvent<u64>) -> Result<u64, Infallible> {
    let total = price(event.payload) + price(1);
    hang().await;
    Ok(total)
}

#[traced_handler]
async fn many_calls(event: lambda_runtime::LambdaEvent<u64>) -> Result<u64, Infallible> {
    Ok((0..event.payload).map(price).sum())
}

fn event(payload: u64) -> lambda_runtime::LambdaEvent<u64> {
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(HEADER.to_owned());
    lambda_runtime::LambdaEvent::new(payload, context)
}

/// Name and state of each document of a batch.
fn shapes(batch: &[Value]) -> Vec<(String, bool)> {
    batch.iter().map(|d| (d["name"].as_str().expect("name").to_owned(), d["in_progress"] == true)).collect()
}

#[test]
fn a_handler_that_times_out_shows_what_ended_before_its_wait_and_what_ran_in_progress() {
    let batches = Batches::default();
    xray_core::emit::run_scoped(Arc::new(batches.clone()), || {
        let mut handler = Box::pin(times_out(event(3)));
        assert!(handler.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending());
        // Lambda freezes the process at the timeout: the handler is never polled again, dropped or ended.
        std::mem::forget(handler);
    });
    let batches = batches.take();
    let shown: Vec<_> = batches.iter().map(|b| shapes(b)).collect();
    let (handler, price, hang) =
        (|p| ("## times_out".to_owned(), p), |p| ("price".to_owned(), p), ("hang".to_owned(), true));
    // The handler's `in_progress` when it began; at its wait, one batch: both calls ended, and the one waiting.
    assert_eq!(shown, vec![vec![handler(true)], vec![price(false), price(false), hang]], "{batches:?}");
    let handler_id = &batches[0][0]["id"];
    for doc in &batches[1] {
        assert_eq!(&doc["parent_id"], handler_id, "{doc}");
        assert_eq!(doc["trace_id"], batches[0][0]["trace_id"]);
    }
    assert!(batches[1][0]["end_time"].as_f64() >= batches[1][0]["start_time"].as_f64());
}

#[test]
fn an_invocation_hands_its_documents_over_in_batches_of_at_most_max_ended() {
    let batches = Batches::default();
    let result = xray_core::emit::run_scoped(Arc::new(batches.clone()), || {
        let mut handler = Box::pin(many_calls(event(150)));
        match handler.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => panic!("the handler never waits"),
        }
    });
    assert_eq!(result.ok(), Some((0..150).map(|x| x * 2).sum()));
    let batches = batches.take();
    let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
    // The handler's `in_progress`; 150 calls in two full buffers and the rest with the handler at the end.
    assert_eq!(sizes, vec![1, 64, 64, 23], "{:?}", batches.iter().map(|b| shapes(b)).collect::<Vec<_>>());
    let last = batches.last().expect("last");
    assert_eq!(shapes(&last[last.len() - 1..]), vec![("## many_calls".to_owned(), false)]);
    let ids: std::collections::HashSet<_> = batches.iter().flatten().map(|d| d["id"].to_string()).collect();
    assert_eq!(ids.len(), 151, "every call once, the handler twice with one id");
}
