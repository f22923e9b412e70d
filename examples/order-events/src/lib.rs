//! What the queue examples share: the [`OrderEvent`] that `orders-api` and `publisher` send to SQS with
//! [`publish_order_event`], and the fulfilment step, [`fulfil`], that `poller` and `consumer` run on each message.
//!
//! The trace this gives, once a message has been processed (`poller` or `consumer` names the segment):
//!
//! ```text
//! publish_order_event         annotation order_id
//! └─ SQS                      aws: SendMessage, queue_url; the message's AWSTraceHeader names this subsegment
//!    └─ order-poller          the consumer's segment in this trace: message_id, queue
//!       ├─ <queue> wait       from SentTimestamp to the start of processing
//!       └─ fulfil             annotation order_id
//!          └─ DynamoDB        aws: PutItem, table_name
//! ```
#![warn(missing_docs, unreachable_pub)]

use std::fmt;

use aws_sdk_dynamodb::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use serde::{Deserialize, Serialize};
use xray_core::{put_annotation, traced, traced_publish};

/// Environment variable naming the fulfilments table (`poller`, `consumer`).
pub const FULFILMENTS_TABLE_ENV: &str = "FULFILMENTS_TABLE";

/// Environment variable listing the queues (URLs, comma-separated) that get the order events (`orders-api`,
/// `publisher`).
pub const QUEUE_URLS_ENV: &str = "ORDER_EVENTS_QUEUE_URLS";

/// The value of the environment variable `name`, which must be set and not blank.
pub fn setting(name: &str) -> Result<String, String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).ok_or_else(|| format!("{name} is not set"))
}

/// The queues `ORDER_EVENTS_QUEUE_URLS` lists; none when it is not set.
pub fn queue_urls_from_env() -> Vec<String> {
    let urls = std::env::var(QUEUE_URLS_ENV).unwrap_or_default();
    urls.split(',').map(str::trim).filter(|url| !url.is_empty()).map(str::to_owned).collect()
}

/// An order was placed: the message body, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// Always `OrderPlaced`; a consumer refuses other types.
    #[serde(rename = "type")]
    pub kind: String,
    /// The body's version: 1.
    pub version: u32,
    /// The order's id (its key in the orders table).
    pub order_id: String,
    /// Who ordered.
    pub customer_id: String,
    /// What was ordered.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// What the customer pays, in cents.
    pub total_cents: u64,
    /// ISO 4217 currency of `total_cents`.
    pub currency: String,
}

impl OrderEvent {
    /// The event's `type`.
    pub const KIND: &str = "OrderPlaced";
    /// The body version this code writes and reads.
    pub const VERSION: u32 = 1;

    /// An `OrderPlaced` event.
    pub fn placed(
        order_id: &str,
        customer_id: &str,
        sku: &str,
        quantity: u32,
        total_cents: u64,
        currency: &str,
    ) -> Self {
        Self {
            kind: Self::KIND.to_owned(),
            version: Self::VERSION,
            order_id: order_id.to_owned(),
            customer_id: customer_id.to_owned(),
            sku: sku.to_owned(),
            quantity,
            total_cents,
            currency: currency.to_owned(),
        }
    }

    /// Reads a message body; the error says why it is not an event this code can process.
    pub fn parse(body: &str) -> Result<Self, String> {
        let event: Self = serde_json::from_str(body).map_err(|e| format!("not an order event: {e}"))?;
        if (event.kind.as_str(), event.version) != (Self::KIND, Self::VERSION) {
            return Err(format!("unexpected event {} version {}", event.kind, event.version));
        }
        if event.order_id.is_empty() {
            return Err("the event has no order_id".to_owned());
        }
        Ok(event)
    }

    /// The message body.
    pub fn to_body(&self) -> String {
        // Serializing a struct of strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// An AWS call that failed, or an answer that makes no sense.
#[derive(Debug)]
pub struct CallError {
    operation: &'static str,
    message: String,
    source: Option<BoxError>,
}

impl CallError {
    /// A failed call: its message is the service's error code and message when there is one (the SDK's own text is
    /// just "service error"), else the chain of what went wrong (a timeout, a refused connection, ...).
    pub fn call<E, R>(operation: &'static str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let message = match (error.code(), error.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_owned(),
            _ => {
                let mut chain = error.to_string();
                let mut next = std::error::Error::source(&error);
                while let Some(cause) = next {
                    chain = format!("{chain}: {cause}");
                    next = cause.source();
                }
                chain
            }
        };
        Self { operation, message, source: Some(error.into()) }
    }

    /// An answer of `operation` that could not be used, for `reason`.
    pub fn invalid(operation: &'static str, reason: String) -> Self {
        Self { operation, message: reason, source: None }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.message)
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Sends `event` to each of `queue_urls`, one message each, and returns their message ids.
///
/// Each `SendMessage` is an `SQS` subsegment of this function's, and its message carries that subsegment as the
/// `AWSTraceHeader` system attribute, whether or not `sqs` was built with `xray_core::aws_client!`.
#[traced_publish(annotate(order_id = event.order_id.as_str()))]
pub async fn publish_order_event(
    sqs: &aws_sdk_sqs::Client,
    queue_urls: &[String],
    event: &OrderEvent,
) -> Result<Vec<String>, CallError> {
    let body = event.to_body();
    let mut message_ids = Vec::with_capacity(queue_urls.len());
    for queue_url in queue_urls {
        let sent = sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(&body)
            .send()
            .await
            .map_err(|e| CallError::call("SendMessage", e))?;
        message_ids.push(sent.message_id.unwrap_or_default());
    }
    Ok(message_ids)
}

/// Why a message was not fulfilled.
#[derive(Debug)]
pub enum FulfilError {
    /// The body is not an order event; delivering it again will not help.
    Unreadable(String),
    /// The fulfilment could not be stored.
    Store(CallError),
}

impl fmt::Display for FulfilError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable(reason) => write!(f, "unreadable message: {reason}"),
            Self::Store(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for FulfilError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unreadable(_) => None,
            Self::Store(error) => Some(error),
        }
    }
}

/// Fulfils the order event in a message `body`: records it in `table` as handled `via` this consumer (`poller`,
/// `consumer`) and returns it. Storing again is harmless: a message delivered twice writes the same item.
#[traced]
pub async fn fulfil(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    body: Option<&str>,
    via: &str,
) -> Result<OrderEvent, FulfilError> {
    let event = OrderEvent::parse(body.unwrap_or_default()).map_err(FulfilError::Unreadable)?;
    put_annotation("order_id", event.order_id.clone());
    let s = |value: &str| AttributeValue::S(value.to_owned());
    let n = |value: u64| AttributeValue::N(value.to_string());
    dynamodb
        .put_item()
        .table_name(table)
        .item("order_id", s(&event.order_id))
        .item("via", s(via))
        .item("sku", s(&event.sku))
        .item("quantity", n(event.quantity.into()))
        .item("total_cents", n(event.total_cents))
        .item("currency", s(&event.currency))
        .send()
        .await
        .map_err(|e| FulfilError::Store(CallError::call("PutItem", e)))?;
    Ok(event)
}

/// Who fulfilled the order `order_id` (`via` of each item in `table`), for checks and the demo.
pub async fn fulfilled_via(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    order_id: &str,
) -> Result<Vec<String>, CallError> {
    let found = dynamodb
        .query()
        .table_name(table)
        .key_condition_expression("order_id = :id")
        .expression_attribute_values(":id", AttributeValue::S(order_id.to_owned()))
        .send()
        .await
        .map_err(|e| CallError::call("Query", e))?;
    let via = found.items().iter().filter_map(|item| item.get("via")?.as_s().ok().cloned()).collect();
    Ok(via)
}

/// Creates the fulfilments table as `template.yaml` declares it (key `order_id` + `via`, on demand), for local runs
/// and tests.
pub async fn create_fulfilments_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), CallError> {
    create_table(dynamodb, table, &[("order_id", KeyType::Hash), ("via", KeyType::Range)]).await
}

/// Creates an on-demand table with string keys `keys` (hash first).
pub async fn create_table(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    keys: &[(&str, KeyType)],
) -> Result<(), CallError> {
    let invalid = |e: aws_sdk_dynamodb::error::BuildError| CallError::invalid("CreateTable", e.to_string());
    let mut create = dynamodb.create_table().table_name(table).billing_mode(BillingMode::PayPerRequest);
    for (name, kind) in keys {
        let definition = AttributeDefinition::builder().attribute_name(*name).attribute_type(ScalarAttributeType::S);
        let schema = KeySchemaElement::builder().attribute_name(*name).key_type(kind.clone());
        create = create
            .attribute_definitions(definition.build().map_err(invalid)?)
            .key_schema(schema.build().map_err(invalid)?);
    }
    create.send().await.map_err(|e| CallError::call("CreateTable", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_back_as_written_and_other_bodies_are_refused() {
        let event = OrderEvent::placed("o-1", "c-1", "book", 2, 2999, "EUR");
        assert_eq!(OrderEvent::parse(&event.to_body()), Ok(event.clone()));
        // Fields a newer producer adds are ignored.
        let mut extended: serde_json::Value = serde_json::from_str(&event.to_body()).expect("JSON");
        extended["coupon"] = "x".into();
        assert_eq!(OrderEvent::parse(&extended.to_string()), Ok(event));
        for (body, reason) in [
            ("", "not an order event"),
            ("order 7", "not an order event"),
            (r#"{"type":"OrderPlaced","version":1}"#, "missing field"),
            (
                r#"{"type":"OrderCancelled","version":1,"order_id":"o","customer_id":"c","sku":"s","quantity":1,"total_cents":1,"currency":"EUR"}"#,
                "unexpected event OrderCancelled version 1",
            ),
            (
                r#"{"type":"OrderPlaced","version":2,"order_id":"o","customer_id":"c","sku":"s","quantity":1,"total_cents":1,"currency":"EUR"}"#,
                "version 2",
            ),
            (
                r#"{"type":"OrderPlaced","version":1,"order_id":"","customer_id":"c","sku":"s","quantity":1,"total_cents":1,"currency":"EUR"}"#,
                "no order_id",
            ),
        ] {
            let error = OrderEvent::parse(body).expect_err(body);
            assert!(error.contains(reason), "{body}: {error}");
        }
    }
}
