//! Partial batch failures: the response a Lambda function invoked by an SQS event source mapping returns so that
//! only the messages it failed to process are delivered again. Records nothing: each message's own segment (or
//! subsegment) already shows its failure.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse};

/// The `SqsBatchResponse` listing the messages whose result is an `Err`, from `(message id, result)` pairs in any
/// order; the event source mapping must have `ReportBatchItemFailures` on (`FunctionResponseTypes`).
///
/// A message id is a `String` or an `Option<String>` (`SqsMessage::message_id`). A failed message without an id is
/// listed with an empty id, which makes Lambda retry the whole batch: better than losing the message.
///
/// ```
/// use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
/// use xray_core::sqs::batch_response;
///
/// async fn handle(message: &SqsMessage) -> Result<(), String> {
///     match message.body.as_deref() {
///         Some("poison") => Err("cannot parse".to_owned()),
///         _ => Ok(()),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut event = SqsEvent::default();
/// for (id, body) in [("m-1", "ok"), ("m-2", "poison")] {
///     let mut message = SqsMessage::default();
///     (message.message_id, message.body) = (Some(id.into()), Some(body.into()));
///     event.records.push(message);
/// }
///
/// // One by one here; `futures::future::join_all` processes them concurrently, each in its own context.
/// let mut results = Vec::new();
/// for message in &event.records {
///     results.push((message.message_id.clone(), handle(message).await));
/// }
/// let response = batch_response(results);
/// assert_eq!(response.batch_item_failures.len(), 1);
/// assert_eq!(response.batch_item_failures[0].item_identifier, "m-2");
/// # }
/// ```
pub fn batch_response<I, K, T, E>(results: I) -> SqsBatchResponse
where
    I: IntoIterator<Item = (K, Result<T, E>)>,
    K: Into<Option<String>>,
{
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = results
        .into_iter()
        .filter(|(_, result)| result.is_err())
        .map(|(id, _)| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.into().unwrap_or_default();
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(response: &SqsBatchResponse) -> Vec<&str> {
        response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
    }

    #[test]
    fn only_failed_messages_are_listed_in_order() {
        let results: Vec<(String, Result<u8, &str>)> =
            vec![("a".into(), Ok(1)), ("b".into(), Err("x")), ("c".into(), Ok(2)), ("d".into(), Err("y"))];
        assert_eq!(ids(&batch_response(results)), ["b", "d"]);
    }

    #[test]
    fn a_batch_without_failures_lists_none_and_serializes_as_lambda_expects() {
        let response = batch_response([(Some("a".to_owned()), Ok::<(), ()>(()))]);
        assert!(response.batch_item_failures.is_empty());
        let failed = batch_response([(Some("a".to_owned()), Err::<(), _>(()))]);
        let json = serde_json::to_value(&failed).expect("serializes");
        assert_eq!(json, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "a"}]}));
    }

    #[test]
    fn a_failed_message_without_an_id_fails_the_whole_batch() {
        let response = batch_response([(None, Err::<(), _>("x")), (Some("b".to_owned()), Ok(()))]);
        assert_eq!(ids(&response), [""]);
    }
}
