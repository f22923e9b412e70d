//! The function once per contender, and the context each needs for each mode.

use std::borrow::Cow;
use std::hint::black_box;
use std::sync::{Arc, Once, OnceLock};

use fastrace::collector::{Config, Reporter, SpanContext, SpanRecord};
use opentelemetry::context::FutureExt as _;
use opentelemetry::global::BoxedTracer;
use opentelemetry::trace::{
    SpanContext as OtelSpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use serde::Serialize;
use xray_core::testing::Discard;
use xray_lite::{Context as _, CustomNamespace, InfallibleContext, SubsegmentContext};

use crate::{Call, Contender, Mode, SAMPLED, UNSAMPLED, work};

#[inline(never)]
pub(crate) fn plain(x: u64) -> u64 {
    work(x)
}

#[inline(never)]
pub(crate) async fn plain_async(x: u64) -> u64 {
    work(x)
}

#[xray_core::traced]
#[inline(never)]
pub(crate) fn xray_traced(x: u64) -> u64 {
    work(x)
}

#[xray_core::traced]
#[inline(never)]
pub(crate) async fn xray_traced_async(x: u64) -> u64 {
    work(x)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
pub(crate) fn tracing_instrumented(x: u64) -> u64 {
    work(x)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
pub(crate) async fn tracing_instrumented_async(x: u64) -> u64 {
    work(x)
}

#[fastrace::trace]
#[inline(never)]
pub(crate) fn fastrace_traced(x: u64) -> u64 {
    work(x)
}

#[fastrace::trace]
#[inline(never)]
pub(crate) async fn fastrace_traced_async(x: u64) -> u64 {
    work(x)
}

/// An OpenTelemetry span made current around the body, as `Tracer::in_span` does.
#[inline(never)]
pub(crate) fn otel_span(x: u64) -> u64 {
    otel_tracer().in_span("otel_span", |_cx| work(x))
}

/// An OpenTelemetry span current at each poll of the body.
#[inline(never)]
pub(crate) async fn otel_span_async(x: u64) -> u64 {
    let span = otel_tracer().start("otel_span_async");
    async move { work(x) }.with_context(opentelemetry::Context::current_with_span(span)).await
}

/// The global API's tracer with no provider installed, made once as an application would keep it.
fn otel_noop() -> &'static BoxedTracer {
    static NOOP: OnceLock<BoxedTracer> = OnceLock::new();
    NOOP.get_or_init(|| opentelemetry::global::tracer("bench"))
}

/// The same span from the global API with no provider installed: OpenTelemetry's cost without a trace.
#[inline(never)]
pub(crate) fn otel_global(x: u64) -> u64 {
    otel_noop().in_span("otel_span", |_cx| work(x))
}

/// The same, `async`.
#[inline(never)]
pub(crate) async fn otel_global_async(x: u64) -> u64 {
    let span = otel_noop().start("otel_span_async");
    async move { work(x) }.with_context(opentelemetry::Context::current_with_span(span)).await
}

/// An xray-lite subsegment around the body: sent in progress when it begins, complete when it ends.
#[inline(never)]
pub(crate) fn lite_subsegment(ctx: &LiteContext, x: u64) -> u64 {
    let _subsegment = ctx.enter_subsegment(CustomNamespace::new("lite_subsegment"));
    work(x)
}

/// The same around an async body.
#[inline(never)]
pub(crate) async fn lite_subsegment_async(ctx: &LiteContext, x: u64) -> u64 {
    let _subsegment = ctx.enter_subsegment(CustomNamespace::new("lite_subsegment_async"));
    async move { work(x) }.await
}

/// An xray-lite client that does what its `DaemonClient` does short of the send: serializes the subsegment with
/// `serde_json` and frames it as a datagram, then drops it.
#[derive(Debug, Clone, Copy)]
pub struct Serializing;

const LITE_HEADER: &[u8] = br#"{"format": "json", "version": 1}"#;

impl xray_lite::Client for Serializing {
    fn send<S: Serialize>(&self, data: &S) -> xray_lite::Result<()> {
        let bytes = serde_json::to_vec(data)?;
        black_box([LITE_HEADER, b"\n", &bytes].concat());
        Ok(())
    }
}

/// The context xray-lite instruments with: from `_X_AMZN_TRACE_ID`, or a no-op one without a trace.
pub type LiteContext = InfallibleContext<SubsegmentContext<Serializing>>;

/// xray-lite's contexts from the sampled and the unsampled header (it records both: it does not read `Sampled`).
static LITE: OnceLock<(LiteContext, LiteContext)> = OnceLock::new();
static LITE_NONE: LiteContext = InfallibleContext::Noop;

/// A fastrace reporter that drops what the collector hands it.
struct DropReporter;

impl Reporter for DropReporter {
    fn report(&mut self, spans: Vec<SpanRecord>) {
        black_box(spans);
    }
}

/// An OpenTelemetry exporter that drops every span.
#[derive(Debug)]
struct DropExporter;

impl SpanExporter for DropExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

static OTEL: OnceLock<(SdkTracerProvider, SdkTracer)> = OnceLock::new();

fn otel_tracer() -> &'static SdkTracer {
    &OTEL
        .get_or_init(|| {
            let provider = SdkTracerProvider::builder().with_simple_exporter(DropExporter).build();
            let tracer = provider.tracer("bench");
            (provider, tracer)
        })
        .1
}

/// Sets up what the peers need once per process: xray-lite's contexts (read from `_X_AMZN_TRACE_ID`, set here
/// before any other thread exists), fastrace's reporter and OpenTelemetry's provider.
pub fn init_peers() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let lite = |header: &str| {
            // SAFETY: called before this process starts any thread (fastrace's collector starts below), so nothing
            // reads the environment concurrently.
            unsafe { std::env::set_var("_X_AMZN_TRACE_ID", header) };
            InfallibleContext::new(SubsegmentContext::from_lambda_env(Serializing))
        };
        let contexts = (lite(SAMPLED), lite(UNSAMPLED));
        // SAFETY: as above.
        unsafe { std::env::remove_var("_X_AMZN_TRACE_ID") };
        let _ = LITE.set(contexts);
        fastrace::set_reporter(DropReporter, Config::default());
        otel_tracer();
    });
}

/// The root of a batch of fastrace calls: sampled, or not.
pub(crate) fn fastrace_root(mode: Mode) -> fastrace::Span {
    let context = SpanContext::random().sampled(mode == Mode::Sampled);
    fastrace::Span::root(Cow::Borrowed("root"), context)
}

fn otel_parent(sampled: bool) -> opentelemetry::Context {
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    let parent = OtelSpanContext::new(
        TraceId::from_hex("5759e988bd862e3fe1be46a994272793").unwrap_or(TraceId::INVALID),
        SpanId::from_hex("53995c3f42cd8ad8").unwrap_or(SpanId::INVALID),
        flags,
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(parent)
}

pub(crate) fn run_in<R>(contender: Contender, mode: Mode, body: impl FnOnce(Call<'_>) -> R) -> R {
    let lite = match (contender, mode, LITE.get()) {
        (Contender::XrayLite, Mode::Sampled, Some((sampled, _))) => sampled,
        (Contender::XrayLite, Mode::Unsampled, Some((_, unsampled))) => unsampled,
        _ => &LITE_NONE,
    };
    let call = Call { contender, mode, lite };
    match (contender, mode) {
        (Contender::Xray, Mode::Sampled | Mode::Unsampled) => {
            let header = if mode == Mode::Sampled { SAMPLED } else { UNSAMPLED };
            // The trace keeps the emitter in force where it was made: documents are written, then discarded.
            let _in_trace = xray_core::emit::run_scoped(Arc::new(Discard), || {
                xray_core::Trace::lambda(Some(header)).context().enter()
            });
            body(call)
        }
        (Contender::Tracing, Mode::Sampled) => {
            tracing::subscriber::with_default(tracing_subscriber::registry(), || {
                let _root = tracing::info_span!("root").entered();
                body(call)
            })
        }
        // tracing does not sample: "unsampled" is a subscriber that records nothing.
        (Contender::Tracing, Mode::Unsampled) => {
            tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || body(call))
        }
        (Contender::Otel, Mode::Sampled | Mode::Unsampled) => {
            let _parent = otel_parent(mode == Mode::Sampled).attach();
            body(call)
        }
        // fastrace's roots are made per batch by `repeat`; xray-lite reads its context from `call`.
        _ => body(call),
    }
}
