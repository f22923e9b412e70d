//! The interceptor: opens the operation's subsegment, injects the trace header on every attempt, records the outcome.
//!
//! One interceptor serves every call of a client, concurrently, so the state of a call lives in the call's own
//! `ConfigBag`, never in the interceptor.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
#[cfg(feature = "sqs")]
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::{Intercept, dyn_dispatch_hint};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_types::region::Region;
use serde_json::{Map, Value};

use crate::context::{State, state};
use crate::diag::diag;
use crate::document::{Aws, Http, HttpResponse, Namespace};
use crate::downstream::{self, TRACE_HEADER};
#[cfg(feature = "sqs")]
use crate::sqs::Carrier;
use crate::subsegment::Subsegment;

use super::{classify, resources};

/// Records every operation of the client it is added to as an X-Ray subsegment and propagates the trace; see the
/// [module docs](super).
#[derive(Debug, Clone)]
pub struct XRayInterceptor {
    id: u64,
}

impl XRayInterceptor {
    /// The interceptor; add it with the client config builder's `.interceptor(...)`.
    pub fn new() -> Self {
        Self { id: next_id() }
    }

    /// An interceptor that puts the trace header on outgoing SQS and SNS messages by `carrier`, for one call
    /// (`.customize().interceptor(XRayInterceptor::publishing(Carrier::Body))`) or for every call of a client.
    ///
    /// It records the calls it sees as [`XRayInterceptor::new`] does. When the client has an interceptor of its own
    /// as well, the call is recorded once, by this one, and its carrier wins; of two publishing interceptors on one
    /// call, the per-call one wins over the client's.
    #[cfg(feature = "sqs")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqs")))]
    pub fn publishing(carrier: Carrier) -> PublishingInterceptor {
        PublishingInterceptor { id: next_id(), carrier }
    }
}

impl Default for XRayInterceptor {
    fn default() -> Self {
        Self::new()
    }
}

/// An [`XRayInterceptor`] that also chooses how outgoing messages carry the trace; made by
/// [`XRayInterceptor::publishing`].
#[cfg(feature = "sqs")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqs")))]
#[derive(Debug, Clone)]
pub struct PublishingInterceptor {
    id: u64,
    carrier: Carrier,
}

#[cfg(feature = "sqs")]
impl PublishingInterceptor {
    /// The carrier it puts on messages.
    pub fn carrier(&self) -> Carrier {
        self.carrier
    }
}

/// Each interceptor instance (clones share it) has an id, so that of two instances on one call (the client's and a
/// per-call one) only the one that owns the call acts on it.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Who handles an operation and, once it records, the recording; kept in the head layer of the operation's
/// `ConfigBag` (`interceptor_state`), so each hook finds it, or finds there is none, with one lookup.
///
/// A publishing interceptor puts its claim there in `read_before_execution`, the one hook that runs before any
/// other interceptor acts on the call: client interceptors see it first, per-call ones after, so the last claim, the
/// per-call one, wins. Without a claim, the first instance to begin a recording owns the call.
#[derive(Debug)]
struct Call {
    owner: u64,
    #[cfg(feature = "sqs")]
    carrier: Carrier,
    recording: Option<InFlight>,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

/// The state of one recorded operation, from the first hook to the last.
#[derive(Debug)]
struct InFlight {
    /// Taken and ended when the operation completes.
    subsegment: Mutex<Option<Subsegment>>,
    header: Option<String>,
    service: String,
    /// The resource fields came from the typed input: the serialized request is not read for them.
    resources_recorded: bool,
}

/// The operation's call record, from the head layer only: a miss does not walk the bag's other layers.
fn call(cfg: &mut ConfigBag) -> Option<&Call> {
    cfg.interceptor_state().load::<Call>()
}

/// The recording of the operation, if it is recorded and `id` owns it. An unrecorded call (the thread's context is
/// not recording) does not look at all.
fn recorded(id: u64, cfg: &mut ConfigBag) -> Option<&InFlight> {
    if state() != State::Recording {
        return None;
    }
    call(cfg).filter(|call| call.owner == id).and_then(|call| call.recording.as_ref())
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

/// The hooks both interceptor types run, for the instance `id`.
struct Hooks {
    id: u64,
}

impl Hooks {
    // Not `read_before_execution`: client interceptors see that hook before the operation's configuration (its
    // `Metadata`) is in the bag. This is the next hook, still once per operation and before any attempt, and the
    // last one that can change the input, which the carriers write to.
    fn before_serialization(&self, context: &mut BeforeSerializationInterceptorContextMut<'_>, cfg: &mut ConfigBag) {
        let claimed = call(cfg);
        // Another instance owns the call, or this one (added twice) has begun it already.
        if claimed.is_some_and(|call| call.owner != self.id || call.recording.is_some()) {
            return;
        }
        #[cfg(feature = "sqs")]
        let carrier = claimed.map_or_else(Carrier::default, |call| call.carrier);
        // Read before the carrier changes the input; it changes no resource field.
        let recording = begin(cfg, || resources::from_input(context.input()));
        // A call that records nothing still carries the decision (`Sampled=0`) on its messages.
        #[cfg(feature = "sqs")]
        crate::sqs::outgoing(context.input_mut(), carrier, || match &recording {
            Some(call) => call.header.as_deref().map(Cow::Borrowed),
            None => downstream::header(None).map(Cow::Owned),
        });
        if let Some(recording) = recording {
            cfg.interceptor_state().store_put(Call {
                owner: self.id,
                #[cfg(feature = "sqs")]
                carrier,
                recording: Some(recording),
            });
        }
    }

    fn after_serialization(&self, context: &BeforeTransmitInterceptorContextRef<'_>, cfg: &mut ConfigBag) {
        let Some(call) = recorded(self.id, cfg).filter(|call| !call.resources_recorded) else { return };
        let guard = call.subsegment.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(subsegment) = guard.as_ref() {
            let found = resources::from_request(&call.service, context.request());
            if !found.is_empty() {
                subsegment.recorder().update_aws(|aws| aws.resources.extend(found));
            }
        }
    }

    fn before_transmit(&self, context: &mut BeforeTransmitInterceptorContextMut<'_>, cfg: &mut ConfigBag) {
        let header = match call(cfg) {
            // Another instance owns the call and sends its header; this one must not replace it.
            Some(call) if call.owner != self.id => return,
            Some(Call { recording: Some(call), .. }) => call.header.clone(),
            _ => downstream::header(None),
        };
        let Some(header) = header else { return };
        // `try_insert` replaces every earlier value, including the SDK's own recursion-detection header, which names
        // the function segment as Parent rather than this call.
        if let Err(err) = context.request_mut().headers_mut().try_insert(TRACE_HEADER, header) {
            diag!(MalformedHeader, "trace header not sent: {err}");
        }
    }

    fn after_execution(&self, context: &FinalizerInterceptorContextRef<'_>, cfg: &mut ConfigBag) {
        if recorded(self.id, cfg).is_none() {
            return;
        }
        // Found in the head layer just above, so this lookup stops there.
        let Some(call) = cfg.load::<Call>().and_then(|call| call.recording.as_ref()) else { return };
        let Some(subsegment) = call.subsegment.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return;
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
    }
}

/// Opens the operation's subsegment, with the resource fields `typed_resources` finds in the input, if it knows the
/// input; `None` when the call is not recorded.
fn begin(cfg: &ConfigBag, typed_resources: impl FnOnce() -> Option<Map<String, Value>>) -> Option<InFlight> {
    if state() == State::NotRecording {
        // Nothing to keep: `modify_before_transmit` still propagates the decision.
        return None;
    }
    let metadata = cfg.load::<Metadata>();
    let service = metadata.map_or("AWS", Metadata::service);
    let subsegment = downstream::begin(|| Cow::Owned(service.to_owned()), Namespace::Aws);
    if !subsegment.is_recording() {
        return None;
    }
    let typed_resources = typed_resources();
    let resources_recorded = typed_resources.is_some();
    subsegment.recorder().set_aws(Aws {
        operation: metadata.map(|m| m.name().to_owned()),
        region: cfg.load::<Region>().map(|r| r.as_ref().to_owned()),
        resources: typed_resources.unwrap_or_default(),
        ..Aws::default()
    });
    Some(InFlight {
        header: downstream::header(Some(&subsegment)),
        service: service.to_owned(),
        subsegment: Mutex::new(Some(subsegment)),
        resources_recorded,
    })
}

// The hint tells the orchestrator which hooks this implements, so it skips the others without looking up, for each
// of them, whether the interceptor is disabled: that lookup cost more than the hooks themselves. That is also why
// the publishing interceptor is a type of its own: only it needs `read_before_execution`.
#[dyn_dispatch_hint]
impl Intercept for XRayInterceptor {
    fn name(&self) -> &'static str {
        "XRayInterceptor"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.before_serialization(context, cfg);
        Ok(())
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.after_serialization(context, cfg);
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.before_transmit(context, cfg);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.after_execution(context, cfg);
        Ok(())
    }
}

#[cfg(feature = "sqs")]
#[dyn_dispatch_hint]
impl Intercept for PublishingInterceptor {
    fn name(&self) -> &'static str {
        "XRayPublishingInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Call { owner: self.id, carrier: self.carrier, recording: None });
        Ok(())
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.before_serialization(context, cfg);
        Ok(())
    }

    fn read_after_serialization(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.after_serialization(context, cfg);
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.before_transmit(context, cfg);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Hooks { id: self.id }.after_execution(context, cfg);
        Ok(())
    }
}
