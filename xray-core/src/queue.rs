//! A message taken from a queue and processed: in its producer's trace ([`Mode::Continue`]) or in the consumer's
//! own, linked to the producer's ([`Mode::Link`]). What `#[traced_subscribe]` does, for any queue; `crate::sqs`
//! reads the producer's header out of SQS messages.
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
//! SQS-to-Lambda linking does; X-Ray offers clients no `links` field to write, so the link is an annotation.
//!
//! A message without a usable header (none, or one that does not parse) is processed in a subsegment of the
//! current trace in either mode; an unparsable header also gets a diagnostic.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;

use crate::clock::Timestamp;
use crate::context::Context;
use crate::diag::diag;
use crate::document::Name;
use crate::header::TraceHeader;
use crate::panics::{Instrumented, run_caught};
use crate::record::Recorder;
use crate::sampling::SamplingRequest;
use crate::subsegment::Subsegment;
use crate::trace::Trace;

/// How a message's processing is traced; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A new segment in the producer's trace.
    #[default]
    Continue,
    /// A subsegment in the consumer's trace, annotated with the producer's trace id.
    Link,
}

/// What a consumer knows of a message: the producer's trace header and where the message comes from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Received<'a> {
    /// The producer's `X-Amzn-Trace-Id` value (SQS: the `AWSTraceHeader` system attribute).
    pub header: Option<&'a str>,
    /// When the message was sent, in milliseconds since the epoch (SQS: `SentTimestamp`).
    pub sent_at_ms: Option<u64>,
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
        let header = message.header.map(str::trim).filter(|h| !h.is_empty());
        let parsed = header.and_then(|text| match TraceHeader::parse(text) {
            Ok(parsed) => Some(parsed),
            Err(err) => {
                let id = message.message_id.unwrap_or("?");
                diag!(MalformedHeader, "{err} (in `{text}`, message {id}); processed in the current trace");
                None
            }
        });
        let traced = match (mode, parsed) {
            (Mode::Continue, Some(_)) => {
                let request = SamplingRequest { host: None, method: None, url_path: message.queue };
                let trace = Trace::segment(segment_name, header, &request);
                if let Some(sent) = message.sent_at_ms {
                    let queue = message.queue.unwrap_or("queue");
                    trace.record_wait(Name::sanitized(Cow::Owned(format!("{queue} wait"))), from_ms(sent));
                }
                Traced::Segment(trace)
            }
            (Mode::Link, Some(parsed)) => {
                let subsegment = Subsegment::begin(subsegment_name);
                subsegment.recorder().put_annotation("linked_trace_id", parsed.root().to_string());
                Traced::Subsegment(subsegment)
            }
            (_, None) => Traced::Subsegment(Subsegment::begin(subsegment_name)),
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

fn from_ms(ms: u64) -> Timestamp {
    Timestamp::from_micros(ms.saturating_mul(1000))
}
