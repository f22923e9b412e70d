//! A subsegment that is the current one until a guard drops: [`subsegment`], for synchronous code.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::close;
use crate::context::{self, Context, State, state, with_current, with_current_mut};
use crate::diag::diag;
use crate::document::Name;
use crate::ids::SegmentId;
use crate::trace::Handle;

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

/// A guard's subsegment, named by its trace's serial number and its handle rather than by a reference to the trace:
/// it is reached through the current context, which is its trace's as long as the guard is in scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Opened {
    serial: u64,
    handle: Handle,
}

impl Opened {
    /// The current context, if it belongs to this subsegment's trace.
    fn with_trace<R>(self, f: impl FnOnce(&Context) -> R) -> Option<R> {
        with_current(|ctx| ctx.filter(|ctx| ctx.trace.serial() == self.serial).map(f))
    }

    /// Makes `previous` current again, if this subsegment still is.
    pub(crate) fn restore_current(self, previous: Option<Handle>) {
        with_current_mut(|ctx| {
            if ctx.trace.serial() == self.serial && ctx.current == Some(self.handle) {
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

/// Opens a subsegment under the current one and makes it current until the guard drops.
pub fn subsegment(name: impl Into<Cow<'static, str>>) -> SubsegmentGuard {
    if state() == State::NotRecording {
        return SubsegmentGuard::NONE;
    }
    let mut name = Some(name);
    let opened = with_current_mut(|ctx| {
        let name = Name::sanitized(name.take()?.into());
        let handle = ctx.trace.begin(ctx.current, name, None)?;
        let previous = ctx.current.replace(handle);
        Some((Opened { serial: ctx.trace.serial(), handle }, previous))
    })
    .flatten();
    match opened {
        Some(inner) => SubsegmentGuard { inner: Some(inner), _not_send: PhantomData },
        // No context, unless the slot was busy (a recording call inside an emitter): then nothing is recorded.
        None => {
            if let Some(name) = name.filter(|_| state() == State::NoContext) {
                let name: Cow<'static, str> = name.into();
                context::report_missing(&name);
            }
            SubsegmentGuard::NONE
        }
    }
}
