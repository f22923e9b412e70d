//! Per-document costs on the receiving path, as ratios against peers in the same process:
//! `validate::check` (the Rust rules) against the `jsonschema` crate running the official schema, and the whole
//! receiving step (split, parse, check, assemble) against parsing the JSON alone.
//! Run with `cargo bench -p xray-rs-local --bench checks -- --warm-up-time 1 --measurement-time 3`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::Value;
use xray_local::daemon::assembler::Assembler;
use xray_local::daemon::protocol::split_datagram;
use xray_local::daemon::validate::check;

const DOC: &str = r#"{"type":"subsegment","name":"DynamoDB","id":"00000000000f4241","trace_id":"1-6560e000-000000000000000000000001","parent_id":"000000000000000b","start_time":1700000000.001,"end_time":1700000000.004,"namespace":"aws","aws":{"operation":"GetItem","region":"eu-west-1","table_name":"orders"},"annotations":{"n":1}}"#;

fn schema() -> jsonschema::Validator {
    let schema = serde_json::from_str::<Value>(xray_schema_check::SCHEMA).expect("JSON");
    jsonschema::draft4::new(&schema).expect("schema compiles")
}

fn checks(c: &mut Criterion) {
    let doc: Value = serde_json::from_str(DOC).expect("JSON");
    let validator = schema();
    let mut group = c.benchmark_group("validate");
    group.bench_function("rules in Rust", |b| b.iter(|| black_box(check(black_box(&doc))).is_empty()));
    group.bench_function("jsonschema, official schema", |b| b.iter(|| validator.is_valid(black_box(&doc))));
    group.finish();

    let datagram = [xray_core::emit::DATAGRAM_HEADER, DOC.as_bytes()].concat();
    let mut group = c.benchmark_group("receive");
    group.bench_function("serde_json parse only", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(DOC.as_bytes())).is_ok())
    });
    group.bench_function("split, parse, check, assemble", |b| {
        let mut assembler = Assembler::new(std::time::Duration::from_secs(1), std::time::Duration::from_secs(60));
        let now = Instant::now();
        b.iter(|| {
            let body = split_datagram(black_box(&datagram)).unwrap_or_default();
            let doc: Value = serde_json::from_slice(body).unwrap_or_default();
            let ok = check(&doc).is_empty();
            let trace = doc.get("trace_id").and_then(Value::as_str).unwrap_or_default();
            (ok, assembler.arrive(trace, &doc, now))
        })
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
