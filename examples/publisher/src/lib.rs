//! `publisher`: a Lambda function that sends the order event it is invoked with (`aws lambda invoke --payload`, a
//! back office replaying an order, another service) to the order queues, so that whoever processes it continues
//! this trace: `orders-api` publishes the same event, with the same code, for every order it places.
//!
//! ```text
//! ## handler                  annotations ColdStart, Service
//! └─ publish_order_event      annotation order_id (#[traced_publish], crate order-events)
//!    ├─ SQS                   aws: SendMessage, queue_url   -> the poller's segment hangs under it
//!    └─ SQS                   aws: SendMessage, queue_url   -> the consumer's segment hangs under it
//! ```
//!
//! Each message's `AWSTraceHeader` system attribute names its own `SQS` subsegment as the parent, so `poller` and
//! `consumer` put their processing under it, in this trace. Settings (environment): `ORDER_EVENTS_QUEUE_URLS` (the
//! queues, comma-separated) and the AWS SDK's own (`AWS_ENDPOINT_URL` to point SQS at moto locally).
//!
//! ```no_run
//! use lambda_runtime::{Error, run, service_fn};
//!
//! # async fn demo() -> Result<(), Error> {
//! let deps = publisher::Deps::from_env().await?;
//! run(service_fn(|event| publisher::handler(&deps, event))).await
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

use aws_config::{BehaviorVersion, SdkConfig};
use lambda_runtime::{Error, LambdaEvent};
use order_events::{OrderEvent, QUEUE_URLS_ENV, publish_order_event, queue_urls_from_env};
use serde::Serialize;
use xray_core::traced_handler;

/// What every invocation shares, built once per process.
#[derive(Debug, Clone)]
pub struct Deps {
    sqs: aws_sdk_sqs::Client,
    queue_urls: Vec<String>,
}

impl Deps {
    /// An instrumented SQS client sending to `queue_urls`.
    pub fn new(sdk_config: &SdkConfig, queue_urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let queue_urls = queue_urls.into_iter().map(Into::into).collect();
        // Every SQS call a subsegment; `#[traced_publish]` would carry the trace even through a plain client.
        Self { sqs: xray_core::aws_client!(aws_sdk_sqs, sdk_config), queue_urls }
    }

    /// Configured from the environment: `ORDER_EVENTS_QUEUE_URLS` and the AWS SDK's own settings.
    pub async fn from_env() -> Result<Self, Error> {
        let queues = queue_urls_from_env();
        if queues.is_empty() {
            return Err(format!("{QUEUE_URLS_ENV} is not set").into());
        }
        let sdk_config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Ok(Self::new(&sdk_config, queues))
    }
}

/// The answer: the id of the message sent to each queue, in the order of `ORDER_EVENTS_QUEUE_URLS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Published {
    /// One per queue.
    pub message_ids: Vec<String>,
}

/// Sends the event to every queue. A failed send fails the invocation (the caller retries; a queue that got the
/// event already gets it again, which its consumers tolerate).
#[traced_handler]
pub async fn handler(deps: &Deps, event: LambdaEvent<OrderEvent>) -> Result<Published, Error> {
    let message_ids = publish_order_event(&deps.sqs, &deps.queue_urls, &event.payload).await?;
    Ok(Published { message_ids })
}
