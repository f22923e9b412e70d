//! What the AWS SDK instrumentation costs: SQS `SendMessage` round trips to moto with and without the interceptor;
//! the same call against an in-process HTTP client that answers at once (no I/O); and, to see the interceptor's own
//! CPU time per call without the SDK's much larger and noisier cost around it, the interceptor's hooks driven
//! directly through one operation's lifecycle (request and runtime components captured from a real SDK call),
//! next to the same lifecycle without the hooks.
//!
//! `sqs_carrier` prices the `AWSTraceHeader` attribute a sampled `SendMessage` gets: the hooks with a real
//! `SendMessageInput` (the interceptor adds the attribute and takes the resource fields from the typed input; the
//! request, serialized by the SDK, carries the attribute) next to the same input the interceptor does not recognize,
//! which it handles as a build without the `sqs` feature does (no attribute, the resource fields read from the request
//! without it); and the SDK's own cost of serializing and signing a message with the attribute, as whole in-process
//! calls of a client without the interceptor, with and without the caller setting the same attribute. The
//! interceptor's share is the first difference, the attribute's whole cost the sum of the two; the input change is
//! also measured on its own (unsampled), which stays readable when other work shares the machine.
//!
//! `cargo bench -p xray-tests --bench aws -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::sync::{Arc, Mutex};

use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::types::{MessageSystemAttributeNameForSends, MessageSystemAttributeValue};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, Input, InterceptorContext, Output,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, FrozenLayer, Layer};
use aws_types::region::Region;
use criterion::{Criterion, criterion_group, criterion_main};
use xray_core::Trace;
use xray_core::aws::XRayInterceptor;
use xray_core::testing::Discard;
use xray_tests::{moto, sdk};

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
const UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
const QUEUE_URL: &str = "http://127.0.0.1:1/123456789012/bench";

/// Answers every request with a canned `SendMessage` response, without any I/O.
#[derive(Debug, Clone)]
struct Canned;

fn canned_response() -> HttpResponse {
    let body =
        r#"{"MD5OfMessageBody":"5d41402abc4b2a76b9719d911017c592","MessageId":"2f1b1b7e-0000-4000-8000-000000000000"}"#;
    let mut response = HttpResponse::new(StatusCode::try_from(200).expect("status"), SdkBody::from(body));
    response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
    response.headers_mut().insert("x-amzn-requestid", "canned-request-id");
    response
}

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        HttpConnectorFuture::ready(Ok(canned_response()))
    }
}

/// Keeps the runtime components and the signed request of the call it sees, to drive the hooks with real ones.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Option<(RuntimeComponents, HttpRequest)>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request().try_clone().expect("SendMessage bodies are in memory");
        *self.0.lock().expect("capture") = Some((runtime_components.clone(), request));
        Ok(())
    }
}

/// One operation's lifecycle as the orchestrator drives it, with `interceptor`'s hooks called where it calls them.
fn lifecycle(
    interceptor: Option<&XRayInterceptor>,
    components: &RuntimeComponents,
    operation: &FrozenLayer,
    input: Input,
    request: &HttpRequest,
) -> Result<(), BoxError> {
    let mut cfg = ConfigBag::base();
    cfg.push_shared_layer(operation.clone());
    let mut ctx = InterceptorContext::new(input);
    if let Some(i) = interceptor {
        i.modify_before_serialization(&mut (&mut ctx).into(), components, &mut cfg)?;
    }
    ctx.enter_serialization_phase();
    ctx.set_request(request.try_clone().expect("clone"));
    ctx.enter_before_transmit_phase();
    if let Some(i) = interceptor {
        i.read_after_serialization(&(&ctx).into(), components, &mut cfg)?;
        i.modify_before_transmit(&mut (&mut ctx).into(), components, &mut cfg)?;
    }
    ctx.enter_transmit_phase();
    black_box(ctx.take_request());
    ctx.set_response(canned_response());
    ctx.enter_before_deserialization_phase();
    ctx.enter_deserialization_phase();
    ctx.set_output_or_error(Ok(Output::erase(())));
    ctx.enter_after_deserialization_phase();
    if let Some(i) = interceptor {
        i.read_after_execution(&(&ctx).into(), components, &mut cfg)?;
    }
    black_box(ctx);
    Ok(())
}

fn hooks(c: &mut Criterion) {
    xray_core::emit::set_global(Arc::new(Discard));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let capture = Capture::default();
    let config = sdk::config("http://127.0.0.1:1").into_builder().http_client(Canned).build();
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config).interceptor(capture.clone()).build(),
    );
    rt.block_on(sqs.send_message().queue_url(QUEUE_URL).message_body("hello").send()).expect("canned call");
    let (components, request) = capture.0.lock().expect("capture").take().expect("captured");
    let mut layer = Layer::new("SendMessage");
    layer.store_put(Metadata::new("SendMessage", "SQS"));
    layer.store_put(Region::new("us-east-1"));
    layer.store_put(RequestAttempts::new(1));
    let operation = layer.freeze();
    let interceptor = XRayInterceptor::new();
    let sampled = Trace::lambda(Some(SAMPLED));
    let unsampled = Trace::lambda(Some(UNSAMPLED));

    let mut group = c.benchmark_group("interceptor_hooks");
    group.bench_function("lifecycle_without_hooks", |b| {
        let _in = sampled.context().enter();
        b.iter(|| lifecycle(None, &components, &operation, Input::erase(()), &request).expect("no hook fails"))
    });
    group.bench_function("lifecycle_sampled", |b| {
        let _in = sampled.context().enter();
        b.iter(|| {
            lifecycle(Some(&interceptor), &components, &operation, Input::erase(()), &request).expect("no hook fails")
        })
    });
    group.bench_function("lifecycle_unsampled", |b| {
        let _in = unsampled.context().enter();
        b.iter(|| {
            lifecycle(Some(&interceptor), &components, &operation, Input::erase(()), &request).expect("no hook fails")
        })
    });
    group.finish();
}

impl HttpClient for Canned {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
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

    // Each variant starts from an empty moto with a queue of its own: moto slows down as a queue fills up.
    let moto = moto::shared();
    let config = sdk::config(&moto.endpoint);
    let plain = aws_sdk_sqs::Client::new(&config);
    let traced = xray_core::aws_client!(aws_sdk_sqs, &config);
    let fresh_queue = || {
        moto.reset();
        let created = rt.block_on(plain.create_queue().queue_name("bench").send()).expect("queue");
        created.queue_url().expect("url").to_owned()
    };
    let mut group = c.benchmark_group("sqs_send_message/moto");
    let url = fresh_queue();
    group.bench_function("xray_sampled", |b| b.iter(|| send(&rt, &sampled, &traced, &url)));
    let url = fresh_queue();
    group.bench_function("plain", |b| b.iter(|| send(&rt, &sampled, &plain, &url)));
    group.finish();
}

/// A `SendMessageInput` the interceptor does not recognize, so the same input costs the same to build and drop.
#[derive(Debug)]
struct Unrecognized(#[allow(dead_code)] SendMessageInput);

fn trace_attribute(header: &str) -> MessageSystemAttributeValue {
    MessageSystemAttributeValue::builder().data_type("String").string_value(header).build().expect("attribute")
}

fn sqs_carrier(c: &mut Criterion) {
    xray_core::emit::set_global(Arc::new(Discard));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let config = sdk::config("http://127.0.0.1:1").into_builder().http_client(Canned).build();
    let plain = aws_sdk_sqs::Client::new(&config);
    let capture = Capture::default();
    let capturing = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&config).interceptor(capture.clone()).build(),
    );
    // What the interceptor writes for a call in the `SAMPLED` trace: its header, with a subsegment id as Parent.
    let header = format!("{};Parent=0123456789abcdef;Sampled=1;Lineage=a87bd80c:1", &SAMPLED[..40]);
    let attribute =
        || [(MessageSystemAttributeNameForSends::AwsTraceHeader, trace_attribute(&header))].into_iter().collect();
    let send = |attributes| {
        plain.send_message().queue_url(QUEUE_URL).message_body("hello").set_message_system_attributes(attributes)
    };
    let captured = |attributes| {
        let call = capturing.send_message().queue_url(QUEUE_URL).message_body("hello");
        rt.block_on(call.set_message_system_attributes(attributes).send()).expect("canned call");
        capture.0.lock().expect("capture").take().expect("captured")
    };
    let (components, without) = captured(None);
    let (_, with) = captured(Some(attribute()));
    let input = SendMessageInput::builder().queue_url(QUEUE_URL).message_body("hello").build().expect("input");
    let mut layer = Layer::new("SendMessage");
    layer.store_put(Metadata::new("SendMessage", "SQS"));
    layer.store_put(Region::new("us-east-1"));
    layer.store_put(RequestAttempts::new(1));
    let operation = layer.freeze();
    let interceptor = XRayInterceptor::new();
    let sampled = Trace::lambda(Some(SAMPLED));

    let mut group = c.benchmark_group("sqs_carrier");
    group.bench_function("hooks_send_message_without_attribute", |b| {
        let _in = sampled.context().enter();
        b.iter(|| {
            let input = Input::erase(Unrecognized(input.clone()));
            lifecycle(Some(&interceptor), &components, &operation, input, &without).expect("no hook fails")
        })
    });
    group.bench_function("hooks_send_message_with_attribute", |b| {
        let _in = sampled.context().enter();
        b.iter(|| {
            let input = Input::erase(input.clone());
            lifecycle(Some(&interceptor), &components, &operation, input, &with).expect("no hook fails")
        })
    });
    // The input change on its own, short enough to stay steady on a busy machine: putting the attribute on the input
    // (unsampled, so no subsegment is opened and the `Sampled=0` header is formatted for it: a sampled call lends the
    // header it already has).
    let before_serialization = |input: Input| {
        let mut cfg = ConfigBag::base();
        cfg.push_shared_layer(operation.clone());
        let mut ctx = InterceptorContext::new(input);
        interceptor.modify_before_serialization(&mut (&mut ctx).into(), &components, &mut cfg).expect("no hook fails");
        black_box(ctx);
    };
    let unsampled = Trace::lambda(Some(UNSAMPLED));
    group.bench_function("modify_before_serialization_unrecognized_input", |b| {
        let _in = unsampled.context().enter();
        b.iter(|| before_serialization(Input::erase(Unrecognized(input.clone()))))
    });
    group.bench_function("modify_before_serialization_send_message", |b| {
        let _in = unsampled.context().enter();
        b.iter(|| before_serialization(Input::erase(input.clone())))
    });
    group.bench_function("sdk_send_message_without_attribute", |b| {
        b.iter(|| black_box(rt.block_on(send(None).send()).expect("sent")))
    });
    group.bench_function("sdk_send_message_with_attribute", |b| {
        b.iter(|| black_box(rt.block_on(send(Some(attribute())).send()).expect("sent")))
    });
    group.finish();
}

criterion_group!(benches, hooks, send_message, sqs_carrier);
criterion_main!(benches);
