//! A call to a downstream service: the subsegment that records it and the trace header it carries.
//!
//! The AWS SDK interceptor and the HTTP client middleware both open one subsegment per call under the current
//! context and send `X-Amzn-Trace-Id` with that subsegment as `Parent`. When the trace does not record, the header
//! still goes out with the upstream decision (`Sampled=0`), so the service downstream does not start a trace of its
//! own; `Lineage` and unknown keys of the incoming header travel on in both cases.

use std::borrow::Cow;

use crate::context::{Context, State, Subsegment, state};
use crate::segment::Namespace;

/// The name of the trace header on the wire.
pub(crate) const TRACE_HEADER: &str = "x-amzn-trace-id";

/// One call to a downstream service.
#[derive(Debug)]
pub(crate) struct Call {
    /// Records the call; records nothing when the trace is not sampled or there is no context.
    pub(crate) subsegment: Subsegment,
    /// The `X-Amzn-Trace-Id` value to send, `None` when there is no trace context to propagate.
    pub(crate) header: Option<String>,
}

impl Call {
    /// Opens the call's subsegment under the current context; `name` is only built when something is recorded.
    pub(crate) fn begin(name: impl FnOnce() -> Cow<'static, str>, namespace: Namespace) -> Self {
        if state() != State::Recording {
            // Nothing is recorded, yet the upstream decision still travels downstream.
            let subsegment = match state() {
                State::NoContext => Subsegment::begin(name()),
                _ => Subsegment::none(),
            };
            let header = Context::current().map(|ctx| ctx.trace_header().to_string());
            return Self { subsegment, header };
        }
        let subsegment = Subsegment::begin(name());
        subsegment.recorder().set_namespace(namespace);
        let header = match subsegment.context() {
            Some(ctx) => Some(ctx.trace_header().to_string()),
            None => Context::current().map(|ctx| ctx.trace_header().to_string()),
        };
        Self { subsegment, header }
    }
}
