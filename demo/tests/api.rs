//! The API chain end to end, as the demo runs it: the API Gateway stand-in, orders-api under `xray-local lambda`,
//! moto as DynamoDB, the pricing API stand-in and `xray-local daemon`, all real processes and sockets on loopback.
//! Each test checks the trace the daemon assembled, entity by entity.
//!
//! The binaries are built by the stack itself (`cargo build` through `$CARGO`) when a test first starts one.

use demo::stack::{Options, Reply, Stack};
use http::Method;
use serde_json::{Value, json};
use std::time::Duration;
use xray_local::assemble::{Entity, Tree};

const ORDER: &str = r#"{"customer_id": "c-42", "sku": "book", "quantity": 2}"#;

async fn stack(name: &str, tracing: bool, create_table: bool) -> Stack {
    let mut options = Options::new(&format!("test-{name}")).expect("options");
    options.tracing = tracing;
    options.create_table = create_table;
    options.pricing_latency = Duration::from_millis(5);
    Stack::start(options).await.expect("the stack starts")
}

async fn place_order(stack: &Stack) -> Reply {
    let order: Value = serde_json::from_str(ORDER).expect("JSON");
    stack.request(Method::POST, "/orders", Some(&order)).await.expect("an answer")
}

/// The trace of `reply`, once complete, with every stored document checked against the segment schema.
async fn trace(stack: &Stack, reply: &Reply) -> Tree {
    let trace_id = reply.trace_id.as_deref().expect("a traced answer");
    let daemon = stack.daemon();
    let tree = daemon.complete_tree(trace_id, Duration::from_secs(20)).await.expect("the trace");
    xray_schema_check::all_valid(daemon.documents(trace_id).expect("documents"));
    assert_eq!(daemon.counts().expect("counts").1, 0, "no datagram refused");
    tree
}

/// One line per entity: indentation for depth, name, origin or namespace, and error marks.
fn outline(tree: &Tree) -> Vec<String> {
    tree.nodes
        .iter()
        .map(|node| {
            let e = &node.entity;
            let kind = e.origin.as_deref().or(e.namespace.as_deref()).map(|k| format!(" ({k})")).unwrap_or_default();
            let marks =
                [(e.fault, " FAULT"), (e.error, " ERROR"), (e.throttle, " THROTTLE"), (e.in_progress, " IN PROGRESS")];
            let marks: String = marks.iter().filter(|(on, _)| *on).map(|(_, mark)| *mark).collect();
            format!("{}{}{kind}{marks}", "  ".repeat(node.depth), e.name)
        })
        .collect()
}

/// The entity named `name` (the first one, in display order).
fn entity<'a>(tree: &'a Tree, name: &str) -> &'a Entity {
    tree.nodes.iter().map(|n| &n.entity).find(|e| e.name == name).unwrap_or_else(|| panic!("no {name}"))
}

/// The entity with this origin.
fn origin<'a>(tree: &'a Tree, origin: &str) -> &'a Entity {
    tree.nodes.iter().map(|n| &n.entity).find(|e| e.origin.as_deref() == Some(origin)).expect(origin)
}

fn parent<'a>(tree: &'a Tree, child: &Entity) -> &'a Entity {
    let id = child.parent_id.as_deref().unwrap_or_else(|| panic!("{} has no parent", child.name));
    tree.nodes.iter().map(|n| &n.entity).find(|e| e.id == id).expect("parent in the trace")
}

fn annotations(entity: &Entity) -> Value {
    Value::Object(entity.annotations.clone())
}

/// What every run of the chain has in common, from the stage down to the handler: names, parents, fields.
fn check_chain(stack: &Stack, tree: &Tree, method: &str, path: &str, status: u16) {
    let stage = origin(tree, "AWS::ApiGateway::Stage");
    assert_eq!(stage.name, "orders/production");
    let http = stage.http.as_ref().expect("http");
    assert_eq!(http["request"]["method"], method);
    assert_eq!(http["request"]["url"], format!("{}{path}", stack.api_url()));
    assert_eq!(http["request"]["client_ip"], "127.0.0.1");
    assert_eq!(http["response"]["status"], status);
    let api = &stage.aws.as_ref().expect("aws")["api_gateway"];
    assert_eq!((api["account_id"].as_str(), api["stage"].as_str()), (Some("123456789012"), Some("production")));
    assert_eq!(api["rest_api_id"].as_str().map(str::len), Some(10));

    let lambda = entity(tree, "Lambda");
    assert_eq!(parent(tree, lambda).id, stage.id);
    assert_eq!(lambda.namespace.as_deref(), Some("aws"));
    let aws = lambda.aws.as_ref().expect("aws");
    let expected = json!({"function_name": "orders-api", "region": "us-east-1", "operation": "Invoke",
                          "resource_names": ["orders-api"]});
    assert_eq!(aws, &expected);
    assert_eq!(lambda.http.as_ref().expect("http")["response"]["status"], 200);

    let service = origin(tree, "AWS::Lambda");
    assert_eq!((service.name.as_str(), parent(tree, service).id.as_str()), ("orders-api", lambda.id.as_str()));
    assert!(service.aws.as_ref().is_some_and(|a| a["request_id"].is_string()));
    let function = origin(tree, "AWS::Lambda::Function");
    assert_eq!((function.name.as_str(), parent(tree, function).id.as_str()), ("orders-api", service.id.as_str()));
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-api";
    assert_eq!(function.aws.as_ref().expect("aws")["function_arn"], arn);
    let handler = entity(tree, "## handler");
    assert_eq!(parent(tree, handler).id, function.id);
}

#[tokio::test]
async fn an_order_is_one_trace_from_api_gateway_through_orders_api_to_the_pricing_api_and_dynamodb() {
    let stack = stack("order", true, true).await;
    let placed = place_order(&stack).await;
    assert_eq!(placed.status, 201);
    let order_id = placed.body["order_id"].as_str().expect("order id").to_owned();
    let expected = json!({"order_id": order_id, "customer_id": "c-42", "sku": "book", "quantity": 2,
        "unit_price_cents": 1250, "shipping_cents": 499, "total_cents": 2999, "currency": "EUR"});
    assert_eq!(placed.body, expected);

    let tree = trace(&stack, &placed).await;
    assert_eq!(
        outline(&tree),
        [
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
            "        Overhead",
        ]
    );
    check_chain(&stack, &tree, "POST", "/orders", 201);

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
    let stack = stack("no-table", true, false).await;
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
    let stack = stack("tracing-off", false, true).await;
    assert!(stack.api_url().ends_with("/development"), "{}", stack.api_url());
    let placed = place_order(&stack).await;
    assert_eq!(placed.status, 201);
    let order_id = placed.body["order_id"].as_str().expect("order id").to_owned();
    let expected = json!({"order_id": order_id, "customer_id": "c-42", "sku": "book", "quantity": 2,
        "unit_price_cents": 1250, "shipping_cents": 499, "total_cents": 2999, "currency": "EUR"});
    assert_eq!((placed.body.clone(), placed.trace_id.clone()), (expected, None));
    let read = stack.request(Method::GET, &format!("/orders/{order_id}"), None).await.expect("an answer");
    assert_eq!((read.status, &read.body, &read.trace_id), (200, &placed.body, &None));

    // Everything is on loopback: what would have been sent has arrived by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stack.daemon().counts().expect("counts"), (0, 0));
}

#[tokio::test]
async fn the_stage_continues_a_caller_s_trace_and_keeps_its_sampled_0() {
    let stack = stack("caller", true, true).await;
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
        if let Some(tree) = tree.filter(|t| t.nodes.len() == 12 && t.nodes.iter().all(|n| !n.entity.in_progress)) {
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
    assert!(stack.daemon().tree(&root).expect("store").is_some_and(|t| t.nodes.len() == 12));
}
