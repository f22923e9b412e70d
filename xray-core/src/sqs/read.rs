//! The consumer side: what a received message says about the call that sent it, as a [`Received`]. Nothing is
//! recorded here.
//!
//! The body envelope is unwrapped only when it was put there for this message: when no attribute carries a header,
//! or when the attribute's header names the envelope's `Root` and `Parent` (SQS copies a send call's
//! `X-Amzn-Trace-Id` to the `AWSTraceHeader` of every message it sends, SNS to its SQS subscribers when the topic's
//! tracing is on). A body that merely looks like an envelope is the message's body. A `ReceiveMessage` message
//! without system attributes (its call did not ask for them) is never unwrapped: the `AWSTraceHeader` that would
//! say whose envelope it is was not returned, so the envelope could have been written by anyone.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::sqs::{SqsMessage, SqsMessageAttribute, SqsMessageObj};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use serde::Serialize;

use super::carrier::{Carrier, SENT_TIMESTAMP, TRACE_ATTRIBUTE, unwrap_body};
use crate::diag::diag;
use crate::header::TraceHeader;
pub use crate::queue::Received;

/// Reads a message of an SQS event, as a Lambda event source mapping delivers it (`Records[i]`).
pub fn read_event(message: &SqsMessage) -> Received<'_> {
    let (attributes, message_attributes) = (&message.attributes, &message.message_attributes);
    let mut received = read_event_parts(attributes, message_attributes, message.body.as_deref());
    received.message_id = message.message_id.as_deref();
    received.queue = message.event_source_arn.as_deref().map(queue_name);
    received
}

/// Reads a typed record of an `SqsEventObj<T>`. Its body was deserialized into `T` before the handler ran, so only
/// the attribute carriers are read: a body envelope would have failed that deserialization (or, for a
/// `serde_json::Value` body, is left in it). Producers to a typed consumer use the `system_attribute` or
/// `message_attribute` carrier.
pub fn read_typed<T: Serialize>(message: &SqsMessageObj<T>) -> Received<'_> {
    let mut received = read_event_parts(&message.attributes, &message.message_attributes, None);
    received.message_id = message.message_id.as_deref();
    received.queue = message.event_source_arn.as_deref().map(queue_name);
    received
}

/// The attributes and body of an event's record, typed or not.
fn read_event_parts<'a>(
    attributes: &'a HashMap<String, String>,
    message_attributes: &'a HashMap<String, SqsMessageAttribute>,
    body: Option<&'a str>,
) -> Received<'a> {
    let system = attributes.get(TRACE_ATTRIBUTE).map(String::as_str);
    let attribute = message_attributes
        .get(TRACE_ATTRIBUTE)
        .and_then(|a| string_typed(a.data_type.as_deref()).then_some(a.string_value.as_deref()).flatten());
    let mut received = from_parts(system, attribute, body, Unwrap::Checked);
    received.sent_timestamp_ms = attributes.get(SENT_TIMESTAMP).and_then(|t| timestamp(t));
    received
}

/// Reads a message from an `aws-sdk-sqs` `ReceiveMessage` response. It does not name its queue, so the caller may:
/// `queue` is a queue name, URL or ARN.
///
/// The message has its system attributes only when `ReceiveMessage` asked for them; a client with
/// [`XRayInterceptor`](crate::aws::XRayInterceptor) asks for `AWSTraceHeader`, `SentTimestamp` and the
/// `AWSTraceHeader` message attribute itself. A message with neither `AWSTraceHeader` nor `SentTimestamp` gets a
/// diagnostic (once per process), and its body is never unwrapped: without `AWSTraceHeader` nothing says a body
/// envelope was put there for this message.
pub fn read_sdk<'a>(message: &'a Message, queue: Option<&'a str>) -> Received<'a> {
    let system_attribute =
        |name: &MessageSystemAttributeName| message.attributes.as_ref().and_then(|a| a.get(name)).map(String::as_str);
    let attribute = message
        .message_attributes
        .as_ref()
        .and_then(|a| a.get(TRACE_ATTRIBUTE))
        .and_then(|a| string_typed(Some(&a.data_type)).then_some(a.string_value.as_deref()).flatten());
    let system = system_attribute(&MessageSystemAttributeName::AwsTraceHeader);
    let sent = system_attribute(&MessageSystemAttributeName::SentTimestamp);
    let unwrap = if system.is_none() && sent.is_none() {
        static SAID: AtomicBool = AtomicBool::new(false);
        not_asked(&SAID, message.message_id.as_deref());
        Unwrap::Never
    } else {
        Unwrap::Checked
    };
    let mut received = from_parts(system, attribute, message.body.as_deref(), unwrap);
    received.sent_timestamp_ms = sent.and_then(timestamp);
    received.message_id = message.message_id.as_deref();
    received.queue = queue.map(queue_name);
    received
}

/// A message type [`read_event`], [`read_typed`] or [`read_sdk`] reads, so generated code can take any: an sdk
/// `Message` is read without a queue.
pub trait ReadTrace {
    /// What the message tells about its producer.
    fn read_trace(&self) -> Received<'_>;
}

impl ReadTrace for SqsMessage {
    fn read_trace(&self) -> Received<'_> {
        read_event(self)
    }
}

impl<T: Serialize> ReadTrace for SqsMessageObj<T> {
    fn read_trace(&self) -> Received<'_> {
        read_typed(self)
    }
}

impl ReadTrace for Message {
    fn read_trace(&self) -> Received<'_> {
        read_sdk(self, None)
    }
}

impl<T: ReadTrace + ?Sized> ReadTrace for &T {
    fn read_trace(&self) -> Received<'_> {
        (**self).read_trace()
    }
}

/// Says once (per `said`: per process for [`read_sdk`]) that a message came without system attributes, most likely
/// from a `ReceiveMessage` that did not ask for them; returns whether it said so.
fn not_asked(said: &AtomicBool, message_id: Option<&str>) -> bool {
    if said.swap(true, Ordering::Relaxed) {
        return false;
    }
    diag!(
        Carrier,
        "message {} came without the `AWSTraceHeader` and `SentTimestamp` system attributes: its `ReceiveMessage` \
         did not ask for system attributes (or asked for `AWSTraceHeader` alone, and the message has none). Such \
         messages are processed in the poller's own trace (unless an `AWSTraceHeader` message attribute names \
         one), where a producer's `Sampled=0` is not known, so what the producer chose not to record is recorded; \
         and a body envelope is left as the body, since no `AWSTraceHeader` says it was put there for the message. \
         Receive with a client built by `xray_core::aws_client!` (it asks for `AWSTraceHeader` and `SentTimestamp` \
         itself), or ask with `.message_system_attribute_names(..)`. Said once",
        message_id.unwrap_or("?")
    );
    true
}

/// The name of a queue given by name, URL (`https://sqs.us-east-1.amazonaws.com/123456789012/jobs`) or ARN
/// (`arn:aws:sqs:us-east-1:123456789012:jobs`).
pub fn queue_name(queue: &str) -> &str {
    if queue.starts_with("arn:") {
        return queue.rsplit(':').next().unwrap_or(queue);
    }
    if queue.contains("://") {
        let path = queue.split(['?', '#']).next().unwrap_or(queue).trim_end_matches('/');
        return path.rsplit('/').next().unwrap_or(queue);
    }
    queue
}

/// Whether a body envelope may be unwrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unwrap {
    /// When no attribute carries a header, or the attribute names the envelope's call.
    Checked,
    /// Never: the message's system attributes were not returned, so what would check the envelope is unknown.
    Never,
}

fn from_parts<'a>(
    system: Option<&'a str>,
    attribute: Option<&'a str>,
    body: Option<&'a str>,
    unwrap: Unwrap,
) -> Received<'a> {
    let usable = |header: &&str| !header.trim().is_empty();
    let attributed = [(Carrier::SystemAttribute, system), (Carrier::MessageAttribute, attribute)]
        .into_iter()
        .find_map(|(carrier, header)| header.filter(usable).map(|header| (carrier, header)));
    let envelope = body
        .filter(|_| unwrap == Unwrap::Checked)
        .and_then(unwrap_body)
        .filter(|envelope| !envelope.trace_header.trim().is_empty());
    let envelope = match (attributed, envelope) {
        (Some((_, header)), Some(envelope)) if !same_call(header, &envelope.trace_header) => {
            diag!(
                Carrier,
                "the body is a trace envelope from another call than the message's `AWSTraceHeader`; the body is \
                 left as it arrived"
            );
            None
        }
        (_, envelope) => envelope,
    };
    let (found_in, trace_header, unwrapped, body) = match (attributed, envelope) {
        (Some((carrier, header)), envelope) => {
            let unwrapped = envelope.is_some();
            let body = envelope.map_or(body.map(Cow::Borrowed), |e| Some(e.body));
            (Some(carrier), Some(Cow::Borrowed(header)), unwrapped, body)
        }
        (None, Some(envelope)) => (Some(Carrier::Body), Some(envelope.trace_header), true, Some(envelope.body)),
        (None, None) => (None, None, false, body.map(Cow::Borrowed)),
    };
    Received { trace_header, found_in, body, unwrapped, ..Received::default() }
}

/// Whether two headers name the same call: the same valid `Root` and `Parent`, both present, as the one header
/// parser reads them (keys in any case, whitespace around them).
fn same_call(a: &str, b: &str) -> bool {
    let call = |text: &str| TraceHeader::salvage(text).header.and_then(|h| Some((h.root(), h.parent()?)));
    call(a).is_some_and(|a| Some(a) == call(b))
}

/// Whether a message attribute's data type is `String` or a custom `String.*` type; binary and number attributes
/// are not trace headers.
fn string_typed(data_type: Option<&str>) -> bool {
    data_type.is_none_or(|t| t == "String" || t.starts_with("String."))
}

fn timestamp(text: &str) -> Option<u64> {
    match text.parse() {
        Ok(ms) => Some(ms),
        Err(_) => {
            diag!(Carrier, "system attribute `SentTimestamp={text}` is not a time in milliseconds");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_lambda_events::sqs::SqsMessageAttribute;
    use aws_sdk_sqs::types::MessageAttributeValue;

    use super::*;
    use crate::sqs::carrier::wrap_body;

    const PRODUCER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1";
    const OTHER: &str = "Root=1-67891233-abcdef012345678912345678;Parent=1111111111111111;Sampled=0";
    const ARN: &str = "arn:aws:sqs:us-east-1:123456789012:orders";

    fn event(body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some("059f36b4-87a3-44ab-83d2-661975830a7d".into());
        message.body = Some(body.into());
        message.event_source_arn = Some(ARN.into());
        message.attributes = HashMap::from([(SENT_TIMESTAMP.to_owned(), "1545082649183".to_owned())]);
        message
    }

    fn string_attribute(value: &str) -> SqsMessageAttribute {
        let mut attribute = SqsMessageAttribute::default();
        attribute.data_type = Some("String".into());
        attribute.string_value = Some(value.into());
        attribute
    }

    fn sdk(body: &str) -> aws_sdk_sqs::types::builders::MessageBuilder {
        Message::builder()
            .message_id("m-1")
            .body(body)
            .attributes(MessageSystemAttributeName::SentTimestamp, "1545082649183")
    }

    fn sdk_attribute(value: &str) -> MessageAttributeValue {
        MessageAttributeValue::builder().data_type("String").string_value(value).build().expect("attribute")
    }

    #[test]
    fn the_system_attribute_is_read_with_the_time_id_and_queue() {
        let mut message = event("hi");
        message.attributes.insert(TRACE_ATTRIBUTE.into(), PRODUCER.into());
        let received = read_event(&message);
        assert_eq!(
            received,
            Received {
                trace_header: Some(PRODUCER.into()),
                found_in: Some(Carrier::SystemAttribute),
                body: Some("hi".into()),
                unwrapped: false,
                sent_timestamp_ms: Some(1_545_082_649_183),
                message_id: Some("059f36b4-87a3-44ab-83d2-661975830a7d"),
                queue: Some("orders"),
            }
        );

        let message = sdk("hi").attributes(MessageSystemAttributeName::AwsTraceHeader, PRODUCER).build();
        let received = read_sdk(&message, Some("https://sqs.us-east-1.amazonaws.com/123456789012/orders"));
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in),
            (Some(PRODUCER), Some(Carrier::SystemAttribute))
        );
        assert_eq!(
            (received.sent_timestamp_ms, received.message_id, received.queue),
            (Some(1_545_082_649_183), Some("m-1"), Some("orders"))
        );
    }

    #[test]
    fn the_message_attribute_is_read_when_there_is_no_system_attribute() {
        let mut message = event("hi");
        message.message_attributes.insert(TRACE_ATTRIBUTE.into(), string_attribute(PRODUCER));
        let received = read_event(&message);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in),
            (Some(PRODUCER), Some(Carrier::MessageAttribute))
        );

        let message = sdk("hi").message_attributes(TRACE_ATTRIBUTE, sdk_attribute(PRODUCER)).build();
        let received = read_sdk(&message, None);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in),
            (Some(PRODUCER), Some(Carrier::MessageAttribute))
        );
        assert_eq!(received.queue, None);
    }

    #[test]
    fn the_body_envelope_is_read_and_unwrapped() {
        let body = r#"{"order":7}"#;
        let message = event(&wrap_body(PRODUCER, body));
        let received = read_event(&message);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in, received.body.as_deref()),
            (Some(PRODUCER), Some(Carrier::Body), Some(body))
        );
        let message = sdk(&wrap_body(PRODUCER, body)).build();
        assert_eq!(read_sdk(&message, None).body.as_deref(), Some(body));
    }

    #[test]
    fn attributes_come_before_the_envelope_of_another_call_which_stays_the_body() {
        let wrapped = wrap_body(OTHER, "payload");
        let mut message = event(&wrapped);
        message.message_attributes.insert(TRACE_ATTRIBUTE.into(), string_attribute(""));
        message.attributes.insert(TRACE_ATTRIBUTE.into(), PRODUCER.into());
        let received = read_event(&message);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in, received.body.as_deref(), received.unwrapped),
            (Some(PRODUCER), Some(Carrier::SystemAttribute), Some(wrapped.as_str()), false)
        );
        // An empty attribute counts as none: the envelope is then the message's carrier, and unwrapped.
        message.attributes.remove(TRACE_ATTRIBUTE);
        let received = read_event(&message);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in, received.body.as_deref(), received.unwrapped),
            (Some(OTHER), Some(Carrier::Body), Some("payload"), true)
        );
    }

    #[test]
    fn a_message_without_a_header_reads_as_none_with_its_body_unchanged() {
        let message = event("plain");
        let received = read_event(&message);
        assert_eq!((received.trace_header, received.found_in, received.body), (None, None, Some("plain".into())));
        let empty = Message::builder().build();
        assert_eq!(read_sdk(&empty, None), Received::default());
        assert_eq!(read_event(&SqsMessage::default()), Received::default());
    }

    #[test]
    fn an_invalid_header_is_returned_as_found_for_the_caller_to_judge() {
        let mut message = event("hi");
        message.attributes.insert(TRACE_ATTRIBUTE.into(), "Root=nope".into());
        let received = read_event(&message);
        assert_eq!(received.trace_header.as_deref(), Some("Root=nope"));
    }

    #[test]
    fn a_json_body_that_is_not_our_envelope_is_the_body() {
        let body = r#"{"trace_header":"Root=1-5759e988-bd862e3fe1be46a994272793","body":"x","xray_envelope":1}"#;
        let message = event(body);
        let received = read_event(&message);
        assert_eq!((received.trace_header, received.body.as_deref()), (None, Some(body)));
    }

    #[test]
    fn a_message_with_ten_attributes_of_its_own_is_read_through_the_others() {
        let mut message = event("hi");
        for i in 0..10 {
            message.message_attributes.insert(format!("a{i}"), string_attribute("v"));
        }
        message.attributes.insert(TRACE_ATTRIBUTE.into(), PRODUCER.into());
        assert_eq!(read_event(&message).trace_header.as_deref(), Some(PRODUCER));
        message.attributes.remove(TRACE_ATTRIBUTE);
        assert_eq!(read_event(&message).trace_header, None);
    }

    #[test]
    fn binary_attributes_and_bad_timestamps_are_not_taken() {
        let mut message = event("hi");
        let mut binary = string_attribute(PRODUCER);
        binary.data_type = Some("Binary".into());
        message.message_attributes.insert(TRACE_ATTRIBUTE.into(), binary);
        message.attributes.insert(SENT_TIMESTAMP.into(), "yesterday".into());
        let before = crate::diag::count(crate::diag::DiagKind::Carrier);
        let received = read_event(&message);
        assert_eq!((received.trace_header, received.sent_timestamp_ms), (None, None));
        assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before);
    }

    // Regression (issue 18, point 12): a whitespace-only system attribute hid a valid message attribute.
    #[test]
    fn a_blank_system_attribute_does_not_hide_the_message_attribute() {
        let mut message = event("hi");
        message.attributes.insert(TRACE_ATTRIBUTE.into(), " \t ".into());
        message.message_attributes.insert(TRACE_ATTRIBUTE.into(), string_attribute(PRODUCER));
        let received = read_event(&message);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in),
            (Some(PRODUCER), Some(Carrier::MessageAttribute))
        );
    }

    // Regression (issue 18, point 8): a body shaped like an envelope was unwrapped although the message's header
    // came from an attribute, so the consumer processed a payload that was not the message's.
    #[test]
    fn an_envelope_is_not_unwrapped_when_the_header_came_from_an_attribute_of_another_call() {
        let forged = wrap_body(OTHER, r#"{"order":"not in the message"}"#);
        let mut message = event(&forged);
        message.attributes.insert(TRACE_ATTRIBUTE.into(), PRODUCER.into());
        let received = read_event(&message);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in, received.body.as_deref()),
            (Some(PRODUCER), Some(Carrier::SystemAttribute), Some(forged.as_str()))
        );
        let sdk = sdk(&forged).message_attributes(TRACE_ATTRIBUTE, sdk_attribute(PRODUCER)).build();
        assert_eq!(read_sdk(&sdk, None).body.as_deref(), Some(forged.as_str()));
        // The service copies the send call's own header to the system attribute (SQS from the HTTP header, SNS when
        // the topic's tracing is on): the envelope that call wrote names the same Root and Parent, and is unwrapped.
        let ours = wrap_body(&PRODUCER.replace(";Lineage=a:1", ""), "payload");
        let mut message = event(&ours);
        message.attributes.insert(TRACE_ATTRIBUTE.into(), PRODUCER.into());
        assert_eq!(read_event(&message).body.as_deref(), Some("payload"));
    }

    // Regression (issue 18 review, item 3): a message received without system attributes had its body unwrapped,
    // so anyone who could send to the queue chose, with a forged envelope, the payload the consumer processed.
    #[test]
    fn an_envelope_is_not_unwrapped_when_the_system_attributes_were_not_asked_for() {
        let wrapped = wrap_body(PRODUCER, "payload");
        let not_asked = Message::builder().message_id("m-1").body(&wrapped).build();
        let received = read_sdk(&not_asked, None);
        assert_eq!(
            (received.trace_header, received.found_in, received.body.as_deref(), received.unwrapped),
            (None, None, Some(wrapped.as_str()), false)
        );
        // Asked for (`SentTimestamp` is always returned then) and without `AWSTraceHeader`: unwrapped.
        let asked = sdk(&wrapped).build();
        assert_eq!(read_sdk(&asked, None).body.as_deref(), Some("payload"));
    }

    // Regression (issue 18 review, item 10): the diagnostic for messages without system attributes was checked only
    // end to end, where other tests may have said it first.
    #[test]
    fn the_missing_system_attributes_are_said_once() {
        let said = AtomicBool::new(false);
        assert!(not_asked(&said, Some("m-first")));
        assert!(!not_asked(&said, Some("m-second")));
        assert!(!not_asked(&said, None));
    }

    // Regression (issue 18 review, item 4): the envelope's call was compared by a second, case-sensitive header
    // parser, so an attribute header with lower-case keys naming the same call left the envelope as the body.
    #[test]
    fn the_same_call_is_recognized_as_the_header_parser_reads_it() {
        let lower = "root=1-5759e988-bd862e3fe1be46a994272793; parent=53995C3F42CD8AD8 ;sampled=1";
        let mut message = event(&wrap_body(&PRODUCER.replace(";Lineage=a:1", ""), "payload"));
        message.attributes.insert(TRACE_ATTRIBUTE.into(), lower.into());
        let received = read_event(&message);
        assert_eq!((received.body.as_deref(), received.unwrapped), (Some("payload"), true));
        assert!(same_call(lower, PRODUCER));
        assert!(!same_call(lower, OTHER));
        assert!(!same_call("Root=1-5759e988-bd862e3fe1be46a994272793", "Root=1-5759e988-bd862e3fe1be46a994272793"));
    }

    #[test]
    fn queues_are_named_from_arns_urls_and_names() {
        assert_eq!(queue_name(ARN), "orders");
        assert_eq!(queue_name("https://sqs.us-east-1.amazonaws.com/123456789012/jobs.fifo"), "jobs.fifo");
        assert_eq!(queue_name("http://127.0.0.1:5000/123456789012/q-1/"), "q-1");
        assert_eq!(queue_name("jobs"), "jobs");
    }

    #[test]
    fn either_message_type_reads_through_the_trait_by_value_or_reference() {
        fn read<M: ReadTrace>(message: M) -> Option<String> {
            message.read_trace().trace_header.map(Cow::into_owned)
        }
        let mut message = event("hi");
        message.attributes.insert(TRACE_ATTRIBUTE.into(), PRODUCER.into());
        assert_eq!(read(&message).as_deref(), Some(PRODUCER));
        assert_eq!(read(message).as_deref(), Some(PRODUCER));
        assert_eq!(read(sdk("hi").build()), None);
    }
}
