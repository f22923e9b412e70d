//! The interceptor: opens the operation's subsegment, injects the trace header on every attempt, records the outcome.
//!
//! One interceptor serves every call of a client, concurrently, so the state of a call lives in the call's own
//! `ConfigBag`, never in the interceptor.

use std::borrow::Cow;
use std::sync::{Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::{Intercept, dyn_dispatch_hint};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_types::region::Region;

use crate::context::{State, state};
use crate::diag::diag;
use crate::document::{Aws, Http, HttpResponse, Namespace};
use crate::downstream::{self, TRACE_HEADER};
use crate::subsegment::Subsegment;

use super::{classify, resources};

/// Records every operation of the client it is added to as an X-Ray subsegment and propagates the trace; see the
/// [module docs](super).
#[derive(Debug, Clone, Default)]
pub struct XRayInterceptor {
    _private: (),
}

impl XRayInterceptor {
    /// The interceptor; add it with the client config builder's `.interceptor(...)`.
    pub fn new() -> Self {
        Self::default()
    }
}

/// The state of one recorded operation, kept in its `ConfigBag` from the first hook to the last.
#[derive(Debug)]
struct InFlight {
    /// Taken and ended when the operation completes.
    subsegment: Mutex<Option<Subsegment>>,
    header: Option<String>,
    service: String,
}

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

/// The state of the operation, if it is recorded. Config bag lookups walk every layer before they miss, so an
/// unrecorded call (the thread's context is not recording) does not look at all.
fn recorded(cfg: &ConfigBag) -> Option<&InFlight> {
    if state() == State::Recording { cfg.load::<InFlight>() } else { None }
}

impl Drop for InFlight {
    // A caller that stops polling the operation (its own timeout, a `select!` that picked another branch) drops it
    // between hooks: `read_after_execution` never runs, and the subsegment ends here, as a fault.
    fn drop(&mut self) {
        if let Some(subsegment) = self.subsegment.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
            downstream::end_interrupted(subsegment);
        }
    }
}

// The hint tells the orchestrator which hooks this implements, so it skips the others without looking up, for each
// of them, whether the interceptor is disabled: that lookup cost more than the hooks themselves.
#[dyn_dispatch_hint]
impl Intercept for XRayInterceptor {
    fn name(&self) -> &'static str {
        "XRayInterceptor"
    }

    // Not `read_before_execution`: client interceptors see that hook before the operation's configuration (its
    // `Metadata`) is in the bag. This is the next hook, still once per operation and before any attempt.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if state() == State::NotRecording {
            // Nothing to keep: `modify_before_transmit` still propagates the decision.
            return Ok(());
        }
        let metadata = cfg.load::<Metadata>();
        let service = metadata.map_or("AWS", Metadata::service);
        let subsegment = downstream::begin(|| Cow::Owned(service.to_owned()), Namespace::Aws);
        if !subsegment.is_recording() {
            return Ok(());
        }
        subsegment.recorder().set_aws(Aws {
            operation: metadata.map(|m| m.name().to_owned()),
            region: cfg.load::<Region>().map(|r| r.as_ref().to_owned()),
            ..Aws::default()
        });
        let call = InFlight {
            header: downstream::header(Some(&subsegment)),
            service: service.to_owned(),
            subsegment: Mutex::new(Some(subsegment)),
        };
        cfg.interceptor_state().store_put(call);
        Ok(())
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = recorded(cfg) else { return Ok(()) };
        let guard = call.subsegment.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(subsegment) = guard.as_ref() {
            let found = resources::from_request(&call.service, context.request());
            if !found.is_empty() {
                subsegment.recorder().update_aws(|aws| aws.resources.extend(found));
            }
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let header = match recorded(cfg) {
            Some(call) => call.header.clone(),
            None => downstream::header(None),
        };
        let Some(header) = header else { return Ok(()) };
        // `try_insert` replaces every earlier value, including the SDK's own recursion-detection header, which names
        // the function segment as Parent rather than this call.
        if let Err(err) = context.request_mut().headers_mut().try_insert(TRACE_HEADER, header) {
            diag!(MalformedHeader, "trace header not sent: {err}");
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = recorded(cfg) else { return Ok(()) };
        let Some(subsegment) = call.subsegment.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return Ok(());
        };
        let outcome = classify::outcome(context.response(), context.output_or_error().and_then(Result::err));
        let retries = cfg.load::<RequestAttempts>().map_or(0, |a| a.attempts().saturating_sub(1));
        let recorder = subsegment.recorder();
        let operation = cfg.load::<Metadata>().map_or("", Metadata::name);
        let found = context.response().map(|r| resources::from_response(&call.service, operation, r));
        recorder.update_aws(|aws| {
            aws.request_id = outcome.request_id.clone();
            aws.retries = Some(retries);
            aws.resources.extend(found.into_iter().flatten());
        });
        if outcome.status.is_some() || outcome.content_length.is_some() {
            recorder.set_http(Http {
                request: None,
                response: Some(HttpResponse { status: outcome.status, content_length: outcome.content_length }),
            });
        }
        outcome.record(&recorder);
        subsegment.end();
        Ok(())
    }
}
