//! The trace header on the wire: unsampled traces, calls without a context, and the SDK's own recursion-detection
//! header, which the interceptor must replace rather than add to.

use xray_core::testing::MemorySink;
use xray_tests::proxy::Proxy;
use xray_tests::{moto, sdk};

use crate::{FACADE, ROOT, header_with_parent, proxy, traced, unique};

async fn queue(sqs: &aws_sdk_sqs::Client) -> String {
    let created = sqs.create_queue().queue_name(unique("p")).send().await.expect("queue");
    created.queue_url().expect("url").to_owned()
}

#[tokio::test]
async fn an_unsampled_trace_records_nothing_but_still_propagates_sampled_0() {
    let proxy = proxy().await;
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&proxy.endpoint));
    let header = format!("Root={ROOT};Parent={FACADE};Sampled=0;Lineage=a87bd80c:1;Foo=bar");

    let (url, docs) = traced(&header, queue(&sqs)).await;

    assert!(url.contains("/p-"), "{url}");
    assert_eq!(docs, Vec::<serde_json::Value>::new());
    assert_eq!(proxy.trace_headers(), vec![vec![header]]);
}

#[tokio::test]
async fn a_call_outside_any_trace_context_is_left_alone() {
    let proxy = proxy().await;
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&proxy.endpoint));
    let sink = MemorySink::new();

    let url = sink.scope(queue(&sqs)).await;

    assert!(url.contains("/p-"), "{url}");
    assert!(sink.documents().is_empty());
    assert_eq!(proxy.trace_headers(), vec![Vec::<String>::new()]);
}

/// Runs in a child process of this test binary, with the variables Lambda sets, so the SDK's real
/// recursion-detection interceptor adds its header from the process environment.
#[tokio::test]
#[ignore = "run by recursion_detection_header_is_replaced_not_duplicated in a child process"]
async fn recursion_detection_child() {
    let endpoint = std::env::var("XRAY_TEST_MOTO").expect("moto endpoint from the parent");
    let proxy = Proxy::start(&endpoint).await.expect("proxy");
    let plain = aws_sdk_sqs::Client::new(&sdk::config(&proxy.endpoint));
    queue(&plain).await;
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&proxy.endpoint));

    let (_, docs) = traced(crate::HEADER, queue(&sqs)).await;

    let env_header = std::env::var("_X_AMZN_TRACE_ID").expect("set by the parent");
    // Without the interceptor the SDK sends the process-wide header; with it, exactly one header naming the call.
    assert_eq!(proxy.trace_headers()[0], vec![env_header]);
    assert_eq!(proxy.trace_headers()[1], vec![header_with_parent(&docs[0], "1")]);
}

#[test]
fn recursion_detection_header_is_replaced_not_duplicated() {
    let moto = moto::shared();
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "propagation::recursion_detection_child", "--ignored", "--nocapture"])
        .env("XRAY_TEST_MOTO", &moto.endpoint)
        .env("AWS_LAMBDA_FUNCTION_NAME", "orders")
        .env("_X_AMZN_TRACE_ID", "Root=1-67891233-abcdef012345678912345678;Parent=1111111111111111;Sampled=1")
        .status()
        .expect("child runs");
    assert!(status.success(), "the child test failed: {status}");
}

#[tokio::test]
async fn a_header_that_cannot_go_on_the_wire_gets_a_diagnostic_and_the_call_goes_ahead_without_it() {
    let proxy = proxy().await;
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &sdk::config(&proxy.endpoint));
    let before = xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader);

    let (url, docs) = traced(&format!("{};Note=a\u{1}b", crate::HEADER), queue(&sqs)).await;

    assert!(url.contains("/p-"), "{url}");
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["aws"]["operation"], "CreateQueue");
    assert_eq!(proxy.trace_headers(), vec![Vec::<String>::new()]);
    assert!(xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader) > before);
}
