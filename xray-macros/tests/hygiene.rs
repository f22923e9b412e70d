//! Hygiene: the generated code compiles in a crate that shadows `core` and the prelude's `Result`, `Ok`, `Err`,
//! `Option`, `Some`, `None` and `Box`, under `deny(unused_qualifications, clippy::all)` (checked by CI's clippy run).
#![deny(unused_qualifications, clippy::all)]
#![allow(missing_docs, dead_code, non_camel_case_types)]

use lambda_runtime::{Context as LambdaContext, LambdaEvent};
use xray_core::testing::MemorySink;
use xray_core::{Trace, traced, traced_handler, traced_publish, traced_subscribe};

mod core {}
mod std_shadow {
    pub(crate) struct Span;
}

struct Ok;
struct Err;
struct Some;
struct None;
enum Option {}
struct Box;
type Result<T> = ::std::result::Result<T, Error>;

#[derive(Debug)]
struct Error;

impl ::std::fmt::Display for Error {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        f.write_str("hygiene error")
    }
}

impl ::std::error::Error for Error {}

#[traced(capture_args, capture_ret, annotate(n = n), metadata(n = n))]
fn sync_fn(n: u32) -> Result<u32> {
    if n == 0 { ::std::result::Result::Err(Error) } else { ::std::result::Result::Ok(n) }
}

#[traced(namespace = "remote")]
async fn async_fn(n: u32) -> Result<u32> {
    sync_fn(n)
}

#[traced]
fn unit() {}

#[traced_handler(capture_response)]
async fn handler(event: LambdaEvent<u32>) -> Result<u32> {
    async_fn(event.payload).await
}

#[traced_subscribe(queue = "orders", mode = "link")]
async fn subscribed(message: aws_lambda_events::sqs::SqsMessage) -> Result<u32> {
    sync_fn(u32::from(message.body.is_some()))
}

#[traced_subscribe]
fn subscribed_sync(message: &aws_sdk_sqs::types::Message) -> Result<u32> {
    sync_fn(u32::from(message.body.is_some()))
}

#[traced_publish(carrier = "body")]
async fn published(sqs: &aws_sdk_sqs::Client) -> Result<u32> {
    let sent = sqs.send_message().queue_url("q").message_body("m").send().await;
    if sent.is_ok() { ::std::result::Result::Ok(1) } else { ::std::result::Result::Err(Error) }
}

#[tokio::test]
async fn macros_compile_and_run_in_a_crate_that_shadows_everything() {
    let mut context = LambdaContext::default();
    context.xray_trace_id = ::std::option::Option::Some(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
    );
    let sink = MemorySink::new();
    let out = sink.scope(handler(LambdaEvent::new(3, context))).await;
    assert!(matches!(out, ::std::result::Result::Ok(3)));
    sink.run(|| {
        let _in_trace = Trace::lambda(::std::option::Option::Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        ))
        .context()
        .enter();
        unit();
    });
    let names: Vec<String> =
        sink.documents().iter().map(|d| d["name"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(names, ["## handler", "sync_fn", "async_fn", "## handler", "unit"]);

    let mut message = aws_lambda_events::sqs::SqsMessage::default();
    message.body = ::std::option::Option::Some("m".to_owned());
    let sdk = aws_sdk_sqs::types::Message::builder().body("m").build();
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let out = sink.scope(Trace::lambda(::std::option::Option::Some(header)).context().scope(subscribed(message))).await;
    assert!(matches!(out, ::std::result::Result::Ok(1)));
    assert!(matches!(sink.run(|| subscribed_sync(&sdk)), ::std::result::Result::Ok(1)));
    // Built, not run: sending needs a client configured for a server.
    let _ = published;
}
