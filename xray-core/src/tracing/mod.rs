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
//! subsegment, ended when the span closes; open when its trace's handler waits or its trace ends, it is sent
//! `in_progress` as any open subsegment is. A span that records nothing but its times is kept out of the trace's
//! arena, as a `#[traced]` call is, and costs 2.3 to 2.6 times the Registry's own work (BENCHMARKS.md). A span opened
//! outside any trace, or in a trace that is not sampled, records nothing, and a hook on it returns after reading two
//! counters while no span is recorded in the process.
//!
//! # lambda_runtime's invocation span
//!
//! `lambda_runtime::run` (and `run_concurrent`) wraps every invocation in a span `Lambda runtime invoke` with the
//! fields `requestId` and `xrayTraceId`. This layer starts the invocation's trace from it, as `#[traced_handler]`
//! would ([`crate::lambda::Invocation`]): the `## handler` subsegment under Lambda's function segment, annotated
//! `ColdStart` and `Service` and sent `in_progress` at once; the spans of the handler nest under it; each time the
//! handler waits (the runtime's span exits after each poll of the handler's future), what ended is sent and what is
//! open and not yet sent goes `in_progress`; when the span closes, `## handler` ends and every document still open is
//! sent `in_progress`. So a plain
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

mod fields;
mod logs;
mod spans;

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;

use ::tracing::field::{Field, Visit};
use ::tracing::span::{Attributes, Id, Record};
use ::tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::context::{self, Left, Replaced, State, state, with_slot_mut};
use crate::document::Name;
use crate::ids::SegmentId;
use crate::lambda::Invocation;
use crate::trace::{Handle, Trace};
use fields::Fields;
pub use logs::{TraceIdFormat, default_subscriber, init_default_subscriber};
pub(crate) use spans::adopt_pending;
use spans::{Key, Recorded, Sub};

/// The layer that records `tracing` spans as subsegments: `tracing_subscriber::registry().with(layer())`.
pub fn layer() -> XRayLayer {
    XRayLayer { annotations: Arc::from([]), id: spans::new_layer() }
}

/// Records `tracing` spans as subsegments; see the [module's documentation](self).
#[derive(Debug)]
pub struct XRayLayer {
    annotations: Arc<[Cow<'static, str>]>,
    /// Tells this layer's spans apart from another's: span ids are unique within one subscriber only.
    id: u64,
}

impl Clone for XRayLayer {
    /// A layer of its own, with the same annotations: it may serve another subscriber, whose span ids are its own.
    fn clone(&self) -> Self {
        Self { annotations: self.annotations.clone(), id: spans::new_layer() }
    }
}

impl XRayLayer {
    /// Records the span fields named `keys` as annotations (indexed, searchable); other fields are metadata.
    pub fn with_annotations<K: Into<Cow<'static, str>>>(mut self, keys: impl IntoIterator<Item = K>) -> Self {
        let mut all = self.annotations.to_vec();
        all.extend(keys.into_iter().map(Into::into));
        self.annotations = all.into();
        self
    }

    fn key(&self, span: &Id) -> Key {
        (self.id, span.into_u64())
    }

    /// Opens the subsegment of a new span, if a sampled trace is current for it: under its explicit parent when this
    /// layer records that one (and it is not the span entered last on this thread), else under what is current.
    /// Pending where the trace allows it and nothing but the times and the namespace is recorded; `fields` (what the
    /// span was created with) may rename it.
    fn open(&self, attrs: &Attributes<'_>, fields: Option<&mut Fields<'_>>) -> Option<Recorded> {
        let name = attrs.metadata().name();
        let (renamed, namespace, plain) = match fields {
            Some(fields) => {
                let (renamed, namespace) = (fields.name.take(), fields.namespace.take());
                let plain = renamed.is_none() && fields.is_empty();
                (renamed, namespace, plain)
            }
            None => (None, None, true),
        };
        let open = |trace: &Trace, parent: Option<Handle>| -> Option<Sub> {
            if plain
                && name_is_valid(name)
                && let Some(pending) = trace.begin_span_pending(parent, name, namespace)
            {
                return Some(Sub::Pending(pending));
            }
            let name = renamed.map_or(Cow::Borrowed(name), Cow::Owned);
            trace.begin(parent, Name::sanitized(name), namespace).map(Sub::Adopted)
        };
        if let Some(parent) = attrs.parent().map(|p| self.key(p)).filter(|p| !entered_last(*p))
            && let Some(found) = spans::with(parent, |p| Some((p.trace.clone(), p.adopted()?, p.handler)))
        {
            // A parent that records nothing (lambda_runtime's span of an unsampled invocation): nor does the child.
            let (trace, parent, handler) = found?;
            let sub = open(&trace, Some(parent))?;
            return Some(Recorded::new(trace, sub, handler));
        }
        if state() != State::Recording {
            return None;
        }
        with_slot_mut(|mut current| {
            current.adopt_pending();
            let ctx = &*current.ctx;
            let sub = open(&ctx.trace, ctx.current)?;
            Some(Recorded::new(ctx.trace.clone(), sub, ctx.handler))
        })
        .flatten()
    }
}

thread_local! {
    /// The recorded spans entered on this thread, innermost last, each with what it replaced in the context's slot.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
    /// The last span name found valid on this thread (its address and length): a span opened again and again is
    /// checked once.
    static VALID_NAME: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// A recorded span entered on this thread.
struct Entered {
    key: Key,
    /// Its trace's serial number, and its subsegment's id (`None`: it records nothing).
    serial: u64,
    id: Option<SegmentId>,
    replaced: Replaced,
    /// For lambda_runtime's invocation span, its trace: the runtime enters the span for each poll of the handler's
    /// future, so its exit is where the handler waits (see `Trace::waited`), as `#[traced_handler]`'s future sees.
    waits: Option<Trace>,
}

/// Whether `span` is the recorded span entered last on this thread.
fn entered_last(span: Key) -> bool {
    ENTERED.try_with(|s| s.try_borrow().ok().is_some_and(|s| s.last().is_some_and(|e| e.key == span))).unwrap_or(false)
}

/// Whether a span's name is a valid subsegment name as it is (so its document needs it neither changed nor escaped).
fn name_is_valid(name: &'static str) -> bool {
    let here = (name.as_ptr() as usize, name.len());
    if VALID_NAME.try_with(Cell::get).is_ok_and(|last| last == here) {
        return true;
    }
    let valid = crate::rules::is_valid_name(name);
    if valid {
        let _ = VALID_NAME.try_with(|last| last.set(here));
    }
    valid
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

/// A span exited before one entered after it: that one, when it exits, restores what this one replaced.
fn hand_over(exited: Entered, later: &mut Entered) {
    match (exited.replaced, &mut later.replaced) {
        // The later span swapped out the context this one changed in place: that context gets its current back.
        (Replaced::Current(previous), Replaced::Context(Some(ctx))) if ctx.trace.serial() == exited.serial => {
            ctx.current = previous;
        }
        (Replaced::Current(_), Replaced::Context(_)) => {}
        (replaced, slot) => *slot = replaced,
    }
}

impl<S> Layer<S> for XRayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: LayerContext<'_, S>) {
        let meta = attrs.metadata();
        if is_invoke_span(meta) {
            spans::insert(self.key(id), start_invocation(attrs));
            return;
        }
        if state() != State::Recording && !spans::any() {
            return;
        }
        if is_sdk_span(meta) {
            return;
        }
        let mut fields = (!attrs.values().is_empty()).then(|| {
            let mut fields = Fields::new(&self.annotations);
            attrs.record(&mut fields);
            fields
        });
        let Some(mut recorded) = self.open(attrs, fields.as_mut()) else { return };
        if let Some(fields) = fields.filter(|f| !f.is_empty())
            && let Some(rec) = recorded.recorder()
        {
            fields.apply(&rec);
        }
        spans::insert(self.key(id), recorded);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: LayerContext<'_, S>) {
        if !spans::any() {
            return;
        }
        let Some(rec) = spans::with(self.key(id), Recorded::recorder).flatten() else { return };
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
        if !spans::any() {
            return;
        }
        let names = event.metadata().fields();
        if names.field("error").is_none() && !names.iter().any(|f| f.name().starts_with("exception.")) {
            return;
        }
        let Some(scope) = ctx.event_scope(event) else { return };
        let Some(rec) = scope.into_iter().find_map(|s| spans::with(self.key(&s.id()), Recorded::recorder).flatten())
        else {
            return;
        };
        let mut fields = Fields::errors_only();
        event.record(&mut fields);
        fields.apply(&rec);
    }

    fn on_enter(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        if !spans::any() {
            return;
        }
        let key = self.key(id);
        let _ = ENTERED.try_with(|stack| {
            let Ok(mut stack) = stack.try_borrow_mut() else { return };
            let entered = spans::with(key, |r| {
                let (current, pending) = r.current();
                let replaced = context::enter_span(&r.trace, current, r.handler, pending)?;
                let waits = r.invocation.as_ref().map(|_| r.trace.clone());
                Some(Entered { key, serial: r.trace.serial(), id: current.map(|h| h.id), replaced, waits })
            });
            if let Some(entered) = entered.flatten() {
                stack.push(entered);
            }
        });
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        let key = self.key(id);
        let _ = ENTERED.try_with(|stack| {
            let Ok(mut stack) = stack.try_borrow_mut() else { return };
            let Some(at) = stack.iter().rposition(|e| e.key == key) else { return };
            let mut entered = stack.remove(at);
            let (sub, waits) = (entered.id, entered.waits.take());
            let left = match stack.get_mut(at) {
                Some(later) => {
                    hand_over(entered, later);
                    Left::Unknown
                }
                None => context::exit_span(entered.serial, sub, entered.replaced),
            };
            drop(stack);
            match (left, sub) {
                (Left::Pending, _) | (_, None) => {}
                (Left::Adopted(handle), Some(sub)) => spans::note_exit(key, sub, Some(handle)),
                (Left::Unknown, Some(sub)) => spans::note_exit(key, sub, None),
            }
            if let Some(trace) = waits {
                trace.waited();
            }
        });
    }

    fn on_close(&self, id: Id, _ctx: LayerContext<'_, S>) {
        if !spans::any() {
            return;
        }
        // Taken out under the table's lock, ended (and sent) after it is released.
        if let Some(recorded) = spans::remove(self.key(&id)) {
            recorded.end();
        }
    }
}
