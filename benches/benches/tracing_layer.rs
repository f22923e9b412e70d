//! One `tracing` span (`#[instrument]`: created, entered, exited, closed) through `xray_core::tracing::layer()`,
//! next to the same span with `tracing-subscriber`'s Registry alone and to `#[traced]`, all in one group:
//! `cargo bench -p xray-bench --bench tracing_layer`.
//!
//! - `plain`: the body alone.
//! - `registry`: the span with the Registry alone, under a root span (what `tracing` costs without us). The Registry
//!   alone never frees a closed span's slot (only a `Layered` subscriber's close does), so its slab grows as the run
//!   goes: hence its bimodal figures.
//! - `registry/identity`: the Registry with `tracing-subscriber`'s no-op layer (`Identity`): what any layer's
//!   subscriber costs before the layer does anything, closed spans freed.
//! - `layer/no_trace`: the Registry and the layer, no X-Ray trace current (the layer's cost for code outside a
//!   trace), under a root span as `registry`.
//! - `layer/sampled`: the same in a sampled Lambda trace: the span becomes a subsegment (under the root span's) whose
//!   document is written and discarded.
//! - `traced/sampled`: `#[xray_core::traced]` on the same body in the same trace.
//! - `floor/two_clock_reads`: the two clock reads any sampled subsegment takes (its start and its end), which no
//!   layer can leave out: with the document, the floor under `layer/sampled`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use tracing_subscriber::layer::SubscriberExt;
use xray_bench::{SAMPLED, work};
use xray_core::__private::Timestamp;
use xray_core::testing::Discard;

#[tracing::instrument(skip_all)]
#[inline(never)]
fn spanned(x: u64) -> u64 {
    work(x)
}

#[xray_core::traced]
#[inline(never)]
fn traced(x: u64) -> u64 {
    work(x)
}

/// Runs `body` in a sampled Lambda trace whose documents are written, then discarded.
fn in_sampled_trace<R>(body: impl FnOnce() -> R) -> R {
    let _in_trace =
        xray_core::emit::run_scoped(Arc::new(Discard), || xray_core::Trace::lambda(Some(SAMPLED)).context().enter());
    body()
}

fn group(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracing_layer");
    group.bench_function("plain", |b| b.iter(|| work(black_box(7))));
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let _root = tracing::info_span!("root").entered();
        group.bench_function("registry", |b| b.iter(|| spanned(black_box(7))));
    });
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(tracing_subscriber::layer::Identity::new()),
        || {
            let _root = tracing::info_span!("root").entered();
            group.bench_function("registry/identity", |b| b.iter(|| spanned(black_box(7))));
        },
    );
    // Each case under a root span, as `registry`: a span's cost depends on whether it has a parent to look up.
    let layered = || tracing_subscriber::registry().with(xray_core::tracing::layer());
    tracing::subscriber::with_default(layered(), || {
        let _root = tracing::info_span!("root").entered();
        group.bench_function("layer/no_trace", |b| b.iter(|| spanned(black_box(7))));
    });
    tracing::subscriber::with_default(layered(), || {
        in_sampled_trace(|| {
            // In the trace, the root span is a subsegment too, open for the whole run.
            let _root = tracing::info_span!("root").entered();
            group.bench_function("layer/sampled", |b| b.iter(|| spanned(black_box(7))));
        });
    });
    in_sampled_trace(|| group.bench_function("traced/sampled", |b| b.iter(|| traced(black_box(7)))));
    group.bench_function("floor/two_clock_reads", |b| b.iter(|| (Timestamp::now(), Timestamp::now())));
    group.finish();
}

criterion_group!(benches, group);
criterion_main!(benches);
