//! The latency aggregate (`xray-local latency`, the web view's `/latency`) over 10,000 stored traces, next to
//! reading and assembling the same traces one by one: `cargo bench -p xray-bench --bench latency`.
//!
//! The store holds 10,000 generated traces of 11 entities in 3 documents each (`xray_tests::generated`, a
//! checkout with a queue consumer), written in a temporary data dir before measuring.
//!
//! - `trees`: `Store::tree` for every trace id (reading and assembling each trace, what any per-trace view costs;
//!   the peer).
//! - `aggregate`: `Store::latency` for the route `POST /checkout` over all of them (one pass over the documents,
//!   assembly, the critical-path walk, the bands).
//! - `entry_points`: `Store::entry_points`, what `xray-local latency` lists when no entry point is given.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use xray_local::store::latency::{Entry, Range};
use xray_local::store::{NewDocument, Store};

const TRACES: u64 = 10_000;

fn filled(dir: &std::path::Path) -> (Store, Vec<String>) {
    let _ = std::fs::remove_dir_all(dir);
    let mut store = Store::open(dir).expect("a store");
    let mut ids = Vec::new();
    for chunk in (0..TRACES).collect::<Vec<_>>().chunks(500) {
        let mut docs = Vec::new();
        for &i in chunk {
            let (trace, documents) = xray_tests::generated::checkout(i, 1_700_000_000.0 + i as f64);
            for doc in documents {
                let id = doc["id"].as_str().expect("an id").to_owned();
                docs.push(NewDocument {
                    trace_id: trace.clone(),
                    id,
                    in_progress: false,
                    body: doc.to_string().into(),
                });
            }
            ids.push(trace);
        }
        let touched = store.write(&docs, &[]).expect("written");
        store.refresh(&touched).expect("refreshed");
    }
    (store, ids)
}

fn group(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("xray-bench-latency-{}", std::process::id()));
    let (store, ids) = filled(&dir);
    let route = Entry::route("POST /checkout").expect("a route");
    assert_eq!(store.latency(&route, Range::default()).expect("latency").samples, TRACES as usize);
    let mut group = c.benchmark_group("latency");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.bench_function("trees", |b| {
        b.iter(|| ids.iter().map(|id| store.tree(id).expect("read").map_or(0, |t| t.nodes.len())).sum::<usize>())
    });
    group.bench_function("aggregate", |b| {
        b.iter(|| store.latency(black_box(&route), Range::default()).expect("latency"))
    });
    group.bench_function("entry_points", |b| b.iter(|| store.entry_points(Range::default()).expect("entry points")));
    group.finish();
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, group);
criterion_main!(benches);
