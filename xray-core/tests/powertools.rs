//! Powertools Tracer's switches: `POWERTOOLS_TRACE_DISABLED`, `POWERTOOLS_TRACER_CAPTURE_ERROR`,
//! `POWERTOOLS_TRACER_CAPTURE_RESPONSE`, and the macros' `capture` modes that win over them. Its own process, one
//! test: the settings are read once per process.
// The macros' capture modes are what is tested: with `off` they emit the functions unchanged.
#![cfg(not(feature = "off"))]
#![allow(missing_docs)]

mod common;

use std::fmt;

use common::{FACADE, HEADER, documents, named};
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;
use xray_core::config::{self, Config};
use xray_core::testing::MemorySink;
use xray_core::{Trace, traced, traced_handler};

#[derive(Debug, PartialEq)]
struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {}

#[traced]
fn charge() -> Result<(), Declined> {
    Err(Declined)
}

#[traced(capture = "error")]
fn charge_with_cause() -> Result<(), Declined> {
    Err(Declined)
}

#[traced(capture = "none")]
fn charge_quietly() -> Result<(), Declined> {
    Err(Declined)
}

#[tracing::instrument(err)]
fn charge_instrumented() -> Result<(), Declined> {
    Err(Declined)
}

#[traced_handler]
async fn by_env(event: lambda_runtime::LambdaEvent<u64>) -> Result<u64, Declined> {
    if event.payload == 0 { Err(Declined) } else { Ok(event.payload) }
}

#[traced_handler(capture = "error")]
async fn errors_only(event: lambda_runtime::LambdaEvent<u64>) -> Result<u64, Declined> {
    if event.payload == 0 { Err(Declined) } else { Ok(event.payload) }
}

#[traced_handler(capture = "response")]
async fn responses_only(event: lambda_runtime::LambdaEvent<u64>) -> Result<u64, Declined> {
    if event.payload == 0 { Err(Declined) } else { Ok(event.payload) }
}

fn event(payload: u64) -> lambda_runtime::LambdaEvent<u64> {
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(HEADER.to_owned());
    lambda_runtime::LambdaEvent::new(payload, context)
}

/// Runs `f` in a sampled trace, through the `tracing` layer, and returns the documents.
fn recorded(f: impl FnOnce()) -> Vec<Value> {
    let sink = MemorySink::new();
    let subscriber = tracing_subscriber::registry().with(xray_core::tracing::layer());
    tracing::subscriber::with_default(subscriber, || {
        sink.run(|| {
            let _ctx = Trace::lambda(Some(HEADER)).context().enter();
            f();
        })
    });
    documents(&sink)
}

/// The handler subsegment of one invocation of `handler`.
async fn handler_doc<F: std::future::Future>(handler: F) -> Value {
    let sink = MemorySink::new();
    sink.scope(handler).await;
    let docs = documents(&sink);
    docs.into_iter().rev().find(|d| d.get("in_progress").is_none()).expect("handler subsegment")
}

fn has_response(doc: &Value) -> bool {
    doc["metadata"].as_object().is_some_and(|m| m.values().any(|ns| ns.to_string().contains(" response")))
}

#[tokio::test(flavor = "current_thread")]
async fn powertools_switches() {
    // SAFETY: the only test of this process, run before anything reads the environment.
    unsafe {
        std::env::set_var("POWERTOOLS_TRACER_CAPTURE_ERROR", "false");
        std::env::set_var("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "true");
        std::env::set_var("AWS_LAMBDA_LOG_LEVEL", "chatty");
    }

    // A log level that is not one: a diagnostic, and the subscriber is built all the same (at INFO).
    let before = xray_core::diag::count(xray_core::diag::DiagKind::BadEnvVar);
    drop(xray_core::tracing::default_subscriber(xray_core::tracing::layer(), std::io::sink));
    assert!(xray_core::diag::count(xray_core::diag::DiagKind::BadEnvVar) > before);

    // POWERTOOLS_TRACE_DISABLED=true: nothing recorded, the upstream decision still passed on.
    assert!(config::init(Config::from_lookup(|k| (k == "POWERTOOLS_TRACE_DISABLED").then(|| "true".to_owned()))));
    let sink = MemorySink::new();
    let trace = sink.run(|| Trace::lambda(Some(HEADER)));
    assert!(!trace.is_recording());
    assert!(trace.header_for(None).to_string().contains(&format!("Parent={FACADE};Sampled=1")));
    assert_eq!(sink.scope(by_env(event(1))).await, Ok(1));
    assert!(sink.documents().is_empty());
    config::set_enabled(true);

    // POWERTOOLS_TRACER_CAPTURE_ERROR=false: a fault without a cause, unless a `capture` mode asks for errors.
    let docs = recorded(|| {
        let _ = charge();
        let _ = charge_with_cause();
        let _ = charge_quietly();
        let _ = charge_instrumented();
    });
    let (plain, forced, quiet, spanned) = (
        named(&docs, "charge"),
        named(&docs, "charge_with_cause"),
        named(&docs, "charge_quietly"),
        named(&docs, "charge_instrumented"),
    );
    assert_eq!((plain["fault"].as_bool(), plain.get("cause")), (Some(true), None), "{plain}");
    assert_eq!(forced["fault"], true);
    assert_eq!(forced["cause"]["exceptions"][0]["message"], "card declined");
    assert_eq!((quiet.get("fault"), quiet.get("cause")), (None, None), "{quiet}");
    assert_eq!((spanned["fault"].as_bool(), spanned.get("cause")), (Some(true), None), "{spanned}");

    // The handler without a mode follows the environment (response on, causes off); a mode alone decides.
    let ok = handler_doc(by_env(event(5))).await;
    assert!(has_response(&ok), "{ok}");
    let failed = handler_doc(by_env(event(0))).await;
    assert_eq!((failed["fault"].as_bool(), failed.get("cause")), (Some(true), None), "{failed}");
    let ok = handler_doc(errors_only(event(5))).await;
    assert!(!has_response(&ok), "{ok}");
    let failed = handler_doc(errors_only(event(0))).await;
    assert_eq!(failed["cause"]["exceptions"][0]["message"], "card declined", "{failed}");
    let ok = handler_doc(responses_only(event(5))).await;
    assert!(has_response(&ok), "{ok}");
    let failed = handler_doc(responses_only(event(0))).await;
    assert_eq!((failed.get("fault"), failed.get("cause")), (None, None), "{failed}");
}
