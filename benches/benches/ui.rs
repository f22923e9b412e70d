//! `xray-local ui` over 100,000 stored traces: the pages `/` (with filters) and `/map`, each as the server builds it
//! (the store's query and the HTML), without the HTTP round trip. The target is 200 ms per page.
//!
//! The traces are generated once into `target/ui-bench-<n>/` through the store's own write and refresh (so the
//! derived tables are what the daemon would have made) and reused by later runs. Each trace is an API call (one of 5
//! services, GET or POST, a status, a customer annotation out of 1,000) that writes to DynamoDB and sends to SQS, and
//! a worker segment under the send that writes to DynamoDB: 5 calls on the map per trace, spread over 30 days.
//! In test mode (`cargo test --benches`) 2,000 traces are enough to run every page once.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use xray_local::store::{NewDocument, Store};
use xray_local::ui::{list, map};

const T0: f64 = 1_780_000_000.0;
const SPREAD: f64 = 30.0 * 86_400.0;

fn traces() -> u32 {
    if std::env::args().any(|a| a == "--bench") { 100_000 } else { 2_000 }
}

fn trace(i: u32, n: u32) -> Vec<NewDocument> {
    let trace_id = format!("1-{:08x}-{i:024x}", T0 as u64);
    let start = T0 + SPREAD * f64::from(i) / f64::from(n);
    let ms = f64::from(i % 97 + 3) / 1000.0;
    let fault = i.is_multiple_of(100);
    let method = if i.is_multiple_of(3) { "POST" } else { "GET" };
    let status = if fault {
        500
    } else if i % 50 == 1 {
        404
    } else {
        200
    };
    let api = json!({"name": format!("api-{}", i % 5), "id": format!("{:015x}a", i), "trace_id": trace_id,
        "start_time": start, "end_time": start + 4.0 * ms, "fault": fault, "error": status == 404,
        "http": {"request": {"method": method, "url": format!("https://shop.test/orders/{}", i % 10)},
                 "response": {"status": status}},
        "annotations": {"customer": format!("c-{}", i % 1000)},
        "subsegments": [
            {"name": "DynamoDB", "namespace": "aws", "id": format!("{:015x}b", i), "start_time": start + ms,
             "end_time": start + 2.0 * ms, "throttle": i % 200 == 7},
            {"name": "SQS", "namespace": "aws", "id": format!("{:015x}c", i), "start_time": start + 2.0 * ms,
             "end_time": start + 3.0 * ms}]});
    let worker = json!({"name": "worker", "id": format!("{:015x}d", i), "trace_id": trace_id, "parent_id":
        format!("{:015x}c", i), "start_time": start + 2.5 * ms, "end_time": start + 6.0 * ms,
        "subsegments": [{"name": "DynamoDB", "namespace": "aws", "id": format!("{:015x}e", i),
                         "start_time": start + 4.0 * ms, "end_time": start + 5.0 * ms}]});
    [api, worker]
        .into_iter()
        .map(|d| NewDocument {
            trace_id: trace_id.clone(),
            id: d["id"].as_str().unwrap_or_default().to_owned(),
            in_progress: false,
            body: d.to_string().into(),
        })
        .collect()
}

/// The store of `n` generated traces, made on first use.
fn store(n: u32) -> Store {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"), PathBuf::from);
    let dir = target.join(format!("ui-bench-{n}"));
    let done = dir.join("complete");
    if !done.exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::open(&dir).expect("store");
        for chunk in (0..n).collect::<Vec<_>>().chunks(2_000) {
            let docs: Vec<NewDocument> = chunk.iter().flat_map(|&i| trace(i, n)).collect();
            let touched = store.write(&docs, &[]).expect("write");
            store.refresh(&touched).expect("refresh");
        }
        std::fs::write(&done, n.to_string()).expect("mark");
    }
    Store::open_read_only(&dir).expect("read-only store")
}

fn pages(c: &mut Criterion) {
    let n = traces();
    let store = store(n);
    let middle = T0 + SPREAD / 2.0;
    let day = format!("from={}&to={}", middle, middle + 86_400.0);
    let cases = [
        ("list: first page, no filter", String::new()),
        ("list: annotation customer=c-42", "annotation=customer%3Dc-42".to_owned()),
        ("list: service worker, POST, status 500", "service=worker&method=POST&status=500".to_owned()),
        ("list: fault, one day", format!("fault=on&{day}")),
        ("list: duration >= 590ms (1% of traces)", "min=590ms".to_owned()),
        ("list: url and annotation and range", format!("url=orders%2F7&annotation=customer%3Dc-7&{day}")),
    ];
    let mut group = c.benchmark_group(format!("ui over {n} traces"));
    for (name, query) in &cases {
        group.bench_function(*name, |b| b.iter(|| black_box(list::page(&store, query).expect("page"))));
    }
    group.bench_function("map: all traces", |b| b.iter(|| black_box(map::page(&store, "").expect("page"))));
    group.bench_function("map: one day", |b| b.iter(|| black_box(map::page(&store, &day).expect("page"))));
    group.bench_function("map/node: worker histogram", |b| {
        b.iter(|| black_box(map::node_page(&store, "service=worker").expect("page")))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = pages
}
criterion_main!(benches);
