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
//! | `body` | a JSON envelope around the body (below) | anything that sees the body, with [`unwrap_body`] or [`read_event`] / [`read_sdk`] | ~100 bytes plus the body's JSON escaping, within the size limit; not for FIFO content-based deduplication (it hashes the body), SNS `MessageStructure=json`, SMS or mobile push: skipped there, with a diagnostic |
//!
//! A carrier that cannot be applied is skipped with a diagnostic ([`DiagKind::Carrier`](crate::diag::DiagKind));
//! the send always goes ahead as the caller wrote it. Size limits are the services' maximums (SQS 1 MiB per message
//! and per batch, SNS 256 KiB): a queue configured with a smaller `MaximumMessageSize` can still refuse a message
//! that the `message_attribute` or `body` carrier made larger, so prefer `system_attribute` there.
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
//! # Reading
//!
//! [`read_event`] (an `aws_lambda_events` `SqsMessage`) and [`read_sdk`] (an `aws-sdk-sqs` `Message`) return the
//! producer's header text (system attribute, else message attribute, else envelope), the body to process (the
//! original one when the body was an envelope), `SentTimestamp`, the message id and the queue. They record nothing.
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
mod process;
pub(crate) mod produce;
mod read;
#[cfg(feature = "sns")]
mod sns;

pub use batch::batch_response;
pub use carrier::{
    Carrier, ENVELOPE_VERSION, Envelope, SENT_TIMESTAMP, TRACE_ATTRIBUTE, UnknownCarrier, looks_like_envelope,
    unwrap_body, wrap_body,
};
pub use process::{Consumable, Subscription, process};
pub use read::{ReadTrace, Received, queue_name, read_event, read_sdk};
