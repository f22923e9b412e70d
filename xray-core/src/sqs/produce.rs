//! The producer side, run by the interceptor on the operation's input before it is serialized: the trace header put
//! on each outgoing message by the chosen carrier, and `ReceiveMessage` asking for the attributes a consumer needs.
//!
//! Input types are matched by downcasting, so a call of any other operation costs one type-id comparison per type.
//! Nothing here can fail the call: a carrier that cannot be applied is skipped with a diagnostic, and a message the
//! service would refuse anyway is left as it is, so the caller gets the service's own error.

use std::borrow::Cow;

use aws_sdk_sqs::operation::receive_message::ReceiveMessageInput;
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_smithy_runtime_api::client::interceptors::context::Input;

use super::carrier::{Carrier, TRACE_ATTRIBUTE};
use super::message::{Message, is_fifo, usable};

/// The largest SQS message, and the largest SQS batch, a carrier that adds bytes (`message_attribute`, `body`) may
/// grow a send to: body plus every attribute's name, type and value, as SQS counts them. SQS takes up to 1 MiB,
/// but a queue's `MaximumMessageSize` may be lower, and was 256 KiB by default before 2026: a message the carrier
/// would grow past 256 KiB is left as the caller wrote it, with a diagnostic, so that a send that fits without the
/// carrier is never refused because of it. The `system_attribute` carrier counts toward no size and always applies.
const SQS_MAX_BYTES: usize = 256 * 1024;

/// Applies `carrier` to the messages of an SQS send, or asks an SQS `ReceiveMessage` for the trace attributes; any
/// other input is left alone. `header` is only called for sends; it lends the recorded call's header
/// rather than copying it, since each message gets a copy of its own anyway.
pub(crate) fn outgoing<'h>(input: &mut Input, carrier: Carrier, header: impl FnOnce() -> Option<Cow<'h, str>>) {
    if let Some(send) = input.downcast_mut::<SendMessageInput>() {
        let Some(header) = usable(header()) else { return };
        let content_dedup = is_fifo(send.queue_url.as_deref()) && send.message_deduplication_id.is_none();
        let mut message = Message {
            body: send.message_body.as_mut(),
            attributes: &mut send.message_attributes,
            system: Some(&mut send.message_system_attributes),
            content_dedup,
        };
        let mut budget = SQS_MAX_BYTES.saturating_sub(message.size());
        message.carry(carrier, &header, &mut budget);
    } else if let Some(batch) = input.downcast_mut::<SendMessageBatchInput>() {
        let Some(entries) = batch.entries.as_mut().filter(|e| !e.is_empty()) else { return };
        let Some(header) = usable(header()) else { return };
        let fifo = is_fifo(batch.queue_url.as_deref());
        let mut messages: Vec<Message<'_, _>> = entries
            .iter_mut()
            .map(|entry| Message {
                content_dedup: fifo && entry.message_deduplication_id.is_none(),
                body: Some(&mut entry.message_body),
                attributes: &mut entry.message_attributes,
                system: Some(&mut entry.message_system_attributes),
            })
            .collect();
        let mut budget = SQS_MAX_BYTES.saturating_sub(messages.iter().map(Message::size).sum());
        for message in &mut messages {
            message.carry(carrier, &header, &mut budget);
        }
    } else if let Some(receive) = input.downcast_mut::<ReceiveMessageInput>() {
        ask_for_trace(receive);
    }
}

/// Adds `AWSTraceHeader` and `SentTimestamp` to the system attributes a `ReceiveMessage` asks for, and the
/// `AWSTraceHeader` message attribute to the message attributes, unless the caller's names already cover them.
fn ask_for_trace(receive: &mut ReceiveMessageInput) {
    // Callers of the deprecated `AttributeNames` still exist; SQS treats it as `MessageSystemAttributeNames`.
    #[allow(deprecated)]
    let legacy_all = receive.attribute_names.as_ref().is_some_and(|names| names.contains(&QueueAttributeName::All));
    let system = receive.message_system_attribute_names.as_ref();
    if !legacy_all && !system.is_some_and(|names| names.contains(&MessageSystemAttributeName::All)) {
        let names = receive.message_system_attribute_names.get_or_insert_with(Vec::new);
        for wanted in [MessageSystemAttributeName::AwsTraceHeader, MessageSystemAttributeName::SentTimestamp] {
            if !names.contains(&wanted) {
                names.push(wanted);
            }
        }
    }
    let names = receive.message_attribute_names.get_or_insert_with(Vec::new);
    let covers = |name: &String| match name.strip_suffix(".*") {
        Some(prefix) => TRACE_ATTRIBUTE.starts_with(prefix),
        None => name == "All" || name == TRACE_ATTRIBUTE,
    };
    if !names.iter().any(covers) {
        names.push(TRACE_ATTRIBUTE.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::sqs::carrier::wrap_body;
    use crate::sqs::message::{Attributes, system_attribute};
    use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeNameForSends, SendMessageBatchRequestEntry};

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn send(body: &str) -> SendMessageInput {
        SendMessageInput::builder().queue_url("http://q/1/jobs").message_body(body).build().expect("input")
    }

    /// `send(body)` changed by `change` (the SDK's inputs are `non_exhaustive`, so no struct update syntax).
    fn send_with(body: &str, change: impl FnOnce(&mut SendMessageInput)) -> SendMessageInput {
        let mut input = send(body);
        change(&mut input);
        input
    }

    fn run<T: std::fmt::Debug + Send + Sync + 'static>(input: T, carrier: Carrier) -> T {
        let mut erased = Input::erase(input);
        outgoing(&mut erased, carrier, || Some(HEADER.into()));
        erased.downcast::<T>().expect("same type")
    }

    fn system_header(input: &SendMessageInput) -> Option<&str> {
        let system = input.message_system_attributes.as_ref()?;
        system.get(&MessageSystemAttributeNameForSends::AwsTraceHeader)?.string_value()
    }

    fn attribute(input: &SendMessageInput) -> Option<&str> {
        input.message_attributes.as_ref()?.get(TRACE_ATTRIBUTE)?.string_value()
    }

    fn attributes(n: usize) -> HashMap<String, MessageAttributeValue> {
        (0..n)
            .map(|i| {
                let value = MessageAttributeValue::builder().data_type("String").string_value("v").build();
                (format!("a{i}"), value.expect("value"))
            })
            .collect()
    }

    #[test]
    fn each_carrier_writes_where_it_says() {
        let sent = run(send("hi"), Carrier::SystemAttribute);
        assert_eq!((system_header(&sent), attribute(&sent), sent.message_body()), (Some(HEADER), None, Some("hi")));
        let sent = run(send("hi"), Carrier::MessageAttribute);
        assert_eq!((system_header(&sent), attribute(&sent), sent.message_body()), (None, Some(HEADER), Some("hi")));
        let sent = run(send("hi"), Carrier::Body);
        assert_eq!((system_header(&sent), attribute(&sent)), (None, None));
        assert_eq!(sent.message_body(), Some(wrap_body(HEADER, "hi").as_str()));
    }

    #[test]
    fn a_header_the_caller_set_is_left_alone_whatever_the_carrier() {
        let theirs = "Root=1-67891233-abcdef012345678912345678;Sampled=1";
        let system =
            HashMap::from([(MessageSystemAttributeNameForSends::AwsTraceHeader, system_attribute(theirs).expect("v"))]);
        for carrier in Carrier::ALL {
            let input = send_with("hi", |i| i.message_system_attributes = Some(system.clone()));
            let sent = run(input.clone(), carrier);
            assert_eq!(sent, input, "{carrier}");
            let mut input = send("hi");
            input.message_attributes.insert_string(TRACE_ATTRIBUTE, theirs.into()).expect("attribute");
            assert_eq!(run(input.clone(), carrier), input, "{carrier}");
        }
    }

    #[test]
    fn the_message_attribute_never_makes_an_eleventh_attribute() {
        let before = crate::diag::count(crate::diag::DiagKind::Carrier);
        let input = send_with("hi", |i| i.message_attributes = Some(attributes(10)));
        assert_eq!(run(input.clone(), Carrier::MessageAttribute), input);
        assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before);
        // Nine leave room for it; the system attribute never counts.
        let sent = run(send_with("hi", |i| i.message_attributes = Some(attributes(9))), Carrier::MessageAttribute);
        assert_eq!((attribute(&sent), sent.message_attributes.count()), (Some(HEADER), 10));
        let sent = run(send_with("hi", |i| i.message_attributes = Some(attributes(10))), Carrier::SystemAttribute);
        assert_eq!(system_header(&sent), Some(HEADER));
    }

    #[test]
    fn carriers_that_would_push_a_message_past_the_size_limit_are_skipped() {
        let full = "x".repeat(SQS_MAX_BYTES - 20);
        for carrier in [Carrier::MessageAttribute, Carrier::Body] {
            let before = crate::diag::count(crate::diag::DiagKind::Carrier);
            assert_eq!(run(send(&full), carrier), send(&full), "{carrier}");
            assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before, "{carrier}");
        }
        assert_eq!(system_header(&run(send(&full), Carrier::SystemAttribute)), Some(HEADER));
    }

    #[test]
    fn the_body_is_left_alone_when_wrapping_it_would_change_what_the_service_does() {
        // Missing, empty and refused bodies fail as they would have; FIFO content deduplication would stop working.
        let none = SendMessageInput::builder().queue_url("http://q/1/jobs").build().expect("input");
        assert_eq!(run(none.clone(), Carrier::Body), none);
        assert_eq!(run(send(""), Carrier::Body), send(""));
        assert_eq!(run(send("bell \u{7}"), Carrier::Body), send("bell \u{7}"));
        let fifo = send_with("hi", |i| i.queue_url = Some("http://q/1/jobs.fifo".into()));
        assert_eq!(run(fifo.clone(), Carrier::Body), fifo);
        let mut deduplicated = fifo;
        deduplicated.message_deduplication_id = Some("d".into());
        assert_eq!(run(deduplicated, Carrier::Body).message_body(), Some(wrap_body(HEADER, "hi").as_str()));
    }

    #[test]
    fn a_header_that_is_not_printable_ascii_is_not_put_on_messages() {
        let mut erased = Input::erase(send("hi"));
        outgoing(&mut erased, Carrier::SystemAttribute, || Some(format!("{HEADER};Note=a\u{1}b").into()));
        assert_eq!(erased.downcast_ref::<SendMessageInput>(), Some(&send("hi")));
        let mut erased = Input::erase(send("hi"));
        outgoing(&mut erased, Carrier::SystemAttribute, || None);
        assert_eq!(erased.downcast_ref::<SendMessageInput>(), Some(&send("hi")));
    }

    // Regression (issue 18, point 8): a body that merely looked like an envelope was taken for one: the send got no
    // header, and the consumer unwrapped a payload that was not the message's.
    #[test]
    fn a_body_that_looks_like_an_envelope_is_a_body_like_any_other() {
        let forged = wrap_body("Root=1-67891233-abcdef012345678912345678;Sampled=1", "not in the message");
        let sent = run(send(&forged), Carrier::SystemAttribute);
        assert_eq!((system_header(&sent), sent.message_body()), (Some(HEADER), Some(forged.as_str())));
        let sent = run(send(&forged), Carrier::Body);
        assert_eq!(sent.message_body(), Some(wrap_body(HEADER, &forged).as_str()));
    }

    // Regression (issue 18, point 10): the carriers budgeted against 1 MiB, so a queue with the default 256 KiB
    // `MaximumMessageSize` refused a message that the carrier had grown past it.
    #[test]
    fn a_carrier_that_would_grow_a_message_past_256_kib_leaves_it_alone_and_a_large_send_goes_ahead() {
        let large = "x".repeat(256 * 1024 - 40);
        for carrier in [Carrier::MessageAttribute, Carrier::Body] {
            let before = crate::diag::count(crate::diag::DiagKind::Carrier);
            assert_eq!(run(send(&large), carrier), send(&large), "{carrier}");
            assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before, "{carrier}");
        }
        // Attributes count as SQS counts them: name, type and value.
        let with_attributes = send_with(&"x".repeat(256 * 1024 - 200), |i| i.message_attributes = Some(attributes(10)));
        assert_eq!(run(with_attributes.clone(), Carrier::Body), with_attributes);
        // The system attribute counts toward no size: a message of any size gets it.
        let huge = "x".repeat(900 * 1024);
        assert_eq!(system_header(&run(send(&huge), Carrier::SystemAttribute)), Some(HEADER));
        assert_eq!(run(send(&huge), Carrier::MessageAttribute), send(&huge));
    }

    #[test]
    fn every_batch_entry_carries_the_header() {
        let entry = |id: &str| SendMessageBatchRequestEntry::builder().id(id).message_body("x").build().expect("entry");
        let batch = SendMessageBatchInput::builder()
            .queue_url("http://q/1/jobs")
            .entries(entry("a"))
            .entries(
                SendMessageBatchRequestEntry::builder()
                    .id("b")
                    .message_body("x")
                    .set_message_attributes(Some(attributes(10)))
                    .build()
                    .expect("entry"),
            )
            .build()
            .expect("input");
        let sent = run(batch.clone(), Carrier::SystemAttribute);
        for entry in sent.entries() {
            let system = entry.message_system_attributes().expect("system attributes");
            assert_eq!(system[&MessageSystemAttributeNameForSends::AwsTraceHeader].string_value(), Some(HEADER));
        }
        let sent = run(batch, Carrier::MessageAttribute);
        assert_eq!(
            sent.entries()[0].message_attributes().and_then(|m| m[TRACE_ATTRIBUTE].string_value()),
            Some(HEADER)
        );
        assert_eq!(sent.entries()[1].message_attributes().map(HashMap::len), Some(10));
    }

    #[test]
    fn receive_asks_for_the_trace_attributes_in_addition_to_the_callers() {
        let receive = |system: Option<Vec<MessageSystemAttributeName>>, names: Option<Vec<&str>>| {
            let input = ReceiveMessageInput::builder()
                .queue_url("http://q/1/jobs")
                .set_message_system_attribute_names(system)
                .set_message_attribute_names(names.map(|n| n.into_iter().map(String::from).collect()))
                .build()
                .expect("input");
            let asked = run(input, Carrier::default());
            let system: Vec<String> =
                asked.message_system_attribute_names().iter().map(|n| n.as_str().to_owned()).collect();
            (system, asked.message_attribute_names().to_vec())
        };
        let strings = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(receive(None, None), (strings(&["AWSTraceHeader", "SentTimestamp"]), strings(&["AWSTraceHeader"])));
        assert_eq!(
            receive(
                Some(vec![MessageSystemAttributeName::SenderId, MessageSystemAttributeName::SentTimestamp]),
                Some(vec!["order"])
            ),
            (strings(&["SenderId", "SentTimestamp", "AWSTraceHeader"]), strings(&["order", "AWSTraceHeader"]))
        );
        assert_eq!(
            receive(Some(vec![MessageSystemAttributeName::All]), Some(vec!["All"])),
            (strings(&["All"]), strings(&["All"]))
        );
        assert_eq!(receive(None, Some(vec![".*"])).1, strings(&[".*"]));
        assert_eq!(receive(None, Some(vec!["AWST.*"])).1, strings(&["AWST.*"]));
        #[allow(deprecated)]
        let legacy = ReceiveMessageInput::builder().queue_url("q").attribute_names(QueueAttributeName::All).build();
        let asked = run(legacy.expect("input"), Carrier::default());
        assert_eq!(asked.message_system_attribute_names(), &[]);
    }
}
