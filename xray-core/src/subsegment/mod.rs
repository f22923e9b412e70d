//! Subsegments opened by code: by hand ([`Subsegment`]), as the current one until a guard drops ([`guard`]), or
//! around a future ([`future`]). Each opens with `Trace::begin` and ends in [`close`], the one place a
//! subsegment's end is decided (a panic in flight marks it as a fault first).

mod call;
mod future;
mod guard;

use std::borrow::Cow;
use std::fmt;

pub(crate) use call::Call;
pub use future::{InSubsegment, in_subsegment};
pub use guard::{SubsegmentGuard, subsegment};

use crate::context::{self, Context, State, state, with_current};
use crate::document::{Entity, Name, Namespace};
use crate::ids::SegmentId;
use crate::trace::{Handle, Trace};

/// An open subsegment, ended when [`Subsegment::end`] is called or the value drops.
///
/// Use it where a scope does not fit, such as hooks that see the start and end of a call separately.
pub struct Subsegment {
    pub(crate) inner: Option<(Trace, Handle)>,
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
                context::report_missing(&name);
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

    /// Sends the subsegment now as `in_progress`, so it is visible even if the process dies before it ends.
    pub fn send_in_progress(&self) {
        if let Some((trace, handle)) = &self.inner {
            trace.send_in_progress(*handle);
        }
    }

    /// Ends the subsegment. In Lambda it is sent with the others when the handler waits or the invocation ends.
    pub fn end(mut self) {
        if let Some((trace, handle)) = self.inner.take() {
            close(&trace, handle);
        }
    }
}

impl Drop for Subsegment {
    fn drop(&mut self) {
        if let Some((trace, handle)) = self.inner.take() {
            close(&trace, handle);
        }
    }
}

impl Context {
    /// The same context with `subsegment` as the handler subsegment, the target of [`crate::handler`].
    pub fn with_handler(mut self, subsegment: &Subsegment) -> Self {
        if let Some((_, handle)) = &subsegment.inner {
            self.handler = Some(*handle);
            self.current = Some(*handle);
        }
        self
    }
}

/// Ends an entity; a panic in flight marks it as a fault first.
pub(crate) fn close(trace: &Trace, handle: Handle) {
    if std::thread::panicking() {
        trace.with_entity(handle, Entity::mark_panicked);
    }
    trace.finish(handle);
}
