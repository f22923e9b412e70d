//! Generated traces whose latency split is known in advance, for the latency aggregate's tests and benchmark.
//!
//! Trace `i` of [`checkout`] is a `checkout` service (`POST /checkout`) whose time splits as [`Split`] says: an
//! `auth` call, a `pricing` call (`remote`) with a `cache` lookup running beside it (off the critical path, since
//! pricing ends later), a `DynamoDB` call (`aws`, sent as an independent subsegment) and an `SQS` send; whatever is
//! left is the segment's own time. The message sent is processed by `fulfilment` in the same trace, as
//! xray-core's queue processing records it: a segment under the send call, starting when the message was sent,
//! with an `order-events wait` subsegment ([`QUEUE_WAIT`] long) and a `fulfil` subsegment ([`FULFIL`]); it ends
//! after the checkout, so it is not on the checkout's critical path. One trace in [`SLOW_EVERY`] is slow
//! ([`SLOW`], about 1 s); the others are [`FAST`] (80 to 120 ms).

use serde_json::{Value, json};

/// How the checkout's duration splits, as fractions of it; the rest is the segment's own time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// The `auth` subsegment.
    pub auth: f64,
    /// The `pricing` call (`remote`).
    pub pricing: f64,
    /// The `DynamoDB` call (`aws`).
    pub dynamodb: f64,
    /// The `SQS` send (`aws`).
    pub sqs: f64,
}

impl Split {
    /// What no subsegment covers.
    pub fn uncovered(&self) -> f64 {
        1.0 - self.auth - self.pricing - self.dynamodb - self.sqs
    }
}

/// The split of most traces.
pub const FAST: Split = Split { auth: 0.05, pricing: 0.20, dynamodb: 0.40, sqs: 0.02 };
/// The split of the slow ones: the pricing API is 60% of them.
pub const SLOW: Split = Split { auth: 0.05, pricing: 0.60, dynamodb: 0.20, sqs: 0.02 };
/// One trace in this many is slow (the last of each run of this many).
pub const SLOW_EVERY: u64 = 50;
/// The queue the checkout sends to.
pub const QUEUE: &str = "order-events";
/// How long the message waits in the queue, seconds.
pub const QUEUE_WAIT: f64 = 0.3;
/// How long its processing's `fulfil` takes, seconds.
pub const FULFIL: f64 = 0.1;

/// Whether trace `i` is a slow one.
pub fn is_slow(i: u64) -> bool {
    i % SLOW_EVERY == SLOW_EVERY - 1
}

/// The duration of trace `i`'s checkout, seconds.
pub fn duration(i: u64) -> f64 {
    if is_slow(i) { 1.0 + (i % 7) as f64 * 0.01 } else { 0.080 + (i % 97) as f64 * 0.0004 }
}

/// The trace id of trace `i` starting at `start` (seconds since the epoch).
pub fn trace_id(i: u64, start: f64) -> String {
    format!("1-{:08x}-{:024x}", start as u64, 0x00c0_ffee_0000_0000_u64 + i)
}

/// The documents of trace `i`, starting at `start`: the checkout segment (auth, cache, pricing and the SQS send
/// embedded), its DynamoDB call as an independent subsegment, and the message's processing.
pub fn checkout(i: u64, start: f64) -> (String, Vec<Value>) {
    let trace = trace_id(i, start);
    let d = duration(i);
    let split = if is_slow(i) { SLOW } else { FAST };
    let id = |k: u64| format!("{:016x}", 0x1000_0000 + i * 16 + k);
    let at = |fraction: f64| start + fraction * d;
    // The order along the timeline: 2% own time, auth, pricing (cache inside it), DynamoDB, SQS, the rest own time.
    let auth = (0.02, 0.02 + split.auth);
    let pricing = (auth.1, auth.1 + split.pricing);
    let dynamodb = (pricing.1, pricing.1 + split.dynamodb);
    let sqs = (dynamodb.1, dynamodb.1 + split.sqs);
    let sent = at((sqs.0 + sqs.1) / 2.0);
    let segment = json!({
    "name": "checkout", "id": id(0), "trace_id": trace, "start_time": start, "end_time": start + d,
    "http": {"request": {"method": "POST", "url": "https://shop.example/checkout"}, "response": {"status": 200}},
    "subsegments": [
        {"name": "auth", "id": id(1), "start_time": at(auth.0), "end_time": at(auth.1)},
        {"name": "pricing", "namespace": "remote", "id": id(2), "start_time": at(pricing.0),
         "end_time": at(pricing.1), "http": {"request": {"method": "GET", "url": "https://prices.example/q"}}},
        {"name": "cache", "namespace": "remote", "id": id(3), "start_time": at(pricing.0 + 0.001),
         "end_time": at(pricing.1 - 0.001)},
        {"name": "SQS", "namespace": "aws", "id": id(4), "start_time": at(sqs.0), "end_time": at(sqs.1),
         "aws": {"operation": "SendMessage", "queue_url": format!("https://sqs.us-east-1.amazonaws.com/123456789012/{QUEUE}")}},
    ]});
    let put = json!({
        "type": "subsegment", "name": "DynamoDB", "namespace": "aws", "id": id(5), "trace_id": trace,
        "parent_id": id(0), "start_time": at(dynamodb.0), "end_time": at(dynamodb.1),
        "aws": {"operation": "PutItem", "table_name": "orders"}});
    let processing = json!({
    "name": "fulfilment", "id": id(6), "trace_id": trace, "parent_id": id(4), "start_time": sent,
    "end_time": sent + QUEUE_WAIT + FULFIL + 0.05, "annotations": {"queue": QUEUE},
    "subsegments": [
        {"name": format!("{QUEUE} wait"), "id": id(7), "start_time": sent, "end_time": sent + QUEUE_WAIT},
        {"name": "fulfil", "id": id(8), "start_time": sent + QUEUE_WAIT + 0.01,
         "end_time": sent + QUEUE_WAIT + 0.01 + FULFIL},
    ]});
    (trace, vec![segment, put, processing])
}
