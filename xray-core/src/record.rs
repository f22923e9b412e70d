//! The recording API for user code: annotations, metadata, errors and the `http` / `aws` / `sql` blocks, on the
//! current subsegment or on the invocation's handler subsegment.
//!
//! These are the equivalents of the official SDKs' `put_annotation`, `put_metadata` and `add_exception`. With no
//! sampled trace they do nothing and cost next to nothing; with no trace context at all they follow
//! `AWS_XRAY_CONTEXT_MISSING`.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

use crate::config::{self, ContextMissing};
use crate::context::{self, State, state, with_current};
use crate::diag::diag;
use crate::document::{AnnotationValue, Aws, Cause, Entity, Exception, Http, Link, Namespace, Refusal, Sql};
use crate::ids::SegmentId;
use crate::rules::{MAX_HTTP_FIELD_CHARS, truncate_chars};
use crate::subsegment::Subsegment;
use crate::trace::{Handle, Trace};

/// Returned by [`try_current`] when there is no trace context and `AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingContext;

impl fmt::Display for MissingContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no X-Ray trace context is active")
    }
}

impl std::error::Error for MissingContext {}

/// Which entity a [`Recorder`] writes to.
#[derive(Clone)]
enum Target {
    /// The subsegment current when each call runs.
    Current,
    /// The handler subsegment of the context current when each call runs.
    Handler,
    /// One subsegment.
    Fixed(Trace, Handle),
    /// Nothing.
    None,
}

/// Records on a subsegment (or segment); does nothing if that entity records nothing.
///
/// The recorders of [`current`] and [`handler`] find their subsegment anew at each call, from the context the call
/// runs in; the recorder of a [`crate::Subsegment`] always writes to that subsegment.
#[derive(Clone)]
pub struct Recorder {
    target: Target,
}

impl fmt::Debug for Recorder {
    // Names the target without resolving it: resolving could report a missing context from inside `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let target = match &self.target {
            Target::Current => "current",
            Target::Handler => "handler",
            Target::Fixed(..) => "subsegment",
            Target::None => "none",
        };
        f.debug_struct("Recorder").field("target", &target).finish()
    }
}

/// Records on the open subsegment (outside Lambda, on the segment when none is open).
pub fn current() -> Recorder {
    Recorder { target: Target::Current }
}

/// Records on the invocation's handler subsegment (`## handler`), wherever the calling code is nested.
pub fn handler() -> Recorder {
    Recorder { target: Target::Handler }
}

/// Like [`current`], but says when there is no trace context if `AWS_XRAY_CONTEXT_MISSING=RUNTIME_ERROR`.
pub fn try_current() -> Result<Recorder, MissingContext> {
    if state() == State::NoContext {
        context::report_missing("try_current");
        if config::get().context_missing == ContextMissing::RuntimeError {
            return Err(MissingContext);
        }
        return Ok(Recorder { target: Target::None });
    }
    Ok(current())
}

impl Recorder {
    pub(crate) fn new(target: Option<(Trace, Handle)>) -> Self {
        Self { target: target.map_or(Target::None, |(trace, handle)| Target::Fixed(trace, handle)) }
    }

    /// Runs `f` on the target entity, if it records; `what` names the call in diagnostics.
    fn with<R>(&self, what: &str, f: impl FnOnce(&mut Entity) -> R) -> Option<R> {
        let handler = match &self.target {
            Target::None => return None,
            Target::Fixed(trace, handle) => {
                let result = trace.with_entity(*handle, f);
                if result.is_none() {
                    diag!(Closed, "`{what}` on a subsegment that has already been sent; ignored");
                }
                return result;
            }
            Target::Current => false,
            Target::Handler => true,
        };
        match state() {
            State::NotRecording => None,
            State::NoContext => {
                context::report_missing(what);
                None
            }
            State::Recording => with_current(|ctx| {
                let ctx = ctx?;
                let Some(handle) = ctx.target(handler) else {
                    diag!(
                        ContextMissing,
                        "`{what}`: no subsegment is open, and the Lambda function's segment cannot be changed"
                    );
                    return None;
                };
                ctx.trace().with_entity(handle, f)
            }),
        }
    }

    fn apply(&self, what: &str, f: impl FnOnce(&mut Entity)) {
        self.with(what, f);
    }

    /// The id of the entity recorded on, `None` if nothing is recorded.
    pub fn id(&self) -> Option<SegmentId> {
        self.with("id", |e| e.id)
    }

    /// Whether calls on this recorder record anything now.
    pub fn is_recording(&self) -> bool {
        match &self.target {
            Target::None => false,
            Target::Fixed(trace, handle) => trace.with_entity(*handle, |_| ()).is_some(),
            Target::Current | Target::Handler => {
                state() == State::Recording && with_current(|c| c.is_some_and(|c| c.target(false).is_some()))
            }
        }
    }

    /// Whether calls would do nothing, told without locking anything.
    fn inactive(&self) -> bool {
        match self.target {
            Target::None => true,
            Target::Fixed(..) => false,
            Target::Current | Target::Handler => state() == State::NotRecording,
        }
    }

    /// Adds an indexed annotation (keys: 1-500 ASCII letters, digits or `_`; invalid ones are refused with a
    /// diagnostic).
    pub fn put_annotation(&self, key: impl Into<Cow<'static, str>>, value: impl Into<AnnotationValue>) {
        if !self.inactive() {
            let (key, value) = (key.into(), value.into());
            if let Some(Err(refusal)) = self.with("put_annotation", |e| e.put_annotation(key, value)) {
                report(&refusal);
            }
        }
    }

    /// Adds metadata in the `default` namespace.
    pub fn put_metadata(&self, key: impl Into<Cow<'static, str>>, value: impl Serialize) {
        self.put_metadata_in("default", key, value);
    }

    /// Adds metadata in `namespace` (not starting with the reserved `AWS.`).
    pub fn put_metadata_in(
        &self,
        namespace: impl Into<Cow<'static, str>>,
        key: impl Into<Cow<'static, str>>,
        value: impl Serialize,
    ) {
        if self.inactive() {
            return;
        }
        let key = key.into();
        match serde_json::to_value(value) {
            Ok(value) => {
                let namespace = namespace.into();
                if let Some(Err(refusal)) = self.with("put_metadata", |e| e.put_metadata(namespace, key, value)) {
                    report(&refusal);
                }
            }
            Err(err) => diag!(InvalidMetadata, "metadata `{key}` refused: it does not serialize to JSON: {err}"),
        }
    }

    /// Marks a client error (4xx-like).
    pub fn mark_error(&self) {
        self.apply("mark_error", |e| e.status.error = true);
    }

    /// Marks a fault (5xx-like, or a failure of the code itself).
    pub fn mark_fault(&self) {
        self.apply("mark_fault", |e| e.status.fault = true);
    }

    /// Marks throttling (429-like); throttling is also an error.
    pub fn mark_throttle(&self) {
        self.apply("mark_throttle", |e| {
            e.status.throttle = true;
            e.status.error = true;
        });
    }

    /// Records `error` (with its `source()` chain) as the cause and marks a fault, like the SDKs' `add_exception`.
    pub fn record_error<E: std::error::Error>(&self, error: &E) {
        self.record_error_named(std::any::type_name::<E>(), error);
    }

    /// Like [`Recorder::record_error`], with the type name given (for errors behind `dyn Error`).
    pub fn record_error_named(&self, type_name: &str, error: &(dyn std::error::Error + '_)) {
        if self.inactive() {
            return;
        }
        let cause = Cause::from_error(type_name, error);
        self.apply("record_error", |e| {
            e.status.fault = true;
            merge_cause(e, cause);
        });
    }

    /// Adds an exception to the cause without changing the error flags.
    pub fn add_exception(&self, exception: Exception) {
        self.apply("add_exception", |e| match &mut e.extra().cause {
            Some(cause) => cause.push(exception),
            empty => {
                *empty = Some(Cause::Detail { working_directory: None, paths: Vec::new(), exceptions: vec![exception] })
            }
        });
    }

    /// Sets the `http` block (fields longer than 250 characters are cut).
    pub fn set_http(&self, http: Http) {
        self.apply("set_http", |e| e.set_http(http));
    }

    /// Changes the `http` block in place.
    pub fn update_http(&self, f: impl FnOnce(&mut Http)) {
        self.apply("update_http", |e| {
            let mut http = e.extra().http.take().unwrap_or_default();
            f(&mut http);
            e.set_http(http);
        });
    }

    /// Sets the `aws` block.
    pub fn set_aws(&self, aws: Aws) {
        self.apply("set_aws", |e| e.extra().aws = Some(aws));
    }

    /// Changes the `aws` block in place.
    pub fn update_aws(&self, f: impl FnOnce(&mut Aws)) {
        self.apply("update_aws", |e| f(e.extra().aws.get_or_insert_with(Aws::default)));
    }

    /// Links the entity to one of another trace (a message's producer in link mode); carried by the writers that
    /// can carry links (OTLP), not by segment documents.
    pub(crate) fn add_link(&self, link: Link) {
        self.apply("add_link", |e| e.extra().links.push(link));
    }

    /// Sets the `sql` block.
    pub fn set_sql(&self, sql: Sql) {
        self.apply("set_sql", |e| e.extra().sql = Some(sql));
    }

    /// Sets the namespace: `aws` for AWS calls, `remote` for other downstream calls.
    pub fn set_namespace(&self, namespace: Namespace) {
        self.apply("set_namespace", |e| e.namespace = Some(namespace));
    }

    /// Renames the entity (`otel.name` recorded after a span opened); `name` has been made valid.
    #[cfg(feature = "tracing")]
    pub(crate) fn rename(&self, name: Cow<'static, str>) {
        self.apply("rename", |e| e.name = name);
    }

    /// Sets the segment's `origin`, e.g. `AWS::EC2::Instance` (segments only).
    pub fn set_origin(&self, origin: impl Into<String>) {
        let origin = origin.into();
        self.apply("set_origin", |e| e.extra().origin = Some(origin));
    }

    /// Sets the segment's `user` (segments only; at most 250 characters are kept).
    pub fn set_user(&self, user: impl Into<String>) {
        let mut user = user.into();
        truncate_chars(&mut user, MAX_HTTP_FIELD_CHARS);
        self.apply("set_user", |e| e.extra().user = Some(user));
    }

    /// Sets the segment's `service.version` (segments only).
    pub fn set_service_version(&self, version: impl Into<String>) {
        let version = version.into();
        self.apply("set_service_version", |e| e.extra().service_version = Some(version));
    }
}

/// Reports input the model refused.
fn report(refusal: &Refusal) {
    match refusal {
        Refusal::MetadataNamespace(_) => diag!(InvalidMetadata, "{refusal}"),
        _ => diag!(InvalidAnnotation, "{refusal}"),
    }
}

impl Trace {
    /// Records on the segment this trace owns (outside Lambda); `None` when it records nothing.
    pub(crate) fn root_recorder(&self) -> Option<Recorder> {
        let root = self.root_handle().filter(|_| self.is_recording())?;
        Some(Recorder::new(Some((self.clone(), root))))
    }
}

impl Subsegment {
    /// Records on this subsegment.
    pub fn recorder(&self) -> Recorder {
        Recorder::new(self.inner.clone())
    }
}

fn merge_cause(entity: &mut Entity, cause: Cause) {
    match (&mut entity.extra().cause, cause) {
        (Some(existing), Cause::Detail { exceptions, .. }) => exceptions.into_iter().for_each(|x| existing.push(x)),
        (slot, cause) => *slot = Some(cause),
    }
}

/// Adds an annotation to the current subsegment; see [`Recorder::put_annotation`].
pub fn put_annotation(key: impl Into<Cow<'static, str>>, value: impl Into<AnnotationValue>) {
    current().put_annotation(key, value);
}

/// Adds metadata in the `default` namespace to the current subsegment.
pub fn put_metadata(key: impl Into<Cow<'static, str>>, value: impl Serialize) {
    current().put_metadata(key, value);
}

/// Adds metadata in `namespace` to the current subsegment.
pub fn put_metadata_in(
    namespace: impl Into<Cow<'static, str>>,
    key: impl Into<Cow<'static, str>>,
    value: impl Serialize,
) {
    current().put_metadata_in(namespace, key, value);
}

/// Records `error` as the current subsegment's cause and marks a fault.
pub fn record_error<E: std::error::Error>(error: &E) {
    current().record_error(error);
}
