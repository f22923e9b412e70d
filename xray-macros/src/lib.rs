//! Attribute macros that trace existing functions with AWS X-Ray in one line: [`macro@traced`] for any function
//! and [`macro@traced_handler`] for a `lambda_runtime` handler. Use them through `xray-core`, which re-exports
//! them (`xray_core::traced`); the generated code calls `xray_core` and nothing else.
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
//! (or whose last two are not a payload and a `Context`). The error points at the offending tokens, and the function
//! is still emitted unchanged, so the rest of the crate keeps type-checking.
//!
//! # Turning tracing off at build time
//!
//! With `xray-core`'s cargo feature `off` (which turns on this crate's `off`), both attributes emit the annotated
//! function unchanged: no tracing code is compiled in. Arguments and functions are checked exactly as without `off`,
//! so code that compiles with `off` compiles without it (`tests/ui_off.rs` runs the UI cases with `off`).
//!
//! # Tests of this crate
//!
//! Compile-time behaviour is covered by trybuild cases in `tests/ui/pass` and `tests/ui/fail`, one per file, each
//! failing case with its expected compiler output in a `.stderr` file beside it. After a deliberate change to a
//! message, regenerate those files with `TRYBUILD=overwrite cargo test -p xray-macros --test ui` and review the
//! diff like documentation. The same cases run with `off` through
//! `cargo test -p xray-macros --features off --test ui_off`.
#![warn(missing_docs, unreachable_pub)]

mod args;
mod expand;
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
///     (&&&&Outcome(&__xray_ret)).__xray_record(&__xray_span);   // an Err marks fault + cause
///     __xray_ret
///     // `__xray_span` drops here, which ends the subsegment (in Lambda it is sent at once).
/// }
/// ```
///
/// An `async fn` keeps its signature; its body becomes an inner future polled with the subsegment current, and
/// the outcome is recorded when it completes:
///
/// ```text
/// async fn load(id: u64) -> Result<String, Error> {
///     let __xray_span = ::xray_core::__private::Span::open("load", None);
///     /* annotations as above */
///     Span::instrument(__xray_span, async move { /* return edge */ body's statements }, |__xray_ret, __xray_span| {
///         (&&&&Outcome(__xray_ret)).__xray_record(__xray_span);
///     })
///     .await
/// }
/// ```
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
/// Accepts `async fn handler(event: LambdaEvent<T>) -> Result<R, E>`, and the two-argument form
/// `async fn handler(payload: T, context: Context) -> Result<R, E>` (for `service_fn(|e| handler(e.payload,
/// e.context))`). Parameters before those are passed through: shared state, as in
/// `async fn handler(deps: &Deps, event: LambdaEvent<T>)` called by `service_fn(|e| handler(&deps, e))`, or `&self`.
///
/// - The trace header comes from the invocation's Context (`xray_trace_id`); only when it has none is
///   `_X_AMZN_TRACE_ID` read, because lambda_runtime does not set that variable per invocation when it runs
///   invocations concurrently. Concurrent invocations never mix: each runs in its own context.
/// - `## <fn name>` is annotated `ColdStart` (true for the first invocation in the process only) and `Service`
///   (`POWERTOOLS_SERVICE_NAME`, else the Lambda function's name, else the handler's name), and sent
///   `in_progress` at once, so an invocation that times out still leaves evidence; it is sent again, complete,
///   when the handler returns.
/// - An `Err` is recorded as with `#[traced]`'s `err`.
/// - Every document of the invocation is sent before the result returns to the runtime; subsegments still open
///   then (spawned work) are sent `in_progress`.
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
///     (&&&&Outcome(&__xray_ret)).__xray_record(&__xray_invocation);   // an Err marks fault + cause
///     (&&Response(&__xray_ret)).__xray_capture(&__xray_invocation, "handler", "## handler");
///     __xray_invocation.end();                     // handler subsegment sent, then anything still open
///     __xray_ret
/// }
/// ```
#[proc_macro_attribute]
pub fn traced_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::entry(Attr::TracedHandler, args.into(), item.into(), cfg!(feature = "off")).into()
}
