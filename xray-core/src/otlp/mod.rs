#![doc = include_str!("../../OTLP.md")]

mod encode;
mod proto;
mod resource;

use crate::clock::Timestamp;
use crate::document::{Entity, trim_until};
use crate::ids::TraceId;

/// The spans of one trace not yet sent, written as the `spans` of a `ScopeSpans`.
#[derive(Debug)]
pub(crate) struct Spans {
    buf: Vec<u8>,
    trace_id: [u8; 16],
    sampled: bool,
}

/// A span that did not fit a request on its own and was sent trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trimmed {
    pub(crate) name: String,
    pub(crate) size: usize,
    pub(crate) what: &'static str,
}

impl Spans {
    pub(crate) fn new(trace_id: TraceId, sampled: bool) -> Self {
        Self { buf: Vec::new(), trace_id: trace_id.to_w3c_bytes(), sampled }
    }

    /// Whether these spans belong to a sampled trace (`T1S`), or are sent only for Application Signals (`T1U`).
    pub(crate) fn sampled(&self) -> bool {
        self.sampled
    }

    /// Adds `entity` (ended at `now` if still open). When the spans gathered so far and this one would not fit a
    /// request of `limit` bytes, the request of those gathered is handed to `send` first.
    pub(crate) fn add(
        &mut self,
        entity: &Entity,
        now: Timestamp,
        limit: usize,
        send: &mut dyn FnMut(&[u8]),
    ) -> Option<Trimmed> {
        let (resource, scope) = resource::process();
        let mark = self.buf.len();
        encode::write_span(&mut self.buf, entity, &self.trace_id, self.sampled, now);
        if encode::request_len(resource, scope, self.buf.len()) <= limit {
            return None;
        }
        if mark > 0 {
            request_into(&self.buf[..mark], send);
            self.buf.drain(..mark);
        }
        let size = self.buf.len();
        if encode::request_len(resource, scope, size) <= limit {
            return None;
        }
        // Too big alone: trimmed the way documents are, and marked.
        let trace_id = self.trace_id;
        let sampled = self.sampled;
        let fits = |e: &Entity| {
            let mut probe = Vec::new();
            encode::write_span(&mut probe, e, &trace_id, sampled, now);
            encode::request_len(resource, scope, probe.len()) <= limit
        };
        let (copy, what) = trim_until(entity, &fits);
        self.buf.clear();
        encode::write_span(&mut self.buf, &copy, &trace_id, sampled, now);
        Some(Trimmed { name: entity.name.to_string(), size, what })
    }

    /// Hands the request of every span gathered to `send`, if there is any.
    pub(crate) fn flush(&mut self, send: &mut dyn FnMut(&[u8])) {
        if !self.buf.is_empty() {
            request_into(&self.buf, send);
            self.buf.clear();
        }
    }
}

/// The `ExportTraceServiceRequest` around `spans`, with the process's resource and scope.
fn request_into(spans: &[u8], send: &mut dyn FnMut(&[u8])) {
    let (resource, scope) = resource::process();
    let mut out = Vec::new();
    encode::write_request(&mut out, resource, scope, spans);
    send(&out);
}

/// Writes `entity` as the only span of a request into `out`: what the flush does per span, without the batching
/// (for the benchmarks, through `__private`).
pub(crate) fn encode_one(out: &mut Vec<u8>, entity: &Entity, trace_id: &TraceId) {
    let (resource, scope) = resource::process();
    let mut spans = Vec::with_capacity(256);
    encode::write_span(&mut spans, entity, &trace_id.to_w3c_bytes(), true, Timestamp::now());
    encode::write_request(out, resource, scope, &spans);
}
