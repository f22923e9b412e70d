//! A future run inside a new subsegment: [`in_subsegment`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use super::close;
use crate::context::{self, Context, State, run_swapped, state, with_current};
use crate::document::Name;

pin_project! {
    /// A future run inside a new subsegment; see [`in_subsegment`].
    #[must_use = "futures do nothing unless polled"]
    pub struct InSubsegment<F> {
        name: Option<Cow<'static, str>>,
        ctx: Option<Context>,
        #[pin]
        inner: F,
    }

    impl<F> PinnedDrop for InSubsegment<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(ctx) = this.ctx.take() {
                end_context(ctx);
            }
        }
    }
}

impl<F> fmt::Debug for InSubsegment<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InSubsegment").field("name", &self.name).field("ctx", &self.ctx).finish_non_exhaustive()
    }
}

/// Ends the subsegment open in `ctx` (a panic in flight marks it as a fault).
pub(crate) fn end_context(ctx: Context) {
    if let Some(handle) = ctx.current {
        close(&ctx.trace, handle);
    }
}

/// Runs `future` inside a new subsegment named `name`, opened when it is first polled under the then current
/// context and ended when it completes (or is dropped). Without a recording context it just runs `future`.
pub fn in_subsegment<F: Future>(name: impl Into<Cow<'static, str>>, future: F) -> InSubsegment<F> {
    InSubsegment { name: Some(name.into()), ctx: None, inner: future }
}

impl<F: Future> Future for InSubsegment<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let Some(name) = this.name.take()
            && state() != State::NotRecording
        {
            *this.ctx = with_current(|c| match c {
                Some(c) => c.child(Name::sanitized(name)),
                None => {
                    context::report_missing(&name);
                    None
                }
            });
        }
        if this.ctx.is_none() {
            return this.inner.poll(cx);
        }
        let inner = this.inner.as_mut();
        let output = run_swapped(this.ctx, move || inner.poll(cx));
        if output.is_ready()
            && let Some(ctx) = this.ctx.take()
        {
            end_context(ctx);
        }
        output
    }
}
