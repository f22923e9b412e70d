//! The thread-local slot holding the current context, and a copy of its state readable without borrowing it: the
//! fast path of code that records nothing. Futures of this crate swap their context in for each poll and out again
//! afterwards, the way `tokio::task_local!` works but without tying the crate to one runtime.

use std::cell::{Cell, RefCell};

use super::Context;

/// What the slot holds, readable without borrowing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    NoContext,
    NotRecording,
    Recording,
}

thread_local! {
    static CURRENT: RefCell<Option<Context>> = const { RefCell::new(None) };
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
    adopt_pending();
    with_slot(f)
}

/// Runs `f` with the current context borrowed mutably (to change which subsegment is current), its pending
/// subsegment (if any) adopted first; `None` when there is no context or the slot is already borrowed.
pub(crate) fn with_current_mut<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    with_slot_mut(|ctx| {
        ctx.adopt_pending();
        f(ctx)
    })
}

/// Puts the current context's pending subsegment in the arena, so code that reads the context (to record on its
/// subsegment, open a child, copy it) finds an entity there. Only `#[traced]`'s own calls, which keep the pending
/// subsegment on the way in and out, read the slot as it is ([`with_slot`], [`with_slot_mut`]).
fn adopt_pending() {
    if state() == State::Recording {
        CURRENT.with(|s| {
            if let Ok(mut ctx) = s.try_borrow_mut()
                && let Some(ctx) = ctx.as_mut()
            {
                ctx.adopt_pending();
            }
        });
    }
}

/// Runs `f` with the current context as it is, pending subsegment and all.
fn with_slot<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    CURRENT.with(|s| match s.try_borrow() {
        Ok(ctx) => f(ctx.as_ref()),
        Err(_) => f(None),
    })
}

/// Runs `f` with the current context as it is, borrowed mutably; `None` when there is no context or the slot is
/// already borrowed.
pub(crate) fn with_slot_mut<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    CURRENT.with(|s| {
        let mut ctx = s.try_borrow_mut().ok()?;
        ctx.as_mut().map(f)
    })
}

/// Runs `change` on the current context as it is, borrowed mutably, then `f` on it borrowed shared with what
/// `change` returned (`None` when it could not run): one access to the slot for both.
pub(crate) fn with_slot_changed<T, R>(
    change: impl FnOnce(&mut Context) -> T,
    f: impl FnOnce(Option<&Context>, Option<T>) -> R,
) -> R {
    CURRENT.with(|s| {
        let changed = s.try_borrow_mut().ok().and_then(|mut ctx| ctx.as_mut().map(change));
        match s.try_borrow() {
            Ok(ctx) => f(ctx.as_ref(), changed),
            Err(_) => f(None, changed),
        }
    })
}

/// Swaps `ctx` with the current context.
pub(crate) fn swap(ctx: &mut Option<Context>) {
    CURRENT.with(|s| {
        if let Ok(mut current) = s.try_borrow_mut() {
            std::mem::swap(&mut *current, ctx);
            sync_state(current.as_ref());
        }
    });
}
