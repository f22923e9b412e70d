//! One outgoing SQS or SNS message and the carriers applied to it, shared by SQS sends (`produce.rs`) and SNS
//! publishes (`sns.rs`), which each know their own input types.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_sdk_sqs::types::{MessageSystemAttributeNameForSends, MessageSystemAttributeValue};

use super::carrier::{Carrier, TRACE_ATTRIBUTE, wrap_body};
use crate::diag::diag;

/// The most message attributes a message may have; one more and the service refuses the send.
pub(crate) const MAX_ATTRIBUTES: usize = 10;

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

/// [`Attributes`] for the message attribute map of an SDK crate's `MessageAttributeValue` (SQS's and SNS's are two
/// types of the same shape).
macro_rules! attributes {
    ($value:ty) => {
        impl Attributes for Option<HashMap<String, $value>> {
            fn count(&self) -> usize {
                self.as_ref().map_or(0, HashMap::len)
            }

            fn has(&self, name: &str) -> bool {
                self.as_ref().is_some_and(|m| m.contains_key(name))
            }

            fn size(&self) -> usize {
                let value = |v: &$value| {
                    v.data_type.len()
                        + v.string_value.as_ref().map_or(0, String::len)
                        + v.binary_value.as_ref().map_or(0, |b| b.as_ref().len())
                };
                self.iter().flatten().map(|(k, v)| k.len() + value(v)).sum()
            }

            fn insert_string(&mut self, name: &str, value: String) -> Result<(), String> {
                let built = <$value>::builder().data_type("String").string_value(value).build();
                let value = built.map_err(|e| e.to_string())?;
                self.get_or_insert_with(HashMap::new).insert(name.to_owned(), value);
                Ok(())
            }
        }
    };
}

attributes!(aws_sdk_sqs::types::MessageAttributeValue);
#[cfg(feature = "sns")]
attributes!(aws_sdk_sns::types::MessageAttributeValue);

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
}

impl<A: Attributes> Message<'_, A> {
    /// Body and attributes, as the service counts a message's size.
    pub(crate) fn size(&self) -> usize {
        self.body.as_ref().map_or(0, |b| b.len()) + self.attributes.size()
    }

    /// Whether the caller already put a trace header on the message, in an attribute: then it is theirs to keep. A
    /// body that looks like an envelope is a body like any other (the `body` carrier wraps it again, and a consumer
    /// unwraps one level): a payload a producer forwards must never be taken for the trace's envelope.
    fn carries_a_header(&self) -> bool {
        let system = self.system.as_ref().and_then(|s| s.as_ref());
        system.is_some_and(|s| s.contains_key(&MessageSystemAttributeNameForSends::AwsTraceHeader))
            || self.attributes.has(TRACE_ATTRIBUTE)
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
        // No body, or an empty one: the call fails as it would have; a wrapped body would make it succeed.
        let Some(body) = self.body.as_mut().filter(|b| !b.is_empty()) else { return };
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

pub(crate) fn system_attribute(header: &str) -> Result<MessageSystemAttributeValue, String> {
    let built = MessageSystemAttributeValue::builder().data_type("String").string_value(header).build();
    built.map_err(|e| e.to_string())
}

/// The characters SQS accepts in a message: `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
fn allowed_in_a_message(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}
