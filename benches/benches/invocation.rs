//! One Lambda invocation (`#[traced_handler]` with three `#[traced]` calls) against the plain handler, with the
//! documents written and discarded and with them sent over UDP to a bound loopback socket; serialize and send of a
//! 600-byte document; and the emitter's throughput to a loopback receiver:
//! `cargo bench -p xray-bench --bench invocation`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use xray_bench::counting::{Counting, counted};
use xray_bench::handler::{event, message, plain_handler, plain_message, subscribed_message, traced_handler};
use xray_bench::{SAMPLED, UNSAMPLED, ready};
use xray_core::emit::{self, Emitter, UdpEmitter};
use xray_core::testing::Discard;
use xray_core::{Aws, Namespace, Subsegment, Trace};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A socket bound on loopback that nobody reads: sends cost what they cost, and the kernel drops what overflows.
fn sink_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind a loopback socket")
}

fn invocation(c: &mut Criterion) {
    let receiver = sink_socket();
    let udp: Arc<dyn Emitter> = Arc::new(UdpEmitter::new(receiver.local_addr().expect("address")));
    let mut group = c.benchmark_group("invocation");
    group.bench_function("plain handler", |b| {
        b.iter_batched(|| event(Some(SAMPLED)), |e| ready(plain_handler(e)), criterion::BatchSize::SmallInput)
    });
    emit::run_scoped(Arc::new(Discard), || {
        group.bench_function("traced, sampled, documents discarded", |b| {
            b.iter_batched(|| event(Some(SAMPLED)), |e| ready(traced_handler(e)), criterion::BatchSize::SmallInput)
        });
        group.bench_function("traced, unsampled", |b| {
            b.iter_batched(|| event(Some(UNSAMPLED)), |e| ready(traced_handler(e)), criterion::BatchSize::SmallInput)
        });
    });
    emit::run_scoped(Arc::clone(&udp), || {
        group.bench_function("traced, sampled, documents sent over UDP", |b| {
            b.iter_batched(|| event(Some(SAMPLED)), |e| ready(traced_handler(e)), criterion::BatchSize::SmallInput)
        });
    });
    group.finish();

    emit::run_scoped(Arc::new(Discard), || {
        ready(traced_handler(event(Some(SAMPLED)))).ok();
        let events: Vec<_> = (0..1000).map(|_| event(Some(SAMPLED))).collect();
        let (traced, ()) = counted(|| events.into_iter().for_each(|e| drop(black_box(ready(traced_handler(e))))));
        let events: Vec<_> = (0..1000).map(|_| event(Some(SAMPLED))).collect();
        let (plain, ()) = counted(|| events.into_iter().for_each(|e| drop(black_box(ready(plain_handler(e))))));
        println!(
            "heap allocations per invocation: plain {:.2}, traced {:.2} (+{:.2})",
            plain as f64 / 1000.0,
            traced as f64 / 1000.0,
            (traced as f64 - plain as f64) / 1000.0
        );
    });
}

/// One queue message: `#[traced_subscribe]` in continue mode (header read from `AWSTraceHeader`, a segment in the
/// producer's trace with its wait subsegment, written and discarded) against the same async fn plain.
fn queue(c: &mut Criterion) {
    let (sampled, unsampled) = (message(SAMPLED), message(UNSAMPLED));
    let mut group = c.benchmark_group("queue");
    group.bench_function("plain async fn, one SqsMessage", |b| b.iter(|| ready(plain_message(black_box(&sampled)))));
    emit::run_scoped(Arc::new(Discard), || {
        group.bench_function("#[traced_subscribe], continue, sampled", |b| {
            b.iter(|| ready(subscribed_message(black_box(&sampled))))
        });
        group.bench_function("#[traced_subscribe], continue, Sampled=0", |b| {
            b.iter(|| ready(subscribed_message(black_box(&unsampled))))
        });
    });
    group.finish();
    emit::run_scoped(Arc::new(Discard), || {
        ready(subscribed_message(&sampled));
        let (allocs, ()) = counted(|| {
            (0..1000).for_each(|_| {
                black_box(ready(subscribed_message(&sampled)));
            })
        });
        println!("heap allocations per message, #[traced_subscribe] sampled: {:.2}", allocs as f64 / 1000.0);
    });
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

fn document(c: &mut Criterion) {
    let receiver = sink_socket();
    let udp: Arc<dyn Emitter> = Arc::new(UdpEmitter::new(receiver.local_addr().expect("address")));
    let mut group = c.benchmark_group("document");
    for (label, emitter) in
        [("600 B, serialize", Arc::new(Discard) as Arc<dyn Emitter>), ("600 B, serialize+send", udp)]
    {
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
    println!("document size: {} bytes", probe.raw()[0].len());
}

/// The physical floors under the rows above: one clock read (a sampled subsegment reads it twice) and one UDP send
/// of a datagram the size of the 600-byte document on a connected loopback socket (every document is one).
fn floors(c: &mut Criterion) {
    let receiver = sink_socket();
    let sender = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sender.connect(receiver.local_addr().expect("address")).expect("connect");
    sender.set_nonblocking(true).expect("non-blocking");
    let datagram = vec![b'x'; 690];
    let mut group = c.benchmark_group("floor");
    group.bench_function("clock read (CLOCK_REALTIME)", |b| b.iter(xray_core::__private::Timestamp::now));
    group.bench_function("UDP send, 690 B, loopback", |b| b.iter(|| sender.send(black_box(&datagram))));
    group.finish();
}

/// CPU time this thread has run, from the scheduler's own accounting.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// Floods a loopback receiver with 600-byte documents through `UdpEmitter` (written and sent, one datagram
/// each) and reports documents/s of wall time and per CPU second of the sending thread, and what was lost.
fn throughput(_c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let count: u64 = if full { 300_000 } else { 2_000 };
    let receiver = sink_socket();
    receiver.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
    let addr = receiver.local_addr().expect("address");
    let received = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (received, done) = (Arc::clone(&received), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            loop {
                match receiver.recv(&mut buf) {
                    Ok(_) => {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) if done.load(Ordering::Relaxed) => break,
                    Err(_) => {}
                }
            }
        })
    };
    let emitter = Arc::new(UdpEmitter::new(addr));
    let (wall, cpu) = emit::run_scoped(emitter.clone(), || {
        let _ctx = Trace::lambda(Some(SAMPLED)).context().enter();
        let sub = six_hundred_bytes();
        let (cpu0, start) = (thread_cpu(), Instant::now());
        for _ in 0..count {
            sub.send_in_progress();
        }
        (start.elapsed(), thread_cpu() - cpu0)
    });
    done.store(true, Ordering::Relaxed);
    reader.join().expect("reader");
    let stats = emitter.stats();
    let got = received.load(Ordering::Relaxed);
    println!(
        "emitter throughput, {count} documents of 600 B to a loopback receiver: {:.0} documents/s wall, {:.0} \
         documents per CPU second of the sender; refused by the socket (EAGAIN): {}, lost after the send: {}, \
         received {got} ({:.1} % loss)",
        count as f64 / wall.as_secs_f64(),
        count as f64 / cpu.as_secs_f64().max(1e-9),
        stats.dropped,
        stats.sent.saturating_sub(got),
        100.0 * (count - got.min(count)) as f64 / count as f64,
    );
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = invocation, queue, document, floors, throughput }
criterion_main!(benches);
