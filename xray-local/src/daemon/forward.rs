//! Forwarding to the X-Ray API with `PutTraceSegments`, as the real daemon does.
//!
//! Documents are sent in batches of up to [`BATCH`], gathered for at most [`LINGER`]. A failed call, and every
//! document the API reports as unprocessed, is retried with exponential backoff; what still fails after
//! [`ATTEMPTS`] tries is counted as `forward_failed`. Endpoint, region and credentials come from the normal AWS
//! configuration (environment, profile, `AWS_ENDPOINT_URL`), so the same binary talks to AWS or to a local server.

use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;

use super::queue::Receiver;
use super::stats::Stats;

/// The most documents PutTraceSegments takes in one call.
pub const BATCH: usize = 50;
/// How long a partial batch waits for more documents.
pub const LINGER: Duration = Duration::from_millis(200);
/// Tries per batch before its documents count as failed.
pub const ATTEMPTS: u32 = 5;

/// One document to forward: its entity id (to match unprocessed reports) and its JSON text.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The entity id.
    pub id: String,
    /// The document.
    pub body: Box<str>,
}

/// The wait before try number `attempt` (1-based; the first try does not wait).
pub fn backoff(attempt: u32) -> Duration {
    if attempt <= 1 { Duration::ZERO } else { Duration::from_millis(100u64 << (attempt - 2).min(6)) }
}

/// Starts the forwarding thread; it ends once `queue` is closed and drained.
pub fn spawn(queue: Receiver<Outgoing>, stats: Arc<Stats>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("xray-local-forward".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(err) => {
                eprintln!("xray-local: cannot start the forwarder: {err}; documents will not be forwarded");
                drain_failed(&queue, &stats);
                return;
            }
        };
        runtime.block_on(run(queue, stats));
    })
}

fn drain_failed(queue: &Receiver<Outgoing>, stats: &Stats) {
    while queue.recv().is_ok() {
        Stats::add(&stats.forward_failed, 1);
    }
}

async fn run(queue: Receiver<Outgoing>, stats: Arc<Stats>) {
    // Retries are ours (with the documents the API reports unprocessed), so the SDK's own are turned off.
    let config = aws_config::defaults(BehaviorVersion::latest()).retry_config(RetryConfig::disabled()).load().await;
    if config.region().is_none() {
        eprintln!("xray-local: --forward: no AWS region configured (AWS_REGION or a profile); forwarding will fail");
    }
    let client = aws_sdk_xray::Client::new(&config);
    while let Some(batch) = gather(&queue, LINGER) {
        put(&client, batch, &stats).await;
    }
}

/// Waits for a document, then gathers more until the batch holds [`BATCH`] or `linger` has passed. `None` once
/// the queue is closed and empty.
pub fn gather(queue: &Receiver<Outgoing>, linger: Duration) -> Option<Vec<Outgoing>> {
    let mut batch: Vec<Outgoing> = Vec::with_capacity(BATCH);
    batch.push(queue.recv().ok()?);
    let deadline = Instant::now() + linger;
    while batch.len() < BATCH {
        match queue.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(doc) => batch.push(doc),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(batch)
}

/// Sends one batch, retrying what did not get through.
async fn put(client: &aws_sdk_xray::Client, mut batch: Vec<Outgoing>, stats: &Stats) {
    let mut last_error = String::new();
    for attempt in 1..=ATTEMPTS {
        tokio::time::sleep(backoff(attempt)).await;
        let bodies: Vec<String> = batch.iter().map(|d| d.body.to_string()).collect();
        match client.put_trace_segments().set_trace_segment_documents(Some(bodies)).send().await {
            Ok(output) => {
                let unprocessed = output.unprocessed_trace_segments();
                let before = batch.len();
                batch.retain(|d| unprocessed.iter().any(|u| u.id() == Some(d.id.as_str())));
                Stats::add(&stats.forwarded, (before - batch.len()) as u64);
                if batch.is_empty() {
                    return;
                }
                last_error = unprocessed
                    .first()
                    .map(|u| format!("{}: {}", u.error_code().unwrap_or("unprocessed"), u.message().unwrap_or("")))
                    .unwrap_or_default();
            }
            Err(err) => last_error = aws_sdk_xray::error::DisplayErrorContext(&err).to_string(),
        }
    }
    crate::render::warn(format_args!("{} documents not forwarded after {ATTEMPTS} tries: {last_error}", batch.len()));
    Stats::add(&stats.forward_failed, batch.len() as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_at_most_50_documents() {
        let (tx, rx) = crate::daemon::queue::bounded(usize::MAX);
        for n in 0..120 {
            let _ = tx.try_send(Outgoing { id: format!("{n:016x}"), body: "{}".into() }, 1);
        }
        drop(tx);
        let sizes: Vec<usize> = std::iter::from_fn(|| gather(&rx, Duration::ZERO)).map(|b| b.len()).collect();
        assert_eq!(sizes, vec![50, 50, 20]);
    }

    #[test]
    fn backoff_doubles_from_100ms_after_the_first_try() {
        let waits: Vec<u64> = (1..=5).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, vec![0, 100, 200, 400, 800]);
    }
}
