//! A subsegment that is the current one until a guard drops: [`subsegment`], for synchronous code.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use super::Call;
use crate::context::{self, State, state, with_current_mut};
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
    inner: Option<(Call, Option<Handle>)>,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for SubsegmentGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubsegmentGuard").field("id", &self.id()).finish()
    }
}

impl SubsegmentGuard {
    pub(crate) const NONE: Self = Self { inner: None, _not_send: PhantomData };

    /// The guard of a call current in place of the subsegment before it (a `#[traced]` `fn`'s, which ends as a guard
    /// does); `None` records nothing.
    #[inline(always)]
    pub(crate) fn of(inner: Option<(Call, Option<Handle>)>) -> Self {
        Self { inner, _not_send: PhantomData }
    }

    /// The subsegment's id, `None` if it records nothing.
    pub fn id(&self) -> Option<SegmentId> {
        self.inner.as_ref().map(|(call, _)| call.id())
    }
}

impl Drop for SubsegmentGuard {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some((call, previous)) = self.inner.take() {
            call.finish(previous);
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
        Some((Call::new(ctx.trace.serial(), handle), previous))
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
