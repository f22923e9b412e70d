//! One Lambda invocation: a handler making three calls, plain and with `#[traced_handler]` + three `#[traced]`; and
//! one queue message, plain and with `#[traced_subscribe]`.

use aws_lambda_events::sqs::SqsMessage;
use lambda_runtime::{Context, Error, LambdaEvent};

use crate::work;

/// The event of one invocation, with `header` as its Context's `xray_trace_id`.
pub fn event(header: Option<&str>) -> LambdaEvent<u64> {
    let mut context = Context::default();
    context.xray_trace_id = header.map(str::to_owned);
    LambdaEvent::new(7, context)
}

#[inline(never)]
async fn load(x: u64) -> Result<u64, Error> {
    Ok(work(x))
}

#[inline(never)]
async fn price(x: u64) -> Result<u64, Error> {
    Ok(work(x + 1))
}

#[inline(never)]
fn render(x: u64) -> u64 {
    work(x + 2)
}

/// The handler untraced.
#[inline(never)]
pub async fn plain_handler(event: LambdaEvent<u64>) -> Result<u64, Error> {
    let order = load(event.payload).await?;
    let total = price(order).await?;
    Ok(render(total))
}

#[xray_core::traced]
#[inline(never)]
async fn traced_load(x: u64) -> Result<u64, Error> {
    Ok(work(x))
}

#[xray_core::traced]
#[inline(never)]
async fn traced_price(x: u64) -> Result<u64, Error> {
    Ok(work(x + 1))
}

#[xray_core::traced]
#[inline(never)]
fn traced_render(x: u64) -> u64 {
    work(x + 2)
}

/// The same handler traced: `## traced_handler` (annotated `ColdStart` and `Service`, sent in progress when it
/// begins) and three subsegments, every document sent before it returns.
#[xray_core::traced_handler]
#[inline(never)]
pub async fn traced_handler(event: LambdaEvent<u64>) -> Result<u64, Error> {
    let order = traced_load(event.payload).await?;
    let total = traced_price(order).await?;
    Ok(traced_render(total))
}

/// An SQS message as a Lambda event source mapping delivers it, its producer's trace header in `AWSTraceHeader`.
pub fn message(header: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some("059f36b4-87a3-44ab-83d2-661975830a7d".to_owned());
    message.body = Some(r#"{"order":7}"#.to_owned());
    message.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:orders".to_owned());
    message.attributes.insert("AWSTraceHeader".to_owned(), header.to_owned());
    message.attributes.insert("SentTimestamp".to_owned(), "1764230400000".to_owned());
    message
}

/// Processes one message, untraced.
#[inline(never)]
pub async fn plain_message(message: &SqsMessage) -> usize {
    work(message.body.as_deref().map_or(0, str::len) as u64) as usize
}

/// Processes one message in its producer's trace (`#[traced_subscribe]`, continue mode): a segment with the
/// producer's trace id and the send call as parent, starting when the message was sent, with its wait subsegment.
#[xray_core::traced_subscribe]
#[inline(never)]
pub async fn subscribed_message(message: &SqsMessage) -> usize {
    work(message.body.as_deref().map_or(0, str::len) as u64) as usize
}
