//! The API chain end to end, as the demo runs it: the API Gateway stand-in, the functions under `xray-local lambda`,
//! moto as DynamoDB and SQS, the pricing API stand-in, the poller's schedule and the consumer's event source
//! mapping, and `xray-local daemon`, all real processes and sockets on loopback. Each test checks the trace the
//! daemon assembled, entity by entity.
//!
//! The binaries are built by the stack itself (`cargo build` through `$CARGO`) when a test first starts one.

mod common;

use std::time::Duration;

use common::*;
use demo::stack::{CONSUMER, POLLER};
use http::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn an_order_is_one_trace_from_api_gateway_through_orders_api_to_the_pricing_api_and_dynamodb() {
    let stack = stack("order", |_| {}).await;
    let placed = place_order(&stack).await;
    assert_eq!(placed.status, 201);
    let order_id = placed.body["order_id"].as_str().expect("order id").to_owned();
    let expected = json!({"order_id": order_id, "customer_id": "c-42", "sku": "book", "quantity": 2,
        "unit_price_cents": 1250, "shipping_cents": 499, "total_cents": 2999, "currency": "EUR"});
    assert_eq!(placed.body, expected);

    // The order's event goes to both queues; the poller (on its schedule) and the consumer (through the event
    // source mapping) process it in this trace, under the send calls.
    let tree = trace_with(&stack, &placed, &[POLLER, CONSUMER]).await;
    let head = [
        "orders/production (AWS::ApiGateway::Stage)",
        "  Lambda (aws)",
        "    orders-api (AWS::Lambda)",
        "      orders-api (AWS::Lambda::Function)",
        "        Initialization",
        "        Invocation",
        "        ## handler",
        "          quote",
        "            127.0.0.1 (remote)",
        "          save_order",
        "            DynamoDB (aws)",
    ];
    // Then the event's publish and its processing by both functions, then Lambda's Overhead.
    let leg = queue_leg("          ");
    let expected: Vec<String> =
        head.iter().map(|l| (*l).to_owned()).chain(leg).chain(["        Overhead".into()]).collect();
    assert_eq!(outline(&tree), expected);
    check_chain(&stack, &tree, "POST", "/orders", 201);
    check_queue_leg(&tree, &entity(&tree, "publish_order_event").id, &order_id);
    assert_eq!(stack.fulfilments(&order_id, 2, Duration::from_secs(10)).await.expect("query"), ["consumer", "poller"]);

    // The order id is API Gateway's request id, and the handler's annotations find the trace by it.
    let handler = entity(&tree, "## handler");
    let expected = json!({"ColdStart": true, "Service": "orders-api", "order_id": order_id, "customer_id": "c-42"});
    assert_eq!(annotations(handler), expected);
    let stage = origin(&tree, "AWS::ApiGateway::Stage");
    assert_eq!(stage.aws.as_ref().expect("aws")["api_gateway"]["request_id"], order_id.as_str());
    assert_eq!(stage.parent_id, None, "the stage starts the trace");

    let quote = entity(&tree, "quote");
    assert_eq!((parent(&tree, quote).id.as_str(), annotations(quote)), (handler.id.as_str(), json!({"sku": "book"})));
    let pricing = entity(&tree, "127.0.0.1");
    assert_eq!(parent(&tree, pricing).id, quote.id);
    let http = pricing.http.as_ref().expect("http");
    assert_eq!(http["request"], json!({"method": "GET", "url": format!("{}/quotes", stack.pricing_url())}));
    assert_eq!(http["response"]["status"], 200);

    let save = entity(&tree, "save_order");
    assert_eq!(parent(&tree, save).id, handler.id);
    let dynamodb = entity(&tree, "DynamoDB");
    assert_eq!(parent(&tree, dynamodb).id, save.id);
    let aws = dynamodb.aws.as_ref().expect("aws");
    assert_eq!((aws["operation"].as_str(), aws["table_name"].as_str()), (Some("PutItem"), Some("orders")));
    let publish = entity(&tree, "publish_order_event");
    assert_eq!(
        (parent(&tree, publish).id.as_str(), annotations(publish)),
        (handler.id.as_str(), json!({"order_id": order_id}))
    );
    assert_eq!((aws["region"].as_str(), aws["retries"].as_u64()), (Some("us-east-1"), Some(0)));
    assert!(aws["request_id"].is_string());
    assert_eq!(dynamodb.http.as_ref().expect("http")["response"]["status"], 200);
    assert!(tree.nodes.iter().all(|n| !n.entity.error && !n.entity.fault));

    // Reading it back: a second trace, on the warm function (no Initialization), with GetItem.
    let read = stack.request(Method::GET, &format!("/orders/{order_id}"), None).await.expect("an answer");
    assert_eq!((read.status, &read.body), (200, &placed.body));
    assert_ne!(read.trace_id, placed.trace_id);
    let tree = trace(&stack, &read).await;
    assert_eq!(
        outline(&tree),
        [
            "orders/production (AWS::ApiGateway::Stage)",
            "  Lambda (aws)",
            "    orders-api (AWS::Lambda)",
            "      orders-api (AWS::Lambda::Function)",
            "        Invocation",
            "        ## handler",
            "          load_order",
            "            DynamoDB (aws)",
            "        Overhead",
        ]
    );
    check_chain(&stack, &tree, "GET", &format!("/orders/{order_id}"), 200);
    let expected = json!({"ColdStart": false, "Service": "orders-api", "order_id": order_id});
    assert_eq!(annotations(entity(&tree, "## handler")), expected);
    assert_eq!(entity(&tree, "DynamoDB").aws.as_ref().expect("aws")["operation"], "GetItem");
}

#[tokio::test]
async fn a_missing_table_is_a_fault_of_save_order_and_the_api_answers_500() {
    let stack = stack("no-table", |o| o.create_table = false).await;
    let placed = place_order(&stack).await;
    assert_eq!((placed.status, &placed.body), (500, &json!({"message": "the order could not be stored"})));

    let tree = trace(&stack, &placed).await;
    // DynamoDB refused the call (400: an error), save_order could not go on (a fault, with the cause), the handler
    // answered 500 (a fault) and so did the stage; Lambda itself ran the function without a problem.
    assert_eq!(
        outline(&tree),
        [
            "orders/production (AWS::ApiGateway::Stage) FAULT",
            "  Lambda (aws)",
            "    orders-api (AWS::Lambda)",
            "      orders-api (AWS::Lambda::Function)",
            "        Initialization",
            "        Invocation",
            "        ## handler FAULT",
            "          quote",
            "            127.0.0.1 (remote)",
            "          save_order FAULT",
            "            DynamoDB (aws) ERROR",
            "        Overhead",
        ]
    );
    check_chain(&stack, &tree, "POST", "/orders", 500);
    let dynamodb = entity(&tree, "DynamoDB");
    assert_eq!(dynamodb.exception.as_deref(), Some("ResourceNotFoundException: Requested resource not found"));
    assert_eq!(dynamodb.aws.as_ref().expect("aws")["table_name"], "orders");
    assert_eq!(dynamodb.http.as_ref().expect("http")["response"]["status"], 400);
    let save = entity(&tree, "save_order");
    assert_eq!(
        save.exception.as_deref(),
        Some("order_events::CallError: PutItem failed: ResourceNotFoundException: Requested resource not found")
    );
    assert_eq!(parent(&tree, dynamodb).id, save.id);
}

#[tokio::test]
async fn with_tracing_off_the_answers_are_the_same_and_no_document_is_sent() {
    let stack = stack("tracing-off", |o| o.tracing = false).await;
    assert!(stack.api_url().ends_with("/development"), "{}", stack.api_url());
    let placed = place_order(&stack).await;
    assert_eq!(placed.status, 201);
    let order_id = placed.body["order_id"].as_str().expect("order id").to_owned();
    let expected = json!({"order_id": order_id, "customer_id": "c-42", "sku": "book", "quantity": 2,
        "unit_price_cents": 1250, "shipping_cents": 499, "total_cents": 2999, "currency": "EUR"});
    assert_eq!((placed.body.clone(), placed.trace_id.clone()), (expected, None));
    let read = stack.request(Method::GET, &format!("/orders/{order_id}"), None).await.expect("an answer");
    assert_eq!((read.status, &read.body, &read.trace_id), (200, &placed.body, &None));
    // The queue leg ran as well: the event went through both queues and was fulfilled by both functions.
    assert_eq!(stack.fulfilments(&order_id, 2, Duration::from_secs(20)).await.expect("query"), ["consumer", "poller"]);

    // Everything is on loopback: what would have been sent has arrived by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.daemon().counts().expect("counts"), (0, 0));
}

#[tokio::test]
async fn the_stage_continues_a_caller_s_trace_and_keeps_its_sampled_0() {
    let stack = stack("caller", |_| {}).await;
    let order: Value = serde_json::from_str(ORDER).expect("JSON");
    let (root, caller) = (xray_core::TraceId::new().to_string(), "53995c3f42cd8ad8");
    let header = format!("Root={root};Parent={caller};Sampled=1");
    let placed = stack.request_in_trace(Method::POST, "/orders", Some(&order), Some(&header)).await.expect("answer");
    assert_eq!((placed.status, placed.trace_id.as_deref(), placed.sampled), (201, Some(root.as_str()), true));

    // The caller's segment is not sent by anyone here, so its id stays a missing parent.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let tree = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let tree = stack.daemon().tree(&root).expect("store");
        // 12 down to the handler's calls, 3 for the publish and its sends, 4 for each consumer's processing.
        if let Some(tree) = tree.filter(|t| t.nodes.len() == 23 && t.nodes.iter().all(|n| !n.entity.in_progress)) {
            break tree;
        }
        assert!(std::time::Instant::now() < deadline, "the trace did not arrive");
    };
    assert_eq!(tree.missing_parents, [caller]);
    assert_eq!(origin(&tree, "AWS::ApiGateway::Stage").parent_id.as_deref(), Some(caller));
    check_chain(&stack, &tree, "POST", "/orders", 201);

    let unsampled_root = xray_core::TraceId::new().to_string();
    let header = format!("Root={unsampled_root};Parent={caller};Sampled=0");
    let placed = stack.request_in_trace(Method::POST, "/orders", Some(&order), Some(&header)).await.expect("answer");
    assert_eq!(
        (placed.status, placed.trace_id.as_deref(), placed.sampled),
        (201, Some(unsampled_root.as_str()), false)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(stack.daemon().tree(&unsampled_root).expect("store").is_none());
    assert!(stack.daemon().tree(&root).expect("store").is_some_and(|t| t.nodes.len() == 23));
}
