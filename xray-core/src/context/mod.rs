//! Which trace, and which subsegment in it, code is running in.
//!
//! The current [`Context`] lives in task-local state ([`slot`]): it follows a future across `.await` points and
//! threads, and two invocations running concurrently in one process never see each other's context. Spawned tasks
//! do not inherit it by themselves: wrap the spawned future in [`bind`].

mod scope;
mod slot;

use std::fmt;

pub(crate) use scope::run_swapped;
pub use scope::{EnterGuard, Scoped, bind};
pub(crate) use slot::{Current, State, state, with_current, with_current_mut, with_slot_changed, with_slot_mut};
#[cfg(feature = "tracing")]
pub(crate) use slot::{Left, Replaced, enter_span, exit_span};

use crate::config::{self, ContextMissing};
use crate::diag::diag;
use crate::document::Name;
use crate::header::TraceHeader;
use crate::ids::{SegmentId, TraceId};
use crate::trace::{Handle, Trace};

/// Which trace, and which subsegment in it, code is running in.
#[derive(Clone)]
pub struct Context {
    pub(crate) trace: Trace,
    /// The open subsegment, the parent of anything opened from here.
    pub(crate) current: Option<Handle>,
    /// The invocation's handler subsegment, the target of [`crate::handler`].
    pub(crate) handler: Option<Handle>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("trace", &self.trace)
            .field("current", &self.current.map(|h| h.id))
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// A context at the top of this trace (no subsegment open).
    pub fn context(&self) -> Context {
        Context { trace: self.clone(), current: None, handler: None }
    }
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
        self.trace.header_value(self.parent_id())
    }

    /// Whether this context records anything.
    pub fn is_recording(&self) -> bool {
        self.trace.is_recording()
    }

    /// The entity recording goes to: the open subsegment, or the handler subsegment when `handler`; the segment
    /// outside Lambda when none is open.
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

/// The Root id of the trace the calling code runs in (`1-5759e988-bd862e3fe1be46a994272793`), sampled or not;
/// `None` outside any trace. For loggers: Powertools Logger puts it in the field `xray_trace_id`.
pub fn trace_id() -> Option<TraceId> {
    if state() == State::NoContext {
        return None;
    }
    with_current(|c| c.map(|c| c.trace.trace_id()))
}

/// Reports recording attempted outside any trace context, as `AWS_XRAY_CONTEXT_MISSING` says.
pub(crate) fn report_missing(what: &str) {
    if config::get().context_missing != ContextMissing::IgnoreError {
        diag!(
            ContextMissing,
            "`{}`: no trace context; run the code inside a traced handler, `Context::scope` or `xray_core::bind`",
            what
        );
    }
}
