//! SNS `Publish` and `PublishBatch`: the same carriers as SQS sends, except that SNS has no message system
//! attributes (aws-sdk-sns has no `message_system_attributes`), so [`Carrier::SystemAttribute`] writes the
//! `AWSTraceHeader` message attribute. SNS itself passes the call's `X-Amzn-Trace-Id` on to subscribers when the
//! topic's tracing config is `PassThrough` or `Active`, as the `AWSTraceHeader` system attribute of SQS subscribers.
//!
//! The [`Carrier::Body`] carrier is refused on SNS, with a diagnostic, and the message sent as written: a
//! subscriber without raw delivery receives the notification JSON with the envelope inside its `Message`, which no
//! consumer unwraps, so the subscriber would see a changed payload. Use `message_attribute` (the default here).

use std::borrow::Cow;

use aws_sdk_sns::operation::publish::PublishInput;
use aws_sdk_sns::operation::publish_batch::PublishBatchInput;
use aws_smithy_runtime_api::client::interceptors::context::Input;

use super::carrier::Carrier;
use super::message::{Message, usable};
use crate::diag::diag;

/// The largest SNS message, and the largest batch, in bytes: body plus every attribute's name, type and value.
const SNS_MAX_BYTES: usize = 256 * 1024;

/// Whether `input` is an SNS `Publish` or `PublishBatch`.
pub(crate) fn is_publish(input: &Input) -> bool {
    input.downcast_ref::<PublishInput>().is_some() || input.downcast_ref::<PublishBatchInput>().is_some()
}

/// Applies `carrier` to the messages of an SNS `Publish` or `PublishBatch`; any other input is left alone.
pub(crate) fn outgoing<'h>(input: &mut Input, carrier: Carrier, header: impl FnOnce() -> Option<Cow<'h, str>>) {
    if carrier == Carrier::Body {
        if is_publish(input) {
            diag!(
                Carrier,
                "the `body` carrier is not used on SNS: a subscriber without raw delivery gets the envelope inside the \
                 notification JSON, a changed payload; the message is sent as written. Use `message_attribute`"
            );
        }
        return;
    }
    if let Some(publish) = input.downcast_mut::<PublishInput>() {
        let Some(header) = usable(header()) else { return };
        // The body is never wrapped here, so what content-based deduplication hashes is never changed.
        let mut message = Message {
            body: publish.message.as_mut(),
            attributes: &mut publish.message_attributes,
            system: None,
            content_dedup: false,
        };
        let mut budget = SNS_MAX_BYTES.saturating_sub(message.size());
        message.carry(carrier, &header, &mut budget);
    } else if let Some(batch) = input.downcast_mut::<PublishBatchInput>() {
        let Some(entries) = batch.publish_batch_request_entries.as_mut().filter(|e| !e.is_empty()) else { return };
        let Some(header) = usable(header()) else { return };
        let mut messages: Vec<Message<'_, _>> = entries
            .iter_mut()
            .map(|entry| Message {
                content_dedup: false,
                body: Some(&mut entry.message),
                attributes: &mut entry.message_attributes,
                system: None,
            })
            .collect();
        let mut budget = SNS_MAX_BYTES.saturating_sub(messages.iter().map(Message::size).sum());
        for message in &mut messages {
            message.carry(carrier, &header, &mut budget);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::carrier::TRACE_ATTRIBUTE;
    use aws_sdk_sns::types::MessageAttributeValue;
    use aws_sdk_sns::types::PublishBatchRequestEntry;
    use std::collections::HashMap;

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";

    fn run<T: std::fmt::Debug + Send + Sync + 'static>(input: T, carrier: Carrier) -> T {
        let mut erased = Input::erase(input);
        crate::sqs::outgoing(&mut erased, carrier, || Some(HEADER.into()));
        erased.downcast::<T>().expect("same type")
    }

    fn publish(message: &str) -> PublishInput {
        PublishInput::builder().topic_arn(TOPIC).message(message).build().expect("input")
    }

    fn attribute(input: &PublishInput) -> Option<&str> {
        input.message_attributes.as_ref()?.get(TRACE_ATTRIBUTE)?.string_value()
    }

    #[test]
    fn without_system_attributes_both_attribute_carriers_write_the_message_attribute() {
        for carrier in [Carrier::SystemAttribute, Carrier::MessageAttribute] {
            let sent = run(publish("hi"), carrier);
            assert_eq!((attribute(&sent), sent.message()), (Some(HEADER), Some("hi")), "{carrier}");
        }
    }

    // Every kind of publish (to a phone number, a JSON message structure, a FIFO topic, a batch) is left as written
    // by the `body` carrier, each with the diagnostic: no subscriber of any protocol sees an envelope.
    #[test]
    fn the_body_carrier_leaves_every_kind_of_publish_as_written() {
        let sms = PublishInput::builder().phone_number("+15555550100").message("hi").build().expect("input");
        let mut structured = publish(r#"{"default":"hi"}"#);
        structured.message_structure = Some("json".into());
        let mut fifo = publish("hi");
        fifo.topic_arn = Some(format!("{TOPIC}.fifo"));
        for input in [sms, structured, fifo] {
            let before = crate::diag::count(crate::diag::DiagKind::Carrier);
            assert_eq!(run(input.clone(), Carrier::Body), input);
            assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before, "{input:?}");
        }
        let entry = PublishBatchRequestEntry::builder().id("a").message("hi").build().expect("entry");
        let batch = PublishBatchInput::builder().topic_arn(TOPIC).publish_batch_request_entries(entry).build();
        let batch = batch.expect("input");
        let before = crate::diag::count(crate::diag::DiagKind::Carrier);
        assert_eq!(run(batch.clone(), Carrier::Body), batch);
        assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before);
    }

    // Regression (issue 18, point 11): the body carrier wrapped SNS messages, and a subscriber without raw delivery
    // (the notification JSON around the envelope) or with the topic's tracing on (the system attribute beside it)
    // saw the envelope instead of the payload.
    #[test]
    fn the_body_carrier_is_refused_on_sns_with_a_diagnostic() {
        let before = crate::diag::count(crate::diag::DiagKind::Carrier);
        assert_eq!(run(publish("hi"), Carrier::Body), publish("hi"));
        assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before);
        let recent = crate::diag::recent();
        assert!(recent.iter().any(|(_, text)| text.contains("message_attribute")), "{recent:?}");
    }

    #[test]
    fn every_batch_entry_carries_the_header_within_the_attribute_limit() {
        let ten: HashMap<String, MessageAttributeValue> = (0..10)
            .map(|i| {
                let value = MessageAttributeValue::builder().data_type("String").string_value("v").build();
                (format!("a{i}"), value.expect("value"))
            })
            .collect();
        let entry = |id: &str| PublishBatchRequestEntry::builder().id(id).message("x").build().expect("entry");
        let batch = PublishBatchInput::builder()
            .topic_arn(TOPIC)
            .publish_batch_request_entries(entry("a"))
            .publish_batch_request_entries(
                PublishBatchRequestEntry::builder()
                    .id("b")
                    .message("x")
                    .set_message_attributes(Some(ten))
                    .build()
                    .expect("entry"),
            )
            .build()
            .expect("input");
        let sent = run(batch, Carrier::SystemAttribute);
        let entries = sent.publish_batch_request_entries();
        assert_eq!(entries[0].message_attributes().and_then(|m| m[TRACE_ATTRIBUTE].string_value()), Some(HEADER));
        assert_eq!(
            entries[1].message_attributes().map(|m| (m.len(), m.contains_key(TRACE_ATTRIBUTE))),
            Some((10, false))
        );
    }
}
