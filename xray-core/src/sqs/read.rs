//! The consumer side: what a received message says about the call that sent it. Pure functions: nothing is recorded.

use std::borrow::Cow;

use aws_lambda_events::sqs::SqsMessage;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};

use super::carrier::{Carrier, SENT_TIMESTAMP, TRACE_ATTRIBUTE, unwrap_body};
use crate::diag::diag;
use crate::header::{HeaderError, TraceHeader};

/// What a received message tells about its producer, read by [`read_event`] or [`read_sdk`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Received<'a> {
    /// The producer's trace header as found, neither parsed nor checked ([`Received::parse_header`] does that):
    /// from the `AWSTraceHeader` system attribute, else the `AWSTraceHeader` message attribute, else the body
    /// envelope. An empty value counts as none.
    pub trace_header: Option<Cow<'a, str>>,
    /// The carrier `trace_header` came from.
    pub found_in: Option<Carrier>,
    /// The body the consumer should see: the original payload when the body was an envelope (whichever carrier the
    /// header was taken from), else the body as it arrived.
    pub body: Option<Cow<'a, str>>,
    /// When SQS accepted the message (`SentTimestamp`), in milliseconds since the Unix epoch.
    pub sent_timestamp_ms: Option<u64>,
    /// The message id SQS gave the message.
    pub message_id: Option<&'a str>,
    /// The queue's name: from the event's source ARN, or from the queue given to [`read_sdk`].
    pub queue: Option<&'a str>,
}

impl Received<'_> {
    /// The trace header, parsed; `None` when the message carried none.
    pub fn parse_header(&self) -> Option<Result<TraceHeader, HeaderError>> {
        self.trace_header.as_deref().map(TraceHeader::parse)
    }
}

/// Reads a message of an SQS event, as a Lambda event source mapping delivers it (`Records[i]`).
pub fn read_event(message: &SqsMessage) -> Received<'_> {
    let system = message.attributes.get(TRACE_ATTRIBUTE).map(String::as_str);
    let attribute = message
        .message_attributes
        .get(TRACE_ATTRIBUTE)
        .and_then(|a| string_typed(a.data_type.as_deref()).then_some(a.string_value.as_deref()).flatten());
    let mut received = from_parts(system, attribute, message.body.as_deref());
    received.sent_timestamp_ms = message.attributes.get(SENT_TIMESTAMP).and_then(|t| timestamp(t));
    received.message_id = message.message_id.as_deref();
    received.queue = message.event_source_arn.as_deref().map(queue_name);
    received
}

/// Reads a message from an `aws-sdk-sqs` `ReceiveMessage` response. It does not name its queue, so the caller may:
/// `queue` is a queue name, URL or ARN.
///
/// The message has its system attributes only when `ReceiveMessage` asked for them; a client with
/// [`XRayInterceptor`](crate::aws::XRayInterceptor) asks for `AWSTraceHeader`, `SentTimestamp` and the
/// `AWSTraceHeader` message attribute itself.
pub fn read_sdk<'a>(message: &'a Message, queue: Option<&'a str>) -> Received<'a> {
    let system_attribute =
        |name: &MessageSystemAttributeName| message.attributes.as_ref().and_then(|a| a.get(name)).map(String::as_str);
    let attribute = message
        .message_attributes
        .as_ref()
        .and_then(|a| a.get(TRACE_ATTRIBUTE))
        .and_then(|a| string_typed(Some(&a.data_type)).then_some(a.string_value.as_deref()).flatten());
    let system = system_attribute(&MessageSystemAttributeName::AwsTraceHeader);
    let mut received = from_parts(system, attribute, message.body.as_deref());
    received.sent_timestamp_ms = system_attribute(&MessageSystemAttributeName::SentTimestamp).and_then(timestamp);
    received.message_id = message.message_id.as_deref();
    received.queue = queue.map(queue_name);
    received
}

/// A message type [`read_event`] or [`read_sdk`] reads, so generated code can take either: an sdk `Message` is read
/// without a queue.
pub trait ReadTrace {
    /// What the message tells about its producer.
    fn read_trace(&self) -> Received<'_>;
}

impl ReadTrace for SqsMessage {
    fn read_trace(&self) -> Received<'_> {
        read_event(self)
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

fn from_parts<'a>(system: Option<&'a str>, attribute: Option<&'a str>, body: Option<&'a str>) -> Received<'a> {
    let envelope = body.and_then(unwrap_body);
    let (envelope_header, body) = match envelope {
        Some(envelope) => (Some(envelope.trace_header), Some(envelope.body)),
        None => (None, body.map(Cow::Borrowed)),
    };
    let found = [
        (Carrier::SystemAttribute, system.map(Cow::Borrowed)),
        (Carrier::MessageAttribute, attribute.map(Cow::Borrowed)),
        (Carrier::Body, envelope_header),
    ]
    .into_iter()
    .find_map(|(carrier, header)| header.filter(|h| !h.is_empty()).map(|h| (carrier, h)));
    Received {
        found_in: found.as_ref().map(|(carrier, _)| *carrier),
        trace_header: found.map(|(_, header)| header),
        body,
        ..Received::default()
    }
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
                sent_timestamp_ms: Some(1_545_082_649_183),
                message_id: Some("059f36b4-87a3-44ab-83d2-661975830a7d"),
                queue: Some("orders"),
            }
        );
        assert_eq!(received.parse_header().map(|h| h.map(|h| h.to_string())), Some(Ok(PRODUCER.to_owned())));

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
    fn attributes_come_before_the_envelope_which_is_still_unwrapped() {
        let mut message = event(&wrap_body(OTHER, "payload"));
        message.message_attributes.insert(TRACE_ATTRIBUTE.into(), string_attribute(""));
        message.attributes.insert(TRACE_ATTRIBUTE.into(), PRODUCER.into());
        let received = read_event(&message);
        assert_eq!(
            (received.trace_header.as_deref(), received.found_in, received.body.as_deref()),
            (Some(PRODUCER), Some(Carrier::SystemAttribute), Some("payload"))
        );
        // An empty attribute counts as none.
        message.attributes.remove(TRACE_ATTRIBUTE);
        let received = read_event(&message);
        assert_eq!((received.trace_header.as_deref(), received.found_in), (Some(OTHER), Some(Carrier::Body)));
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
        assert!(matches!(received.parse_header(), Some(Err(HeaderError::InvalidRoot(_)))));
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
