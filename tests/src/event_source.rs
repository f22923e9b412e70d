//! What Lambda's SQS event source mapping does with received messages: the `SqsEvent` it invokes the function
//! with, one record per message, as the Lambda developer guide shows it (`attributes` with `AWSTraceHeader`,
//! `SentTimestamp`, ..., `messageAttributes` with `stringValue` and `dataType`, the queue's ARN).

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::Message;
use serde_json::{Map, Value, json};

use crate::sdk::REGION;

/// The account id in the ARNs the tests and the demo make up.
pub const ACCOUNT_ID: &str = "123456789012";

/// The queue's ARN, from its URL (`http://host/<account>/<name>`) or name.
pub fn queue_arn(queue: &str) -> String {
    let name = queue.rsplit('/').next().unwrap_or(queue);
    format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}")
}

/// `Records[i]` of the event for a message received from `queue` (a URL or name), as JSON.
pub fn record(message: &Message, queue: &str) -> Value {
    let attributes: Map<String, Value> = message
        .attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| (name.as_str().to_owned(), Value::from(value.as_str())))
        .collect();
    let message_attributes: Map<String, Value> = message
        .message_attributes()
        .into_iter()
        .flatten()
        .map(|(name, value)| {
            let attribute = json!({
                "stringValue": value.string_value(),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value.data_type(),
            });
            (name.clone(), attribute)
        })
        .collect();
    json!({
        "messageId": message.message_id(),
        "receiptHandle": message.receipt_handle(),
        "body": message.body(),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.md5_of_body(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn(queue),
        "awsRegion": REGION,
    })
}

/// The event for a batch of messages received from `queue`.
pub fn event(messages: &[Message], queue: &str) -> SqsEvent {
    let records: Vec<Value> = messages.iter().map(|m| record(m, queue)).collect();
    // Every field has the type `SqsEvent` declares; a failure here is a bug in `record`.
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}
