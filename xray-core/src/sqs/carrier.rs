//! The carriers and the body envelope's wire format, shared by the producer (the interceptor) and the consumer.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::diag::diag;
pub use crate::queue::{Carrier, UnknownCarrier};

/// The name of the trace header on a message: the SQS system attribute SQS and X-Ray read, and the String message
/// attribute of the [`Carrier::MessageAttribute`] carrier (one name in two separate maps, so a consumer looks up one
/// name wherever it looks).
pub const TRACE_ATTRIBUTE: &str = "AWSTraceHeader";

/// The name of the SQS system attribute holding the time a message was sent, in milliseconds since the Unix epoch.
pub const SENT_TIMESTAMP: &str = "SentTimestamp";

/// The envelope version this crate writes and reads.
pub const ENVELOPE_VERSION: u64 = 1;

/// The envelope as written: the version first, so a reader recognizes one from its first key.
#[derive(Serialize)]
struct Written<'a> {
    xray_envelope: u64,
    trace_header: &'a str,
    body: &'a str,
}

/// The envelope as read: exactly these three members, nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Read<'a> {
    xray_envelope: u64,
    #[serde(borrow)]
    trace_header: Cow<'a, str>,
    #[serde(borrow)]
    body: Cow<'a, str>,
}

/// A body envelope that was read back: the producer's trace header and the original body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The trace header text the producer wrote, unparsed.
    pub trace_header: Cow<'a, str>,
    /// The body the producer was asked to send.
    pub body: Cow<'a, str>,
}

/// Wraps `body` in a version 1 envelope carrying `trace_header`:
/// `{"xray_envelope":1,"trace_header":"<header>","body":"<body, as a JSON string>"}`.
pub fn wrap_body(trace_header: &str, body: &str) -> String {
    let written = Written { xray_envelope: ENVELOPE_VERSION, trace_header, body };
    // Serializing strings into a `String` cannot fail; an empty body would only be refused by the service.
    serde_json::to_string(&written).unwrap_or_default()
}

/// Whether `body` claims to be an envelope: a JSON object whose first member is `xray_envelope`. No payload has that
/// by accident. Only the consumer side asks ([`unwrap_body`] parses nothing else); producers never do: a body that
/// looks like an envelope is a body like any other, which the `body` carrier wraps again.
pub fn looks_like_envelope(body: &str) -> bool {
    let rest = body.trim_start_matches(JSON_WHITESPACE);
    let Some(rest) = rest.strip_prefix('{') else { return false };
    rest.trim_start_matches(JSON_WHITESPACE).starts_with("\"xray_envelope\"")
}

const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// The envelope `body` holds, or `None` when it is not one: any body that does not start with the `xray_envelope`
/// member is left alone without being parsed. A body that starts like one but is malformed, or of a version this
/// crate does not know, gets a diagnostic and is treated as a plain body.
pub fn unwrap_body(body: &str) -> Option<Envelope<'_>> {
    if !looks_like_envelope(body) {
        return None;
    }
    match serde_json::from_str::<Read<'_>>(body) {
        Ok(read) if read.xray_envelope == ENVELOPE_VERSION => {
            Some(Envelope { trace_header: read.trace_header, body: read.body })
        }
        Ok(read) => {
            diag!(
                Carrier,
                "body envelope version {} is not supported (this crate reads version 1)",
                read.xray_envelope
            );
            None
        }
        Err(err) => {
            diag!(Carrier, "body starts like a trace envelope but is not one: {err}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    #[test]
    fn the_envelope_is_compact_json_with_the_version_first() {
        assert_eq!(
            wrap_body(HEADER, r#"{"order":7,"note":"a \"quoted\" word"}"#),
            format!(
                r#"{{"xray_envelope":1,"trace_header":"{HEADER}","body":"{{\"order\":7,\"note\":\"a \\\"quoted\\\" word\"}}"}}"#
            )
        );
    }

    #[test]
    fn wrap_then_unwrap_returns_the_original_body_byte_for_byte() {
        for body in ["hello", "", "{\"a\":1}", "line\nbreak\ttab \u{e9}\u{1F600} \\ \"", " {\"xray_envelope\":1}"] {
            let wrapped = wrap_body(HEADER, body);
            let envelope = unwrap_body(&wrapped).expect("ours");
            assert_eq!((envelope.trace_header.as_ref(), envelope.body.as_ref()), (HEADER, body));
        }
    }

    #[test]
    fn envelopes_written_by_other_json_writers_are_read() {
        let spaced = format!("\n{{ \"xray_envelope\": 1, \"body\": \"x\", \"trace_header\": \"{HEADER}\" }}");
        assert_eq!(unwrap_body(&spaced).map(|e| e.body), Some("x".into()));
    }

    #[test]
    fn json_that_is_not_an_envelope_is_never_taken_for_one() {
        for body in [
            "plain text",
            r#"{"order":7}"#,
            r#"{"body":"x","trace_header":"Root=1-5759e988-bd862e3fe1be46a994272793","xray_envelope":1}"#,
            r#"[{"xray_envelope":1}]"#,
            r#""{\"xray_envelope\":1}""#,
        ] {
            assert_eq!(unwrap_body(body), None, "{body}");
        }
    }

    #[test]
    fn a_malformed_or_future_envelope_is_a_plain_body_with_a_diagnostic() {
        for body in [
            r#"{"xray_envelope":2,"trace_header":"h","body":"x"}"#,
            r#"{"xray_envelope":1,"trace_header":"h"}"#,
            r#"{"xray_envelope":1,"trace_header":"h","body":"x","extra":true}"#,
            r#"{"xray_envelope":"1","trace_header":"h","body":"x"}"#,
            r#"{"xray_envelope":1,"trace_header":"h","body":"x""#,
        ] {
            let before = crate::diag::count(crate::diag::DiagKind::Carrier);
            assert_eq!(unwrap_body(body), None, "{body}");
            assert!(crate::diag::count(crate::diag::DiagKind::Carrier) > before, "{body}");
        }
    }

    #[test]
    fn carrier_names_round_trip_and_unknown_names_say_what_was_expected() {
        for carrier in Carrier::ALL {
            assert_eq!(carrier.as_str().parse(), Ok(carrier));
        }
        assert_eq!(Carrier::default(), Carrier::SystemAttribute);
        let err = "header".parse::<Carrier>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown carrier `header`, expected one of: `system_attribute`, `message_attribute`, `body`"
        );
    }
}
