//! `tracing` in and out: [`layer`] records `tracing` spans as subsegments, and [`TraceIdFormat`] puts the trace id
//! (`xray_trace_id`, Powertools Logger's field) in `tracing-subscriber` logs.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use xray_core::{Trace, testing::MemorySink};
//!
//! #[tracing::instrument]
//! fn load_order(id: u64) -> u64 {
//!     id * 2
//! }
//!
//! let subscriber = tracing_subscriber::registry().with(xray_core::tracing::layer().with_annotations(["id"]));
//! let sink = MemorySink::new();
//! tracing::subscriber::with_default(subscriber, || {
//!     sink.run(|| {
//!         let trace = Trace::lambda(Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"));
//!         let _ctx = trace.context().enter();
//!         load_order(7);
//!     })
//! });
//! let sent = sink.documents();
//! assert_eq!(sent[0]["name"], "load_order");
//! assert_eq!(sent[0]["parent_id"], "53995c3f42cd8ad8");
//! assert_eq!(sent[0]["annotations"]["id"], 7);
//! ```
//!
//! # Spans
//!
//! A span opened while a sampled trace is current (an invocation, a `#[traced]` call, a queue message, a span this
//! layer records) becomes a subsegment. Its parent is the span's own `tracing` parent when this layer records that
//! one, wherever the span is created (spans follow `.instrument()` across tasks and threads), else the trace
//! context current where it is created. While the span is entered its subsegment is the current one, so
//! `#[traced]` calls and the recording API inside it nest under it. A span entered and exited many times is one
//! subsegment, ended when the span closes. A span opened outside any trace, or in a trace that is not sampled,
//! records nothing, and a hook on it returns after reading two counters while no span is recorded in the process.
//!
//! # lambda_runtime's invocation span
//!
//! `lambda_runtime::run` (and `run_concurrent`) wraps every invocation in a span `Lambda runtime invoke` with the
//! fields `requestId` and `xrayTraceId`. This layer starts the invocation's trace from it, as `#[traced_handler]`
//! would ([`crate::lambda::Invocation`]): the `## handler` subsegment under Lambda's function segment, annotated
//! `ColdStart` and `Service` and sent `in_progress` at once; the spans of the handler nest under it; when the span
//! closes, `## handler` ends and every document still open is sent `in_progress`. So a plain
//! `lambda_runtime::run(service_fn(handler))` with `#[instrument]` functions is traced end to end, and each of
//! `run_concurrent`'s invocations is its own trace. With `#[traced_handler]` on the handler as well, it finds the
//! invocation already started for the same header and records on its `## handler` (renamed `## <fn name>`):
//! nothing is recorded twice. An unsampled or missing header records nothing; the trace id still reaches the logs.
//!
//! A `tracing` span lives as long as its children: a task spawned with `.instrument()` that outlives the handler
//! keeps lambda_runtime's span open, so `## handler` then ends (and is sent) when that task's span closes. Such a
//! task should be awaited before the handler returns, as Lambda may freeze the process as soon as it answers.
//! The handler's `Err` is not seen by a span: mark it with `#[instrument(err)]` on the handler (its own
//! subsegment) or `#[traced_handler]` (on `## handler`).
//!
//! # The AWS SDK's own spans
//!
//! aws-smithy-runtime opens an operation span per call (`DynamoDB.GetItem`, with `rpc.service`, `rpc.method`,
//! `rpc.system = "aws-api"`) and spans per attempt, serialization and so on. This layer records none of them (targets
//! `aws_sdk_*`, `aws_smithy_*`, `aws_config`, `aws_runtime`, `aws_sigv4`): a client built with
//! [`aws_client!`](crate::aws_client) records each call once, as the interceptor's subsegment, under the span the
//! call is made in. Without `aws_client!` no AWS call is recorded: the SDK's spans could give a subsegment its name
//! and operation, but not what X-Ray's service map and the console need (region, request id, HTTP status, retries,
//! the table, queue or bucket, the service's error as cause), and they cannot put the trace header on the request,
//! so the call would stop the trace. Recording them only when no interceptor does would mean guessing at span
//! creation, before the interceptor runs; one source, the interceptor, is what is recorded.
//!
//! Fields, at creation or through `Span::record`:
//!
//! | field | what it does |
//! |---|---|
//! | `otel.name` | the subsegment's name (else the span's) |
//! | `otel.kind = "client"` | the `remote` namespace: a downstream call |
//! | `error`, `exception.message`, `exception.type` | a fault, with the error as the `cause` |
//! | `otel.status_code = "error"` | a fault |
//! | the keys given to [`XRayLayer::with_annotations`] | annotations (a key or value X-Ray refuses gets a diagnostic) |
//! | any other | metadata in the `tracing` namespace |
//!
//! Events: only an event that carries an `error` or `exception.*` field is recorded (the one `#[instrument(err)]`
//! emits, say): it marks the nearest recorded span a fault, with the error as its `cause`
//! (`POWERTOOLS_TRACER_CAPTURE_ERROR=false`: the fault alone). Other events are logs, not subsegments or metadata:
//! X-Ray has no place for timed events on a subsegment but metadata, which would grow every document by each log
//! line (and the logs already carry `xray_trace_id`). They cost this layer one look at the event's field names, and
//! nothing while no span is recorded.
//!
//! # Logs
//!
//! `tracing_subscriber::fmt::layer().json().map_event_format(TraceIdFormat::json)` adds `"xray_trace_id":
//! "1-5759e988-bd862e3fe1be46a994272793"` to each JSON line written in a trace; [`TraceIdFormat::text`] appends
//! ` xray_trace_id=...` to text lines. [`init_default_subscriber`] is lambda_runtime's own log set-up
//! (`AWS_LAMBDA_LOG_FORMAT=JSON` for JSON, `AWS_LAMBDA_LOG_LEVEL`) with both this layer and `xray_trace_id`:
//! lambda_runtime's `init_default_subscriber` takes no extra layer, so call this one instead. For other loggers,
//! [`crate::trace_id`] is the current Root id (sampled or not).
//!
//! Which field joins logs to traces (researched 2026-12): Powertools Logger writes the Root id alone as
//! `xray_trace_id` in all four languages; Powertools Java added the field so that CloudWatch ServiceLens, whose
//! trace view (in the X-Ray and CloudWatch consoles) lists a trace's logs, finds its lines
//! (aws-powertools/powertools-lambda-java#111). Logs Insights discovers the fields of JSON lines, so `filter
//! xray_trace_id = "1-..."` finds a trace's lines in any log group. Lambda's own `REPORT` line names the
//! invocation's `XRAY TraceId`; lambda_runtime's span puts `requestId` (what Lambda's own log lines are keyed by)
//! in every JSON line's `span` and `spans`. CloudWatch Application Signals' trace-to-log correlation instead injects
//! OpenTelemetry's `trace_id` and `span_id` through its own instrumentation, which this crate does not do. We found
//! no AWS page naming the field or the query the console runs for a Lambda function, so what is written is
//! `xray_trace_id`: the field every Powertools Logger writes, and the one ServiceLens was made to work with.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::context::{self, Context, State, state, with_current};
use crate::diag::diag;
use crate::document::{AnnotationValue, Cause, Exception, Name, Namespace};
use crate::ids::TraceId;
use crate::lambda::Invocation;
use crate::record::Recorder;
use crate::subsegment::close;

/// The metadata namespace of the fields that are not annotations.
const NAMESPACE: &str = "tracing";

/// The layer that records `tracing` spans as subsegments: `tracing_subscriber::registry().with(layer())`.
pub fn layer() -> XRayLayer {
    XRayLayer { annotations: Arc::from([]) }
}

/// Records `tracing` spans as subsegments; see the [module's documentation](self).
#[derive(Debug, Clone)]
pub struct XRayLayer {
    annotations: Arc<[Cow<'static, str>]>,
}

impl XRayLayer {
    /// Records the span fields named `keys` as annotations (indexed, searchable); other fields are metadata.
    pub fn with_annotations<K: Into<Cow<'static, str>>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        let mut all = self.annotations.to_vec();
        all.extend(keys.into_iter().map(Into::into));
        self.annotations = all.into();
        self
    }
}

/// How many spans are recorded now, in the whole process: while none is, a hook on a span outside any trace
/// returns at once.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// What the layer keeps in a recorded span's extensions: the context with its subsegment current, and for
/// lambda_runtime's invocation span the invocation it started. Dropped when the span closes, which ends the
/// subsegment (the invocation: its handler subsegment, and every document is sent).
struct Recorded {
    ctx: Context,
    invocation: Option<Invocation>,
}

impl Recorded {
    fn new(ctx: Context) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self { ctx, invocation: None }
    }

    fn invocation(invocation: Invocation) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self { ctx: invocation.ctx.clone(), invocation: Some(invocation) }
    }

    fn recorder(&self) -> Option<Recorder> {
        self.ctx.current.map(|handle| Recorder::new(Some((self.ctx.trace.clone(), handle))))
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        if let Some(invocation) = self.invocation.take() {
            invocation.end();
        } else if let Some(handle) = self.ctx.current {
            close(&self.ctx.trace, handle);
        }
    }
}

/// The name of the span lambda_runtime opens around each invocation (`layers::trace::request_span`).
const INVOKE_SPAN: &str = "Lambda runtime invoke";

/// Whether `meta` is lambda_runtime's invocation span.
fn is_invoke_span(meta: &::tracing::Metadata<'_>) -> bool {
    meta.name() == INVOKE_SPAN && meta.target().starts_with("lambda_runtime")
}

/// Starts the invocation lambda_runtime's span stands for, from its `xrayTraceId` field, as `#[traced_handler]`
/// would: `## handler` annotated `ColdStart` and `Service`, sent `in_progress` at once, ended with every document
/// sent when the span closes.
fn start_invocation(attrs: &Attributes<'_>) -> Recorded {
    struct Header(Option<String>);
    impl Visit for Header {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "xrayTraceId" {
                self.0 = Some(value.to_owned());
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == "xrayTraceId" {
                self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
            }
        }
    }
    let mut header = Header(None);
    attrs.record(&mut header);
    Recorded::invocation(Invocation::begin(header.0.as_deref(), "## handler", "handler", false))
}

/// The crates whose spans this layer leaves out: the AWS SDK's operation and attempt spans, which would duplicate
/// the subsegment `aws_client!`'s interceptor records (see the module's documentation).
const SDK_TARGETS: [&str; 5] = ["aws_smithy_", "aws_sdk_", "aws_config", "aws_runtime", "aws_sigv4"];

fn is_sdk_span(meta: &::tracing::Metadata<'_>) -> bool {
    let target = meta.target();
    target.starts_with("aws_") && SDK_TARGETS.iter().any(|t| target.starts_with(t))
}

thread_local! {
    /// The recorded spans entered on this thread, innermost last, each with the context it replaced.
    static ENTERED: RefCell<Vec<(Id, Option<Context>)>> = const { RefCell::new(Vec::new()) };
}

/// The context a child of the recorded span `parent` opens in: what is current on this thread when `parent` is the
/// span entered last here and the current context is of its trace (a `#[traced]` call inside it, say), else
/// `parent`'s own.
fn child_parent(parent: &Id, mut parent_ctx: Context) -> Context {
    let on_top = ENTERED
        .try_with(|s| s.try_borrow().ok().and_then(|s| s.last().map(|(id, _)| id == parent)).unwrap_or(false))
        .unwrap_or(false);
    if !on_top {
        return parent_ctx;
    }
    // The same trace: its handles are enough, without another reference to it.
    let serial = parent_ctx.trace.serial();
    let here = with_current(|c| c.filter(|c| c.trace.serial() == serial).map(|c| (c.current, c.handler)));
    if let Some((current, handler)) = here {
        (parent_ctx.current, parent_ctx.handler) = (current, handler);
    }
    parent_ctx
}

impl<S> Layer<S> for XRayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if is_invoke_span(attrs.metadata()) {
            if let Some(span) = ctx.span(id) {
                let _previous = span.extensions_mut().replace(start_invocation(attrs));
            }
            return;
        }
        if state() != State::Recording && LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        if is_sdk_span(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let recorded_parent =
            span.parent().and_then(|p| p.extensions().get::<Recorded>().map(|r| (p.id(), r.ctx.clone())));
        let parent = match recorded_parent {
            Some((parent_id, parent_ctx)) => child_parent(&parent_id, parent_ctx),
            None if state() == State::Recording => match Context::current() {
                Some(ctx) => ctx,
                None => return,
            },
            None => return,
        };
        if !parent.is_recording() {
            return;
        }
        let mut fields = Fields::new(&self.annotations);
        attrs.record(&mut fields);
        let name = fields.name.take().map_or(Cow::Borrowed(span.name()), Cow::Owned);
        let Some(handle) = parent.trace.begin(parent.current, Name::sanitized(name), fields.namespace.take()) else {
            return;
        };
        let recorded = Recorded::new(Context { trace: parent.trace, current: Some(handle), handler: parent.handler });
        if !fields.is_empty()
            && let Some(rec) = recorded.recorder()
        {
            fields.apply(&rec);
        }
        // `replace`, not `insert`, which panics on a value already there.
        let _previous = span.extensions_mut().replace(recorded);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(rec) = ctx.span(id).and_then(|s| s.extensions().get::<Recorded>().and_then(Recorded::recorder)) else {
            return;
        };
        let mut fields = Fields::new(&self.annotations);
        values.record(&mut fields);
        if let Some(name) = fields.name.take() {
            let name = Name::sanitized(Cow::Owned(name)).into_inner();
            rec.rename(name);
        }
        if let Some(namespace) = fields.namespace.take() {
            rec.set_namespace(namespace);
        }
        fields.apply(&rec);
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let names = event.metadata().fields();
        if names.field("error").is_none() && !names.iter().any(|f| f.name().starts_with("exception.")) {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else { return };
        let Some(rec) = scope.into_iter().find_map(|s| s.extensions().get::<Recorded>().and_then(Recorded::recorder))
        else {
            return;
        };
        let mut fields = Fields::errors_only();
        event.record(&mut fields);
        fields.apply(&rec);
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(entered) = ctx.span(id).and_then(|s| s.extensions().get::<Recorded>().map(|r| r.ctx.clone())) else {
            return;
        };
        let _ = ENTERED.try_with(|stack| {
            let Ok(mut stack) = stack.try_borrow_mut() else { return };
            let mut slot = Some(entered);
            if context::swap(&mut slot) {
                stack.push((id.clone(), slot));
            }
        });
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        let _ = ENTERED.try_with(|stack| {
            let Ok(mut stack) = stack.try_borrow_mut() else { return };
            let Some(at) = stack.iter().rposition(|(entered, _)| entered == id) else { return };
            let (_, mut previous) = stack.remove(at);
            match stack.get_mut(at) {
                // Exited out of order: the span entered after it restores, when it exits, what this one would have.
                Some(later) => later.1 = previous,
                None => {
                    context::swap(&mut previous);
                }
            }
        });
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return;
        }
        // Taken out under the lock, ended (and sent) after it is released.
        let recorded = ctx.span(&id).and_then(|s| s.extensions_mut().remove::<Recorded>());
        drop(recorded);
    }
}

/// A field's value, as `tracing` hands it over.
enum Value<'a> {
    Str(&'a str),
    Text(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
}

impl Value<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s),
            Value::Text(s) => Cow::Borrowed(s),
            Value::Int(v) => Cow::Owned(v.to_string()),
            Value::Uint(v) => Cow::Owned(v.to_string()),
            Value::Float(v) => Cow::Owned(v.to_string()),
            Value::Bool(v) => Cow::Owned(v.to_string()),
        }
    }

    fn annotation(self) -> AnnotationValue {
        match self {
            Value::Str(s) => s.into(),
            Value::Text(s) => s.into(),
            Value::Int(v) => v.into(),
            Value::Uint(v) => v.into(),
            Value::Float(v) => v.into(),
            Value::Bool(v) => v.into(),
        }
    }

    fn json(self) -> serde_json::Value {
        if let Value::Uint(v) = self {
            return v.into();
        }
        match self.annotation() {
            AnnotationValue::String(s) => s.into_owned().into(),
            AnnotationValue::Int(v) => v.into(),
            // NaN and infinities become `null`, as serde_json writes them.
            AnnotationValue::Float(v) => v.into(),
            AnnotationValue::Bool(v) => v.into(),
        }
    }
}

/// The fields of a span or an event, sorted into what they record.
struct Fields<'a> {
    /// `None` for an event: only its error fields count.
    annotations: Option<&'a [Cow<'static, str>]>,
    name: Option<String>,
    namespace: Option<Namespace>,
    fault: bool,
    /// Exceptions from an `error` field holding a `dyn Error` (its `source()` chain).
    exceptions: Vec<Exception>,
    /// An error given as text: `error = %e`, `exception.message`.
    message: Option<String>,
    kind: Option<String>,
    annotated: Vec<(&'static str, AnnotationValue)>,
    metadata: Vec<(&'static str, serde_json::Value)>,
}

impl<'a> Fields<'a> {
    fn new(annotations: &'a [Cow<'static, str>]) -> Self {
        Self { annotations: Some(annotations), ..Self::errors_only() }
    }

    fn errors_only() -> Self {
        Self {
            annotations: None,
            name: None,
            namespace: None,
            fault: false,
            exceptions: Vec::new(),
            message: None,
            kind: None,
            annotated: Vec::new(),
            metadata: Vec::new(),
        }
    }

    /// Whether nothing is left to record (the name and namespace have been taken).
    fn is_empty(&self) -> bool {
        !self.fault && self.annotated.is_empty() && self.metadata.is_empty()
    }

    fn field(&mut self, field: &Field, value: Value<'_>) {
        let key = field.name();
        match key {
            "error" => match value {
                Value::Bool(flag) => self.fault |= flag,
                value => {
                    self.fault = true;
                    self.message = Some(value.text().into_owned());
                }
            },
            "exception.message" => {
                self.fault = true;
                self.message = Some(value.text().into_owned());
            }
            "exception.type" => {
                self.fault = true;
                self.kind = Some(value.text().into_owned());
            }
            _ => {
                let Some(annotations) = self.annotations else { return };
                match key {
                    "otel.name" => self.name = Some(value.text().into_owned()),
                    "otel.kind" if value.text().eq_ignore_ascii_case("client") => {
                        self.namespace = Some(Namespace::Remote);
                    }
                    "otel.status_code" if value.text().eq_ignore_ascii_case("error") => self.fault = true,
                    // The other conventions' fields say how to export, not what happened.
                    _ if key.starts_with("otel.") || key.starts_with("exception.") => {}
                    _ if annotations.iter().any(|a| a == key) => self.annotated.push((key, value.annotation())),
                    _ => self.metadata.push((key, value.json())),
                }
            }
        }
    }

    /// Records what the fields say on `rec`'s subsegment (name and namespace excepted: they are chosen at opening).
    fn apply(self, rec: &Recorder) {
        for (key, value) in self.annotated {
            rec.put_annotation(key, value);
        }
        for (key, value) in self.metadata {
            rec.put_metadata_in(NAMESPACE, key, value);
        }
        if !self.fault {
            return;
        }
        rec.mark_fault();
        if !crate::config::capture_error() {
            // `POWERTOOLS_TRACER_CAPTURE_ERROR=false`: the fault without the error's text.
            return;
        }
        if let Some(message) = self.message {
            rec.add_exception(Exception::new(self.kind.unwrap_or_else(|| "error".to_owned()), message));
        } else if let Some(kind) = self.kind.filter(|_| self.exceptions.is_empty()) {
            let mut exception = Exception::new(kind, String::new());
            exception.message = None;
            rec.add_exception(exception);
        }
        for exception in self.exceptions {
            rec.add_exception(exception);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, Value::Str(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, Value::Uint(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.field(field, Value::Int(v)),
            Err(_) => self.field(field, Value::Text(value.to_string())),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.field(field, Value::Uint(v)),
            Err(_) => self.field(field, Value::Text(value.to_string())),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, Value::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, Value::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            self.fault = true;
            // Named, as a `dyn Error`, after what its `Debug` output starts with.
            if let Cause::Detail { exceptions, .. } = Cause::from_error("dyn Error", value) {
                self.exceptions.extend(exceptions);
            }
        } else {
            self.field(field, Value::Text(value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` (a `DisplayValue`) writes its `Display` text here.
        self.field(field, Value::Text(format!("{value:?}")));
    }
}

/// The subscriber `lambda_runtime::tracing::init_default_subscriber()` installs, with `layer` (usually
/// [`layer()`], with its annotations) and `xray_trace_id` added, writing to stdout: call it first thing in `main`,
/// in place of lambda_runtime's.
///
/// ```no_run
/// xray_core::tracing::init_default_subscriber(xray_core::tracing::layer().with_annotations(["order_id"]));
/// ```
///
/// As lambda_runtime's: JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (any case), else text without ANSI
/// colors; no timestamps (CloudWatch adds its own) and no targets; the level from `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else `INFO`. Unlike lambda_runtime's, `RUST_LOG` is read as one level (`debug`), not as per-module
/// directives: anything else gets a diagnostic and `INFO`. If a global subscriber is already set, this one is not
/// installed and a diagnostic says so: it never panics.
pub fn init_default_subscriber(layer: XRayLayer) {
    if ::tracing::subscriber::set_global_default(default_subscriber(layer, std::io::stdout)).is_err() {
        diag!(BadConfig, "xray_core::tracing::init_default_subscriber: a global subscriber is already set; kept it");
    }
}

/// The subscriber [`init_default_subscriber`] installs, writing to `writer`, not installed: for tests
/// (`tracing::subscriber::with_default`) or a writer of your own.
pub fn default_subscriber<W>(layer: XRayLayer, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.trim().eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer().with_target(false).without_time().with_writer(writer);
    let base = tracing_subscriber::registry().with(log_level()).with(layer);
    if json {
        Box::new(base.with(fmt.json().map_event_format(TraceIdFormat::json)))
    } else {
        Box::new(base.with(fmt.with_ansi(false).map_event_format(TraceIdFormat::text)))
    }
}

/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls; `FATAL` reads as `ERROR`), else `RUST_LOG`, else
/// `INFO`.
fn log_level() -> LevelFilter {
    let (name, value) = match (std::env::var("AWS_LAMBDA_LOG_LEVEL"), std::env::var("RUST_LOG")) {
        (Ok(level), _) => ("AWS_LAMBDA_LOG_LEVEL", level),
        (_, Ok(level)) => ("RUST_LOG", level),
        _ => return LevelFilter::INFO,
    };
    let text = value.trim();
    if text.eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    text.parse().unwrap_or_else(|_| {
        diag!(BadEnvVar, "{name}=`{value}` is not one level (trace, debug, info, warn, error, off); using INFO");
        LevelFilter::INFO
    })
}

/// A `tracing-subscriber` event format that adds `xray_trace_id`, the Root id of the event's trace, to what `F`
/// writes: `fmt::layer().json().map_event_format(TraceIdFormat::json)`, or
/// `fmt::layer().with_ansi(false).map_event_format(TraceIdFormat::text)`.
///
/// The trace is the one of the nearest span [`layer`] records around the event, else the one current where the event
/// is emitted ([`crate::trace_id`]); outside any trace the line is `F`'s, unchanged. `F`'s output is written to a
/// buffer first, so text is written without ANSI colors (which Lambda's logs do not want either).
#[derive(Debug, Clone)]
pub struct TraceIdFormat<F> {
    inner: F,
    json: bool,
}

impl<F> TraceIdFormat<F> {
    /// For JSON lines (`fmt::format().json()`): `"xray_trace_id":"1-..."` as the object's first field.
    pub fn json(inner: F) -> Self {
        Self { inner, json: true }
    }

    /// For text lines: ` xray_trace_id=1-...` at the end of each line.
    pub fn text(inner: F) -> Self {
        Self { inner, json: false }
    }
}

/// The Root id of the trace of the nearest recorded span around `event`, else of the current trace.
fn event_trace_id<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<TraceId>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    if LIVE.load(Ordering::Relaxed) > 0
        && let Some(scope) = ctx.event_scope()
        && let Some(id) =
            scope.into_iter().find_map(|s| s.extensions().get::<Recorded>().map(|r| r.ctx.trace.trace_id()))
    {
        return Some(id);
    }
    crate::trace_id()
}

impl<S, N, F> FormatEvent<S, N> for TraceIdFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let Some(trace_id) = event_trace_id(ctx) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        if self.json
            && let Some(rest) = line.strip_prefix('{')
        {
            let comma = if rest.trim_start().starts_with('}') { "" } else { "," };
            // A trace id is ASCII letters, digits and `-`: nothing to escape.
            return write!(writer, "{{\"xray_trace_id\":\"{trace_id}\"{comma}{rest}");
        }
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line.as_str(), ""),
        };
        write!(writer, "{body} xray_trace_id={trace_id}{newline}")
    }
}
