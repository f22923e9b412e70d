//! The thread-local slot holding the current context, and a copy of its state readable without borrowing it: the
//! fast path of code that records nothing. Futures of this crate swap their context in for each poll and out again
//! afterwards, the way `tokio::task_local!` works but without tying the crate to one runtime.

use std::cell::{Cell, RefCell};

use super::Context;
#[cfg(feature = "tracing")]
use crate::ids::SegmentId;
use crate::trace::Pending;
#[cfg(feature = "tracing")]
use crate::trace::{Handle, Trace};

/// What the slot holds, readable without borrowing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    NoContext,
    NotRecording,
    Recording,
}

/// The current context, and its current subsegment while that is pending: a `#[traced]` call's, kept out of the
/// trace's arena while the call's code runs (see `subsegment::call`). The pending subsegment belongs to the context in
/// the slot, never to one outside it: swapping the context out adopts it first.
struct Slot {
    ctx: Option<Context>,
    pending: Option<Pending>,
}

/// The slot's context borrowed mutably, with its pending subsegment.
pub(crate) struct Current<'a> {
    pub(crate) ctx: &'a mut Context,
    pub(crate) pending: &'a mut Option<Pending>,
}

impl Current<'_> {
    /// Puts the pending subsegment, if any, in the arena: from here on it is an entity like any other.
    #[inline]
    pub(crate) fn adopt_pending(&mut self) {
        if let Some(pending) = self.pending.take() {
            adopt(self.ctx, pending);
        }
    }
}

fn adopt(ctx: &mut Context, pending: Pending) {
    let handle = ctx.trace.adopt(pending);
    if ctx.current.is_some_and(|c| c.id == pending.id) {
        ctx.current = Some(handle);
    }
}

thread_local! {
    static CURRENT: RefCell<Slot> = const { RefCell::new(Slot { ctx: None, pending: None }) };
    static STATE: Cell<State> = const { Cell::new(State::NoContext) };
}

/// The state of the current context.
#[inline]
pub(crate) fn state() -> State {
    STATE.with(Cell::get)
}

fn sync_state(ctx: Option<&Context>) {
    let state = match ctx {
        None => State::NoContext,
        Some(c) if c.trace.is_recording() => State::Recording,
        Some(_) => State::NotRecording,
    };
    STATE.with(|s| s.set(state));
}

/// Runs `f` with the current context, if there is one, its pending subsegment (if any) adopted first.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    CURRENT.with(|s| {
        // Only a recording context has one.
        if state() == State::Recording
            && let Ok(mut slot) = s.try_borrow_mut()
        {
            slot.adopt_pending();
        }
        match s.try_borrow() {
            Ok(slot) => f(slot.ctx.as_ref()),
            Err(_) => f(None),
        }
    })
}

/// Runs `f` with the current context borrowed mutably (to change which subsegment is current), its pending
/// subsegment (if any) adopted first; `None` when there is no context or the slot is already borrowed.
pub(crate) fn with_current_mut<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    with_slot_mut(|mut current| {
        current.adopt_pending();
        f(current.ctx)
    })
}

/// Runs `f` with the current context as it is, pending subsegment and all, borrowed mutably: for `#[traced]`'s own
/// calls, which keep the pending subsegment on the way in and out. `None` when there is no context or the slot is
/// already borrowed.
pub(crate) fn with_slot_mut<R>(f: impl FnOnce(Current<'_>) -> R) -> Option<R> {
    CURRENT.with(|s| {
        let mut slot = s.try_borrow_mut().ok()?;
        let Slot { ctx, pending } = &mut *slot;
        ctx.as_mut().map(|ctx| f(Current { ctx, pending }))
    })
}

/// Runs `change` on the current context as it is, borrowed mutably, then `f` on it borrowed shared with what
/// `change` returned (`None` when it could not run): one access to the slot for both.
pub(crate) fn with_slot_changed<T, R>(
    change: impl FnOnce(Current<'_>) -> T,
    f: impl FnOnce(Option<&Context>, Option<T>) -> R,
) -> R {
    CURRENT.with(|s| {
        let changed = s.try_borrow_mut().ok().and_then(|mut slot| {
            let Slot { ctx, pending } = &mut *slot;
            ctx.as_mut().map(|ctx| change(Current { ctx, pending }))
        });
        match s.try_borrow() {
            Ok(slot) => f(slot.ctx.as_ref(), changed),
            Err(_) => f(None, changed),
        }
    })
}

/// Swaps `ctx` with the current context (whose pending subsegment, if any, is adopted first); `false` when the slot
/// was busy and nothing was swapped.
pub(crate) fn swap(ctx: &mut Option<Context>) -> bool {
    CURRENT.with(|s| {
        let Ok(mut slot) = s.try_borrow_mut() else { return false };
        slot.swap(ctx);
        true
    })
}

impl Slot {
    /// Puts the pending subsegment, if any, in the arena of the context it belongs to.
    fn adopt_pending(&mut self) {
        if let (Some(pending), Some(ctx)) = (self.pending.take(), self.ctx.as_mut()) {
            adopt(ctx, pending);
        }
    }

    /// Swaps `ctx` with the context held, whose pending subsegment, if any, is adopted first.
    fn swap(&mut self, ctx: &mut Option<Context>) {
        self.adopt_pending();
        std::mem::swap(&mut self.ctx, ctx);
        sync_state(self.ctx.as_ref());
    }
}

/// What entering a `tracing` span replaced in the slot, put back when the span exits.
#[cfg(feature = "tracing")]
pub(crate) enum Replaced {
    /// The current subsegment of a context of the span's trace, changed in place.
    Current(Option<Handle>),
    /// Another context, or none, swapped out for one of the span's trace.
    Context(Option<Context>),
}

/// Where a `tracing` span's subsegment was when the span exited.
#[cfg(feature = "tracing")]
pub(crate) enum Left {
    /// Still pending: nothing needed it in the arena.
    Pending,
    /// Adopted while the span was entered.
    Adopted(Handle),
    /// No longer current: whether it was adopted only its trace can tell.
    Unknown,
}

/// Makes a `tracing` span's subsegment of `trace` current, with its pending record, if any, as the slot's pending
/// subsegment (a copy: see `Trace::adopt`): in place when the slot's context is of `trace`, else in a context of its
/// own swapped in. `None` when the slot is busy.
#[cfg(feature = "tracing")]
pub(crate) fn enter_span(
    trace: &Trace,
    current: Option<Handle>,
    handler: Option<Handle>,
    pending: Option<Pending>,
) -> Option<Replaced> {
    CURRENT.with(|s| {
        let mut slot = s.try_borrow_mut().ok()?;
        slot.adopt_pending();
        let replaced = match slot.ctx.as_mut().filter(|c| c.trace.serial() == trace.serial()) {
            Some(ctx) => Replaced::Current(std::mem::replace(&mut ctx.current, current)),
            None => {
                let mut other = Some(Context { trace: trace.clone(), current, handler });
                slot.swap(&mut other);
                Replaced::Context(other)
            }
        };
        slot.pending = pending;
        Some(replaced)
    })
}

/// Undoes [`enter_span`] for the span whose subsegment is `id` in the trace `serial`, and says where that subsegment
/// was.
#[cfg(feature = "tracing")]
pub(crate) fn exit_span(serial: u64, id: Option<SegmentId>, replaced: Replaced) -> Left {
    CURRENT.with(|s| {
        let Ok(mut slot) = s.try_borrow_mut() else { return Left::Unknown };
        let ours = slot.ctx.as_ref().is_some_and(|c| c.trace.serial() == serial);
        let left = if !ours {
            Left::Unknown
        } else if slot.pending.is_some_and(|p| Some(p.id) == id) {
            slot.pending = None;
            Left::Pending
        } else {
            match slot.ctx.as_ref().and_then(|c| c.current) {
                Some(h) if Some(h.id) == id && !h.is_pending() => Left::Adopted(h),
                _ => Left::Unknown,
            }
        };
        match replaced {
            Replaced::Current(previous) if ours => {
                slot.adopt_pending();
                if let Some(ctx) = slot.ctx.as_mut() {
                    ctx.current = previous;
                }
            }
            Replaced::Current(_) => {}
            Replaced::Context(mut previous) => slot.swap(&mut previous),
        }
        left
    })
}
