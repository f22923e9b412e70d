//! The consumer side, recorded: one received SQS message processed in its producer's trace, or linked from the
//! consumer's ([`crate::queue`] says how each mode looks). What `#[traced_subscribe]` expands to, callable by hand.
//!
//! ```
//! use aws_lambda_events::sqs::SqsMessage;
//! use xray_core::queue::Mode;
//! use xray_core::sqs::{process, wrap_body};
//! # use xray_core::testing::MemorySink;
//!
//! async fn store(body: &str) -> Result<usize, std::io::Error> {
//!     Ok(body.len())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # let sink = MemorySink::new();
//! # sink.scope(async {
//! let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
//! let mut message = SqsMessage::default();
//! message.body = Some(wrap_body(header, "order 7"));
//!
//! // A segment in the producer's trace, named after the consuming service.
//! let mut subscription = process(&message, None, Mode::Continue, "orders-worker", "store");
//! // The envelope the producer's `body` carrier wrapped the payload in is gone.
//! let message = subscription.restore(message);
//! let body = message.body.as_deref().unwrap_or_default();
//! let stored = subscription.processing().instrument(store(body)).await;
//! if let (Err(error), Some(rec)) = (&stored, subscription.recorder()) {
//!     rec.record_error(error);
//! }
//! subscription.end();
//! assert_eq!(stored.unwrap(), 7);
//! # }).await;
//! # let sent = sink.documents();
//! # assert_eq!(sent[0]["name"], "orders-worker");
//! # assert_eq!(sent[0]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
//! # assert_eq!(sent[0]["parent_id"], "53995c3f42cd8ad8");
//! # }
//! ```

use std::borrow::Cow;

use aws_lambda_events::sqs::{SqsMessage, SqsMessageObj};
use aws_sdk_sqs::types::Message;
use serde::Serialize;

use super::read::{queue_name, read_event, read_sdk, read_typed};
use crate::queue::{Mode, Processing, Received};
use crate::record::Recorder;

/// A received SQS message [`process`] (and `#[traced_subscribe]`) takes: an `aws_lambda_events` `SqsMessage`, as a
/// Lambda event source mapping delivers it, a typed record `SqsMessageObj<T>` of an `SqsEventObj<T>` (attribute
/// carriers only: its body was deserialized before the handler ran, see [`read_typed`]), or an `aws-sdk-sqs`
/// `Message`, as `ReceiveMessage` returns it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a received SQS message",
    label = "expected `aws_lambda_events::sqs::SqsMessage`, `aws_lambda_events::sqs::SqsMessageObj<T>` or \
             `aws_sdk_sqs::types::Message`",
    note = "`#[traced_subscribe]` takes one message, by value or by reference; an `SqsMessageObj<T>` needs `T: Clone`"
)]
pub trait Consumable: Clone {
    /// What the message tells about its producer. `queue` (a name, URL or ARN) names the message's queue, in place of
    /// the one the message names, if any.
    fn read<'a>(&'a self, queue: Option<&'a str>) -> Received<'a>;

    /// Puts back the payload that was inside the trace envelope ([`Received::unwrapped`]).
    fn set_body(&mut self, body: String);
}

/// The queue the caller named, in place of the one the message names.
fn named<'a>(mut received: Received<'a>, queue: Option<&'a str>) -> Received<'a> {
    if let Some(queue) = queue {
        received.queue = Some(queue_name(queue));
    }
    received
}

impl Consumable for SqsMessage {
    fn read<'a>(&'a self, queue: Option<&'a str>) -> Received<'a> {
        named(read_event(self), queue)
    }

    fn set_body(&mut self, body: String) {
        self.body = Some(body);
    }
}

impl<T: Serialize + Clone> Consumable for SqsMessageObj<T> {
    fn read<'a>(&'a self, queue: Option<&'a str>) -> Received<'a> {
        named(read_typed(self), queue)
    }

    /// Never called: a typed record's body is never unwrapped.
    fn set_body(&mut self, _body: String) {}
}

impl Consumable for Message {
    fn read<'a>(&'a self, queue: Option<&'a str>) -> Received<'a> {
        read_sdk(self, queue)
    }

    fn set_body(&mut self, body: String) {
        self.body = Some(body);
    }
}

/// Begins processing `message`: reads its producer's header (system attribute, then message attribute, then body
/// envelope), its `SentTimestamp`, id and queue (`queue` when given), and begins the [`Processing`]: in
/// [`Mode::Continue`] a segment named `segment_name` in the producer's trace, in [`Mode::Link`] (or when the message
/// has no usable header) a subsegment named `subsegment_name` of the current trace.
///
/// When the body was a trace envelope put there for this message, [`Subscription::restore`] gives the message back
/// with its original body.
pub fn process<M: Consumable>(
    message: &M,
    queue: Option<&str>,
    mode: Mode,
    segment_name: impl Into<Cow<'static, str>>,
    subsegment_name: impl Into<Cow<'static, str>>,
) -> Subscription {
    let received = message.read(queue);
    let processing = Processing::begin(&received, mode, segment_name, subsegment_name);
    let original_body = received.body.filter(|_| received.unwrapped).map(Cow::into_owned);
    Subscription { processing, original_body }
}

/// One message's processing, begun by [`process`]; ends (and is sent) with [`Subscription::end`] or when dropped.
#[derive(Debug)]
pub struct Subscription {
    processing: Processing,
    /// The payload inside the message's trace envelope, until [`Subscription::restore`] puts it back.
    original_body: Option<String>,
}

impl Subscription {
    /// The processing: its context ([`Processing::instrument`], [`Processing::run`]) and recorder.
    pub fn processing(&self) -> &Processing {
        &self.processing
    }

    /// The payload the producer's body envelope held, if the message had one and it has not been restored yet.
    pub fn original_body(&self) -> Option<&str> {
        self.original_body.as_deref()
    }

    /// `message` with its original body in place of the envelope, if it had one; else `message` as it is.
    pub fn restore<M: Consumable>(&mut self, mut message: M) -> M {
        if let Some(body) = self.original_body.take() {
            message.set_body(body);
        }
        message
    }

    /// A borrowed `message` as [`Subscription::restore`] gives it: a copy with the original body if it had an
    /// envelope, else `message` itself.
    pub fn restore_ref<'m, M: Consumable>(&mut self, message: &'m M) -> Cow<'m, M> {
        match self.original_body.take() {
            Some(body) => {
                let mut copy = message.clone();
                copy.set_body(body);
                Cow::Owned(copy)
            }
            None => Cow::Borrowed(message),
        }
    }

    /// Records on the processing's segment or subsegment; `None` when nothing is recorded.
    pub fn recorder(&self) -> Option<Recorder> {
        self.processing.recorder()
    }

    /// Ends the processing: its segment (continue mode) or subsegment is sent.
    pub fn end(self) {
        self.processing.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::{TRACE_ATTRIBUTE, wrap_body};

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

    fn event(body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.body = Some(body.to_owned());
        message.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:orders".to_owned());
        message
    }

    #[test]
    fn an_envelope_is_restored_by_value_and_by_reference() {
        let message = event(&wrap_body(HEADER, "payload"));
        let mut subscription = process(&message, None, Mode::Continue, "s", "f");
        assert_eq!(subscription.original_body(), Some("payload"));
        let restored = subscription.restore_ref(&message);
        assert!(matches!(restored, Cow::Owned(_)));
        assert_eq!(restored.body.as_deref(), Some("payload"));
        // Taken once.
        assert_eq!(subscription.original_body(), None);

        let mut subscription = process(&message, None, Mode::Continue, "s", "f");
        let restored = subscription.restore(message.clone());
        assert_eq!((restored.body.as_deref(), restored.attributes.len()), (Some("payload"), 0));
        subscription.end();
    }

    #[test]
    fn a_message_without_an_envelope_is_left_as_it_is() {
        let mut message = event("plain");
        message.attributes.insert(TRACE_ATTRIBUTE.to_owned(), HEADER.to_owned());
        let mut subscription = process(&message, None, Mode::Continue, "s", "f");
        assert_eq!(subscription.original_body(), None);
        assert!(matches!(subscription.restore_ref(&message), Cow::Borrowed(m) if std::ptr::eq(m, &message)));
        assert_eq!(subscription.restore(message.clone()), message);
    }

    #[test]
    fn an_envelope_whose_payload_is_borrowed_from_it_is_still_unwrapped() {
        // The unwrapped body borrows from inside the envelope: told apart by where it starts, not by its text.
        // A message whose `ReceiveMessage` asked for system attributes: SQS always returns `SentTimestamp` then.
        let message = Message::builder()
            .body(wrap_body(HEADER, "x"))
            .attributes(aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp, "1545082649183")
            .build();
        let subscription = process(&message, Some("jobs"), Mode::Link, "s", "f");
        assert_eq!(subscription.original_body(), Some("x"));
    }

    #[test]
    fn the_queue_given_names_the_queue_of_either_message_type() {
        let message = event("x");
        assert_eq!(message.read(None).queue, Some("orders"));
        let typed: SqsMessageObj<u8> = serde_json::from_value(serde_json::json!({
            "body": "7", "eventSourceARN": "arn:aws:sqs:us-east-1:1:jobs",
            "attributes": {"AWSTraceHeader": HEADER}, "messageAttributes": {}
        }))
        .expect("typed");
        assert_eq!((typed.read(None).queue, typed.read(None).trace_header.as_deref()), (Some("jobs"), Some(HEADER)));
        assert_eq!(message.read(Some("https://sqs.us-east-1.amazonaws.com/1/jobs")).queue, Some("jobs"));
        let sdk = Message::builder().body("x").build();
        assert_eq!((sdk.read(None).queue, sdk.read(Some("jobs")).queue), (None, Some("jobs")));
    }
}
