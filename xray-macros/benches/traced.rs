//! What `#[traced]` costs, against the same function plain and against `#[tracing::instrument]` with a `Registry`
//! subscriber, in one run: `cargo bench -p xray-rs-macros -- --warm-up-time 1 --measurement-time 3`. And what
//! `#[traced_subscribe]` costs per message in continue mode (reading the header, a segment in the producer's trace
//! with its wait subsegment and annotations, written as JSON), against the same function plain (`-- queue`).
//!
//! Sampled calls send their document to an emitter that discards it: the cost measured includes building and
//! serializing the document, not the UDP send (measured separately by `xray-core`'s `emit/*` benchmarks).
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use aws_lambda_events::sqs::SqsMessage;
use criterion::{Criterion, criterion_group, criterion_main};
use xray_core::emit;
use xray_core::testing::Discard;
use xray_core::{Trace, traced, traced_subscribe};

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

#[inline(never)]
fn plain(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[traced]
#[inline(never)]
fn traced_fn(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn instrumented(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[inline(never)]
async fn plain_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

#[traced]
#[inline(never)]
async fn traced_async(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}

/// Runs a future that never waits. Inlined, so the future is built in place rather than moved into this frame.
#[inline(always)]
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut TaskContext::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the benchmarked futures never wait"),
    }
}

fn unsampled(c: &mut Criterion) {
    let mut group = c.benchmark_group("unsampled");
    group.bench_function("plain fn", |b| b.iter(|| plain(black_box(7))));
    {
        let _in_trace = Trace::lambda(Some(UNSAMPLED)).context().enter();
        group.bench_function("#[traced] fn, Sampled=0", |b| b.iter(|| traced_fn(black_box(7))));
        group.bench_function("plain async fn", |b| b.iter(|| ready(plain_async(black_box(7)))));
        group.bench_function("#[traced] async fn, Sampled=0", |b| b.iter(|| ready(traced_async(black_box(7)))));
    }
    group.bench_function("#[traced] fn, no trace context", |b| b.iter(|| traced_fn(black_box(7))));
    group.finish();
}

fn sampled(c: &mut Criterion) {
    let mut group = c.benchmark_group("sampled");
    group.bench_function("plain fn", |b| b.iter(|| plain(black_box(7))));
    emit::run_scoped(Arc::new(Discard), || {
        let _in_trace = Trace::lambda(Some(SAMPLED)).context().enter();
        group.bench_function("#[traced] fn, document discarded", |b| b.iter(|| traced_fn(black_box(7))));
        // The same subsegment opened by hand: what the macro adds on top of the runtime.
        group.bench_function("xray_core::subsegment by hand, document discarded", |b| {
            b.iter(|| {
                let _guard = xray_core::subsegment("by_hand");
                plain(black_box(7))
            })
        });
        group
            .bench_function("#[traced] async fn, document discarded", |b| b.iter(|| ready(traced_async(black_box(7)))));
    });
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        group.bench_function("#[tracing::instrument] fn, Registry", |b| b.iter(|| instrumented(black_box(7))));
    });
    group.finish();
}

#[inline(never)]
async fn plain_message(message: &SqsMessage) -> usize {
    black_box(message.body.as_deref().map_or(0, str::len))
}

#[traced_subscribe]
#[inline(never)]
async fn subscribed_message(message: &SqsMessage) -> usize {
    black_box(message.body.as_deref().map_or(0, str::len))
}

fn queue(c: &mut Criterion) {
    let mut message = SqsMessage::default();
    message.message_id = Some("059f36b4-87a3-44ab-83d2-661975830a7d".to_owned());
    message.body = Some(r#"{"order":7}"#.to_owned());
    message.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:orders".to_owned());
    message.attributes.insert("AWSTraceHeader".to_owned(), SAMPLED.to_owned());
    message.attributes.insert("SentTimestamp".to_owned(), "1764230400000".to_owned());
    let mut group = c.benchmark_group("queue");
    group.bench_function("plain async fn, one SqsMessage", |b| b.iter(|| ready(plain_message(black_box(&message)))));
    emit::run_scoped(Arc::new(Discard), || {
        group.bench_function("#[traced_subscribe] continue mode, segment discarded", |b| {
            b.iter(|| ready(subscribed_message(black_box(&message))))
        });
    });
    group.finish();
}

criterion_group!(benches, unsampled, sampled, queue);
criterion_main!(benches);
