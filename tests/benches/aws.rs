//! What the AWS SDK instrumentation costs: SQS `SendMessage` round trips to moto with and without the interceptor,
//! and the same call against an in-process HTTP client that answers at once, where the difference between the two
//! variants is the interceptor's own CPU time per call (hooks, subsegment, header, document serialization).
//!
//! `cargo bench -p xray-tests --bench aws -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::Arc;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use criterion::{Criterion, criterion_group, criterion_main};
use xray_core::Trace;
use xray_core::emit::Emitter;
use xray_tests::{moto, sdk};

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
const UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
const QUEUE_URL: &str = "http://127.0.0.1:1/123456789012/bench";

/// Answers every request with a canned `SendMessage` response, without any I/O.
#[derive(Debug, Clone)]
struct Canned;

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let body = r#"{"MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592","MessageId":"2f1b1b7e-0000-4000-8000-000000000000"}"#;
        let mut response = HttpResponse::new(StatusCode::try_from(200).expect("status"), SdkBody::from(body));
        response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        response.headers_mut().insert("x-amzn-requestid", "canned-request-id");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// Drops documents once serialized, so sending costs what building them costs.
struct Discard;

impl Emitter for Discard {
    fn send(&self, document: &[u8]) {
        black_box(document);
    }
}

/// One `SendMessage` in `trace`'s context; panics if it fails, so a benchmark never measures an error path.
fn send(rt: &tokio::runtime::Runtime, trace: &Trace, client: &aws_sdk_sqs::Client, url: &str) {
    let sent = rt.block_on(trace.context().scope(client.send_message().queue_url(url).message_body("hello").send()));
    black_box(sent.expect("sent"));
}

fn send_message(c: &mut Criterion) {
    xray_core::emit::set_global(Arc::new(Discard));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let sampled = Trace::lambda(Some(SAMPLED));
    let unsampled = Trace::lambda(Some(UNSAMPLED));

    let in_process = sdk::config("http://127.0.0.1:1").into_builder().http_client(Canned).build();
    let plain = aws_sdk_sqs::Client::new(&in_process);
    let traced = xray_core::aws_client!(aws_sdk_sqs, &in_process);
    let mut group = c.benchmark_group("sqs_send_message/in_process");
    group.bench_function("plain", |b| b.iter(|| send(&rt, &sampled, &plain, QUEUE_URL)));
    group.bench_function("xray_sampled", |b| b.iter(|| send(&rt, &sampled, &traced, QUEUE_URL)));
    group.bench_function("xray_unsampled", |b| b.iter(|| send(&rt, &unsampled, &traced, QUEUE_URL)));
    group.finish();

    let moto = moto::shared();
    let config = sdk::config(&moto.endpoint);
    let plain = aws_sdk_sqs::Client::new(&config);
    let traced = xray_core::aws_client!(aws_sdk_sqs, &config);
    let created = rt.block_on(plain.create_queue().queue_name("bench").send()).expect("queue");
    let url = created.queue_url().expect("url");
    let mut group = c.benchmark_group("sqs_send_message/moto");
    group.bench_function("plain", |b| b.iter(|| send(&rt, &sampled, &plain, url)));
    group.bench_function("xray_sampled", |b| b.iter(|| send(&rt, &sampled, &traced, url)));
    group.finish();
}

criterion_group!(benches, send_message);
criterion_main!(benches);
