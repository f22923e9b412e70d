//! The per-invocation trace and the context that carries it through `.await`.
//!
//! A [`Trace`] holds everything recorded for one invocation (or one request outside Lambda). The current
//! [`Context`] - which trace, and which subsegment is open - lives in task-local state: a thread-local slot that the
//! futures of this module swap in for each poll and out again afterwards, the way `tokio::task_local!` works but
//! without tying the crate to one runtime. It therefore follows a future across `.await` points and threads, and two
//! invocations running concurrently in one process never see each other's context.
//!
//! Spawned tasks do not inherit the context by themselves: wrap the spawned future in [`bind`].

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::diag::diag;
use crate::emit::{self, Emitter, Node};
use crate::header::{HeaderError, Sampled, TraceHeader};
use crate::ids::{SegmentId, TraceId};
use crate::sampling::{self, SamplingRequest};
use crate::segment::{Cause, Entity, Exception, Kind, Name, Namespace, Timestamp};

/// A handle on an entity in a trace's arena; the generation guards against a slot reused after its entity was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handle {
    idx: u32,
    generation: u32,
    id: SegmentId,
}

/// When documents leave the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Lambda: the segment is Lambda's; each subsegment is sent on its own as soon as it ends.
    Streaming,
    /// Outside Lambda: this process owns the segment (slot 0) and sends the tree when it ends.
    Buffered,
}

#[derive(Debug)]
struct Slot {
    generation: u32,
    parent: Option<u32>,
    entity: Option<Entity>,
}

#[derive(Debug, Default)]
struct Tree {
    slots: Vec<Slot>,
    free: Vec<u32>,
    segment_sent: bool,
}

impl Tree {
    fn get_mut(&mut self, handle: Handle) -> Option<&mut Entity> {
        self.slots
            .get_mut(handle.idx as usize)
            .filter(|s| s.generation == handle.generation)
            .and_then(|s| s.entity.as_mut())
    }

    fn insert(&mut self, entity: Entity, parent: Option<Handle>) -> Handle {
        let id = entity.id;
        let parent = parent.filter(|p| self.get_mut(*p).is_some()).map(|p| p.idx);
        let slot = Slot { generation: 0, parent, entity: Some(entity) };
        match self.free.pop() {
            Some(idx) => {
                let old = &mut self.slots[idx as usize];
                let generation = old.generation.wrapping_add(1);
                *old = Slot { generation, ..slot };
                Handle { idx, generation, id }
            }
            None => {
                self.slots.push(slot);
                Handle { idx: (self.slots.len() - 1) as u32, generation: 0, id }
            }
        }
    }

    fn take(&mut self, idx: u32) -> Option<Entity> {
        let slot = self.slots.get_mut(idx as usize)?;
        let entity = slot.entity.take()?;
        self.free.push(idx);
        Some(entity)
    }
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
        // A trace that does not record still passes the upstream decision on, so turning tracing off here does not
        // turn it off downstream.
        let propagate = if recording { Sampled::Yes } else { header.map_or(Sampled::No, TraceHeader::sampled) };
        let recording = recording && crate::config::enabled();
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
                header_extra: header.map(|h| h.extra().to_vec()).unwrap_or_default(),
                mode,
                root,
                emitter: SCOPE.with(|s| s.try_borrow().ok().and_then(|s| s.emitter.clone())),
                tree: Mutex::new(tree),
            }),
        }
    }

    /// The trace of one Lambda invocation, from the `X-Amzn-Trace-Id` value Lambda handed to it
    /// (`Context::xray_trace_id`). Records only when the header says `Sampled=1` and names the function segment as
    /// `Parent`; a missing or malformed header gets a diagnostic and a trace that records nothing.
    pub fn lambda(header: Option<&str>) -> Self {
        let Some(text) = header.filter(|t| !t.trim().is_empty()) else {
            return Self::build(None, false, Mode::Streaming, None);
        };
        match TraceHeader::parse(text) {
            Ok(header) => {
                let recording = header.sampled() == Sampled::Yes && header.parent().is_some();
                if header.sampled() == Sampled::Yes && header.parent().is_none() {
                    diag!(
                        MalformedHeader,
                        "Lambda trace header `{text}` has no Parent; this invocation is not recorded"
                    );
                }
                Self::build(Some(&header), recording, Mode::Streaming, None)
            }
            Err(err) => Self::malformed(text, &err, Mode::Streaming),
        }
    }

    fn malformed(text: &str, err: &HeaderError, mode: Mode) -> Self {
        diag!(MalformedHeader, "{err} (in `{text}`); this invocation is not recorded");
        Self::build(None, false, mode, None)
    }

    /// A trace whose segment this process owns (code outside Lambda). The upstream header, if any, gives the trace id
    /// and parent and, when it carries `Sampled=0/1`, the decision; otherwise the local sampling rules decide.
    /// End it with [`Trace::end`].
    pub fn segment(name: impl Into<Cow<'static, str>>, header: Option<&str>, request: &SamplingRequest<'_>) -> Self {
        let parsed = match header.map(TraceHeader::parse) {
            Some(Ok(h)) => Some(h),
            Some(Err(err)) => {
                diag!(MalformedHeader, "{err}; starting a new trace");
                None
            }
            None => None,
        };
        let recording = match parsed.as_ref().map(TraceHeader::sampled) {
            Some(Sampled::Yes) => true,
            Some(Sampled::No) => false,
            _ => crate::config::enabled() && sampling::global().sample(request),
        };
        Self::build(parsed.as_ref(), recording, Mode::Buffered, Some(name.into()))
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.inner.trace_id
    }

    /// Whether this trace records anything.
    pub fn is_recording(&self) -> bool {
        self.inner.recording
    }

    /// A context at the top of this trace (no subsegment open).
    pub fn context(&self) -> Context {
        Context { trace: self.clone(), current: None, handler: None }
    }

    /// Ends the segment (outside Lambda) and sends it with its subsegments; in Lambda, sends every subsegment still
    /// open as `in_progress`, so a timeout leaves evidence. Safe to call more than once.
    pub fn end(&self) {
        if !self.inner.recording {
            return;
        }
        match self.inner.mode {
            Mode::Buffered => self.send_segment(),
            Mode::Streaming => {
                let open: Vec<Handle> = {
                    let tree = self.lock();
                    tree.slots
                        .iter()
                        .enumerate()
                        .filter_map(|(i, s)| {
                            let e = s.entity.as_ref()?;
                            Some(Handle { idx: i as u32, generation: s.generation, id: e.id })
                        })
                        .collect()
                };
                for handle in open {
                    self.send_in_progress(handle);
                }
            }
        }
    }

    fn send_segment(&self) {
        let mut tree = self.lock();
        if tree.segment_sent {
            return;
        }
        tree.segment_sent = true;
        let now = Timestamp::now();
        if let Some(segment) = tree.slots.first_mut().and_then(|s| s.entity.as_mut()) {
            segment.end.get_or_insert(now);
        }
        let mut index = vec![usize::MAX; tree.slots.len()];
        let mut nodes = Vec::new();
        for (i, slot) in tree.slots.iter().enumerate() {
            if let Some(entity) = &slot.entity {
                index[i] = nodes.len();
                nodes.push(Node { entity, children: Vec::new() });
            }
        }
        for (i, slot) in tree.slots.iter().enumerate() {
            if let (Some(_), Some(parent)) = (&slot.entity, slot.parent)
                && let Some(node) = nodes.get_mut(index[parent as usize])
            {
                node.children.push(index[i]);
            }
        }
        if !nodes.is_empty() {
            self.with_emitter(|emitter| emit::send_tree(emitter, &self.inner.trace_id_text, &nodes, 0));
        }
        drop(nodes);
        // Completed entities are gone with the segment; open ones stay and are sent on their own when they end.
        for idx in 0..tree.slots.len() as u32 {
            if tree.slots[idx as usize].entity.as_ref().is_some_and(|e| e.end.is_some()) {
                tree.take(idx);
            }
        }
    }

    /// Runs `f` with this trace's emitter: the one captured at creation, else the one in force here. The captured
    /// one is borrowed, not cloned, as this runs for every subsegment sent.
    fn with_emitter<R>(&self, f: impl FnOnce(&dyn Emitter) -> R) -> R {
        match &self.inner.emitter {
            Some(emitter) => f(&**emitter),
            None => f(&*scoped_emitter()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.inner.tree.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// The entity a context without an open subsegment records on: the segment, outside Lambda.
    fn root_handle(&self) -> Option<Handle> {
        self.inner.root
    }

    /// Opens a subsegment under `parent` (the segment, outside Lambda, when `None`).
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

    pub(crate) fn finish(&self, handle: Handle) {
        // Read the clock before taking the lock: the lock is held for as short a time as possible.
        let end = Timestamp::now();
        let mut tree = self.lock();
        let Some(entity) = tree.get_mut(handle) else {
            return;
        };
        entity.end = Some(end);
        if self.inner.mode == Mode::Buffered && !tree.segment_sent {
            return;
        }
        let Some(entity) = tree.take(handle.idx) else {
            return;
        };
        drop(tree);
        self.with_emitter(|emitter| emit::send_one(emitter, &self.inner.trace_id_text, &entity));
    }

    /// Runs `f` on the entity behind `handle`; returns `None` if it is gone (already sent).
    pub(crate) fn with_entity<R>(&self, handle: Handle, f: impl FnOnce(&mut Entity) -> R) -> Option<R> {
        let mut tree = self.lock();
        tree.get_mut(handle).map(f)
    }

    pub(crate) fn send_in_progress(&self, handle: Handle) {
        self.with_emitter(|emitter| {
            self.with_entity(handle, |entity| {
                let end = entity.end.take();
                emit::send_one(emitter, &self.inner.trace_id_text, entity);
                entity.end = end;
            })
        });
    }
}

/// Which trace, and which subsegment in it, code is running in.
#[derive(Clone)]
pub struct Context {
    trace: Trace,
    current: Option<Handle>,
    handler: Option<Handle>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("trace", &self.trace)
            .field("current", &self.current.map(|h| h.id))
            .finish_non_exhaustive()
    }
}

struct Scope {
    ctx: Option<Context>,
    emitter: Option<Arc<dyn Emitter>>,
}

/// What [`SCOPE`] holds, readable without borrowing it: the fast path of code that records nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    NoContext,
    NotRecording,
    Recording,
}

thread_local! {
    static SCOPE: RefCell<Scope> = const { RefCell::new(Scope { ctx: None, emitter: None }) };
    static STATE: Cell<State> = const { Cell::new(State::NoContext) };
}

/// The state of the current context.
#[inline]
pub(crate) fn state() -> State {
    STATE.with(Cell::get)
}

fn sync_state(ctx: &Option<Context>) {
    let state = match ctx {
        None => State::NoContext,
        Some(c) if c.trace.inner.recording => State::Recording,
        Some(_) => State::NotRecording,
    };
    STATE.with(|s| s.set(state));
}

/// The emitter in force here: a scoped one (see [`crate::testing::MemorySink::scope`]) or the global one.
fn scoped_emitter() -> Arc<dyn Emitter> {
    SCOPE.with(|s| s.try_borrow().ok().and_then(|s| s.emitter.clone())).unwrap_or_else(emit::global)
}

/// Runs `f` with the current context, if there is one.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    SCOPE.with(|s| match s.try_borrow() {
        Ok(scope) => f(scope.ctx.as_ref()),
        Err(_) => f(None),
    })
}

fn swap_ctx(ctx: &mut Option<Context>) {
    SCOPE.with(|s| {
        if let Ok(mut scope) = s.try_borrow_mut() {
            std::mem::swap(&mut scope.ctx, ctx);
            sync_state(&scope.ctx);
        }
    });
}

fn swap_scope(ctx: &mut Option<Context>, emitter: &mut Option<Arc<dyn Emitter>>) {
    SCOPE.with(|s| {
        if let Ok(mut scope) = s.try_borrow_mut() {
            std::mem::swap(&mut scope.ctx, ctx);
            std::mem::swap(&mut scope.emitter, emitter);
            sync_state(&scope.ctx);
        }
    });
}

impl Context {
    /// The context the calling code runs in, if any.
    pub fn current() -> Option<Self> {
        with_current(|c| c.cloned())
    }

    /// The trace this context belongs to.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The id of the open subsegment (or the segment outside Lambda), the parent of any call made from here.
    pub fn parent_id(&self) -> Option<SegmentId> {
        self.current.map(|h| h.id).or_else(|| self.trace.root_handle().map(|h| h.id))
    }

    /// The header a downstream call made from here carries.
    pub fn trace_header(&self) -> TraceHeader {
        self.trace.header_for(self.parent_id())
    }

    /// The same header as [`Context::trace_header`], formatted for the wire without building a [`TraceHeader`]
    /// first: the AWS SDK and HTTP client instrumentation call it for every outgoing request.
    pub fn trace_header_value(&self) -> String {
        let inner = &self.trace.inner;
        let mut out =
            String::with_capacity(96 + inner.header_extra.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>());
        let parent = self.parent_id().or(inner.upstream_parent);
        // Writing to a String cannot fail.
        let _ = crate::header::write_fields(&mut out, inner.trace_id, parent, inner.propagate, &inner.header_extra);
        out
    }

    /// Whether this context records anything.
    pub fn is_recording(&self) -> bool {
        self.trace.is_recording()
    }

    /// The same context with `subsegment` as the handler subsegment, the target of [`crate::handler`].
    pub fn with_handler(mut self, subsegment: &Subsegment) -> Self {
        if let Some((_, handle)) = &subsegment.inner {
            self.handler = Some(*handle);
            self.current = Some(*handle);
        }
        self
    }

    /// Runs `future` in this context.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped { ctx: Some(self), emitter: None, inherit_emitter: true, inner: future }
    }

    /// Makes this the current context on this thread until the guard drops (for synchronous code).
    pub fn enter(self) -> EnterGuard {
        let mut previous = Some(self);
        swap_ctx(&mut previous);
        EnterGuard { previous, _not_send: PhantomData }
    }

    pub(crate) fn target(&self, handler: bool) -> Option<Handle> {
        let chosen = if handler { self.handler.or(self.current) } else { self.current };
        chosen.or_else(|| self.trace.root_handle())
    }

    /// A context with a new subsegment named `name` open under this one (the handler subsegment is kept).
    pub(crate) fn child(&self, name: Name) -> Option<Self> {
        let handle = self.trace.begin(self.current, name, None)?;
        Some(Self { trace: self.trace.clone(), current: Some(handle), handler: self.handler })
    }
}

/// Restores the previous context when dropped; see [`Context::enter`].
#[must_use = "the context is left as soon as the guard drops"]
pub struct EnterGuard {
    previous: Option<Context>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        swap_ctx(&mut self.previous);
    }
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EnterGuard")
    }
}

pin_project! {
    /// A future that runs in a given context; see [`Context::scope`] and [`bind`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        ctx: Option<Context>,
        emitter: Option<Arc<dyn Emitter>>,
        inherit_emitter: bool,
        #[pin]
        inner: F,
    }
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped").field("ctx", &self.ctx).finish_non_exhaustive()
    }
}

/// Swaps the scope back when dropped, so a panicking poll still restores the thread's context.
struct Restore<'a> {
    ctx: &'a mut Option<Context>,
    emitter: Option<&'a mut Option<Arc<dyn Emitter>>>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        match self.emitter.as_deref_mut() {
            Some(emitter) => swap_scope(self.ctx, emitter),
            None => swap_ctx(self.ctx),
        }
    }
}

/// Runs `f` with `ctx` swapped in as the current context, and swapped back out afterwards (after a panic too), with
/// whatever `f` changed in it: the subsegment that is current, say.
pub(crate) fn run_swapped<R>(ctx: &mut Option<Context>, f: impl FnOnce() -> R) -> R {
    swap_ctx(ctx);
    let _restore = Restore { ctx, emitter: None };
    f()
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.inherit_emitter {
            let inner = this.inner;
            run_swapped(this.ctx, move || inner.poll(cx))
        } else {
            swap_scope(this.ctx, this.emitter);
            let _restore = Restore { ctx: this.ctx, emitter: Some(this.emitter) };
            this.inner.poll(cx)
        }
    }
}

/// Carries the current context (and scoped emitter) into a future that will run elsewhere, such as a
/// `tokio::spawn`ed task: `tokio::spawn(xray_core::bind(async { ... }))`.
pub fn bind<F: Future>(future: F) -> Scoped<F> {
    let (ctx, emitter) =
        SCOPE.with(|s| s.try_borrow().map(|s| (s.ctx.clone(), s.emitter.clone())).unwrap_or((None, None)));
    Scoped { ctx, emitter, inherit_emitter: false, inner: future }
}

/// Runs `future` with `emitter` as the destination of traces created inside it.
pub(crate) fn with_emitter<F: Future>(emitter: Arc<dyn Emitter>, future: F) -> Scoped<F> {
    let ctx = Context::current();
    Scoped { ctx, emitter: Some(emitter), inherit_emitter: false, inner: future }
}

/// Runs `f` with `emitter` as the destination of traces created inside it.
pub(crate) fn run_with_emitter<R>(emitter: Arc<dyn Emitter>, f: impl FnOnce() -> R) -> R {
    let mut ctx = Context::current();
    let mut emitter = Some(emitter);
    swap_scope(&mut ctx, &mut emitter);
    let _restore = Restore { ctx: &mut ctx, emitter: Some(&mut emitter) };
    f()
}

/// An open subsegment, ended when [`Subsegment::end`] is called or the value drops.
///
/// Use it where a scope does not fit, such as hooks that see the start and end of a call separately.
pub struct Subsegment {
    inner: Option<(Trace, Handle)>,
}

impl fmt::Debug for Subsegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subsegment").field("id", &self.id()).finish()
    }
}

impl Subsegment {
    /// Opens a subsegment under the current one; records nothing when there is no sampled context.
    pub fn begin(name: impl Into<Cow<'static, str>>) -> Self {
        Self::begin_as(name.into(), None)
    }

    /// Opens a subsegment under the current one, of the downstream kind `namespace` if given.
    pub(crate) fn begin_as(name: Cow<'static, str>, namespace: Option<Namespace>) -> Self {
        if state() == State::NotRecording {
            return Self::none();
        }
        let inner = with_current(|ctx| {
            let Some(ctx) = ctx else {
                crate::record::context_missing(&name);
                return None;
            };
            let handle = ctx.trace.begin(ctx.current, Name::sanitized(name), namespace)?;
            Some((ctx.trace.clone(), handle))
        });
        Self { inner }
    }

    /// Opens a subsegment as a child of `parent`'s open subsegment.
    pub fn begin_in(parent: &Context, name: impl Into<Cow<'static, str>>) -> Self {
        let inner =
            parent.trace.begin(parent.current, Name::sanitized(name.into()), None).map(|h| (parent.trace.clone(), h));
        Self { inner }
    }

    /// A subsegment that records nothing.
    pub fn none() -> Self {
        Self { inner: None }
    }

    /// The subsegment's id, `None` if it records nothing.
    pub fn id(&self) -> Option<SegmentId> {
        self.inner.as_ref().map(|(_, h)| h.id)
    }

    /// Whether this subsegment records anything.
    pub fn is_recording(&self) -> bool {
        self.inner.is_some()
    }

    /// A context with this subsegment open, to run code inside it.
    pub fn context(&self) -> Option<Context> {
        self.inner.as_ref().map(|(trace, handle)| Context {
            trace: trace.clone(),
            current: Some(*handle),
            handler: None,
        })
    }

    /// Records on this subsegment.
    pub fn recorder(&self) -> crate::record::Recorder {
        crate::record::Recorder::new(self.inner.clone())
    }

    /// Sends the subsegment now as `in_progress`, so it is visible even if the process dies before it ends.
    pub fn send_in_progress(&self) {
        if let Some((trace, handle)) = &self.inner {
            trace.send_in_progress(*handle);
        }
    }

    /// Ends the subsegment. In Lambda it is sent at once.
    pub fn end(mut self) {
        self.close();
    }

    fn close(&mut self) {
        if let Some((trace, handle)) = self.inner.take() {
            close(&trace, handle);
        }
    }
}

/// Ends an entity; a panic in flight marks it as a fault first.
fn close(trace: &Trace, handle: Handle) {
    if std::thread::panicking() {
        trace.with_entity(handle, |e| {
            e.status.fault = true;
            e.extra().cause.get_or_insert_with(|| Cause::Detail {
                working_directory: None,
                paths: Vec::new(),
                exceptions: vec![Exception::new("panic", "the code panicked while this subsegment was open")],
            });
        });
    }
    trace.finish(handle);
}

impl Drop for Subsegment {
    fn drop(&mut self) {
        self.close();
    }
}

/// An open subsegment that is also the current one on this thread until the guard drops: for synchronous code.
///
/// ```
/// # let trace = xray_core::Trace::lambda(None);
/// # let _ctx = trace.context().enter();
/// let _guard = xray_core::subsegment("parse");
/// // ... work recorded in `parse` ...
/// ```
///
/// The guard does not hold its trace: it ends the subsegment through the current context, which is the one it was
/// opened in as long as guards and contexts are dropped in the order they were made. A guard dropped where its trace
/// is no longer current cannot end its subsegment; that gets a diagnostic, and the subsegment is sent as
/// `in_progress` when the trace ends.
#[must_use = "the subsegment ends as soon as the guard drops"]
pub struct SubsegmentGuard {
    /// The subsegment, and the subsegment that was current before it.
    inner: Option<(Opened, Option<Handle>)>,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for SubsegmentGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubsegmentGuard").field("id", &self.id()).finish()
    }
}

impl SubsegmentGuard {
    const NONE: Self = Self { inner: None, _not_send: PhantomData };

    /// The subsegment's id, `None` if it records nothing.
    pub fn id(&self) -> Option<SegmentId> {
        self.inner.as_ref().map(|(opened, _)| opened.handle.id)
    }
}

impl Drop for SubsegmentGuard {
    fn drop(&mut self) {
        let Some((opened, previous)) = self.inner.take() else { return };
        opened.restore_current(previous);
        opened.end();
    }
}

/// An open subsegment named by its trace's serial number and its handle rather than by a reference to the trace:
/// what `#[traced]` keeps while a call runs, so that a call takes no reference count. It is reached through the
/// current context, which is its trace's as long as the call runs, and ends, where it started: in the same scope for a
/// synchronous function, in the same task for an `async fn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opened {
    serial: u64,
    handle: Handle,
}

impl Opened {
    /// Opens `name` under the current subsegment, if the current trace records.
    pub(crate) fn child_of_current(name: Name, namespace: Option<Namespace>) -> Option<Self> {
        with_current(|ctx| {
            let ctx = ctx?;
            let handle = ctx.trace.begin(ctx.current, name, namespace)?;
            Some(Self { serial: ctx.trace.inner.serial, handle })
        })
    }

    /// The current context, if it belongs to this subsegment's trace.
    fn with_trace<R>(self, f: impl FnOnce(&Context) -> R) -> Option<R> {
        with_current(|ctx| ctx.filter(|ctx| ctx.trace.inner.serial == self.serial).map(f))
    }

    /// Records on this subsegment.
    pub(crate) fn recorder(self) -> crate::record::Recorder {
        crate::record::Recorder::new(self.with_trace(|ctx| (ctx.trace.clone(), self.handle)))
    }

    /// Runs `f` with this subsegment as the current one, if its trace is current (else `f` runs in whatever context
    /// is current).
    pub(crate) fn run_as_current<R>(self, f: impl FnOnce() -> R) -> R {
        let Some(previous) = self.make_current() else { return f() };
        let _restore = MadeCurrent { opened: self, previous };
        f()
    }

    /// Makes this subsegment the current one, if its trace is current; returns the one it replaces.
    fn make_current(self) -> Option<Option<Handle>> {
        SCOPE.with(|s| {
            let mut scope = s.try_borrow_mut().ok()?;
            let ctx = scope.ctx.as_mut().filter(|ctx| ctx.trace.inner.serial == self.serial)?;
            Some(ctx.current.replace(self.handle))
        })
    }

    /// Makes `previous` current again, if this subsegment still is.
    pub(crate) fn restore_current(self, previous: Option<Handle>) {
        SCOPE.with(|s| {
            if let Ok(mut scope) = s.try_borrow_mut()
                && let Some(ctx) = scope.ctx.as_mut()
                && ctx.trace.inner.serial == self.serial
                && ctx.current == Some(self.handle)
            {
                ctx.current = previous;
            }
        });
    }

    /// Ends the subsegment through the current context (a panic in flight marks it as a fault). Where its trace is
    /// not current it cannot: that gets a diagnostic, and `Trace::end` sends it as `in_progress`.
    pub(crate) fn end(self) {
        // Ended under a shared borrow, so an emitter or a diagnostic can still read the current context.
        if self.with_trace(|ctx| close(&ctx.trace, self.handle)).is_none() {
            diag!(
                ContextMissing,
                "subsegment {} ended outside the trace context it was opened in; it is sent as in_progress when the \
                 trace ends",
                self.handle.id
            );
        }
    }
}

/// Makes the subsegment that was current before [`Opened::run_as_current`] current again when dropped (after a
/// panic too).
struct MadeCurrent {
    opened: Opened,
    previous: Option<Handle>,
}

impl Drop for MadeCurrent {
    fn drop(&mut self) {
        self.opened.restore_current(self.previous);
    }
}

/// Opens a subsegment under the current one and makes it current until the guard drops.
pub fn subsegment(name: impl Into<Cow<'static, str>>) -> SubsegmentGuard {
    if state() == State::NotRecording {
        return SubsegmentGuard::NONE;
    }
    open_guard(|| Name::sanitized(name.into()), None)
}

/// Opens the subsegment of a [`SubsegmentGuard`] under the current one, with the name `name` makes and the
/// downstream kind `namespace` if given.
pub(crate) fn open_guard(name: impl FnOnce() -> Name, namespace: Option<Namespace>) -> SubsegmentGuard {
    let opened = SCOPE.with(|s| {
        let Ok(mut scope) = s.try_borrow_mut() else { return Ok(None) };
        let Some(ctx) = scope.ctx.as_mut() else { return Err(name()) };
        let Some(handle) = ctx.trace.begin(ctx.current, name(), namespace) else { return Ok(None) };
        let previous = ctx.current.replace(handle);
        Ok(Some((Opened { serial: ctx.trace.inner.serial, handle }, previous)))
    });
    match opened {
        Ok(inner) => SubsegmentGuard { inner, _not_send: PhantomData },
        Err(name) => {
            crate::record::context_missing(name.as_str());
            SubsegmentGuard::NONE
        }
    }
}

pin_project! {
    /// A future run inside a new subsegment; see [`in_subsegment`].
    #[must_use = "futures do nothing unless polled"]
    pub struct InSubsegment<F> {
        name: Option<Cow<'static, str>>,
        ctx: Option<Context>,
        #[pin]
        inner: F,
    }

    impl<F> PinnedDrop for InSubsegment<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(ctx) = this.ctx.take() {
                end_context(ctx);
            }
        }
    }
}

impl<F> fmt::Debug for InSubsegment<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InSubsegment").field("name", &self.name).field("ctx", &self.ctx).finish_non_exhaustive()
    }
}

/// Ends the subsegment open in `ctx` (a panic in flight marks it as a fault).
pub(crate) fn end_context(ctx: Context) {
    if let Some(handle) = ctx.current {
        Subsegment { inner: Some((ctx.trace, handle)) }.close();
    }
}

/// Runs `future` inside a new subsegment named `name`, opened when it is first polled under the then current
/// context and ended when it completes (or is dropped). Without a recording context it just runs `future`.
pub fn in_subsegment<F: Future>(name: impl Into<Cow<'static, str>>, future: F) -> InSubsegment<F> {
    InSubsegment { name: Some(name.into()), ctx: None, inner: future }
}

impl<F: Future> Future for InSubsegment<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let Some(name) = this.name.take()
            && state() != State::NotRecording
        {
            *this.ctx = with_current(|c| match c {
                Some(c) => c.child(Name::sanitized(name)),
                None => {
                    crate::record::context_missing(&name);
                    None
                }
            });
        }
        if this.ctx.is_none() {
            return this.inner.poll(cx);
        }
        let inner = this.inner.as_mut();
        let output = run_swapped(this.ctx, move || inner.poll(cx));
        if output.is_ready()
            && let Some(ctx) = this.ctx.take()
        {
            end_context(ctx);
        }
        output
    }
}
