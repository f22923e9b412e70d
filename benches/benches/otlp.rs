//! One recorded span in each wire format, in one group: `cargo bench -p xray-bench --bench otlp`.
//!
//! The span is an AWS SDK call as the interceptor records it (DynamoDB `GetItem`: service, operation, region,
//! request id, table, HTTP status and length, one annotation); each case turns the recorded span into the bytes
//! that go on the wire, into a buffer reused across iterations where the writer allows it.
//!
//! - `segment document`: xray-rs's JSON writer, the document sent on its own (what goes to the daemon today).
//! - `otlp span`: xray-rs's OTLP writer, the span as the flush adds it to a batch (the request around a batch is
//!   written once per datagram or HTTP request).
//! - `otlp request`: the same span as the one span of an `ExportTraceServiceRequest` with the process's resource
//!   and scope.
//! - `opentelemetry-otlp`: the same span, with the same attributes, resource and scope, as an `opentelemetry_sdk`
//!   `SpanData` handed to `opentelemetry-otlp`'s HTTP/protobuf exporter, whose client discards the request: the SDK's
//!   own path from an ended span to the bytes of a request (the clone of the `SpanData` the exporter takes by value
//!   is part of it, as the SDK's batch processor hands spans over by value).
#![allow(missing_docs)]

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use xray_core::__private::{EncodeBench, Timestamp};

const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

/// An HTTP client that drops every request once its body is built.
#[derive(Debug)]
struct Discard;

#[async_trait::async_trait]
impl HttpClient for Discard {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        black_box(request.body().len());
        Ok(Response::builder().status(200).body(Bytes::new())?)
    }
}

/// The span `EncodeBench::aws_call` records, as an `opentelemetry_sdk` span with the attributes xray-rs writes.
fn sdk_span(start_micros: u64) -> SpanData {
    let start = UNIX_EPOCH + Duration::from_micros(start_micros);
    let context = SpanContext::new(
        TraceId::from_hex("5759e988bd862e3fe1be46a994272793").expect("trace id"),
        SpanId::from_hex("0123456789abcdef").expect("span id"),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let tables = Value::Array(Array::String(vec![StringValue::from("orders")]));
    let keys = Value::Array(Array::String(vec![StringValue::from("order_id")]));
    SpanData {
        span_context: context,
        parent_span_id: SpanId::from_hex(PARENT).expect("parent"),
        parent_span_is_remote: false,
        span_kind: SpanKind::Client,
        name: Cow::Borrowed("DynamoDB"),
        start_time: start,
        end_time: start + Duration::from_micros(1500),
        attributes: vec![
            KeyValue::new("order_id", 7),
            KeyValue::new("aws.xray.annotations", keys),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("http.response.body.size", 412),
            KeyValue::new("rpc.system", "aws-api"),
            KeyValue::new("rpc.service", "DynamoDB"),
            KeyValue::new("rpc.method", "GetItem"),
            KeyValue::new("cloud.region", "eu-west-1"),
            KeyValue::new("aws.request_id", "5TQ8MFOQ1UVMJ3F9QBJ8MG2TQ7VV4KQNSO5AEMVJF66Q9ASUAAJG"),
            KeyValue::new("aws.dynamodb.table_names", tables),
        ],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("xray-rs").with_version("0.1.0").build(),
    }
}

fn group(c: &mut Criterion) {
    let start = Timestamp::now();
    let recorded = EncodeBench::aws_call(TRACE.parse().expect("trace id"), PARENT.parse().expect("id"), start);
    let mut group = c.benchmark_group("otlp");
    let mut out = Vec::with_capacity(4096);
    group.bench_function("segment document", |b| {
        b.iter(|| {
            out.clear();
            recorded.write_document(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("otlp span", |b| {
        b.iter(|| {
            out.clear();
            recorded.write_span(&mut out);
            black_box(out.len())
        })
    });
    group.bench_function("otlp request", |b| {
        b.iter(|| {
            out.clear();
            recorded.write_span_request(&mut out);
            black_box(out.len())
        })
    });

    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint("http://127.0.0.1:4318/v1/traces")
        .with_http_client(Discard)
        .build()
        .expect("an exporter");
    let resource = Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "unknown_service"),
            KeyValue::new("cloud.provider", "aws"),
            KeyValue::new("telemetry.sdk.name", "xray-rs"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", "0.1.0"),
        ])
        .build();
    exporter.set_resource(&resource);
    let span = sdk_span(start.as_micros());
    group.bench_function("opentelemetry-otlp", |b| {
        b.iter(|| futures::executor::block_on(exporter.export(vec![black_box(&span).clone()])).expect("exported"))
    });
    group.finish();
}

criterion_group!(benches, group);
criterion_main!(benches);
