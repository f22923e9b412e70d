//! SQS: the JSON protocol, queue URLs, batches, service errors, retries and faults.

use std::time::Duration;

use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::send_message::{SendMessageError, SendMessageOutput};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::timeout::TimeoutConfig;
use serde_json::json;
use xray_tests::proxy::Failure;
use xray_tests::{moto, sdk};

use crate::{FACADE, HEADER, ROOT, header_with_parent, new_queue, only, proxy, succeeded, traced, unique};

#[tokio::test]
async fn send_message_is_one_aws_subsegment_and_carries_its_id_as_parent() {
    let (proxy, url) = (proxy().await, new_queue().await);
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&proxy.endpoint));

    let (sent, docs) = traced(HEADER, sqs.send_message().queue_url(&url).message_body("hello").send()).await;

    assert!(sent.expect("sent").message_id().is_some());
    assert_eq!(only(&docs), succeeded("SQS", "SendMessage", json!({"queue_url": url})));
    assert_eq!(proxy.trace_headers(), vec![vec![header_with_parent(&docs[0], "1")]]);
}

#[tokio::test]
async fn batches_record_their_message_count() {
    let moto = moto::shared();
    let url = new_queue().await;
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&moto.endpoint));
    let entries = (0..3).map(|i| {
        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
            .id(format!("m{i}"))
            .message_body("x")
            .build()
            .expect("entry")
    });

    let (sent, docs) =
        traced(HEADER, sqs.send_message_batch().queue_url(&url).set_entries(Some(entries.collect())).send()).await;

    assert_eq!(sent.expect("sent").successful().len(), 3);
    let doc = only(&docs);
    assert_eq!(
        doc["aws"],
        json!({"operation": "SendMessageBatch", "region": "us-east-1",
        "request_id": "<request-id>", "retries": 0, "queue_url": url, "message_count": 3})
    );
}

#[tokio::test]
async fn receive_records_how_many_messages_came_back() {
    let url = new_queue().await;
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&moto::shared().endpoint));
    for body in ["a", "b"] {
        sqs.send_message().queue_url(&url).message_body(body).send().await.expect("sent");
    }

    let (received, docs) =
        traced(HEADER, sqs.receive_message().queue_url(&url).max_number_of_messages(10).send()).await;

    assert_eq!(received.expect("received").messages().len(), 2);
    assert_eq!(only(&docs), succeeded("SQS", "ReceiveMessage", json!({"queue_url": url, "message_count": 2})));
}

#[tokio::test]
async fn a_service_error_is_an_error_with_the_code_and_message_as_cause_and_reaches_the_caller_unchanged() {
    let moto = moto::shared();
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&moto.endpoint));
    let url = format!("{}/123456789012/{}", moto.endpoint, unique("missing"));

    let (sent, docs) = traced(HEADER, sqs.send_message().queue_url(&url).message_body("x").send()).await;

    let err = sent.expect_err("no such queue").into_service_error();
    assert!(err.is_queue_does_not_exist(), "{err:?}");
    let code = aws_sdk_sqs::error::ProvideErrorMetadata::code(&err).expect("code").to_owned();
    let doc = only(&docs);
    assert_eq!(doc["error"], true);
    assert_eq!(doc.get("fault"), None);
    assert_eq!(doc.get("throttle"), None);
    assert_eq!(doc["http"]["response"]["status"], 400);
    assert_eq!(doc["aws"]["retries"], 0);
    let exceptions = doc["cause"]["exceptions"].as_array().expect("exceptions");
    assert_eq!(exceptions.len(), 1, "{doc:#}");
    // The code the SDK reports (moto, like SQS, sends the query-compatible one in `x-amzn-query-error`).
    assert_eq!(exceptions[0]["type"], code);
    assert_eq!(exceptions[0]["remote"], true);
    assert_eq!(exceptions[0]["message"], aws_sdk_sqs::error::ProvideErrorMetadata::message(&err).expect("message"));
}

#[tokio::test]
async fn a_failed_first_attempt_is_retried_within_the_same_subsegment() {
    let (proxy, url) = (proxy().await, new_queue().await);
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&proxy.endpoint));
    proxy.fail_next([Failure::status(500)]);

    let (sent, docs) = traced(HEADER, sqs.send_message().queue_url(&url).message_body("x").send()).await;

    sent.expect("second attempt succeeds");
    let doc = only(&docs);
    assert_eq!(doc["aws"]["retries"], 1);
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert_eq!((doc.get("fault"), doc.get("error"), doc.get("cause")), (None, None, None), "{doc:#}");
    // Both attempts name the operation's one subsegment as their parent.
    let expected = header_with_parent(&docs[0], "1");
    assert_eq!(proxy.trace_headers(), vec![vec![expected.clone()], vec![expected]]);
}

#[tokio::test]
async fn server_errors_on_every_attempt_are_a_fault() {
    let (proxy, url) = (proxy().await, new_queue().await);
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&proxy.endpoint));
    proxy.fail_next([Failure::status(503), Failure::status(503), Failure::status(503)]);

    let (sent, docs) = traced(HEADER, sqs.send_message().queue_url(&url).message_body("x").send()).await;

    assert_eq!(sent.expect_err("all attempts fail").raw_response().map(|r| r.status().as_u16()), Some(503));
    let mut doc = only(&docs);
    doc.as_object_mut().expect("object").remove("aws");
    assert_eq!(
        doc,
        json!({
            "name": "SQS", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "start_time": "<t>", "end_time": "<t>", "namespace": "aws", "fault": true,
            "http": {"response": {"status": 503, "content_length": "<n>"}},
            "cause": {"exceptions": [{"id": "<id>", "type": "HTTP 503", "remote": true}]},
        })
    );
    assert_eq!(docs[0]["aws"]["retries"], 2);
    assert_eq!(proxy.trace_headers().len(), 3);
}

#[tokio::test]
async fn a_connection_failure_is_a_fault_naming_the_dispatch_failure() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&format!("http://{closed}")));

    let (sent, docs) = traced(HEADER, sqs.send_message().queue_url("http://q/1/none").message_body("x").send()).await;

    assert!(sent.is_err());
    let doc = only(&docs);
    assert_eq!(doc["fault"], true);
    assert_eq!(doc.get("http"), None);
    assert_eq!(doc["aws"]["retries"], 2);
    let exception = &doc["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "DispatchFailure");
    assert!(exception["message"].as_str().is_some_and(|m| m.to_lowercase().contains("connect")), "{exception}");
}

/// A server that takes connections and never answers.
async fn silent() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, endpoint)
}

type Sent = Result<SendMessageOutput, SdkError<SendMessageError, HttpResponse>>;

/// A traced `SendMessage` to a server that never answers, under `timeouts`.
async fn send_to_silent(timeouts: TimeoutConfig) -> (Sent, Vec<serde_json::Value>) {
    let (_listener, endpoint) = silent().await;
    let config = sdk::config(&endpoint).into_builder().timeout_config(timeouts).build();
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &config);
    traced(HEADER, sqs.send_message().queue_url("http://q/1/slow").message_body("x").send()).await
}

/// The normalized document of a `SendMessage` to the silent server that failed without a response.
fn failed_send(retries: Option<u32>) -> serde_json::Value {
    let mut expected = json!({
        "name": "SQS", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
        "start_time": "<t>", "end_time": "<t>", "namespace": "aws", "fault": true,
        "aws": {"operation": "SendMessage", "region": "us-east-1", "queue_url": "http://q/1/slow"},
    });
    if let Some(retries) = retries {
        expected["aws"]["retries"] = retries.into();
    }
    expected
}

/// The document without its cause, and the type of its first exception.
fn without_cause(docs: &[serde_json::Value]) -> (serde_json::Value, serde_json::Value) {
    let mut doc = only(docs);
    let cause = doc.as_object_mut().expect("object").remove("cause").expect("a cause");
    (doc, cause["exceptions"][0]["type"].clone())
}

#[tokio::test]
async fn attempt_timeouts_are_a_fault_naming_the_timeout() {
    let timeouts = TimeoutConfig::builder().operation_attempt_timeout(Duration::from_millis(150)).build();

    let (sent, docs) = send_to_silent(timeouts).await;

    assert!(matches!(sent, Err(SdkError::TimeoutError(_))), "{sent:?}");
    assert_eq!(without_cause(&docs), (failed_send(Some(2)), json!("TimeoutError")));
}

#[tokio::test]
async fn an_operation_timeout_is_a_fault_naming_the_timeout() {
    let timeouts = TimeoutConfig::builder().operation_timeout(Duration::from_millis(200)).build();

    let (sent, docs) = send_to_silent(timeouts).await;

    assert!(matches!(sent, Err(SdkError::TimeoutError(_))), "{sent:?}");
    assert_eq!(without_cause(&docs), (failed_send(Some(0)), json!("TimeoutError")));
}

#[tokio::test]
async fn a_call_the_caller_gives_up_on_ends_its_subsegment_as_an_interrupted_fault() {
    let (_listener, endpoint) = silent().await;
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&endpoint));
    let call = sqs.send_message().queue_url("http://q/1/slow").message_body("x").send();

    let (sent, docs) = traced(HEADER, tokio::time::timeout(Duration::from_millis(200), call)).await;

    assert!(sent.is_err(), "the caller's timeout fired");
    assert_eq!(without_cause(&docs), (failed_send(None), json!("Interrupted")));
}
