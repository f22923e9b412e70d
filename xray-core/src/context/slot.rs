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

/// Runs `f` with the current context, if there is one.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Context>) -> R) -> R {
    CURRENT.with(|s| match s.try_borrow() {
        Ok(ctx) => f(ctx.as_ref()),
        Err(_) => f(None),
    })
}

/// Runs `f` with the current context borrowed mutably (to change which subsegment is current); `None` when there is
/// no context or the slot is already borrowed.
pub(crate) fn with_current_mut<R>(f: impl FnOnce(&mut Context) -> R) -> Option<R> {
    CURRENT.with(|s| {
        let mut ctx = s.try_borrow_mut().ok()?;
        ctx.as_mut().map(f)
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
