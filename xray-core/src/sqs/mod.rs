//! Carrying the trace through queues: the producer's trace header on each SQS (and SNS) message, and reading it
//! back on the consumer side.
//!
//! With the `sqs` feature, [`XRayInterceptor`](crate::aws::XRayInterceptor) puts the header of each `SendMessage`
//! and of every `SendMessageBatch` entry on the message itself: `Root` of the trace, `Parent` = that call's
//! subsegment, `Sampled=0` when the trace is not sampled (nothing is recorded then, but the decision travels on),
//! `Lineage` and unknown keys kept. A message that already carries a header, by any carrier, is left alone. Its
//! `ReceiveMessage` calls ask for the `AWSTraceHeader` and `SentTimestamp` system attributes and the
//! `AWSTraceHeader` message attribute, on top of what the caller asked for. With the `sns` feature the same goes for
//! SNS `Publish` and every `PublishBatch` entry.
//!
//! The carrier is chosen per call: a client's interceptor uses [`Carrier::SystemAttribute`];
//! [`XRayInterceptor::publishing`](crate::aws::XRayInterceptor::publishing) attached to one call with
//! `.customize().interceptor(..)` uses its own, and records that call instead of the client's interceptor, so
//! nothing is recorded twice.
//!
//! | carrier | where the header goes | who can read it | limits |
//! |---|---|---|---|
//! | `system_attribute` (default) | SQS: the `AWSTraceHeader` message system attribute. SNS has none: the `AWSTraceHeader` message attribute | Lambda event source mappings (`Records[i].attributes.AWSTraceHeader`), X-Ray's own SQS-to-Lambda linking, pollers that ask for it | counts toward neither the message size nor the 10-attribute quota |
//! | `message_attribute` | a String message attribute named `AWSTraceHeader` | anything that sees message attributes: pollers, SNS raw delivery, SNS to HTTP/Lambda subscribers | one of the 10 attributes: skipped, with a diagnostic, when the message already has 10; counts toward the size limit |
//! | `body` | a JSON envelope around the body (below) | anything that sees the body, with [`unwrap_body`] or [`read_event`] / [`read_sdk`] (a `ReceiveMessage` that asks for system attributes); not typed records (`SqsMessageObj<T>`: the body is deserialized before the handler runs) | ~100 bytes plus the body's JSON escaping, within the size limit; SQS only (refused on SNS, below); not for FIFO content-based deduplication (it hashes the body): skipped there, with a diagnostic |
//!
//! A carrier that cannot be applied is skipped with a diagnostic ([`DiagKind::Carrier`](crate::diag::DiagKind));
//! the send always goes ahead as the caller wrote it. The carriers that add bytes (`message_attribute`, `body`)
//! budget against 256 KiB per message and per batch, counting the body and every message attribute's name, type and
//! value as SQS does: SQS takes up to 1 MiB, but a queue's `MaximumMessageSize` may be lower (256 KiB was the
//! default before 2026), and a message the carrier would grow past 256 KiB is left as written, with a diagnostic,
//! so a send that fits without the carrier is never refused because of it. SNS budgets against its own 256 KiB. The
//! `system_attribute` carrier counts toward neither size nor quota and always applies.
//!
//! On SNS the `body` carrier is refused, with a diagnostic: a subscriber without raw message delivery receives the
//! notification JSON with the envelope inside its `Message`, and an SQS subscriber of a topic whose tracing is on
//! also gets the `AWSTraceHeader` system attribute; either way the subscriber would see a changed payload.
//!
//! # The body envelope, version 1
//!
//! ```json
//! {"xray_envelope":1,"trace_header":"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1","body":"<the original body, as a JSON string>"}
//! ```
//!
//! A JSON object with exactly these three members, `xray_envelope` (the version, a number) FIRST. A reader only
//! parses a body whose first member is `xray_envelope`, so an unrelated body, JSON or not, is never taken for an
//! envelope; other writers must also put it first. A malformed envelope, or one of a version this crate does not
//! know, is treated as a plain body, with a diagnostic. The original body is a JSON string, so it comes back byte
//! for byte, whatever it held.
//!
//! An envelope is unwrapped only when it was put there for this message: when no attribute carries a header, or
//! when the attribute's header names the envelope's own `Root` and `Parent` (SQS copies the send call's
//! `X-Amzn-Trace-Id` to `AWSTraceHeader`). An envelope beside the header of another call stays the body, with a
//! diagnostic. A producer never takes a body that looks like an envelope for one: the `body` carrier wraps it again
//! (the consumer unwraps one level and gets it back as it was), the attribute carriers put their header beside it.
//! So a payload that merely looks like an envelope cannot swap what the consumer processes. A queue whose
//! producers are not instrumented and forward bodies others wrote can still receive a forged envelope without any
//! header: take only the attribute carriers there (a typed record, or read the body yourself).
//!
//! # Reading
//!
//! [`read_event`] (an `aws_lambda_events` `SqsMessage`), [`read_typed`] (a typed record `SqsMessageObj<T>`) and
//! [`read_sdk`] (an `aws-sdk-sqs` `Message`) return one [`Received`]: the producer's header
//! text (system attribute, else message attribute, else envelope; a blank value counts as none), the body to process
//! (the original one when the body was an envelope put there for this message), `SentTimestamp`, the message id and
//! the queue. They record nothing; [`Processing::begin`](crate::queue::Processing::begin) reads the header, once.
//!
//! A message from `ReceiveMessage` without the `AWSTraceHeader` and `SentTimestamp` system attributes was received
//! by a client that did not ask for them (a plain client, not [`aws_client!`](crate::aws_client)): it is processed
//! in the poller's own trace, where a producer's `Sampled=0` is not known, so it records what the producer chose
//! not to record; and its body is never unwrapped, since the `AWSTraceHeader` that would say whose envelope it is
//! was not returned. [`read_sdk`] says so once per process, with the fix, in a diagnostic.
//!
//! ```
//! use xray_core::sqs::{Carrier, read_event, wrap_body};
//!
//! let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
//! let mut message = aws_lambda_events::sqs::SqsMessage::default();
//! message.body = Some(wrap_body(header, r#"{"order":7}"#));
//! message.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:orders".into());
//!
//! let received = read_event(&message);
//! assert_eq!(received.trace_header.as_deref(), Some(header));
//! assert_eq!(received.found_in, Some(Carrier::Body));
//! assert_eq!(received.body.as_deref(), Some(r#"{"order":7}"#));
//! assert_eq!(received.queue, Some("orders"));
//! ```

mod batch;
mod carrier;
mod message;
mod process;
mod produce;
mod read;
#[cfg(feature = "sns")]
mod sns;

use std::borrow::Cow;

use aws_smithy_runtime_api::client::interceptors::context::Input;

pub use batch::batch_response;
pub use carrier::{
    Carrier, ENVELOPE_VERSION, Envelope, SENT_TIMESTAMP, TRACE_ATTRIBUTE, UnknownCarrier, looks_like_envelope,
    unwrap_body, wrap_body,
};
pub use process::{Consumable, Subscription, process};
pub use read::{ReadTrace, Received, queue_name, read_event, read_sdk, read_typed};

/// What the interceptor does to an operation's input before it is serialized: `carrier` applied to the messages of
/// an SQS send or (feature `sns`) an SNS publish, or an SQS `ReceiveMessage` asked for the trace attributes.
/// `header` is only called for sends; it lends the recorded call's header rather than copying it, since each
/// message gets a copy of its own anyway.
pub(crate) fn outgoing<'h>(input: &mut Input, carrier: Carrier, header: impl FnOnce() -> Option<Cow<'h, str>>) {
    #[cfg(feature = "sns")]
    if sns::is_publish(input) {
        return sns::outgoing(input, carrier, header);
    }
    produce::outgoing(input, carrier, header);
}
