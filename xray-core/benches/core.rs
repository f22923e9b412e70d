//! Costs of the runtime's hot paths. Run with `cargo bench -p xray-rs-core`.
//!
//! Besides criterion's timings, the subsegment benchmarks print heap allocations per operation, counted by a
//! wrapping global allocator.
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use xray_core::emit::{self, Emitter, UdpEmitter};
use xray_core::sampling::SamplingRequest;
use xray_core::testing::Discard;
use xray_core::{Aws, Namespace, SegmentId, Subsegment, Trace, TraceHeader, TraceId, put_annotation, subsegment};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
const UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

fn allocations_per_op(label: &str, ops: u64, f: impl FnOnce()) {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    let used = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("{label}: {:.3} heap allocations per operation", used as f64 / ops as f64);
}

/// Runs `op` `iters` times inside segment-mode traces of at most 1000 subsegments each, timing only the calls:
/// creating the traces and dropping them unsent is not timed.
fn in_segment(iters: u64, op: impl Fn()) -> Duration {
    emit::run_scoped(Arc::new(Discard), || {
        let mut elapsed = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let chunk = left.min(1000);
            left -= chunk;
            let trace = Trace::segment("bench", Some(SAMPLED), &SamplingRequest::default());
            let ctx = trace.context().enter();
            let start = Instant::now();
            for _ in 0..chunk {
                op();
            }
            elapsed += start.elapsed();
            drop(ctx);
        }
        elapsed
    })
}

fn subsegments(c: &mut Criterion) {
    let mut group = c.benchmark_group("subsegment");
    group.bench_function("sampled begin+end (static name)", |b| {
        b.iter_custom(|iters| in_segment(iters, || drop(black_box(subsegment("op")))))
    });
    group.bench_function("sampled begin+annotate+end", |b| {
        b.iter_custom(|iters| {
            in_segment(iters, || {
                let guard = subsegment("op");
                put_annotation("n", 1);
                drop(black_box(guard));
            })
        })
    });
    group.bench_function("unsampled begin+end", |b| {
        let _ctx = Trace::lambda(Some(UNSAMPLED)).context().enter();
        b.iter(|| drop(black_box(subsegment("op"))))
    });
    group.bench_function("unsampled begin+annotate+end", |b| {
        let _ctx = Trace::lambda(Some(UNSAMPLED)).context().enter();
        b.iter(|| {
            let guard = subsegment("op");
            put_annotation("n", 1);
            drop(black_box(guard));
        })
    });
    group.bench_function("lambda begin+end, serialized to a null emitter", |b| {
        emit::run_scoped(Arc::new(Discard), || {
            let _ctx = Trace::lambda(Some(SAMPLED)).context().enter();
            b.iter(|| drop(black_box(subsegment("op"))));
        })
    });
    group.finish();

    allocations_per_op("sampled begin+end (static name), in traces of 1000", 100_000, || {
        in_segment(100_000, || drop(black_box(subsegment("op"))));
    });
    emit::run_scoped(Arc::new(Discard), || {
        let _ctx = Trace::lambda(Some(SAMPLED)).context().enter();
        drop(subsegment("warm-up"));
        allocations_per_op("lambda begin+end incl. serialization", 100_000, || {
            (0..100_000).for_each(|_| drop(black_box(subsegment("op"))))
        });
    });
    let _ctx = Trace::lambda(Some(UNSAMPLED)).context().enter();
    allocations_per_op("unsampled begin+annotate+end", 100_000, || {
        (0..100_000).for_each(|_| {
            let guard = subsegment("op");
            put_annotation("n", 1);
            drop(black_box(guard));
        })
    });
}

fn header_and_ids(c: &mut Criterion) {
    c.bench_function("header/parse (with Lineage)", |b| b.iter(|| TraceHeader::parse(black_box(SAMPLED))));
    let header = TraceHeader::parse(SAMPLED).expect("valid");
    c.bench_function("header/format", |b| b.iter(|| black_box(&header).to_string()));
    c.bench_function("ids/trace id", |b| b.iter(TraceId::new));
    c.bench_function("ids/segment id", |b| b.iter(SegmentId::new));
    c.bench_function("clock/timestamp now", |b| b.iter(xray_core::__private::Timestamp::now));
}

/// A subsegment whose document is about 600 bytes, like an AWS SDK call's.
fn six_hundred_bytes() -> Subsegment {
    let sub = Subsegment::begin("DynamoDB");
    let r = sub.recorder();
    r.set_namespace(Namespace::Aws);
    r.set_aws(Aws {
        operation: Some("PutItem".into()),
        region: Some("eu-west-1".into()),
        request_id: Some("V4J6Q1LPR6J3F7OJ0A6CNMS8OVVV4KQNSO5AEMVJF66Q9ASUAAJG".into()),
        retries: Some(0),
        resources: [("table_name".to_owned(), "orders-production-table".into())].into_iter().collect(),
        ..Aws::default()
    });
    r.put_annotation("order_id", "ord-0000000000000001");
    r.put_annotation("customer_tier", "gold");
    r.put_metadata("item", serde_json::json!({"sku": "SKU-12345", "qty": 3, "price": 19.99, "note": "x".repeat(120)}));
    sub
}

fn emission(c: &mut Criterion) {
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let udp: Arc<dyn Emitter> = Arc::new(UdpEmitter::new(receiver.local_addr().expect("addr")));
    let mut group = c.benchmark_group("emit");
    for (label, emitter) in [
        ("600 B document, serialize only", Arc::new(Discard) as Arc<dyn Emitter>),
        ("600 B document, serialize+UDP send", udp),
    ] {
        emit::run_scoped(emitter, || {
            let _ctx = Trace::lambda(Some(SAMPLED)).context().enter();
            let sub = six_hundred_bytes();
            group.bench_function(label, |b| b.iter(|| sub.send_in_progress()));
        });
    }
    group.finish();
    let probe = xray_core::testing::MemorySink::new();
    probe.run(|| {
        let _ctx = Trace::lambda(Some(SAMPLED)).context().enter();
        six_hundred_bytes().send_in_progress();
    });
    println!("document size used by emit/*: {} bytes", probe.raw()[0].len());
}

criterion_group!(benches, subsegments, header_and_ids, emission);
criterion_main!(benches);
