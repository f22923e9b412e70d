//! A call to a downstream service: the subsegment that records it and the trace header it carries.
//!
//! The AWS SDK interceptor and the HTTP client middleware both open one subsegment per call under the current
//! context and send `X-Amzn-Trace-Id` with that subsegment as `Parent`. When the trace does not record, the header
//! still goes out with the upstream decision (`Sampled=0`), so the service downstream does not start a trace of its
//! own; `Lineage` and unknown keys of the incoming header travel on in both cases.

use std::borrow::Cow;

use crate::context::{Context, State, state, with_current};
use crate::document::{Exception, Namespace};
use crate::subsegment::Subsegment;

/// The name of the trace header on the wire.
pub(crate) const TRACE_HEADER: &str = "x-amzn-trace-id";

/// Opens the subsegment of a call under the current context; `name` is only built when something is recorded (or
/// when there is no context at all, for the diagnostic `AWS_XRAY_CONTEXT_MISSING` asks for).
pub(crate) fn begin(name: impl FnOnce() -> Cow<'static, str>, namespace: Namespace) -> Subsegment {
    match state() {
        State::NotRecording => Subsegment::none(),
        State::NoContext | State::Recording => Subsegment::begin_as(name(), Some(namespace)),
    }
}

/// The exception type of a call that ended without completing.
const INTERRUPTED: &str = "Interrupted";

/// Ends the subsegment of a call the caller dropped before it completed (its own timeout, a `select!` that picked
/// another branch): as a fault with an `Interrupted` cause.
pub(crate) fn end_interrupted(subsegment: Subsegment) {
    let recorder = subsegment.recorder();
    recorder.mark_fault();
    recorder.add_exception(Exception::new(INTERRUPTED, "the call was dropped before it completed"));
    subsegment.end();
}

/// The `X-Amzn-Trace-Id` value for a call recorded by `subsegment`; for a call that records nothing, the current
/// context's (with the upstream `Parent` and `Sampled=0`). `None` when there is no context to propagate.
pub(crate) fn header(subsegment: Option<&Subsegment>) -> Option<String> {
    match subsegment.and_then(Subsegment::context) {
        Some(ctx) => Some(ctx.trace_header_value()),
        None => with_current(|ctx| ctx.map(Context::trace_header_value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Trace;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn the_wire_header_is_the_formatted_trace_header_with_the_call_as_parent() {
        let trace = Trace::lambda(Some(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1;k=v")));
        let sink = crate::testing::MemorySink::new();
        sink.run(|| {
            let _ctx = trace.context().enter();
            let call = begin(|| "SQS".into(), Namespace::Aws);
            let id = call.id().expect("recording");
            let header = header(Some(&call));
            assert_eq!(header, call.context().map(|c| c.trace_header().to_string()));
            assert_eq!(header, Some(format!("Root={ROOT};Parent={id};Sampled=1;Lineage=a:1;k=v")));
        });
    }

    #[test]
    fn an_unsampled_call_records_nothing_and_propagates_the_upstream_parent_with_sampled_0() {
        let trace = Trace::lambda(Some(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1")));
        let _ctx = trace.context().enter();
        let call = begin(|| unreachable!("no name is built for an unsampled call"), Namespace::Aws);
        assert!(!call.is_recording());
        assert_eq!(header(Some(&call)), Some(format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1")));
    }

    #[test]
    fn without_a_context_there_is_no_header() {
        assert_eq!(header(None), None);
    }
}
