//! A panic in traced code: recorded on the subsegment it happened in, then resumed, so the function fails exactly
//! as it would untraced.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::context::{Context, run_swapped};
use crate::document::Exception;
use crate::record::{self, Recorder};

/// Runs `body`, recording a panic on `recorder()` before resuming it.
pub(crate) fn run_caught<R>(body: impl FnOnce() -> R, recorder: impl FnOnce() -> Recorder) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            record_panic(&recorder(), &*payload);
            resume_unwind(payload)
        }
    }
}

/// Marks a fault whose cause is the panic's message.
fn record_panic(rec: &Recorder, payload: &(dyn Any + Send)) {
    let message = payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic with a non-string payload");
    rec.mark_fault();
    rec.add_exception(Exception::new("panic", message));
}

pin_project! {
    /// An async body run with a given context current at each poll, a panic recorded on the entity open in it; see
    /// [`crate::lambda::Invocation::instrument`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        ctx: Option<Context>,
        #[pin]
        inner: F,
    }
}

impl<F> Instrumented<F> {
    /// `body`, run in `ctx` (as it is, when `None`).
    pub(crate) fn new(ctx: Option<Context>, body: F) -> Self {
        Self { ctx, inner: body }
    }
}

impl<F> fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented").field("ctx", &self.ctx).finish_non_exhaustive()
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if this.ctx.is_none() {
            return this.inner.poll(cx);
        }
        let inner = this.inner;
        let poll = run_swapped(this.ctx, move || run_caught(move || inner.poll(cx), record::current));
        // The handler waits: what ended leaves now, and what runs is told, so a timeout from here shows both.
        if poll.is_pending()
            && let Some(ctx) = this.ctx.as_ref()
        {
            ctx.trace.waited();
        }
        poll
    }
}
