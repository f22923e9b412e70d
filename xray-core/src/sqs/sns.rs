//! SNS `Publish` and `PublishBatch`: the same carriers as SQS sends, except that SNS has no message system
//! attributes (aws-sdk-sns has no `message_system_attributes`), so [`Carrier::SystemAttribute`] writes the
//! `AWSTraceHeader` message attribute. SNS itself passes the call's `X-Amzn-Trace-Id` on to subscribers when the
//! topic's tracing config is `PassThrough` or `Active`, as the `AWSTraceHeader` system attribute of SQS subscribers.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_sdk_sns::operation::publish::PublishInput;
use aws_sdk_sns::operation::publish_batch::PublishBatchInput;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_runtime_api::client::interceptors::context::Input;

use super::carrier::Carrier;
use super::produce::{Attributes, Message, is_fifo};

/// The largest SNS message, and the largest batch, in bytes: body plus every attribute's name, type and value.
const SNS_MAX_BYTES: usize = 256 * 1024;

/// Applies `carrier` to the messages of an SNS `Publish` or `PublishBatch`; any other input is left alone.
pub(crate) fn outgoing<'h>(input: &mut Input, carrier: Carrier, header: impl FnOnce() -> Option<Cow<'h, str>>) {
    if let Some(publish) = input.downcast_mut::<PublishInput>() {
        let Some(header) = super::produce::usable(header()) else { return };
        // A JSON message structure holds one message per protocol; SMS and mobile push show the body to people.
        let body_allowed = publish.message_structure.is_none() && publish.topic_arn.is_some();
        let content_dedup = is_fifo(publish.topic_arn.as_deref()) && publish.message_deduplication_id.is_none();
        let mut message = Message {
            body: publish.message.as_mut(),
            attributes: &mut publish.message_attributes,
            system: None,
            content_dedup,
            body_allowed,
        };
        let mut budget = SNS_MAX_BYTES.saturating_sub(message.size());
        message.carry(carrier, &header, &mut budget);
    } else if let Some(batch) = input.downcast_mut::<PublishBatchInput>() {
        let Some(entries) = batch.publish_batch_request_entries.as_mut().filter(|e| !e.is_empty()) else { return };
        let Some(header) = super::produce::usable(header()) else { return };
        let fifo = is_fifo(batch.topic_arn.as_deref());
        let mut messages: Vec<Message<'_, _>> = entries
            .iter_mut()
            .map(|entry| Message {
                body_allowed: entry.message_structure.is_none(),
                content_dedup: fifo && entry.message_deduplication_id.is_none(),
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

impl Attributes for Option<HashMap<String, MessageAttributeValue>> {
    fn count(&self) -> usize {
        self.as_ref().map_or(0, HashMap::len)
    }

    fn has(&self, name: &str) -> bool {
        self.as_ref().is_some_and(|m| m.contains_key(name))
    }

    fn size(&self) -> usize {
        let value = |v: &MessageAttributeValue| {
            v.data_type.len()
                + v.string_value.as_ref().map_or(0, String::len)
                + v.binary_value.as_ref().map_or(0, |b| b.as_ref().len())
        };
        self.iter().flatten().map(|(k, v)| k.len() + value(v)).sum()
    }

    fn insert_string(&mut self, name: &str, value: String) -> Result<(), String> {
        let built = MessageAttributeValue::builder().data_type("String").string_value(value).build();
        let value = built.map_err(|e| e.to_string())?;
        self.get_or_insert_with(HashMap::new).insert(name.to_owned(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::carrier::{TRACE_ATTRIBUTE, wrap_body};
    use aws_sdk_sns::types::PublishBatchRequestEntry;

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:orders";

    fn run<T: std::fmt::Debug + Send + Sync + 'static>(input: T, carrier: Carrier) -> T {
        let mut erased = Input::erase(input);
        crate::sqs::produce::outgoing(&mut erased, carrier, || Some(HEADER.into()));
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
        let sent = run(publish("hi"), Carrier::Body);
        assert_eq!((attribute(&sent), sent.message()), (None, Some(wrap_body(HEADER, "hi").as_str())));
    }

    #[test]
    fn the_body_is_wrapped_only_for_topics_with_one_message_for_every_protocol() {
        let sms = PublishInput::builder().phone_number("+15555550100").message("hi").build().expect("input");
        assert_eq!(run(sms.clone(), Carrier::Body), sms);
        let mut structured = publish(r#"{"default":"hi"}"#);
        structured.message_structure = Some("json".into());
        assert_eq!(run(structured.clone(), Carrier::Body), structured);
        let mut fifo = publish("hi");
        fifo.topic_arn = Some(format!("{TOPIC}.fifo"));
        assert_eq!(run(fifo.clone(), Carrier::Body), fifo);
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
