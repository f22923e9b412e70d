//! A subsegment that is the current one until a guard drops: [`subsegment`] for synchronous code, and [`Opened`],
//! what `#[traced]` keeps while a call runs.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::close;
use crate::context::{self, Context, State, state, with_current, with_current_mut};
use crate::diag::diag;
use crate::document::{Name, Namespace};
use crate::ids::SegmentId;
use crate::trace::{Handle, Trace};

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
            Some(Self { serial: ctx.trace.serial(), handle })
        })
    }

    /// The current context, if it belongs to this subsegment's trace.
    fn with_trace<R>(self, f: impl FnOnce(&Context) -> R) -> Option<R> {
        with_current(|ctx| ctx.filter(|ctx| ctx.trace.serial() == self.serial).map(f))
    }

    /// Its trace and handle, if its trace is the current one.
    pub(crate) fn resolve(self) -> Option<(Trace, Handle)> {
        self.with_trace(|ctx| (ctx.trace.clone(), self.handle))
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
        with_current_mut(|ctx| (ctx.trace.serial() == self.serial).then(|| ctx.current.replace(self.handle))).flatten()
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
    let mut name = Some(name);
    let opened = with_current_mut(|ctx| {
        let make = name.take()?;
        let handle = ctx.trace.begin(ctx.current, make(), namespace)?;
        let previous = ctx.current.replace(handle);
        Some((Opened { serial: ctx.trace.serial(), handle }, previous))
    })
    .flatten();
    match opened {
        Some(inner) => SubsegmentGuard { inner: Some(inner), _not_send: PhantomData },
        // No context, unless the slot was busy (a recording call inside an emitter): then nothing is recorded.
        None => {
            if let Some(make) = name.filter(|_| state() == State::NoContext) {
                context::report_missing(make().as_str());
            }
            SubsegmentGuard::NONE
        }
    }
}
