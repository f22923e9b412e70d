//! `poller`: a Lambda function started by a schedule (EventBridge, `rate(1 minute)`) that receives order events
//! from an SQS queue with `ReceiveMessage` and fulfils each one, writing to DynamoDB.
//!
//! A scheduled invocation starts a trace of its own, unrelated to whoever sent the messages, so without help X-Ray
//! shows "publish" and "processed" as fragments of different traces. `#[traced_subscribe]` on the function that
//! handles one message puts its processing in the trace that sent it, under the `SendMessage` call:
//!
//! ```text
//! the publisher's trace                           this invocation's trace
//! publish_order_event                             ## handler        ColdStart, Service
//! └─ SQS  SendMessage                             ├─ SQS            ReceiveMessage, message_count
//!    └─ order-poller     message_id, queue        └─ SQS            DeleteMessageBatch
//!       ├─ <queue> wait  SentTimestamp -> processing
//!       └─ fulfil        order_id
//!          └─ DynamoDB   PutItem, table_name
//! ```
//!
//! The instrumented client asks `ReceiveMessage` for `AWSTraceHeader` and `SentTimestamp` itself. Messages are
//! processed concurrently, each in its own context; those that fail stay in the queue and come back after the
//! visibility timeout (the template sends them to a dead-letter queue after five tries), the others are deleted.
//!
//! Settings (environment): `QUEUE_URL`, `FULFILMENTS_TABLE`, and the AWS SDK's own (`AWS_ENDPOINT_URL` for moto).
//!
//! ```no_run
//! use lambda_runtime::{Error, run, service_fn};
//!
//! # async fn demo() -> Result<(), Error> {
//! let deps = poller::Deps::from_env().await?;
//! run(service_fn(|event| poller::handler(&deps, event))).await
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message};
use futures::future::join_all;
use lambda_runtime::{Error, LambdaEvent};
use order_events::{CallError, FULFILMENTS_TABLE_ENV, FulfilError, fulfil, setting};
use serde::Serialize;
use serde_json::Value;
use xray_core::{traced_handler, traced_subscribe};

/// Environment variable holding the queue's URL.
pub const QUEUE_ENV: &str = "QUEUE_URL";
/// How the fulfilments of this function are marked (`via`).
pub const VIA: &str = "poller";

/// How long one `ReceiveMessage` waits for messages (long polling).
const WAIT_SECONDS: i32 = 1;
/// No new `ReceiveMessage` when less than this is left before the invocation's deadline.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// What every invocation shares, built once per process.
#[derive(Debug, Clone)]
pub struct Deps {
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    queue_url: String,
    table: String,
}

impl Deps {
    /// Instrumented clients for the queue at `queue_url` and the fulfilments `table`.
    pub fn new(sdk_config: &SdkConfig, queue_url: impl Into<String>, table: impl Into<String>) -> Self {
        Self {
            sqs: xray_core::aws_client!(aws_sdk_sqs, sdk_config),
            dynamodb: xray_core::aws_client!(aws_sdk_dynamodb, sdk_config),
            queue_url: queue_url.into(),
            table: table.into(),
        }
    }

    /// Configured from the environment: `QUEUE_URL`, `FULFILMENTS_TABLE` and the AWS SDK's own settings.
    pub async fn from_env() -> Result<Self, Error> {
        let (queue_url, table) = (setting(QUEUE_ENV)?, setting(FULFILMENTS_TABLE_ENV)?);
        let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Ok(Self::new(&sdk_config, queue_url, table))
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Polled {
    /// Messages received.
    pub received: usize,
    /// Messages fulfilled and deleted.
    pub fulfilled: usize,
    /// Messages that failed, left in the queue to come back.
    pub failed: usize,
}

/// One scheduled run: receives until the queue is empty (or the deadline nears) and fulfils every message. Fails
/// only when the queue cannot be read or processed messages cannot be deleted.
#[traced_handler]
pub async fn handler(deps: &Deps, event: LambdaEvent<EventBridgeEvent<Value>>) -> Result<Polled, Error> {
    // `Context::default()` (tests) has no deadline: then the queue being empty is the only stop.
    let deadline = (event.context.deadline > 0).then(|| event.context.deadline());
    let time_left =
        || deadline.is_none_or(|at| at.duration_since(SystemTime::now()).unwrap_or_default() > DEADLINE_MARGIN);
    let mut polled = Polled::default();
    while time_left() {
        let received = deps
            .sqs
            .receive_message()
            .queue_url(&deps.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(WAIT_SECONDS)
            .send()
            .await
            .map_err(|e| CallError::call("ReceiveMessage", e))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        polled.received += messages.len();
        let results = join_all(messages.iter().map(|message| process(deps, message))).await;
        let mut done = Vec::new();
        for (message, result) in messages.iter().zip(results) {
            match result {
                Ok(()) => done.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(done.len().to_string())
                        .receipt_handle(message.receipt_handle().unwrap_or_default())
                        .build()
                        .map_err(|e| CallError::invalid("DeleteMessageBatch", e.to_string()))?,
                ),
                Err(error) => {
                    eprintln!("poller: message {} failed: {error}", message.message_id().unwrap_or("?"));
                    polled.failed += 1;
                }
            }
        }
        polled.fulfilled += done.len();
        if !done.is_empty() {
            let deleting = deps.sqs.delete_message_batch().queue_url(&deps.queue_url).set_entries(Some(done));
            let deleted = deleting.send().await.map_err(|e| CallError::call("DeleteMessageBatch", e))?;
            if let Some(failed) = deleted.failed.first() {
                let reason = format!("{} of the messages were not deleted: {}", deleted.failed.len(), failed.code);
                return Err(CallError::invalid("DeleteMessageBatch", reason).into());
            }
        }
    }
    Ok(polled)
}

/// Fulfils one received message, in the trace of the `SendMessage` that sent it.
#[traced_subscribe(queue = deps.queue_url.as_str())]
async fn process(deps: &Deps, message: &Message) -> Result<(), FulfilError> {
    fulfil(&deps.dynamodb, &deps.table, message.body(), VIA).await?;
    Ok(())
}
