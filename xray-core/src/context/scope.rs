//! Running code in a context: [`Context::scope`] for a future, [`Context::enter`] for synchronous code, [`bind`]
//! to carry the current context into a spawned task.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use super::{Context, slot};
use crate::emit::{self, Emitter};

/// Swaps the context back when dropped, so a panicking poll still restores the thread's context.
struct Restore<'a>(&'a mut Option<Context>);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        slot::swap(self.0);
    }
}

/// Runs `f` with `ctx` swapped in as the current context, and swapped back out afterwards (after a panic too), with
/// whatever `f` changed in it: the subsegment that is current, say.
pub(crate) fn run_swapped<R>(ctx: &mut Option<Context>, f: impl FnOnce() -> R) -> R {
    slot::swap(ctx);
    let _restore = Restore(ctx);
    f()
}

impl Context {
    /// Runs `future` in this context.
    pub fn scope<F: Future>(self, future: F) -> Scoped<F> {
        Scoped { ctx: Some(self), emitter: None, inner: future }
    }

    /// Makes this the current context on this thread until the guard drops (for synchronous code).
    pub fn enter(self) -> EnterGuard {
        let mut previous = Some(self);
        slot::swap(&mut previous);
        EnterGuard { previous, _not_send: PhantomData }
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
        slot::swap(&mut self.previous);
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
        // `Some` when bound: the scoped emitter (or none) in force where the future was bound.
        emitter: Option<Option<Arc<dyn Emitter>>>,
        #[pin]
        inner: F,
    }
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scoped").field("ctx", &self.ctx).finish_non_exhaustive()
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        match this.emitter {
            None => run_swapped(this.ctx, move || inner.poll(cx)),
            Some(emitter) => run_swapped(this.ctx, move || emit::run_swapped(emitter, move || inner.poll(cx))),
        }
    }
}

/// Carries the current context (and scoped emitter) into a future that will run elsewhere, such as a
/// `tokio::spawn`ed task: `tokio::spawn(xray_core::bind(async { ... }))`.
pub fn bind<F: Future>(future: F) -> Scoped<F> {
    Scoped { ctx: Context::current(), emitter: Some(emit::scoped_here()), inner: future }
}
