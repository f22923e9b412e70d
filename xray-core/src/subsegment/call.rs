//! The subsegment of one `#[traced]` call, and of a `subsegment` guard (which opens it in the arena). In Lambda a
//! call's opens pending: out of the trace's arena (see `trace::Pending`), and adopted into the arena only if
//! something needs it there. It is current while the call's code runs, and ends where it started: in the same scope
//! for a `fn` or a guard, in the same task for an `async fn`.
//!
//! While the call's code runs, the pending subsegment is in the context's slot (`context::Current`), where recording
//! on it, opening a child under it, copying the context or swapping it out adopts it first. An `async fn` that waits
//! is adopted when its poll returns: only a call that runs to its end without waiting is written straight from its
//! pending subsegment.

use super::close;
use crate::context::{Current, with_current, with_slot_changed, with_slot_mut};
use crate::diag::diag;
use crate::document::{Name, Namespace};
use crate::ids::SegmentId;
use crate::trace::{Handle, Trace};

/// One call's subsegment, named by its trace's serial number and its handle rather than by a reference to the trace,
/// so that a call takes no reference count. It is reached through the current context, which is its trace's as long
/// as the call runs. While the call's code does not run, its subsegment is in the arena.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call {
    serial: u64,
    /// A pending handle until the subsegment is adopted; the slot's current handle has the adopted one first.
    handle: Handle,
}

impl Call {
    /// The subsegment `handle` of the trace with serial number `serial`, opened in its arena (a `subsegment` guard's).
    pub(crate) fn new(serial: u64, handle: Handle) -> Self {
        Self { serial, handle }
    }

    /// The subsegment's id.
    pub(crate) fn id(&self) -> SegmentId {
        self.handle.id
    }

    /// Opens `name` under the current subsegment and makes it current, if the current trace records: returns it and
    /// the subsegment it replaces. `name` has been checked.
    pub(crate) fn open_current(name: &'static str, namespace: Option<Namespace>) -> Option<(Self, Option<Handle>)> {
        with_slot_mut(|mut current| {
            let handle = begin(&mut current, name, namespace, false)?;
            let previous = current.ctx.current.replace(handle);
            Some((Self { serial: current.ctx.trace.serial(), handle }, previous))
        })
        .flatten()
    }

    /// Opens `name` under the current subsegment in the arena, not current yet: for a call recorded on before its
    /// code runs.
    pub(crate) fn open_adopted(name: &'static str, namespace: Option<Namespace>) -> Option<Self> {
        with_slot_mut(|mut current| {
            let handle = begin(&mut current, name, namespace, true)?;
            Some(Self { serial: current.ctx.trace.serial(), handle })
        })
        .flatten()
    }

    /// Makes this subsegment the current one, if its trace is current; returns the one it replaces.
    pub(crate) fn enter(&self) -> Option<Option<Handle>> {
        with_slot_mut(|mut current| {
            if current.ctx.trace.serial() != self.serial {
                return None;
            }
            // Another pending subsegment stops being current: it is adopted, so it is not lost.
            current.adopt_pending();
            Some(current.ctx.current.replace(self.handle))
        })
        .flatten()
    }

    /// Makes `previous` current again, if this subsegment still is. An `async fn` that waits is adopted first, so
    /// that, open across the wait, it is sent as `in_progress` if the trace ends first.
    pub(crate) fn leave(&mut self, previous: Option<Handle>) {
        with_slot_mut(|mut current| {
            if current.ctx.trace.serial() == self.serial && current.ctx.current.is_some_and(|c| c.id == self.handle.id)
            {
                current.adopt_pending();
                self.handle = current.ctx.current.unwrap_or(self.handle);
                current.ctx.current = previous;
            }
        });
    }

    /// Makes `previous` current again and ends the subsegment through the current context (a panic in flight marks
    /// it as a fault): written from its pending state if it is still pending, else from the arena. Where its trace
    /// is not current it cannot: that gets a diagnostic, and the subsegment, if adopted, is sent as `in_progress`
    /// when the trace ends.
    pub(crate) fn finish(self, previous: Option<Handle>) {
        let ended = with_slot_changed(
            |current| {
                if current.ctx.trace.serial() != self.serial {
                    return None;
                }
                let handle = current.ctx.current.filter(|c| c.id == self.handle.id)?;
                current.ctx.current = previous;
                Some((handle, if handle.is_pending() { current.pending.take() } else { None }))
            },
            // Ended under a shared borrow, so an emitter or a diagnostic can still read the current context.
            |ctx, left| {
                let ctx = ctx.filter(|c| c.trace.serial() == self.serial)?;
                let (handle, pending) = left.flatten().unwrap_or((self.handle, None));
                match pending {
                    Some(pending) => ctx.trace.finish_pending(pending),
                    None => {
                        let handle = if handle.is_pending() { ctx.trace.find(handle.id)? } else { handle };
                        close(&ctx.trace, handle);
                    }
                }
                Some(())
            },
        );
        if ended.is_none() {
            diag!(
                ContextMissing,
                "subsegment {} ended outside the trace context it was opened in; it is sent as in_progress when the \
                 trace ends",
                self.handle.id
            );
        }
    }

    /// Ends the subsegment when it is not current (an `async fn` dropped between polls, or after its last one).
    pub(crate) fn end(self) {
        self.finish(None);
    }

    /// The trace and handle to record on this subsegment (`record` makes the recorder): adopts it first if it is
    /// the pending current one.
    pub(crate) fn target(&self) -> Option<(Trace, Handle)> {
        with_current(|ctx| {
            let ctx = ctx.filter(|c| c.trace.serial() == self.serial)?;
            let handle =
                if self.handle.is_pending() { ctx.current.filter(|c| c.id == self.handle.id)? } else { self.handle };
            Some((ctx.trace.clone(), handle))
        })
    }
}

/// Opens `name` under `ctx`'s current subsegment (adopting that one first, if pending): pending where the trace
/// allows it and `adopt` is not asked for (it is then the slot's pending subsegment), else in the arena.
#[inline(always)]
fn begin(current: &mut Current<'_>, name: &'static str, namespace: Option<Namespace>, adopt: bool) -> Option<Handle> {
    current.adopt_pending();
    let (trace, parent) = (&current.ctx.trace, current.ctx.current);
    match trace.begin_pending(parent, name, namespace) {
        Some(pending) if !adopt => {
            *current.pending = Some(pending);
            Some(Handle::pending(pending.id))
        }
        Some(pending) => Some(trace.adopt(pending)),
        None => trace.begin(parent, Name::checked(name), namespace),
    }
}
