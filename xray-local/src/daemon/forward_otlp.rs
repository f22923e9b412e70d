//! `--forward-otlp URL`: every stored document, as OTLP/HTTP protobuf spans, to any OTLP backend (Jaeger, Tempo,
//! a collector).
//!
//! Complete documents are queued (bounded in bytes, like the other queues: what does not fit is counted), turned
//! into spans by [`crate::otlp::encode`] and posted in batches of up to [`BATCH_SPANS`] spans, gathered for at
//! most [`LINGER`]. A batch the backend cannot take now (no connection, a timeout, 429, 502, 503, 504) is tried
//! again with the backoff of [`super::forward::backoff`], [`ATTEMPTS`] tries in all, each bounded by
//! [`TIMEOUT`]; any other answer, or the last failure, counts its spans as `forward_otlp_failed`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prost::Message;
use serde_json::Value;

use super::forward::backoff;
use super::queue::Receiver;
use super::stats::Stats;
use crate::otlp::encode::{self, ServiceSpan};

/// The most spans in one request.
pub const BATCH_SPANS: usize = 512;
/// How long a partial batch waits for more documents.
pub const LINGER: Duration = Duration::from_millis(200);
/// Tries per batch before its spans count as failed.
pub const ATTEMPTS: u32 = 5;
/// The longest one try may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How many entities (so spans) a document holds, embedded subsegments included.
pub fn entities(doc: &Value) -> u64 {
    1 + doc
        .get("subsegments")
        .and_then(Value::as_array)
        .map(|children| children.iter().map(entities).sum())
        .unwrap_or(0)
}

/// Starts the forwarding thread; it ends once `queue` is closed and drained.
pub fn spawn(url: String, queue: Receiver<Value>, stats: Arc<Stats>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("xray-local-forward-otlp".into()).spawn(move || {
        let client = reqwest::Client::builder().timeout(TIMEOUT).build();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        match (runtime, client) {
            (Ok(runtime), Ok(client)) => runtime.block_on(run(&url, &client, queue, &stats)),
            (Err(err), _) => fail_all(&queue, &stats, &err.to_string()),
            (_, Err(err)) => fail_all(&queue, &stats, &err.to_string()),
        }
    })
}

fn fail_all(queue: &Receiver<Value>, stats: &Stats, why: &str) {
    crate::render::warn(format_args!("cannot start the OTLP forwarder: {why}; spans will not be forwarded"));
    while let Ok(doc) = queue.recv() {
        Stats::add(&stats.forward_otlp_failed, entities(&doc));
    }
}

async fn run(url: &str, client: &reqwest::Client, queue: Receiver<Value>, stats: &Stats) {
    let mut services = Services::default();
    while let Some(batch) = gather(&queue, LINGER) {
        let spans: Vec<ServiceSpan> = batch.iter().flat_map(|doc| services.spans(doc)).collect();
        if !spans.is_empty() {
            post(url, client, spans, stats).await;
        }
    }
}

/// Waits for a document, then gathers more until the batch holds about [`BATCH_SPANS`] spans or `linger` has
/// passed. `None` once the queue is closed and empty.
pub fn gather(queue: &Receiver<Value>, linger: Duration) -> Option<Vec<Value>> {
    let first = queue.recv().ok()?;
    let mut spans = entities(&first) as usize;
    let mut batch = vec![first];
    let deadline = Instant::now() + linger;
    while spans < BATCH_SPANS {
        match queue.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(doc) => {
                spans += entities(&doc) as usize;
                batch.push(doc);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(batch)
}

/// The segment (service) each recent entity belongs to, so an independent subsegment's span gets the
/// `service.name` of its segment when the segment came first. Forgotten in bulk once it grows large.
#[derive(Debug, Default)]
pub struct Services {
    by_entity: HashMap<String, String>,
}

impl Services {
    /// The spans of `doc`, independent subsegments named after their segment where it is known.
    pub fn spans(&mut self, doc: &Value) -> Vec<ServiceSpan> {
        let mut spans = encode::spans(doc);
        if self.by_entity.len() > 100_000 {
            self.by_entity.clear();
        }
        let known = doc.get("parent_id").and_then(Value::as_str).and_then(|p| self.by_entity.get(p)).cloned();
        for span in &mut spans {
            if span.service.is_none() {
                span.service.clone_from(&known);
            }
            if let Some(service) = &span.service {
                let id: String = span.span.span_id.iter().map(|b| format!("{b:02x}")).collect();
                self.by_entity.insert(id, service.clone());
            }
        }
        spans
    }
}

/// Whether an answer means "try again later" in OTLP/HTTP.
fn retryable(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

async fn post(url: &str, client: &reqwest::Client, spans: Vec<ServiceSpan>, stats: &Stats) {
    let count = spans.len() as u64;
    let body = encode::request(spans).encode_to_vec();
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        tokio::time::sleep(backoff(attempt)).await;
        let sent = client.post(url).header("content-type", "application/x-protobuf").body(body.clone()).send().await;
        match sent {
            Ok(response) if response.status().is_success() => {
                let rejected = rejected_spans(&response.bytes().await.unwrap_or_default());
                Stats::add(&stats.forwarded_otlp, count.saturating_sub(rejected));
                if rejected > 0 {
                    Stats::add(&stats.forward_otlp_failed, rejected);
                    crate::render::warn(format_args!("--forward-otlp {url}: the backend rejected {rejected} spans"));
                }
                return;
            }
            Ok(response) => {
                let status = response.status();
                last_error = format!("{status}");
                if !retryable(status) {
                    break;
                }
            }
            Err(err) => last_error = error_chain(&err),
        }
    }
    crate::render::warn(format_args!("--forward-otlp {url}: {count} spans not forwarded: {last_error}"));
    Stats::add(&stats.forward_otlp_failed, count);
}

/// The `rejected_spans` of a protobuf `ExportTraceServiceResponse`; 0 when there is none or it cannot be read.
fn rejected_spans(body: &[u8]) -> u64 {
    crate::otlp::ExportTraceServiceResponse::decode(body)
        .ok()
        .and_then(|r| r.partial_success)
        .map(|p| p.rejected_spans.max(0) as u64)
        .unwrap_or(0)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn batches_stop_at_about_512_spans() {
        let (tx, rx) = crate::daemon::queue::bounded(usize::MAX);
        let doc = json!({"id": "a", "subsegments": [{"id": "b"}, {"id": "c", "subsegments": [{"id": "d"}]}]});
        assert_eq!(entities(&doc), 4);
        for _ in 0..200 {
            let _ = tx.try_send(doc.clone(), 1);
        }
        drop(tx);
        let sizes: Vec<usize> = std::iter::from_fn(|| gather(&rx, Duration::ZERO)).map(|b| b.len()).collect();
        assert_eq!(sizes, vec![128, 72]);
    }

    #[test]
    fn an_independent_subsegment_takes_its_segments_service() {
        let mut services = Services::default();
        let trace = "1-5759e988-bd862e3fe1be46a994272793";
        let segment = json!({"name": "orders", "id": "70de5b6f19ff9a0a", "trace_id": trace, "start_time": 1.0,
            "end_time": 2.0, "subsegments": [{"name": "work", "id": "70de5b6f19ff9a0b", "start_time": 1.0, "end_time": 2.0}]});
        let sub = json!({"type": "subsegment", "name": "DynamoDB", "namespace": "aws", "id": "70de5b6f19ff9a0c",
            "parent_id": "70de5b6f19ff9a0b", "trace_id": trace, "start_time": 1.0, "end_time": 2.0});
        let orphan = json!({"type": "subsegment", "name": "x", "id": "70de5b6f19ff9a0d",
            "parent_id": "0000000000000001", "trace_id": trace, "start_time": 1.0, "end_time": 2.0});
        let services_of = |spans: Vec<ServiceSpan>| spans.into_iter().map(|s| s.service).collect::<Vec<_>>();
        assert_eq!(services_of(services.spans(&segment)), [Some("orders".into()), Some("orders".into())]);
        assert_eq!(services_of(services.spans(&sub)), [Some("orders".into())]);
        assert_eq!(services_of(services.spans(&orphan)), [None]);
    }

    #[test]
    fn only_overload_answers_are_retried() {
        for (code, again) in [(429, true), (502, true), (503, true), (504, true), (400, false), (500, false)] {
            assert_eq!(retryable(reqwest::StatusCode::from_u16(code).expect("status")), again, "{code}");
        }
    }
}
