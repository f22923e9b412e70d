//! Stand-ins for what invokes the queue functions on AWS, as `template.yaml` declares them: the schedule of
//! `order-poller` (an EventBridge rule, `rate(1 minute)`, sped up here) and the SQS event source mapping of
//! `order-consumer` (`BatchSize: 10`, `ReportBatchItemFailures`).
//!
//! Both invoke the function on the Lambda Invoke API without a trace header, as AWS does: a scheduled event is not
//! traced, and Lambda starts a trace of its own for each batch of an event source mapping. What leads back to the
//! publisher is each message's `AWSTraceHeader`, which the functions read.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::sqs::SqsBatchResponse;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::json;
use tokio::task::JoinHandle;
use xray_tests::event_source;

use crate::lambda::{ACCOUNT_ID, REGION};

/// How long one invocation may take before the stand-in gives up on its answer.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The task of a trigger; it stops when dropped.
#[derive(Debug)]
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(INVOKE_TIMEOUT).build().unwrap_or_default()
}

/// An EventBridge schedule rule invoking a function every `every` (the first time at once), one invocation at a
/// time: a tick that comes while the last invocation runs waits for it.
#[derive(Debug)]
pub struct Schedule {
    _task: Task,
}

impl Schedule {
    /// Starts invoking `invoke_url` with the scheduled event of the rule `rule`.
    pub fn start(invoke_url: String, rule: &str, every: Duration) -> Self {
        let rule_arn = format!("arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule}");
        let task = tokio::spawn(async move {
            let client = client();
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // As EventBridge delivers it; the function's errors are its own (EventBridge would retry twice).
                let _ = client.post(&invoke_url).body(scheduled_event(&rule_arn).to_string()).send().await;
            }
        });
        Self { _task: Task(task) }
    }
}

/// The event a schedule rule sends.
fn scheduled_event(rule_arn: &str) -> serde_json::Value {
    json!({
        "version": "0",
        "id": crate::uuid(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": utc_now(),
        "region": REGION,
        "resources": [rule_arn],
        "detail": {},
    })
}

/// The current time as EventBridge writes it, `2026-12-04T14:05:00Z`.
fn utc_now() -> String {
    utc(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()))
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc(secs: u64) -> String {
    // `2026-12-04 16:05:05.000`, as `xray-local show` prints times.
    let shown = xray_local::render::timestamp(secs as f64);
    format!("{}T{}Z", &shown[..10], &shown[11..19])
}

/// An SQS event source mapping: receives up to 10 messages at a time from a queue (long polling), invokes the
/// function with them as an `SqsEvent`, and deletes the ones its `SqsBatchResponse` does not list as failed; after
/// a function error it deletes none. What is not deleted comes back after the queue's visibility timeout.
#[derive(Debug)]
pub struct EventSourceMapping {
    _task: Task,
}

impl EventSourceMapping {
    /// Starts polling `queue_url` with `sqs` (a client without X-Ray: the mapping is Lambda's, not traced code) for
    /// the function at `invoke_url`.
    pub fn start(sqs: aws_sdk_sqs::Client, queue_url: String, invoke_url: String) -> Self {
        let task = tokio::spawn(async move {
            let client = client();
            loop {
                if poll(&sqs, &client, &queue_url, &invoke_url).await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        });
        Self { _task: Task(task) }
    }
}

/// One receive and, if it got messages, one invocation.
async fn poll(
    sqs: &aws_sdk_sqs::Client,
    client: &reqwest::Client,
    queue_url: &str,
    invoke_url: &str,
) -> Result<(), ()> {
    let received = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(drop)?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(());
    }
    let event = event_source::event(&messages, queue_url);
    let answer = client.post(invoke_url).body(serde_json::to_vec(&event).map_err(drop)?).send().await.map_err(drop)?;
    let function_error = answer.status() != 200 || answer.headers().contains_key("x-amz-function-error");
    let bytes = answer.bytes().await.map_err(drop)?;
    let response: SqsBatchResponse = serde_json::from_slice(&bytes).unwrap_or_default();
    if function_error {
        return Ok(());
    }
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    let done: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| !failed.contains(&m.message_id().unwrap_or_default()))
        .enumerate()
        .filter_map(|(i, m)| {
            let entry = DeleteMessageBatchRequestEntry::builder().id(i.to_string());
            entry.set_receipt_handle(m.receipt_handle.clone()).build().ok()
        })
        .collect();
    if !done.is_empty() {
        sqs.delete_message_batch().queue_url(queue_url).set_entries(Some(done)).send().await.map_err(drop)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_events_read_as_eventbridge_events() {
        let event = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/every-minute");
        let parsed: aws_lambda_events::eventbridge::EventBridgeEvent<serde_json::Value> =
            serde_json::from_value(event.clone()).expect("an EventBridge event");
        assert_eq!((parsed.detail_type.as_str(), parsed.source.as_str()), ("Scheduled Event", "aws.events"));
        assert!(event["time"].as_str().is_some_and(|t| t.len() == 20 && t.ends_with('Z')), "{event}");
    }

    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_796_400_305), "2026-12-04T16:05:05Z");
        assert_eq!(utc(4_107_542_399), "2100-02-28T23:59:59Z");
    }
}
