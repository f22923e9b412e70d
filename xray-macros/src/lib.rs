//! Attribute macros that trace existing functions with AWS X-Ray in one line: [`macro@traced`] for any function,
//! [`macro@traced_handler`] for a `lambda_runtime` handler, and, for the two ends of a queue (`xray-core`'s `sqs`
//! feature), [`macro@traced_publish`] for a function that sends SQS or SNS messages and [`macro@traced_subscribe`]
//! for one that processes a received SQS message in the trace that sent it. Use them through `xray-core`, which
//! re-exports them (`xray_core::traced`); the generated code calls `xray_core` and nothing else.
//!
//! ```
//! use lambda_runtime::{Context, Error, LambdaEvent};
//! use serde_json::{Value, json};
//! use xray_core::{testing::MemorySink, traced, traced_handler};
//!
//! #[traced_handler]
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     let total = price(event.payload["qty"].as_u64().unwrap_or(0)).await?;
//!     Ok(json!({ "total": total }))
//! }
//!
//! #[traced(annotate(qty = qty))]
//! async fn price(qty: u64) -> Result<u64, std::num::TryFromIntError> {
//!     Ok(u32::try_from(qty * 250)?.into())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A test: the Context carries the invocation's trace header, as Lambda's does.
//! let mut context = Context::default();
//! context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
//! let sink = MemorySink::new();
//! let out = sink.scope(handler(LambdaEvent::new(json!({ "qty": 4 }), context))).await.unwrap();
//! assert_eq!(out, json!({ "total": 1000 }));
//!
//! let docs = sink.documents();
//! let names: Vec<&str> = docs.iter().map(|d| d["name"].as_str().unwrap()).collect();
//! // `## handler` is sent in progress at once, then `price` when it ends, then `## handler` completed.
//! assert_eq!(names, ["## handler", "price", "## handler"]);
//! assert_eq!(docs[1]["parent_id"], docs[2]["id"]);
//! assert_eq!(docs[1]["annotations"]["qty"], 4);
//! assert_eq!(docs[2]["annotations"]["ColdStart"], true);
//! # }
//! ```
//!
//! # Misuse is a compile error
//!
//! Every argument is checked at compile time: unknown or duplicate options, a `skip` naming no parameter, an
//! annotation key X-Ray would refuse, a handler that is not `async` or whose last parameter is not a `LambdaEvent`
//! or a `lambda_http` `Request` (or whose last two are not a payload and a `Context`), an unknown `carrier` or `mode`, a subscriber without
//! exactly one message parameter or taking it by `&mut`. The error points at the offending tokens, and the function
//! is still emitted unchanged, so the rest of the crate keeps type-checking. What only types can tell (a parameter
//! named as the message that is not one, a rewritten `.send()` that is not an AWS SDK call) is one compile error at
//! the user's tokens.
//!
//! # Turning tracing off at build time
//!
//! With `xray-core`'s cargo feature `off` (which turns on this crate's `off`), every attribute emits the annotated
//! function unchanged: no tracing code is compiled in. Arguments and functions are checked exactly as without `off`,
//! so code that compiles with `off` compiles without it (`tests/ui_off.rs` runs the UI cases with `off`).
//!
//! # Tests of this crate
//!
//! Compile-time behaviour is covered by trybuild cases in `tests/ui/pass` and `tests/ui/fail`, one per file, each
//! failing case with its expected compiler output in a `.stderr` file beside it. After a deliberate change to a
//! message, regenerate those files with `TRYBUILD=overwrite cargo test -p xray-rs-macros --test ui` and review the
//! diff like documentation. The same cases run with `off` through
//! `cargo test -p xray-rs-macros --features off --test ui_off`.
#![warn(missing_docs, unreachable_pub)]

mod args;
mod expand;
mod rewrite;
mod rules;

// The README's examples are compiled with this crate's doctests, so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

use proc_macro::TokenStream;

use crate::expand::Attr;

/// Traces a function (`fn` or `async fn`, free or method, generic or not) as an X-Ray subsegment named after it.
///
/// The subsegment opens when the function starts (for an `async fn`, when its future is first polled), is the
/// current subsegment for everything the function calls, and closes on every exit path: return, `?`, a dropped
/// future, and a panic (which marks it `fault` with the panic's message, then goes on unwinding). The signature,
/// the result, errors, `?` and the `Send`-ness of the future are those of the function as written.
///
/// Without a sampled trace (no trace context, or `Sampled=0`) the function runs untraced, at the cost of one
/// thread-local read.
///
/// # Arguments
///
/// | argument | effect |
/// |---|---|
/// | `name = "..."` | the subsegment's name (default: the function's name); 1 to 200 letters, numbers, spaces or `_.:/%&#=+-@`, checked at compile time |
/// | `namespace = "remote"` | marks a call to a downstream service (`"aws"` for AWS calls) |
/// | `annotate(key = expr, ...)` | indexed annotations; keys must be 1-500 ASCII letters, digits or `_`; values strings, numbers or booleans |
/// | `metadata(key = expr, ...)` | metadata in the `default` namespace; values implement `serde::Serialize` |
/// | `capture_args` | the arguments, as their `Debug` text, in metadata `args` |
/// | `skip(arg, ...)` / `skip_all` | arguments left out of `capture_args` |
/// | `capture_ret` | the return value, as its `Debug` text, in metadata `return` |
/// | `err = false` | do not record errors (on by default: an `Err` marks `fault`, with the error's type name and text as `cause`, and its `source()` chain when it implements `std::error::Error`) |
/// | `crate = path` | where `xray_core` is, if renamed or re-exported (default `::xray_core`) |
///
/// `annotate` and `metadata` expressions may use the arguments; they are evaluated before the body, only when the
/// call is recorded, and borrow rather than move what they name. A borrowed string (`annotate(id = id.as_str())`)
/// is copied. A value of the wrong type is reported at its expression.
///
/// # Example
///
/// ```
/// use xray_core::{Trace, testing::MemorySink, traced};
///
/// #[traced(name = "load order", annotate(order_id = id), err)]
/// fn load(id: u64) -> Result<String, std::io::Error> {
///     if id == 0 {
///         return Err(std::io::Error::other("no such order"));
///     }
///     Ok(format!("order {id}"))
/// }
///
/// let sink = MemorySink::new();
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// sink.run(|| {
///     let _in_trace = Trace::lambda(Some(header)).context().enter();
///     assert_eq!(load(7).unwrap(), "order 7");
///     assert!(load(0).is_err());
/// });
/// let docs = sink.documents();
/// assert_eq!(docs[0]["name"], "load order");
/// assert_eq!(docs[0]["annotations"]["order_id"], 7);
/// assert_eq!(docs[1]["fault"], true);
/// assert_eq!(docs[1]["cause"]["exceptions"][0]["message"], "no such order");
/// ```
///
/// # Expands to
///
/// For `#[traced(annotate(order_id = id))] fn load(id: u64) -> Result<String, Error> { body }`, roughly:
///
/// ```text
/// fn load(id: u64) -> Result<String, Error> {
///     // Opens the subsegment and makes it current, if the trace is sampled (one thread-local read if not).
///     let __xray_span = ::xray_core::__private::SyncSpan::open("load", None);
///     if let Some(__xray_rec) = Recording::recorder(&__xray_span) {
///         __xray_rec.put_annotation("order_id", ::xray_core::__private::annotation(&(id)));
///     }
///     // Runs the body; when sampled, a panic is recorded with its message, then resumed.
///     let __xray_ret = __xray_span.run(move || {
///         if false { let __xray_fake_return: Result<String, Error> = loop {}; return __xray_fake_return; }
///         body's statements
///     });
///     (&&&&Outcome(&__xray_ret, false)).__xray_record(&__xray_span);   // an Err marks fault + cause
///     __xray_ret
///     // `__xray_span` drops here, which ends the subsegment (in Lambda written later, with the others).
/// }
/// ```
///
/// An `async fn` keeps its signature; its body becomes an inner future polled with the subsegment current, and
/// the outcome is recorded when it completes:
///
/// ```text
/// async fn load(id: u64) -> Result<String, Error> {
///     // `open_recorded`, as annotations follow: the subsegment goes straight into the trace (see below).
///     let __xray_span = ::xray_core::__private::Span::open_recorded("load", None);
///     /* annotations as above */
///     Span::instrument(__xray_span, async move { /* return edge */ body's statements }, |__xray_ret, __xray_span| {
///         (&&&&Outcome(__xray_ret, false)).__xray_record(__xray_span);
///     })
///     .await
/// }
/// ```
///
/// In Lambda a call's subsegment is kept by the call, out of the trace's shared store, until something needs it there
/// (recording on it, a child call, a copy of the context, an `async fn` waiting): a call that records nothing but its
/// times costs no lock and no allocation, and its document is written straight from the call when it ends. An
/// `async fn` with `annotate`, `metadata` or `capture_args` opens with `Span::open_recorded`, which puts it there at
/// once.
///
/// The never-taken `__xray_fake_return` edge gives the compiler the declared return type before it reads the body,
/// so a type error in the body points at the user's line, not at the attribute. The body's statements are placed in
/// the generated block rather than nested as a block, which keeps a one-line body free of `unused_braces`.
#[proc_macro_attribute]
pub fn traced(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Attr::Traced, args.into(), item.into(), cfg!(feature = "off")).into()
}

/// Traces a `lambda_runtime` handler: one invocation, its trace context, and the handler subsegment `## <fn name>`.
///
/// Accepts `async fn handler(event: LambdaEvent<T>) -> Result<R, E>`, the two-argument form
/// `async fn handler(payload: T, context: Context) -> Result<R, E>` (for `service_fn(|e| handler(e.payload,
/// e.context))`), and, with `xray-core`'s `lambda-http` feature, a `lambda_http` handler
/// `async fn handler(request: Request) -> Result<impl IntoResponse, E>` run by `lambda_http::run(service_fn(handler))`
/// (the last parameter's type is named `Request`). Parameters before those are passed through: shared state, as in
/// `async fn handler(deps: &Deps, event: LambdaEvent<T>)` called by `service_fn(|e| handler(&deps, e))`, or `&self`.
/// `T` is any payload, typed events included: `LambdaEvent<SqsEventObj<Order>>`, whose records
/// (`SqsMessageObj<Order>`) `#[traced_subscribe]` processes.
///
/// - The trace header comes from the invocation's Context (`xray_trace_id`; for a `lambda_http` handler, the
///   Context lambda_http puts in the request's extensions); only when it has none is `_X_AMZN_TRACE_ID` read,
///   because lambda_runtime does not set that variable per invocation when it runs invocations concurrently.
///   Concurrent invocations never mix: each runs in its own context.
/// - `## <fn name>` is annotated `ColdStart` (true for the first invocation in the process only) and `Service`
///   (`POWERTOOLS_SERVICE_NAME`, else the Lambda function's name, else the handler's name), and sent
///   `in_progress` at once, so an invocation that times out still leaves evidence; it is sent again, complete,
///   when the handler returns.
/// - An `Err` is recorded as with `#[traced]`'s `err`.
/// - Every document of the invocation is sent before the result returns to the runtime; subsegments still open
///   then (spawned work) are sent `in_progress`, except a synchronous `#[traced]` call still running on another
///   thread, which is sent when it ends (see `#[traced]`).
///
/// # Arguments
///
/// | argument | effect |
/// |---|---|
/// | `name = "..."` | the handler subsegment's name (default `## <fn name>`), checked like `#[traced]`'s |
/// | `capture_response` | stores the `Ok` response (`Serialize`) as metadata `<service>.<name> response`; also on for every handler when `POWERTOOLS_TRACER_CAPTURE_RESPONSE=true` |
/// | `err = false` | do not record errors |
/// | `crate = path` | where `xray_core` is, if renamed (default `::xray_core`) |
///
/// # Example
///
/// ```
/// use lambda_runtime::{Context, Error, LambdaEvent};
/// use serde_json::{Value, json};
/// use xray_core::{testing::MemorySink, traced_handler};
///
/// #[traced_handler(capture_response)]
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     xray_core::handler().put_annotation("tenant", "acme");
///     Ok(json!({ "echo": event.payload }))
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut context = Context::default();
/// context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
/// let sink = MemorySink::new();
/// sink.scope(handler(LambdaEvent::new(json!(1), context))).await.unwrap();
/// let done = &sink.documents()[1];
/// assert_eq!(done["name"], "## handler");
/// assert_eq!(done["parent_id"], "53995c3f42cd8ad8");
/// assert_eq!(done["annotations"]["tenant"], "acme");
/// assert_eq!(done["metadata"]["handler"]["## handler response"], json!({ "echo": 1 }));
/// # }
/// ```
///
/// # Expands to
///
/// ```text
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     let __xray_invocation = ::xray_core::__private::Invocation::begin(
///         Option::as_deref(&event.context.xray_trace_id), "## handler", "handler", true);
///     let __xray_ret = __xray_invocation.instrument(async move {
///         if false { let __xray_fake_return: Result<Value, Error> = loop {}; return __xray_fake_return; }
///         body's statements
///     }).await;                                    // handler context current at each poll, panics recorded
///     (&&&&Outcome(&__xray_ret, false)).__xray_record(&__xray_invocation);   // an Err marks fault + cause
///     (&&Response(&__xray_ret)).__xray_capture(&__xray_invocation, "handler", "## handler");
///     __xray_invocation.end();                     // handler subsegment sent, then anything still open
///     __xray_ret
/// }
/// ```
#[proc_macro_attribute]
pub fn traced_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Attr::TracedHandler, args.into(), item.into(), cfg!(feature = "off")).into()
}

/// Traces a function that publishes to SQS or SNS: a subsegment like [`macro@traced`]'s, and every
/// `send_message`, `send_message_batch` (SQS), `publish` or `publish_batch` (SNS) call written in its body carries the
/// trace on its messages, so a consumer's `#[traced_subscribe]` continues the trace from the send call.
///
/// Each such fluent call's `.send()` is rewritten to go through a per-call interceptor,
/// `.customize().interceptor(XRayInterceptor::publishing(carrier)).send()`: the call is recorded as a subsegment
/// (`SQS` or `SNS`, under the function's) and each message carries the trace header with that subsegment as
/// `Parent`, whether or not the client was built with `XRayInterceptor`. A client that has one records the call
/// once, not twice, and this attribute's carrier wins. A header the caller put on a message is left alone; an
/// unsampled trace sends `Sampled=0`; a carrier that cannot be applied (an 11th message attribute) is skipped with a
/// diagnostic and the send goes ahead.
///
/// What is rewritten: a method chain written in this function's body, closures and async blocks included
/// (`join_all(ids.iter().map(|id| sqs.send_message()...send()))`), and the arguments of macros that take
/// comma-separated expressions (`tokio::join!`). Not rewritten: nested `fn` items, macro bodies of other shapes
/// (`select!`), a builder kept in a variable and sent later, and calls made in other functions. Those are covered
/// only by the client's own interceptor (`xray_core::aws_client!`), which carries the trace by the system attribute.
///
/// Needs `xray-core`'s `sqs` feature (and `sns` for SNS calls).
///
/// # Arguments
///
/// Those of [`macro@traced`] (`name`, `namespace`, `annotate`, `metadata`, `capture_args`, `skip`, `skip_all`,
/// `capture_ret`, `err`, `crate`), and:
///
/// | argument | effect |
/// |---|---|
/// | `carrier = "system_attribute"` | the default: the `AWSTraceHeader` message system attribute, which Lambda event source mappings and X-Ray read (SNS has none: its `AWSTraceHeader` message attribute) |
/// | `carrier = "message_attribute"` | a String message attribute `AWSTraceHeader`, for consumers that see only message attributes; one of the 10 a message may have |
/// | `carrier = "body"` | a versioned JSON envelope around the body (`xray_core::sqs::wrap_body`), for transports without attributes; `#[traced_subscribe]` unwraps it |
///
/// # Example
///
/// ```
/// use xray_core::{Trace, testing::MemorySink, traced_publish};
///
/// #[traced_publish(carrier = "body")]
/// async fn publish_order(sqs: &aws_sdk_sqs::Client, order: u64) -> Result<(), aws_sdk_sqs::Error> {
///     let body = format!(r#"{{"order":{order}}}"#);
///     sqs.send_message().queue_url(QUEUE_URL).message_body(body).send().await?;
///     Ok(())
/// }
///
/// const QUEUE_URL: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/orders";
/// # use aws_smithy_runtime_api::client::http::*;
/// # use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
/// # use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
/// # #[derive(Debug, Clone)]
/// # struct Answer;
/// # impl HttpConnector for Answer {
/// #     fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
/// #         let body = aws_smithy_types::body::SdkBody::from(r#"{"MessageId":"m-1"}"#);
/// #         HttpConnectorFuture::ready(Ok(HttpResponse::new(200.try_into().unwrap(), body)))
/// #     }
/// # }
/// # impl HttpClient for Answer {
/// #     fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
/// #         SharedHttpConnector::new(self.clone())
/// #     }
/// # }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A plain client: no X-Ray interceptor of its own.
/// # let config = aws_sdk_sqs::Config::builder()
/// #     .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
/// #     .region(aws_sdk_sqs::config::Region::new("us-east-1"))
/// #     .credentials_provider(aws_credential_types::Credentials::new("a", "b", None, None, "doc"))
/// #     .http_client(Answer)
/// #     .build();
/// let sqs = aws_sdk_sqs::Client::from_conf(config);
/// let sink = MemorySink::new();
/// let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// sink.scope(Trace::lambda(Some(header)).context().scope(publish_order(&sqs, 7))).await.unwrap();
///
/// let docs = sink.documents();
/// assert_eq!((&docs[0]["name"], &docs[0]["aws"]["operation"]), (&"SQS".into(), &"SendMessage".into()));
/// assert_eq!((&docs[1]["name"], &docs[0]["parent_id"]), (&"publish_order".into(), &docs[1]["id"]));
/// // The message went out as {"xray_envelope":1,"trace_header":"Root=...;Parent=<the SQS subsegment>;...",...}
/// # }
/// ```
///
/// # Expands to
///
/// What [`macro@traced`] expands to, with the body's publishing calls rewritten:
///
/// ```text
/// async fn publish_order(sqs: &Client, order: u64) -> Result<(), Error> {
///     let __xray_span = ::xray_core::__private::Span::open("publish_order", None);
///     Span::instrument(__xray_span, async move {
///         /* return edge */
///         let body = format!(..);
///         // `Publish::with_carrier(builder, carrier)` is `builder.customize().interceptor(
///         //     ::xray_core::aws::XRayInterceptor::publishing(carrier))` for the SDK's fluent builders, and a
///         // compile error, at this `.send()`, for anything else.
///         ::xray_core::__private::sqs::Publish::with_carrier(
///             sqs.send_message().queue_url(..).message_body(body),
///             ::xray_core::__private::sqs::Carrier::Body,
///         ).send().await?;
///         Ok(())
///     }, |__xray_ret, __xray_span| { /* an Err marks fault + cause */ }).await
/// }
/// ```
#[proc_macro_attribute]
pub fn traced_publish(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Attr::TracedPublish, args.into(), item.into(), cfg!(feature = "off")).into()
}

/// Traces the processing of one received SQS message, in the trace of the call that sent it (or linked to it).
///
/// The function takes the message, by value or by reference, as an `aws_lambda_events::sqs::SqsMessage` (a record
/// of the event a Lambda event source mapping delivers), a typed record `aws_lambda_events::sqs::SqsMessageObj<T>`
/// (of an `SqsEventObj<T>`; `T: Clone`), or an `aws_sdk_sqs::types::Message` (from `ReceiveMessage`, in a poller);
/// the parameter is found by its type's name (`SqsMessage`, `SqsMessageObj`, `Message`), or named with
/// `message = ...`. A typed record's body was deserialized into `T` before the handler ran, so only the attribute
/// carriers are read from it: its producers use `carrier = "system_attribute"` (the default) or
/// `"message_attribute"`, never `"body"`, whose envelope would not deserialize as `T`.
/// The producer's trace header is read from the `AWSTraceHeader` system attribute, else the `AWSTraceHeader` message
/// attribute, else the body envelope (`#[traced_publish]`'s three carriers), with the message's `SentTimestamp`, id
/// and queue. Then, in `xray_core::queue`'s terms:
///
/// - `mode = "continue"` (the default): the processing is a new segment in the producer's trace (its `Root`), under
///   the send call (its `Parent`), named after the service (`POWERTOOLS_SERVICE_NAME`, else the Lambda function's
///   name, else the function's), annotated `message_id` and `queue`. It starts when the message was sent and holds a
///   `<queue> wait` subsegment up to the start of processing, so the producer's trace reads publish -> wait ->
///   processing -> what it called. Everything the function calls nests under it and carries the producer's `Root`.
///   The producer's `Sampled` decides: `Sampled=0` records nothing and passes the decision on. The segment is sent
///   when the function returns, so in Lambda before the handler does. Pick it to see one trace from publish to
///   store, for pollers (a scheduled Lambda starts a fresh, unrelated trace on every run) as for event source
///   mappings.
/// - `mode = "link"`: a subsegment (named after the function, or `name`) of the consumer's current trace, annotated
///   `linked_trace_id` with the producer's trace id, so each trace can be found from the other (X-Ray offers
///   clients no `links` field to write), and `linked_trace_sampled` with whether the producer sampled it (`true`
///   for `Sampled=1`, `false` for `Sampled=0`, whose trace id leads to no trace; absent when the header carries no
///   decision). The consumer's own sampling decides. Pick it to keep one
///   trace per invocation, as X-Ray's own SQS-to-Lambda linking does, or for producers you do not trust: whoever can
///   send to the queue chooses a continued trace's id and, with `Sampled=0`, that the processing is not recorded.
/// - `mode = "continue_or_link"`: continue only when the continuation is recorded (the header says `Sampled=1` and
///   names a valid `Parent`), link otherwise (`Sampled=0`, `?` or none, conflicting flags, no valid `Parent`), so a
///   producer cannot hide the processing from the consumer's own traces.
///
/// A message without a usable header (none, or one without a valid `Root`, with a diagnostic) is processed in a
/// subsegment of the current trace in every mode; without a current trace, untraced.
///
/// The function sees the message as the producer wrote it: when the body was an envelope put there for this message
/// (see `xray_core::sqs`), the parameter is
/// shadowed by a copy with the original body (by reference: a local copy, made only then, so the function's result
/// cannot borrow from the message). An `Err` marks the processing (only this message's segment or subsegment)
/// `fault` with the error as `cause`; a panic is recorded, then resumed. The function's result is returned
/// unchanged. Messages processed concurrently (`join_all`) each keep their own context; a batch's partial failures
/// go back to Lambda with `xray_core::sqs::batch_response`.
///
/// Needs `xray-core`'s `sqs` feature.
///
/// # Arguments
///
/// | argument | effect |
/// |---|---|
/// | `mode = "continue"` / `"link"` / `"continue_or_link"` | how the processing is traced (above); default `"continue"` |
/// | `name = "..."` | the subsegment's name in link mode, or for a message without a header (default: the function's name), checked like `#[traced]`'s |
/// | `queue = expr` | the queue (a name, URL or ARN; anything `AsRef<str>`) of an sdk `Message`, which does not name it; overrides an `SqsMessage`'s |
/// | `message = param` | the parameter holding the message, when the name of its type does not tell (an alias) or several parameters could be messages |
/// | `err = false` | do not record errors |
/// | `crate = path` | where `xray_core` is, if renamed (default `::xray_core`) |
///
/// # Example
///
/// ```
/// use aws_lambda_events::sqs::SqsMessage;
/// use xray_core::{testing::MemorySink, traced_subscribe};
///
/// #[traced_subscribe]
/// async fn handle_order(message: &SqsMessage) -> Result<u64, std::num::ParseIntError> {
///     message.body.as_deref().unwrap_or_default().parse()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // As an event source mapping delivers it: the send call's trace header in `attributes.AWSTraceHeader`.
/// let mut message = SqsMessage::default();
/// message.body = Some("7".into());
/// message.attributes.insert(
///     "AWSTraceHeader".into(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
/// );
/// let sink = MemorySink::new();
/// assert_eq!(sink.scope(handle_order(&message)).await, Ok(7));
///
/// let segment = &sink.documents()[0];
/// assert_eq!(segment["name"], "handle_order"); // the service's name, when one is configured
/// assert_eq!(segment["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(segment["parent_id"], "53995c3f42cd8ad8");
/// # }
/// ```
///
/// # Expands to
///
/// ```text
/// async fn handle_order(message: &SqsMessage) -> Result<u64, ParseIntError> {
///     // `xray_core::sqs::process(message, queue, mode, service, name)`, then `Subscription::restore_ref`.
///     let (mut __xray_subscription, __xray_message) = ::xray_core::__private::sqs::subscribe_ref(
///         message, None, Mode::Continue, "handle_order", "handle_order");
///     let message = &*__xray_message;              // the original body, if the body was an envelope
///     let __xray_ret = Processing::instrument(__xray_subscription.processing(), async move {
///         if false { let __xray_fake_return: Result<u64, ParseIntError> = loop {}; return __xray_fake_return; }
///         body's statements
///     }).await;                                    // the processing's context current at each poll
///     (&&&&Outcome(&__xray_ret, false)).__xray_record(&__xray_subscription);   // an Err marks fault + cause
///     __xray_subscription.end();                   // the segment (or subsegment) is sent
///     __xray_ret
/// }
/// ```
///
/// By value, `subscribe(message, ..)` returns the message itself, its body replaced only if it was an envelope. A
/// synchronous function runs its body with `Processing::run`, the processing's context entered. By hand, without
/// the attribute: `xray_core::sqs::process`.
#[proc_macro_attribute]
pub fn traced_subscribe(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Attr::TracedSubscribe, args.into(), item.into(), cfg!(feature = "off")).into()
}
