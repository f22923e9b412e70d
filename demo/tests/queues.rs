//! The queue chain end to end, as the demo runs it: an order event published to SQS (moto) by a function under
//! `xray-local lambda`, then processed by the poller (invoked on its schedule) and by the consumer (invoked by the
//! event source mapping stand-in), each writing to DynamoDB, all in the publisher's trace.

mod common;

use std::time::Duration;

use common::*;
use demo::stack::{CONSUMER, POLLED_QUEUE, POLLER, PUBLISHER, PUSHED_QUEUE};
use serde_json::json;

#[tokio::test]
async fn an_event_the_publisher_lambda_sends_is_processed_in_its_trace_lambda_sqs_lambda_dynamodb() {
    let stack = stack("publisher", |_| {}).await;
    let event = json!({"type": "OrderPlaced", "version": 1, "order_id": "o-replayed", "customer_id": "c-7",
        "sku": "book", "quantity": 1, "total_cents": 1749, "currency": "EUR"});
    // As `aws lambda invoke` calls it: no trace header, so Lambda (Active tracing) starts the trace.
    let published = stack.invoke(PUBLISHER, &event, None).await.expect("invoked");
    assert_eq!(published.status, 200);
    assert_eq!(published.body["message_ids"].as_array().map(Vec::len), Some(2), "{}", published.body);

    let tree = trace_with(&stack, &published, &[POLLER, CONSUMER]).await;
    let head = [
        "order-publisher (AWS::Lambda)",
        "  order-publisher (AWS::Lambda::Function)",
        "    Initialization",
        "    Invocation",
        "    ## handler",
    ];
    // Then the event's publish and its processing by both functions, then Lambda's Overhead.
    let leg = queue_leg("      ");
    let expected: Vec<String> =
        head.iter().map(|l| (*l).to_owned()).chain(leg).chain(["    Overhead".into()]).collect();
    assert_eq!(outline(&tree), expected);
    assert!(tree.missing_parents.is_empty(), "Lambda's own segment starts the trace");
    let handler = entity(&tree, "## handler");
    assert_eq!(annotations(handler), json!({"ColdStart": true, "Service": "order-publisher"}));
    let publish = entity(&tree, "publish_order_event");
    assert_eq!(parent(&tree, publish).id, handler.id);
    check_queue_leg(&tree, &publish.id, "o-replayed");
    assert!(tree.nodes.iter().all(|n| !n.entity.error && !n.entity.fault));
    assert_eq!(
        stack.fulfilments("o-replayed", 2, Duration::from_secs(10)).await.expect("query"),
        ["consumer", "poller"]
    );
}

#[tokio::test]
async fn a_failing_dynamodb_is_a_fault_of_each_consumer_s_processing_in_the_order_s_trace() {
    let stack = stack("no-fulfilments", |o| o.create_fulfilments_table = false).await;
    let placed = place_order(&stack).await;
    assert_eq!(placed.status, 201, "the order itself is placed");

    let tree = trace_with(&stack, &placed, &[POLLER, CONSUMER]).await;
    let leg: Vec<String> = outline(&tree).into_iter().skip_while(|l| !l.contains("publish_order_event")).collect();
    // DynamoDB refused each PutItem (400: an error of the call); fulfil could not go on (a fault with the cause),
    // and so the message's processing failed: a fault of that segment, in the trace of the order. The order's own
    // entities above are untouched: the failure is where it happened.
    assert_eq!(
        leg,
        [
            "          publish_order_event",
            "            SQS (aws)",
            "              order-poller FAULT",
            "                order-events-polled wait",
            "                fulfil FAULT",
            "                  DynamoDB (aws) ERROR",
            "            SQS (aws)",
            "              order-consumer FAULT",
            "                order-events-pushed wait",
            "                fulfil FAULT",
            "                  DynamoDB (aws) ERROR",
            "        Overhead",
        ]
    );
    for queue in [POLLED_QUEUE, PUSHED_QUEUE] {
        let processing = all(&tree, "SQS").into_iter().find_map(|send| {
            let url = send.aws.as_ref()?["queue_url"].as_str()?.to_owned();
            let child = tree.nodes.iter().map(|n| &n.entity).find(|e| e.parent_id.as_deref() == Some(&send.id));
            url.ends_with(queue).then_some(child?)
        });
        let processing = processing.expect("the processing");
        let cause = processing.exception.as_deref().unwrap_or_default();
        assert!(cause.contains("PutItem failed: ResourceNotFoundException"), "{queue}: {cause}");
    }
    let quiet = ["orders/production", "Lambda", "orders-api", "## handler", "save_order", "publish_order_event"];
    for name in quiet {
        assert!(all(&tree, name).iter().all(|e| !e.fault && !e.error), "{name} is not marked");
    }
}
