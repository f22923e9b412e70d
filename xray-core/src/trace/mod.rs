//! The per-invocation trace: its id, its sampling decision, what it passes downstream, and the arena of entities
//! recorded in it. A subsegment opens here ([`Trace::begin`]) and ends here ([`Trace::finish`]); the documents
//! leave through [`flush`].

mod arena;
mod flush;
mod pending;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub(crate) use arena::Handle;
use arena::Tree;
pub(crate) use pending::Pending;

use crate::clock::Timestamp;
use crate::config::TracesExporter;
use crate::diag::diag;
use crate::document::{Entity, Kind, Name, Namespace};
use crate::emit::{self, Emitter};
use crate::header::{Incoming, MAX_INCOMING_LEN, MAX_UNKNOWN_KEYS, Sampled, TraceHeader};
use crate::ids::{SegmentId, TraceId};
use crate::sampling::{self, SamplingRequest};

/// When documents leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Lambda: the segment is Lambda's; what ends waits in the trace and leaves in one batch when the handler
    /// waits, when `MAX_ENDED` have ended, or when the invocation ends (see `flush.rs`).
    Streaming,
    /// Outside Lambda: this process owns the segment (slot 0) and sends the tree when it ends.
    Buffered,
}

struct TraceInner {
    /// Unique in the process: tells traces apart without holding a reference to them.
    serial: u64,
    trace_id: TraceId,
    /// The id's text, written into every document.
    trace_id_text: [u8; TraceId::LEN],
    /// The caller's segment: Lambda's function segment, or the upstream parent of our segment.
    upstream_parent: Option<SegmentId>,
    /// Whether anything is recorded.
    recording: bool,
    /// The decision passed on to downstream calls.
    propagate: Sampled,
    header_extra: Vec<(String, String)>,
    mode: Mode,
    /// Outside Lambda: the segment this process owns, the target of recording when no subsegment is open.
    root: Option<Handle>,
    /// The scoped emitter in force when the trace was created, if any; else the one in force when sending.
    emitter: Option<Arc<dyn Emitter>>,
    tree: Mutex<Tree>,
    /// With `OTEL_TRACES_EXPORTER=otlp`: the spans ended and not yet sent (see `flush.rs`).
    /// Boxed: a trace that sends segment documents carries one pointer for it.
    #[cfg(feature = "otlp")]
    spans: Option<Box<Mutex<crate::otlp::Spans>>>,
    /// How many `tracing` spans of this trace are open and kept out of its arena (see `tracing/spans.rs`): they are put in
    /// it when the handler waits or the trace ends, so that they can be sent `in_progress`.
    #[cfg(feature = "tracing")]
    pending_spans: std::sync::atomic::AtomicU32,
}

impl Drop for TraceInner {
    /// Documents (or spans) of a trace nobody ended leave when its last handle goes, without waiting.
    fn drop(&mut self) {
        if self.defers() {
            self.flush_ended(false);
        }
        let tree = self.tree.get_mut().unwrap_or_else(PoisonError::into_inner);
        arena::recycle(std::mem::take(&mut tree.ended));
        #[cfg(feature = "otlp")]
        self.drop_spans();
    }
}

impl TraceInner {
    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether ended subsegments wait in the trace to be written together (see `flush.rs`): in Lambda, for segment
    /// documents (OTLP spans gather in their own request).
    #[inline]
    fn defers(&self) -> bool {
        #[cfg(feature = "otlp")]
        if self.spans.is_some() {
            return false;
        }
        self.recording && self.mode == Mode::Streaming
    }

    #[cfg(feature = "otlp")]
    fn drop_spans(&mut self) {
        let Some(spans) = self.spans.as_mut() else { return };
        let spans = spans.get_mut().unwrap_or_else(PoisonError::into_inner);
        let sampled = spans.sampled();
        let emitter = self.emitter.clone().unwrap_or_else(emit::in_force);
        spans.flush(&mut |request| emitter.send_spans(request, sampled));
    }
}

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(0);

/// Everything recorded for one invocation: its trace id, its sampling decision and its subsegments.
#[derive(Clone)]
pub struct Trace {
    inner: Arc<TraceInner>,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("trace_id", &self.inner.trace_id)
            .field("recording", &self.inner.recording)
            .finish_non_exhaustive()
    }
}

impl Trace {
    fn build(header: Option<&TraceHeader>, recording: bool, mode: Mode, segment: Option<Cow<'static, str>>) -> Self {
        let extra = header.map(|h| h.extra().to_vec()).unwrap_or_default();
        Self::build_with(header, extra, recording, mode, segment)
    }

    fn build_with(
        header: Option<&TraceHeader>,
        header_extra: Vec<(String, String)>,
        recording: bool,
        mode: Mode,
        segment: Option<Cow<'static, str>>,
    ) -> Self {
        // A trace that does not record still passes the upstream decision on, so turning tracing off here does not
        // turn it off downstream.
        let propagate = if recording { Sampled::Yes } else { header.map_or(Sampled::No, TraceHeader::sampled) };
        let config = crate::config::get();
        let exporter = config.traces_exporter;
        // Spans of a trace the upstream did not sample, recorded only when asked for (Application Signals' `T1U`).
        let unsampled = cfg!(feature = "otlp")
            && exporter == TracesExporter::Otlp
            && !recording
            && config.otlp.unsampled_spans
            && header.is_some_and(|h| h.sampled() == Sampled::No && h.parent().is_some());
        let recording = (recording || unsampled) && crate::config::enabled() && exporter != TracesExporter::None;
        let upstream_parent = header.and_then(TraceHeader::parent);
        let trace_id = header.map_or_else(TraceId::new, TraceHeader::root);
        let mut tree = Tree::default();
        let root = segment
            .filter(|_| recording && mode == Mode::Buffered)
            .map(|name| tree.insert(Entity::new(Kind::Segment, Name::sanitized(name), upstream_parent), None));
        Self {
            inner: Arc::new(TraceInner {
                serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
                trace_id,
                trace_id_text: trace_id.to_bytes(),
                upstream_parent,
                recording,
                propagate,
                header_extra,
                mode,
                root,
                emitter: emit::scoped_here(),
                tree: Mutex::new(tree),
                #[cfg(feature = "otlp")]
                spans: (recording && exporter == TracesExporter::Otlp)
                    .then(|| Box::new(Mutex::new(crate::otlp::Spans::new(trace_id, !unsampled)))),
                #[cfg(feature = "tracing")]
                pending_spans: std::sync::atomic::AtomicU32::new(0),
            }),
        }
    }

    /// The trace of one Lambda invocation, from the `X-Amzn-Trace-Id` value Lambda handed to it
    /// (`Context::xray_trace_id`). Records only when the header says `Sampled=1` and names the function segment as
    /// `Parent`. A missing header gets a trace that records nothing; a malformed one a diagnostic, and what is valid
    /// of it is kept (see [`TraceHeader::salvage`]); one over the bound a diagnostic, and only its `Root`, `Parent`,
    /// `Sampled` and `Lineage` are kept (see [`TraceHeader::incoming`]).
    pub fn lambda(header: Option<&str>) -> Self {
        let Some(text) = header.filter(|t| !t.trim().is_empty()) else {
            return Self::build(None, false, Mode::Streaming, None);
        };
        let incoming = read_incoming(text);
        let header = incoming.header.as_ref();
        let recording = header.is_some_and(|h| h.sampled() == Sampled::Yes && h.parent().is_some());
        if incoming.malformed.is_none() && header.is_some_and(|h| h.sampled() == Sampled::Yes && h.parent().is_none()) {
            diag!(
                MalformedHeader,
                "Lambda trace header `{}` has no Parent; this invocation is not recorded",
                quoted(text)
            );
        }
        Self::build_with(header, incoming.extra, recording, Mode::Streaming, None)
    }

    /// A trace whose segment this process owns (code outside Lambda). The upstream header, if any, gives the trace id
    /// and parent and, when it carries `Sampled=0/1`, the decision; otherwise the local sampling rules decide.
    /// A malformed header or one over the bound is read as [`Trace::lambda`] reads it. End it with [`Trace::end`].
    pub fn segment(name: impl Into<Cow<'static, str>>, header: Option<&str>, request: &SamplingRequest<'_>) -> Self {
        Self::continued(name, header.map(read_incoming), request)
    }

    /// [`Trace::segment`] for a header already read with [`read_incoming`] (a queue message's, read once).
    pub(crate) fn continued(
        name: impl Into<Cow<'static, str>>,
        incoming: Option<Incoming>,
        request: &SamplingRequest<'_>,
    ) -> Self {
        let Some(incoming) = incoming else {
            let recording = crate::config::enabled() && sampling::global().sample(request);
            return Self::build(None, recording, Mode::Buffered, Some(name.into()));
        };
        let header = incoming.header.as_ref();
        let recording = match header.map(TraceHeader::sampled) {
            // What strict parsing refused records only when what was kept of it says so.
            _ if incoming.malformed.is_some() => {
                header.is_some_and(|h| h.sampled() == Sampled::Yes && h.parent().is_some())
            }
            Some(Sampled::Yes) => true,
            Some(Sampled::No) => false,
            _ => crate::config::enabled() && sampling::global().sample(request),
        };
        Self::build_with(header, incoming.extra, recording, Mode::Buffered, Some(name.into()))
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.inner.trace_id
    }

    /// The caller's segment named by the incoming header: Lambda's function segment.
    pub(crate) fn upstream_parent(&self) -> Option<SegmentId> {
        self.inner.upstream_parent
    }

    /// Whether this trace records anything.
    pub fn is_recording(&self) -> bool {
        self.inner.recording
    }

    /// Tells this trace apart from every other in the process without holding a reference to it.
    pub(crate) fn serial(&self) -> u64 {
        self.inner.serial
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.inner.lock()
    }

    /// Before an ended subsegment is kept: if it is the first waiting and the trace has no emitter of its own,
    /// notes the one scoped here, where it would have gone sent at once.
    #[inline]
    fn first_waiting(&self, tree: &mut Tree) {
        if tree.ended.is_empty() {
            // One buffer per trace, for all that will wait in it: the last trace's on this thread, if it left one.
            if tree.ended.capacity() == 0 {
                tree.ended = arena::buffer();
            }
            if self.inner.emitter.is_none() {
                tree.ended_emitter = emit::scoped_here();
            }
        }
    }

    /// See [`TraceInner::defers`].
    #[inline]
    fn defers(&self) -> bool {
        self.inner.defers()
    }

    /// The header to send downstream with `parent` as the caller: this trace's root, sampling decision and
    /// pass-through fields (`Lineage` and unknown keys).
    pub fn header_for(&self, parent: Option<SegmentId>) -> TraceHeader {
        let mut header =
            TraceHeader::new(self.inner.trace_id, parent.or(self.inner.upstream_parent), self.inner.propagate);
        for (key, value) in &self.inner.header_extra {
            header.push_extra(key.clone(), value.clone());
        }
        header
    }

    /// The same header as [`Trace::header_for`], formatted for the wire without building a [`TraceHeader`] first:
    /// the AWS SDK and HTTP client instrumentation call it for every outgoing request.
    pub(crate) fn header_value(&self, parent: Option<SegmentId>) -> String {
        let inner = &self.inner;
        let extra: usize = inner.header_extra.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut out = String::with_capacity(96 + extra);
        let parent = parent.or(inner.upstream_parent);
        // Writing to a String cannot fail.
        let _ = crate::header::write_fields(&mut out, inner.trace_id, parent, inner.propagate, &inner.header_extra);
        out
    }

    /// Counts `tracing` spans of this trace kept out of its arena: one more (`true`) or one fewer.
    #[cfg(feature = "tracing")]
    pub(crate) fn count_pending_span(&self, more: bool) {
        if more {
            self.inner.pending_spans.fetch_add(1, Ordering::Relaxed);
        } else {
            self.inner.pending_spans.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Puts the open `tracing` spans of this trace that are kept out of its arena in it, before what is open is sent
    /// `in_progress`.
    #[inline]
    fn adopt_pending_spans(&self) {
        #[cfg(feature = "tracing")]
        if self.inner.pending_spans.load(Ordering::Relaxed) > 0 {
            crate::tracing::adopt_pending(self);
        }
    }

    /// The entity a context without an open subsegment records on: the segment, outside Lambda.
    pub(crate) fn root_handle(&self) -> Option<Handle> {
        self.inner.root
    }

    /// Opens a subsegment under `parent` (the segment, outside Lambda, when `None`): where every subsegment starts.
    pub(crate) fn begin(&self, parent: Option<Handle>, name: Name, namespace: Option<Namespace>) -> Option<Handle> {
        if !self.inner.recording {
            return None;
        }
        let parent = parent.or_else(|| self.root_handle());
        let parent_id = parent.map(|p| p.id).or(self.inner.upstream_parent);
        let mut entity = Entity::new(Kind::Subsegment, name, parent_id);
        entity.namespace = namespace;
        Some(self.lock().insert(entity, parent))
    }

    /// Ends the entity behind `handle`: where every subsegment ends. In Lambda it waits in the trace to be written
    /// with the others (see `flush.rs`), outside it for its segment; once the segment has gone, it is sent at once.
    pub(crate) fn finish(&self, handle: Handle) {
        // Read the clock before taking the lock: the lock is held for as short a time as possible.
        let end = Timestamp::now();
        let mut tree = self.lock();
        let Some(entity) = tree.get_mut(handle) else {
            return;
        };
        if self.defers() {
            // Ended once: a second end (a guard and its call, say) changes nothing.
            if entity.end.is_some() {
                return;
            }
            entity.end = Some(end);
            self.first_waiting(&mut tree);
            tree.ended.push(arena::Waiting::Slot(handle.idx));
            // A panic may be about to end the process: what ended leaves now.
            let full = tree.ended_full() || std::thread::panicking();
            drop(tree);
            if full {
                self.flush_ended();
            }
            return;
        }
        entity.end = Some(end);
        if self.inner.mode == Mode::Buffered && !tree.segment_sent {
            return;
        }
        let Some(entity) = tree.take(handle.idx) else {
            return;
        };
        drop(tree);
        self.send_one(&entity);
    }

    /// Outside Lambda: moves the segment's start back to `start` (a message's processing segment starts when the
    /// message was sent, so its wait in the queue shows), and records `name` as a completed subsegment from `start`
    /// to now under it.
    pub(crate) fn record_wait(&self, name: Name, start: Timestamp) {
        let Some(root) = self.root_handle().filter(|_| self.inner.recording) else { return };
        let end = Timestamp::now();
        let mut tree = self.lock();
        if let Some(segment) = tree.get_mut(root) {
            segment.start = segment.start.min(start);
        }
        let mut wait = Entity::new(Kind::Subsegment, name, Some(root.id));
        (wait.start, wait.end) = (start.min(end), Some(end));
        tree.insert(wait, Some(root));
    }

    /// Runs `f` on the entity behind `handle`; returns `None` if it is gone (already sent).
    pub(crate) fn with_entity<R>(&self, handle: Handle, f: impl FnOnce(&mut Entity) -> R) -> Option<R> {
        let mut tree = self.lock();
        tree.get_mut(handle).map(f)
    }
}

/// Reads a trace header taken from outside the process (a Lambda invocation's, an incoming request's, a queue
/// message's) with [`TraceHeader::incoming`], and says what it could not keep as it was.
pub(crate) fn read_incoming(text: &str) -> Incoming {
    let incoming = TraceHeader::incoming(text);
    if let Some(err) = &incoming.malformed {
        let kept = match &incoming.header {
            Some(_) => "its valid Root, Parent, Sampled, Lineage and other keys are kept",
            None => "no valid Root could be kept",
        };
        diag!(MalformedHeader, "{err} (in `{}`); {kept}", quoted(text));
    }
    if let Some(over) = incoming.over_bound {
        diag!(
            MalformedHeader,
            "trace header of {} bytes with {} unknown keys is over the bound ({MAX_INCOMING_LEN} bytes, \
             {MAX_UNKNOWN_KEYS} unknown keys): {} fields dropped, only Root, Parent, Sampled and Lineage are passed \
             on (`{}`)",
            over.len,
            over.unknown_keys,
            over.dropped,
            quoted(text)
        );
    }
    incoming
}

/// At most the first 128 characters of a header, for a diagnostic: a sender chooses its length.
fn quoted(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(128) {
        Some((at, _)) => Cow::Owned(format!("{}...", &text[..at])),
        None => Cow::Borrowed(text),
    }
}
