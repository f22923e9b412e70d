//! One Lambda invocation, traced: what `#[traced_handler]` does, callable by hand.
//!
//! [`Invocation::begin`] builds the invocation's trace from the header its `lambda_runtime::Context` carries
//! (`xray_trace_id`; the process-wide `_X_AMZN_TRACE_ID` only when the Context has none), opens the handler
//! subsegment annotated `ColdStart` and `Service` (Powertools' names), and sends it `in_progress` at once, so an
//! invocation that times out still shows. [`Invocation::instrument`] runs the handler's body in the invocation's
//! context; [`Invocation::end`] ends the handler subsegment and sends every document before the result goes back.
//!
//! ```
//! use xray_core::lambda::Invocation;
//! # use xray_core::testing::MemorySink;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let sink = MemorySink::new();
//! # sink.scope(async {
//! // `context.xray_trace_id.as_deref()` in a handler:
//! let header = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
//! let result: Result<u32, String> = Invocation::new(header).run(async { Ok(7) }).await;
//! assert_eq!(result, Ok(7));
//! # }).await;
//! # assert_eq!(sink.documents().last().unwrap()["name"], "## handler");
//! # }
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::context::Context;
use crate::document::Exception;
pub use crate::panics::Instrumented;
use crate::record::Recorder;
use crate::subsegment::{Call, Subsegment};
use crate::trace::Trace;

/// Environment variable naming the service in the handler subsegment's `Service` annotation (Powertools' name).
pub const SERVICE_ENV: &str = "POWERTOOLS_SERVICE_NAME";
/// Environment variable that turns on response capture for every handler (`true` or `1`).
pub const CAPTURE_RESPONSE_ENV: &str = "POWERTOOLS_TRACER_CAPTURE_RESPONSE";
/// The process-wide trace header Lambda sets, read only when the invocation's Context carries none.
pub const TRACE_ID_ENV: &str = "_X_AMZN_TRACE_ID";

static COLD_START: AtomicBool = AtomicBool::new(true);

/// The service name: `POWERTOOLS_SERVICE_NAME`, else the Lambda function's name, else `fallback`.
pub(crate) fn service(fallback: &'static str) -> Cow<'static, str> {
    static SERVICE: OnceLock<Option<String>> = OnceLock::new();
    let configured = SERVICE.get_or_init(|| {
        std::env::var(SERVICE_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| crate::config::get().function_name.clone())
    });
    // Borrowed from the process-wide setting: in Lambda, where the function's name is always set, an invocation
    // would otherwise copy it for its `Service` annotation.
    Cow::Borrowed(configured.as_deref().unwrap_or(fallback))
}

/// Whether `POWERTOOLS_TRACER_CAPTURE_RESPONSE` asks every handler to store its response.
fn capture_response_env() -> bool {
    static CAPTURE: OnceLock<bool> = OnceLock::new();
    *CAPTURE.get_or_init(|| {
        std::env::var(CAPTURE_RESPONSE_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("true") || v.trim() == "1")
    })
}

/// Does in Lambda's init phase what the first invocation would otherwise pay for: reads the settings and the
/// environment variables the handler subsegment uses, and opens the UDP socket to the daemon (unless another
/// emitter is installed). Does nothing when tracing is switched off. Call it in `main`, before
/// `lambda_runtime::run`:
///
/// ```no_run
/// # async fn run() {}
/// #[tokio::main]
/// async fn main() {
///     xray_core::lambda::prepare();
///     // lambda_runtime::run(service_fn(handler)).await
/// #   run().await
/// }
/// ```
///
/// It also runs the code a traced invocation runs once, so that it is loaded before the first one: a throwaway
/// invocation with two subsegments, whose documents are written and dropped, and one datagram a loopback socket sends
/// to itself. Nothing goes to the daemon, and the `ColdStart` annotation stays the first real invocation's.
/// Optional: without it, the first traced invocation pays for all this (about 90 us; see BENCHMARKS.md, "Cold
/// start"). It never fails, and calling it again only repeats the throwaway work.
pub fn prepare() {
    if !crate::config::enabled() {
        return;
    }
    let _service = service("handler");
    let _capture = capture_response_env();
    crate::emit::prepare();
    crate::emit::run_scoped(Arc::new(Nowhere), || {
        let invocation = Invocation::open(Some(PREPARE_HEADER), "## prepare", "handler", false, true);
        {
            let _in = invocation.ctx.clone().enter();
            // What `#[traced]` opens on a `fn`, then on an `async fn`.
            drop(crate::__private::SyncSpan::open("prepare", None));
            // An `async fn`'s call that waits once: adopted when it leaves, then ended.
            if let Some((mut call, previous)) = Call::open_current("prepare", None) {
                call.leave(previous);
                call.end();
            }
        }
        invocation.end();
    });
}

/// The header of `prepare()`'s throwaway invocation: sampled, so every step a recorded invocation takes is run.
const PREPARE_HEADER: &str = "Root=1-00000000-000000000000000000000000;Parent=0000000000000001;Sampled=1";

/// Drops what `prepare()` writes.
struct Nowhere;

impl crate::emit::Emitter for Nowhere {
    fn send(&self, document: &[u8]) {
        std::hint::black_box(document);
    }

    #[cfg(feature = "otlp")]
    fn send_spans(&self, request: &[u8], _sampled: bool) {
        std::hint::black_box(request);
    }
}

/// One invocation of a handler: its trace and its handler subsegment.
pub struct Invocation {
    trace: Trace,
    handler: Subsegment,
    pub(crate) ctx: Context,
    pub(crate) capture_response: bool,
    /// Whether this value ends the handler subsegment and the trace: not when it joined the invocation another one
    /// (lambda_runtime's span, through `tracing::layer`) had already started.
    owned: bool,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invocation").field("trace", &self.trace).field("handler", &self.handler).finish()
    }
}

impl Invocation {
    /// Starts an invocation from its trace header with the handler subsegment `## handler`.
    pub fn new(header: Option<&str>) -> Self {
        Self::begin(header, "## handler", "handler", false)
    }

    /// Starts the invocation from the header of its Context (`_X_AMZN_TRACE_ID` only when that has none): opens
    /// `name`, annotates `ColdStart` and `Service` (`service_fallback` when neither `POWERTOOLS_SERVICE_NAME` nor
    /// the function's name is set) and sends the subsegment `in_progress` at once. `capture_response` (or
    /// `POWERTOOLS_TRACER_CAPTURE_RESPONSE`) asks for the response in metadata.
    pub fn begin(
        header: Option<&str>,
        name: &'static str,
        service_fallback: &'static str,
        capture_response: bool,
    ) -> Self {
        Self::begin_exact(header, name, service_fallback, capture_response || capture_response_env())
    }

    /// [`Invocation::begin`] with `capture_response` as given, whatever `POWERTOOLS_TRACER_CAPTURE_RESPONSE` says:
    /// what `#[traced_handler(capture = "...")]` calls.
    #[doc(hidden)]
    pub fn begin_exact(
        header: Option<&str>,
        name: &'static str,
        service_fallback: &'static str,
        capture_response: bool,
    ) -> Self {
        if let Some(joined) = Self::join(header, name, capture_response) {
            return joined;
        }
        let cold = COLD_START.swap(false, Ordering::Relaxed);
        Self::open(header, name, service_fallback, capture_response, cold)
    }

    /// The invocation already current for the same header (`Root` and `Parent`), started by lambda_runtime's
    /// invocation span through [`crate::tracing::layer`]: `#[traced_handler]` inside it records on its handler
    /// subsegment, renamed `name`, rather than opening a second one.
    fn join(header: Option<&str>, name: &'static str, capture_response: bool) -> Option<Self> {
        // Only inside an invocation already started is the header read here (every other one reads it once, later).
        let ctx = Context::current()?;
        let handle = ctx.handler?;
        let header = crate::header::TraceHeader::incoming(header.filter(|h| !h.trim().is_empty())?).header?;
        let same = ctx.trace.trace_id() == header.root() && ctx.trace.upstream_parent() == header.parent();
        if !same || header.parent().is_none() {
            return None;
        }
        let handler = Subsegment { inner: Some((ctx.trace.clone(), handle)) };
        handler.recorder().rename(Cow::Borrowed(name));
        Some(Self { trace: ctx.trace.clone(), handler, ctx, capture_response, owned: false })
    }

    fn open(
        header: Option<&str>,
        name: &'static str,
        service_fallback: &'static str,
        capture_response: bool,
        cold: bool,
    ) -> Self {
        let env_header;
        let header = match header.filter(|h| !h.trim().is_empty()) {
            Some(h) => Some(h),
            None => {
                env_header = std::env::var(TRACE_ID_ENV).ok();
                env_header.as_deref()
            }
        };
        let trace = Trace::lambda(header);
        let handler = Subsegment::begin_in(&trace.context(), name);
        if handler.is_recording() {
            let rec = handler.recorder();
            rec.put_annotation("ColdStart", cold);
            rec.put_annotation("Service", service(service_fallback));
            handler.send_in_progress();
        }
        let ctx = trace.context().with_handler(&handler);
        Self { trace, handler, ctx, capture_response, owned: true }
    }

    /// Whether this invocation is recorded.
    pub fn is_recording(&self) -> bool {
        self.handler.is_recording()
    }

    /// The trace of this invocation.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Records on the handler subsegment, `None` when the invocation is not recorded.
    pub fn recorder(&self) -> Option<Recorder> {
        self.handler.is_recording().then(|| self.handler.recorder())
    }

    /// Runs the handler's body in the invocation's context; a panic is recorded on the handler subsegment.
    pub fn instrument<F: Future>(&self, body: F) -> Instrumented<F> {
        Instrumented::new(Some(self.ctx.clone()), body)
    }

    /// Ends the handler subsegment and the invocation: every document is sent before this returns.
    pub fn end(mut self) {
        if !self.owned {
            // The one that started the invocation ends it.
            self.handler.inner = None;
            return;
        }
        self.handler.end();
        self.trace.end();
    }

    /// Runs `body` as the handler, records an `Err` as the handler's fault, and ends the invocation.
    pub async fn run<T, E: fmt::Display>(self, body: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let result = self.instrument(body).await;
        if let (Err(error), Some(rec)) = (&result, self.recorder()) {
            rec.mark_fault();
            if !crate::config::capture_error() {
                self.end();
                return result;
            }
            rec.add_exception(Exception::new(std::any::type_name::<E>(), error.to_string()));
        }
        self.end();
        result
    }
}
