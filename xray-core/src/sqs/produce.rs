//! The producer side, run by the interceptor on the operation's input before it is serialized: the trace header put
//! on each outgoing message by the chosen carrier, and `ReceiveMessage` asking for the attributes a consumer needs.
//!
//! Input types are matched by downcasting, so a call of any other operation costs one type-id comparison per type.
//! Nothing here can fail the call: a carrier that cannot be applied is skipped with a diagnostic, and a message the
//! service would refuse anyway is left as it is, so the caller gets the service's own error.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_sdk_sqs::operation::receive_message::ReceiveMessageInput;
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, MessageSystemAttributeNameForSends, MessageSystemAttributeValue,
    QueueAttributeName,
};
use aws_smithy_runtime_api::client::interceptors::context::Input;

use super::carrier::{Carrier, TRACE_ATTRIBUTE, looks_like_envelope, wrap_body};
use crate::diag::diag;

/// The most message attributes a message may have; one more and the service refuses the send.
pub(crate) const MAX_ATTRIBUTES: usize = 10;

/// The largest SQS message, and the largest SQS batch, in bytes: body plus every attribute's name, type and value.
const SQS_MAX_BYTES: usize = 1 << 20;

/// Applies `carrier` to the messages of an SQS send (or, with the `sns` feature, an SNS publish), or asks an SQS
/// `ReceiveMessage` for the trace attributes. `header` is only called for sends; it lends the recorded call's header
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
            body_allowed: true,
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
                body_allowed: true,
            })
            .collect();
        let mut budget = SQS_MAX_BYTES.saturating_sub(messages.iter().map(Message::size).sum());
        for message in &mut messages {
            message.carry(carrier, &header, &mut budget);
        }
    } else if let Some(receive) = input.downcast_mut::<ReceiveMessageInput>() {
        ask_for_trace(receive);
    } else {
        #[cfg(feature = "sns")]
        super::sns::outgoing(input, carrier, header);
    }
}

/// The header, if it can go on a message as it is: SQS refuses an `AWSTraceHeader` that is not a trace header, and
/// attribute values with control characters; this crate writes printable ASCII only.
pub(crate) fn usable(header: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    let header = header?;
    if header.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        Some(header)
    } else {
        diag!(MalformedHeader, "trace header not put on the message: it has characters outside printable ASCII");
        None
    }
}

/// FIFO queue URLs and topic ARNs end in `.fifo`.
pub(crate) fn is_fifo(name: Option<&str>) -> bool {
    name.is_some_and(|n| n.ends_with(".fifo"))
}

/// The message attributes of one SQS or SNS message, whichever SDK crate's type they are.
pub(crate) trait Attributes {
    /// How many there are.
    fn count(&self) -> usize;
    /// Whether there is one named `name`.
    fn has(&self, name: &str) -> bool;
    /// Their size as the service counts it: name, data type and value of each.
    fn size(&self) -> usize;
    /// Adds a String attribute; `Err` with the reason when the SDK refuses to build it.
    fn insert_string(&mut self, name: &str, value: String) -> Result<(), String>;
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

type SystemAttributes = Option<HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>>;

/// One outgoing message: where each carrier writes, and what limits a carrier must respect.
pub(crate) struct Message<'a, A: Attributes> {
    /// The body, `None` when the caller gave none (the SDK or the service refuses that; it is left to them).
    pub(crate) body: Option<&'a mut String>,
    pub(crate) attributes: &'a mut A,
    /// SQS only: SNS has no message system attributes.
    pub(crate) system: Option<&'a mut SystemAttributes>,
    /// A FIFO message deduplicated by a hash of its body: wrapping the body would stop deduplication.
    pub(crate) content_dedup: bool,
    /// Whether the body reaches a subscriber that could unwrap it (SNS: not an SMS or a mobile push).
    pub(crate) body_allowed: bool,
}

impl<A: Attributes> Message<'_, A> {
    /// Body and attributes, as the service counts a message's size.
    pub(crate) fn size(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.len()) + self.attributes.size()
    }

    /// Whether the caller already put a trace header on the message, by any carrier: then it is theirs to keep.
    fn carries_a_header(&self) -> bool {
        let system = self.system.as_ref().and_then(|s| s.as_ref());
        system.is_some_and(|s| s.contains_key(&MessageSystemAttributeNameForSends::AwsTraceHeader))
            || self.attributes.has(TRACE_ATTRIBUTE)
            || self.body.as_ref().is_some_and(|b| looks_like_envelope(b))
    }

    /// Puts `header` on the message by `carrier`, within `budget` bytes (what the message, or its batch, may still
    /// grow by), which it reduces by what it adds.
    pub(crate) fn carry(&mut self, carrier: Carrier, header: &str, budget: &mut usize) {
        if self.carries_a_header() {
            return;
        }
        // The system attribute counts toward neither the message's size nor its attribute quota.
        if let (Carrier::SystemAttribute, Some(system)) = (carrier, self.system.as_mut()) {
            match system_attribute(header) {
                Ok(value) => {
                    let system = system.get_or_insert_with(HashMap::new);
                    system.insert(MessageSystemAttributeNameForSends::AwsTraceHeader, value);
                }
                Err(err) => diag!(Carrier, "trace header not put on the message: {err}"),
            }
            return;
        }
        match carrier {
            Carrier::SystemAttribute | Carrier::MessageAttribute => self.message_attribute(header, budget),
            Carrier::Body => self.wrap(header, budget),
        }
    }

    fn message_attribute(&mut self, header: &str, budget: &mut usize) {
        if self.attributes.count() >= MAX_ATTRIBUTES {
            diag!(
                Carrier,
                "trace header not put on the message: it already has {} message attributes, the most allowed",
                self.attributes.count()
            );
            return;
        }
        let growth = TRACE_ATTRIBUTE.len() + "String".len() + header.len();
        if growth > *budget {
            diag!(Carrier, "trace header not put on the message: the attribute would make it larger than allowed");
            return;
        }
        match self.attributes.insert_string(TRACE_ATTRIBUTE, header.to_owned()) {
            Ok(()) => *budget -= growth,
            Err(err) => diag!(Carrier, "trace header not put on the message: {err}"),
        }
    }

    fn wrap(&mut self, header: &str, budget: &mut usize) {
        let content_dedup = self.content_dedup;
        let body_allowed = self.body_allowed;
        // No body, or an empty one: the call fails as it would have; a wrapped body would make it succeed.
        let Some(body) = self.body.as_mut().filter(|b| !b.is_empty()) else { return };
        if !body_allowed {
            diag!(Carrier, "trace header not put in the body: this destination does not take an envelope");
            return;
        }
        if content_dedup {
            diag!(Carrier, "trace header not put in the body: FIFO content-based deduplication hashes the body");
            return;
        }
        // Characters the service refuses would be escaped in the envelope and let a refused message through.
        if !body.chars().all(allowed_in_a_message) {
            return;
        }
        let wrapped = wrap_body(header, body);
        let growth = wrapped.len() - body.len();
        if growth > *budget {
            diag!(Carrier, "trace header not put in the body: the envelope would make the message larger than allowed");
            return;
        }
        **body = wrapped;
        *budget -= growth;
    }
}

fn system_attribute(header: &str) -> Result<MessageSystemAttributeValue, String> {
    let built = MessageSystemAttributeValue::builder().data_type("String").string_value(header).build();
    built.map_err(|e| e.to_string())
}

/// The characters SQS accepts in a message: `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
fn allowed_in_a_message(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
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
    use super::*;
    use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

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
            let input = send(&wrap_body(theirs, "hi"));
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
