//! A message taken from a queue and processed: in its producer's trace ([`Mode::Continue`]) or in the consumer's
//! own, linked to the producer's ([`Mode::Link`]). What `#[traced_subscribe]` does, for any queue; `crate::sqs`
//! reads a [`Received`] out of SQS messages, another queue's code can fill one in by hand.
//!
//! **Continue** (the default): the processing is a new segment in the producer's trace — trace id its `Root`, parent
//! its `Parent` (the send call's subsegment) — named after the consuming service, starting when the message was
//! sent, with a completed `queue wait` subsegment from then until processing began, so the waterfall reads
//! publish -> wait -> processing. Everything the processing calls nests under that segment and passes the
//! producer's `Root` on. The producer's `Sampled` decides (`Sampled=0` records nothing and still propagates; no
//! decision: the local sampling rules). Outside Lambda and inside it alike, the segment is sent when processing
//! ends, so in Lambda before the handler returns. A scheduled Lambda that polls a queue thus shows each message in
//! the trace that produced it, instead of one fresh, unrelated trace per poll.
//!
//! **Link**: a subsegment per message in the consumer's current trace, annotated `linked_trace_id` with the
//! producer's trace id, so either trace can be found from the other (`xray-local traces --annotation
//! linked_trace_id=...`, the console's annotation filter). Pick it to keep one trace per invocation, as X-Ray's own
//! SQS-to-Lambda linking does; X-Ray offers clients no `links` field to write, so the link is an annotation. The
//! consumer's own sampling decides, whatever the producer's `Sampled`: a message from an unsampled producer
//! (`Sampled=0`) is recorded when the consumer's trace is, and annotated `linked_trace_sampled = false`, since that
//! trace id leads to no trace (only to the producer's logs, which name it); a sampled producer's (`Sampled=1`) link
//! says `true`. A header with no decision (`Sampled=?`, no `Sampled`, or conflicting ones) gets no
//! `linked_trace_sampled`: nothing says whether that trace was recorded.
//!
//! **ContinueOrLink**: continue the producer's trace only when the continuation is recorded — the header says
//! `Sampled=1` and names a valid `Parent` — and link it otherwise (`Sampled=0`, `?` or none, conflicting flags, a
//! missing or invalid `Parent`, also in a malformed header), so a producer cannot hide the processing from the
//! consumer's traces.
//!
//! # What a consumer trusts
//!
//! Anyone who can send to the queue writes the trace header: in continue mode they choose the trace the processing
//! is recorded in (its id, its parent) and, with `Sampled=0` (or a header that salvages to no decision or no
//! parent), that it is not recorded at all. Continue when the producers are yours; pick [`Mode::ContinueOrLink`] to
//! record processing that a producer's header would leave unrecorded (in the consumer's own trace, under its own
//! sampling), or [`Mode::Link`] for producers you do not trust: then they
//! choose nothing in the consumer's traces but the value of the `linked_trace_id` annotation.
//!
//! A message without a usable header (none, or one without a valid `Root`) is processed in a subsegment of the
//! current trace in every mode. A malformed header keeps what is valid of it (see
//! [`TraceHeader::salvage`](crate::header::TraceHeader::salvage)), a header over the bound only its `Root`, `Parent`,
//! `Sampled` and `Lineage` (see [`TraceHeader::incoming`](crate::header::TraceHeader::incoming)), each with a
//! diagnostic. A `SentTimestamp` in the future, or further back than SQS keeps a message (14 days), is clamped to
//! now, or to 14 days ago, with a diagnostic.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use std::str::FromStr;

use crate::clock::Timestamp;
use crate::context::Context;
use crate::diag::diag;
use crate::document::{Link, Name};
use crate::header::Sampled;
use crate::panics::{Instrumented, run_caught};
use crate::record::Recorder;
use crate::sampling::SamplingRequest;
use crate::subsegment::Subsegment;
use crate::trace::{Trace, read_incoming};

/// How a message's processing is traced; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A new segment in the producer's trace.
    #[default]
    Continue,
    /// A subsegment in the consumer's trace, annotated with the producer's trace id.
    Link,
    /// Continue a producer's trace when the header says `Sampled=1` and names a valid `Parent`; link it otherwise.
    ContinueOrLink,
}

/// Where a producer puts the trace header on the messages it sends; `crate::sqs` says who can read each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Carrier {
    /// The `AWSTraceHeader` message system attribute (SQS); on SNS, which has no system attributes, the
    /// `AWSTraceHeader` message attribute.
    #[default]
    SystemAttribute,
    /// A String message attribute named `AWSTraceHeader`, skipped when the message already has 10 attributes.
    MessageAttribute,
    /// A versioned JSON envelope around the body: `{"xray_envelope":1,"trace_header":"...","body":"..."}`.
    Body,
}

impl Carrier {
    /// Every carrier, in the order they are documented.
    pub const ALL: [Carrier; 3] = [Carrier::SystemAttribute, Carrier::MessageAttribute, Carrier::Body];

    /// The carrier's name as `#[traced_publish(carrier = "...")]` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::SystemAttribute => "system_attribute",
            Carrier::MessageAttribute => "message_attribute",
            Carrier::Body => "body",
        }
    }
}

impl fmt::Display for Carrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A carrier name that is not one of `system_attribute`, `message_attribute`, `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCarrier(pub String);

impl fmt::Display for UnknownCarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown carrier `{}`, expected one of: `system_attribute`, `message_attribute`, `body`", self.0)
    }
}

impl std::error::Error for UnknownCarrier {}

impl FromStr for Carrier {
    type Err = UnknownCarrier;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Carrier::ALL.into_iter().find(|c| c.as_str() == name).ok_or_else(|| UnknownCarrier(name.to_owned()))
    }
}

/// What a consumer knows of a received message: its producer's trace header, the body to process, where the
/// message comes from. `crate::sqs` reads one from SQS messages; nothing is recorded until [`Processing::begin`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Received<'a> {
    /// The producer's trace header as found, unparsed ([`Processing::begin`] reads it, once): SQS's `AWSTraceHeader`
    /// system attribute, else the `AWSTraceHeader` message attribute, else the body envelope. A blank value counts as
    /// none.
    pub trace_header: Option<Cow<'a, str>>,
    /// The carrier `trace_header` came from.
    pub found_in: Option<Carrier>,
    /// The body the consumer should see: the payload from inside the trace envelope when [`Received::unwrapped`],
    /// else the body as it arrived.
    pub body: Option<Cow<'a, str>>,
    /// Whether `body` was taken out of a trace envelope the producer put around it for this message.
    pub unwrapped: bool,
    /// When the message was sent, in milliseconds since the Unix epoch (SQS: `SentTimestamp`).
    pub sent_timestamp_ms: Option<u64>,
    /// The message's id.
    pub message_id: Option<&'a str>,
    /// The queue's name.
    pub queue: Option<&'a str>,
}

/// One message's processing; ends (and is sent) with [`Processing::end`] or when dropped.
pub struct Processing {
    /// Taken when the processing ends.
    traced: Option<Traced>,
}

enum Traced {
    /// Continue mode: the segment in the producer's trace.
    Segment(Trace),
    /// Link mode, or a message without a usable header: a subsegment in the consumer's trace.
    Subsegment(Subsegment),
}

impl fmt::Debug for Processing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.traced {
            Some(Traced::Segment(trace)) => f.debug_tuple("Processing::Segment").field(trace).finish(),
            Some(Traced::Subsegment(subsegment)) => f.debug_tuple("Processing::Subsegment").field(subsegment).finish(),
            None => f.write_str("Processing::Ended"),
        }
    }
}

impl Processing {
    /// Starts processing `message`: a segment named `segment_name` in the producer's trace (continue mode), else a
    /// subsegment named `subsegment_name` in the current trace.
    pub fn begin(
        message: &Received<'_>,
        mode: Mode,
        segment_name: impl Into<Cow<'static, str>>,
        subsegment_name: impl Into<Cow<'static, str>>,
    ) -> Self {
        // Read once: salvaged when malformed, bounded when oversized, each with a diagnostic.
        let text = message.trace_header.as_deref().map(str::trim).filter(|h| !h.is_empty());
        let incoming = text.map(read_incoming);
        let header = incoming.as_ref().and_then(|i| i.header.as_ref());
        let upstream = header.map(|h| (h.root(), h.sampled()));
        let producer = header.and_then(|h| Some(Link { trace_id: h.root(), id: h.parent()? }));
        // Continued only when the continuation is recorded: a sampled producer naming its send call. Anything else
        // (`Sampled=0`, `?`, none, conflicting flags, no valid `Parent`) would record nothing, or leave it to chance.
        let recorded_upstream = header.is_some_and(|h| h.sampled() == Sampled::Yes && h.parent().is_some());
        let mode = match mode {
            Mode::ContinueOrLink if recorded_upstream => Mode::Continue,
            Mode::ContinueOrLink => Mode::Link,
            mode => mode,
        };
        let traced = match (mode, upstream) {
            (Mode::Continue, Some(_)) => {
                let request = SamplingRequest { host: None, method: None, url_path: message.queue };
                let trace = Trace::continued(segment_name, incoming, &request);
                if let Some(sent) = message.sent_timestamp_ms {
                    let queue = message.queue.unwrap_or("queue");
                    let start = wait_start(sent, Timestamp::now(), message.message_id);
                    trace.record_wait(Name::sanitized(Cow::Owned(format!("{queue} wait"))), start);
                }
                Traced::Segment(trace)
            }
            (_, Some((root, sampled))) => {
                let subsegment = Subsegment::begin(subsegment_name);
                let rec = subsegment.recorder();
                rec.put_annotation("linked_trace_id", root.to_string());
                if let Some(link) = producer {
                    rec.add_link(link);
                }
                // Only a `Sampled` flag says whether the producer recorded its trace; `?`, none or conflicting
                // ones say nothing.
                match sampled {
                    Sampled::Yes => rec.put_annotation("linked_trace_sampled", true),
                    Sampled::No => rec.put_annotation("linked_trace_sampled", false),
                    Sampled::Requested | Sampled::Unknown => {}
                }
                Traced::Subsegment(subsegment)
            }
            (_, None) => {
                if text.is_some() {
                    let id = message.message_id.unwrap_or("?");
                    diag!(MalformedHeader, "message {id} has no usable trace header; processed in the current trace");
                }
                Traced::Subsegment(Subsegment::begin(subsegment_name))
            }
        };
        let processing = Self { traced: Some(traced) };
        if let Some(rec) = processing.recorder() {
            if let Some(id) = message.message_id {
                rec.put_annotation("message_id", id);
            }
            if let Some(queue) = message.queue {
                rec.put_annotation("queue", queue);
            }
        }
        processing
    }

    /// Whether the processing is recorded.
    pub fn is_recording(&self) -> bool {
        match &self.traced {
            Some(Traced::Segment(trace)) => trace.is_recording(),
            Some(Traced::Subsegment(subsegment)) => subsegment.is_recording(),
            None => false,
        }
    }

    /// Records on the processing's segment or subsegment; `None` when nothing is recorded.
    pub fn recorder(&self) -> Option<Recorder> {
        match &self.traced {
            Some(Traced::Segment(trace)) => trace.root_recorder(),
            Some(Traced::Subsegment(subsegment)) => subsegment.is_recording().then(|| subsegment.recorder()),
            None => None,
        }
    }

    /// The context the processing runs in: the producer's trace, or the subsegment open in the consumer's.
    pub fn context(&self) -> Option<Context> {
        match &self.traced {
            Some(Traced::Segment(trace)) => Some(trace.context()),
            Some(Traced::Subsegment(subsegment)) => subsegment.context(),
            None => None,
        }
    }

    /// Runs the processing's async body in its context; a panic is recorded on it.
    pub fn instrument<F: Future>(&self, body: F) -> Instrumented<F> {
        Instrumented::new(self.context(), body)
    }

    /// Runs the processing's synchronous body with its context entered; a panic is recorded on it, then resumed.
    pub fn run<R>(&self, body: impl FnOnce() -> R) -> R {
        let Some(ctx) = self.context() else { return body() };
        let _entered = ctx.enter();
        run_caught(body, crate::record::current)
    }

    /// Ends the processing: the segment and what it holds, or the subsegment, are sent.
    pub fn end(mut self) {
        self.close();
    }

    fn close(&mut self) {
        match self.traced.take() {
            Some(Traced::Segment(trace)) => trace.end(),
            Some(Traced::Subsegment(subsegment)) => subsegment.end(),
            None => {}
        }
    }
}

impl Drop for Processing {
    fn drop(&mut self) {
        self.close();
    }
}

/// SQS keeps a message 14 days at most: no wait in the queue is longer.
const MAX_WAIT_MS: u64 = 14 * 24 * 3600 * 1000;

/// How far ahead of this host's clock a sender's clock may be before its timestamp is reported.
const CLOCK_SKEW_MS: u64 = 60 * 1000;

/// When the wait in the queue began: `sent_ms`, clamped to between 14 days ago and `now`; a clamp beyond the clock
/// skew a host may have gets a diagnostic.
fn wait_start(sent_ms: u64, now: Timestamp, message_id: Option<&str>) -> Timestamp {
    let now_ms = now.as_micros() / 1000;
    let id = message_id.unwrap_or("?");
    let clamped = if sent_ms > now_ms.saturating_add(CLOCK_SKEW_MS) {
        diag!(Carrier, "message {id}: `SentTimestamp={sent_ms}` is in the future; its wait in the queue is taken as 0");
        now_ms
    } else if now_ms.saturating_sub(sent_ms) > MAX_WAIT_MS {
        diag!(
            Carrier,
            "message {id}: `SentTimestamp={sent_ms}` is further back than SQS keeps a message; its wait in the queue \
             is taken as 14 days"
        );
        now_ms - MAX_WAIT_MS
    } else {
        sent_ms.min(now_ms)
    };
    Timestamp::from_micros(clamped.saturating_mul(1000))
}
