//! Regression (issue 10): generated code made the user's crate warn (`unused_braces` on a one-expression body), which
//! breaks a `#![deny(warnings)]` crate. Every form and option of the macros, in a crate that denies rustc's warnings
//! and clippy's `all` and `pedantic` groups: `cargo test` checks the rustc lints, CI's
//! `cargo clippy --workspace --all-targets -- -D warnings` the clippy ones.
#![deny(warnings, clippy::all, clippy::pedantic)]

use std::fmt::Display;

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::types::Message;
use lambda_runtime::{Context, Error, LambdaEvent, Service, service_fn};
use serde_json::{Value, json};
use xray_core::testing::MemorySink;
use xray_core::{Trace, traced, traced_handler, traced_publish, traced_subscribe};

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

mod runtime {
    pub(crate) use xray_core::*;
}

// One-line bodies, as a crate that does not use rustfmt writes them.
#[rustfmt::skip]
mod one_line {
    use aws_lambda_events::sqs::SqsMessage;
    use aws_sdk_sqs::Client;
    use lambda_runtime::{Error, LambdaEvent};
    use xray_core::{traced, traced_handler, traced_publish, traced_subscribe};

    #[traced] pub(crate) fn literal() -> u32 { 1 }
    #[traced] pub(crate) fn statement() { literal(); }
    #[traced] pub(crate) fn opaque() -> impl std::fmt::Display { 1 }
    #[traced(capture_ret, annotate(n = n))] pub(crate) fn with_options(n: u32) -> u32 { n }
    #[traced] pub(crate) async fn literal_async() -> u32 { 1 }
    #[traced] pub(crate) async fn opaque_async() -> impl std::fmt::Display { 1 }
    #[traced_handler] pub(crate) async fn handler(event: LambdaEvent<u32>) -> Result<u32, Error> { Ok(event.payload) }
    #[traced_handler] pub(crate) async fn http(request: lambda_http::Request) -> Result<impl lambda_http::IntoResponse, Error> { Ok(request.uri().to_string()) }
    #[traced_subscribe] pub(crate) async fn subscribed(message: SqsMessage) -> Option<String> { message.body }
    #[traced_subscribe] pub(crate) fn subscribed_sync(_message: &SqsMessage) {}
    #[traced_publish] pub(crate) async fn published(sqs: &Client) -> bool { sqs.send_message().send().await.is_ok() }
}

#[traced]
fn one_expression(n: u32) -> u32 {
    n + 1
}

#[traced]
fn empty() {}

#[traced]
fn unit_statement(n: &mut u32) {
    *n += 1;
}

#[traced]
async fn one_expression_async(n: u32) -> u32 {
    n * 2
}

#[traced]
async fn empty_async() {}

#[traced]
async fn awaits(n: u32) -> u32 {
    one_expression_async(n).await
}

#[traced]
fn returns_impl(n: u32) -> impl Display {
    n
}

#[traced]
async fn returns_impl_async(n: u32) -> impl Display {
    n
}

#[traced]
fn generic<T: Display, const N: usize>(items: [T; N], extra: impl Display) -> String {
    format!("{}{extra}", items.len())
}

#[traced]
fn borrows<'a>(text: &'a str, _other: &str) -> &'a str {
    text
}

#[traced]
fn question_mark(text: &str) -> Result<u8, std::num::ParseIntError> {
    let n: u8 = text.parse()?;
    Ok(n)
}

#[traced]
async fn question_mark_async(text: &str) -> Result<u8, std::num::ParseIntError> {
    Ok(text.parse::<u8>()? + 1)
}

#[traced]
fn displayed_error(n: u32) -> Result<u32, String> {
    if n == 0 { Err("zero".to_owned()) } else { Ok(n) }
}

#[traced(
    name = "every option",
    namespace = "remote",
    annotate(n = n, "label" = label, flag = true, text = label.to_owned()),
    metadata(list = [n, n + 1]),
    capture_args,
    skip(label),
    capture_ret,
    err = false,
    crate = crate::runtime
)]
fn every_option(n: u32, label: &str) -> Result<u32, String> {
    if label.is_empty() { Err("empty".to_owned()) } else { Ok(n) }
}

#[traced(namespace = "aws", capture_args, skip_all, annotate(n = n), metadata(n = n))]
async fn every_option_async(n: u32, secret: &str) -> usize {
    secret.len() + usize::try_from(n).unwrap_or_default()
}

struct Counter(u32);

impl Counter {
    #[traced]
    fn get(&self) -> u32 {
        self.0
    }

    #[traced]
    fn bump(&mut self) -> &mut u32 {
        self.0 += 1;
        &mut self.0
    }

    #[traced]
    fn into_inner(self) -> u32 {
        self.0
    }

    #[traced]
    async fn get_async(&self) -> u32 {
        self.0
    }

    #[traced(capture_args)]
    async fn add_async(&mut self, n: u32) -> Result<u32, String> {
        self.0 += n;
        Ok(self.0)
    }

    #[traced_handler]
    async fn handle(&self, event: LambdaEvent<u32>) -> Result<u32, Error> {
        Ok(self.0 + event.payload)
    }
}

#[traced_handler]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[traced_handler(name = "## two", capture_response, err = false, crate = crate::runtime)]
async fn two_argument_form(payload: Value, context: Context) -> Result<String, Error> {
    Ok(format!("{payload} {}", context.request_id))
}

#[traced_handler]
async fn shared_state(counter: &Counter, event: LambdaEvent<u32>) -> Result<u32, Error> {
    Ok(counter.get() + event.payload)
}

#[traced_handler]
async fn awaiting_handler(event: LambdaEvent<u32>) -> Result<u32, Error> {
    Ok(awaits(event.payload).await)
}

#[traced_subscribe]
async fn subscribed(message: SqsMessage) -> Result<usize, String> {
    message.body.map(|b| b.len()).ok_or_else(|| "no body".to_owned())
}

#[traced_subscribe(mode = "link", name = "by reference", queue = "orders", err = false, crate = crate::runtime)]
async fn subscribed_by_reference(message: &Message) -> Result<usize, String> {
    message.body.as_deref().map(str::len).ok_or_else(|| "no body".to_owned())
}

#[traced_subscribe(queue = queue)]
fn subscribed_sync(queue: &str, mut message: Message) -> usize {
    message.body.take().map_or(queue.len(), |b| b.len())
}

#[traced_subscribe(message = order)]
fn subscribed_named(order: &SqsMessage, _other: &SqsMessage) -> bool {
    order.body.is_some()
}

#[traced_publish]
async fn published(sqs: &aws_sdk_sqs::Client, body: &str) -> Result<(), aws_sdk_sqs::Error> {
    sqs.send_message().queue_url("q").message_body(body).send().await?;
    Ok(())
}

#[traced_publish(
    name = "publish all",
    carrier = "body",
    annotate(n = bodies.len()),
    capture_args,
    skip(sqs),
    capture_ret,
    err = false,
    crate = crate::runtime
)]
async fn published_all(sqs: &aws_sdk_sqs::Client, bodies: &[&str]) -> usize {
    let sends = bodies.iter().map(|b| sqs.send_message().queue_url("q").message_body(*b).send());
    futures::future::join_all(sends).await.iter().filter(|r| r.is_ok()).count()
}

#[traced_publish(carrier = "message_attribute")]
fn published_sync(n: u32) -> u32 {
    n + 1
}

fn event<T>(payload: T) -> LambdaEvent<T> {
    let mut context = Context::default();
    context.xray_trace_id = Some(SAMPLED.to_owned());
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn every_form_runs() {
    let sink = MemorySink::new();
    sink.run(|| {
        let _in_trace = Trace::lambda(Some(SAMPLED)).context().enter();
        assert_eq!(one_line::literal() + one_line::with_options(1), 2);
        one_line::statement();
        assert_eq!(one_line::opaque().to_string(), "1");
        let mut n = one_expression(1);
        empty();
        unit_statement(&mut n);
        assert_eq!(returns_impl(n).to_string(), "3");
        assert_eq!(generic([1, 2], "x"), "2x");
        assert_eq!(borrows("a", "b"), "a");
        assert_eq!(question_mark("7"), Ok(7));
        assert!(displayed_error(0).is_err());
        assert_eq!(every_option(5, "l"), Ok(5));
        let mut counter = Counter(1);
        *counter.bump() += 1;
        assert_eq!(counter.get(), 3);
        assert_eq!(counter.into_inner(), 3);
    });
    let in_trace = async {
        assert_eq!(one_line::literal_async().await, 1);
        assert_eq!(one_line::opaque_async().await.to_string(), "1");
        empty_async().await;
        assert_eq!(returns_impl_async(2).await.to_string(), "2");
        assert_eq!(question_mark_async("1").await, Ok(2));
        assert_eq!(every_option_async(1, "ab").await, 3);
        let mut counter = Counter(1);
        assert_eq!(counter.add_async(2).await, Ok(3));
        assert_eq!(counter.get_async().await, 3);
    };
    sink.scope(Trace::lambda(Some(SAMPLED)).context().scope(in_trace)).await;

    let counter = Counter(10);
    let out = sink.scope(handler(event(json!(1)))).await;
    assert_eq!(out.ok(), Some(json!(1)));
    let out = sink.scope(counter.handle(event(1))).await;
    assert_eq!(out.ok(), Some(11));
    let LambdaEvent { payload, context } = event(json!(2));
    assert!(sink.scope(two_argument_form(payload, context)).await.is_ok());
    let mut service = service_fn(|event| shared_state(&counter, event));
    assert_eq!(sink.scope(service.call(event(2))).await.ok(), Some(12));
    assert_eq!(sink.scope(awaiting_handler(event(3))).await.ok(), Some(6));
    assert_eq!(sink.scope(one_line::handler(event(4))).await.ok(), Some(4));
    assert!(sink.scope(one_line::http(lambda_http::Request::default())).await.is_ok());

    let mut message = SqsMessage::default();
    message.body = Some("abc".to_owned());
    message.attributes.insert("AWSTraceHeader".to_owned(), SAMPLED.to_owned());
    let sdk = Message::builder().body("ab").build();
    assert_eq!(sink.scope(subscribed(message.clone())).await, Ok(3));
    assert_eq!(sink.scope(subscribed_by_reference(&sdk)).await, Ok(2));
    assert_eq!(sink.run(|| subscribed_sync("orders", sdk.clone())), 2);
    assert!(sink.run(|| subscribed_named(&message, &message)));
    assert_eq!(sink.scope(one_line::subscribed(message.clone())).await.as_deref(), Some("abc"));
    sink.run(|| one_line::subscribed_sync(&message));
    assert_eq!(published_sync(1), 2);
    // Built, not run: sending needs a client configured for a server.
    let _ = (published, published_all, one_line::published);
    assert!(!sink.documents().is_empty());
}
