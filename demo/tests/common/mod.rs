//! What the end-to-end tests share: starting a stack, placing an order, waiting for its trace, and reading it.
// Each test file uses its own part of these.
#![allow(dead_code)]

use std::time::Duration;

use demo::stack::{CONSUMER, FULFILMENTS_TABLE, Options, POLLED_QUEUE, POLLER, PUSHED_QUEUE, Reply, Stack};
use http::Method;
use serde_json::{Value, json};
use xray_local::assemble::{Entity, Tree};

pub(crate) const ORDER: &str = r#"{"customer_id": "c-42", "sku": "book", "quantity": 2}"#;

/// A stack of its own for the test `name`, with 5 ms quotes and the options `configure` sets.
pub(crate) async fn stack(name: &str, configure: impl FnOnce(&mut Options)) -> Stack {
    let mut options = Options::new(&format!("test-{name}")).expect("options");
    options.pricing_latency = Duration::from_millis(5);
    configure(&mut options);
    Stack::start(options).await.expect("the stack starts")
}

pub(crate) async fn place_order(stack: &Stack) -> Reply {
    let order: Value = serde_json::from_str(ORDER).expect("JSON");
    stack.request(Method::POST, "/orders", Some(&order)).await.expect("an answer")
}

/// The trace of `reply`, once complete, with every stored document checked against the segment schema.
pub(crate) async fn trace(stack: &Stack, reply: &Reply) -> Tree {
    trace_with(stack, reply, &[]).await
}

/// The trace of `reply` once complete and holding an entity of each of `names` (the segments of the functions
/// that process its messages), every stored document checked against the segment schema.
pub(crate) async fn trace_with(stack: &Stack, reply: &Reply, names: &[&str]) -> Tree {
    let trace_id = reply.trace_id.as_deref().expect("a traced answer");
    let daemon = stack.daemon();
    let tree = daemon.complete_tree_with(trace_id, names, Duration::from_secs(30)).await.expect("the trace");
    xray_schema_check::all_valid(daemon.documents(trace_id).expect("documents"));
    assert_eq!(daemon.counts().expect("counts").1, 0, "no datagram refused");
    tree
}

/// One line per entity: indentation for depth, name, origin or namespace, and error marks.
pub(crate) fn outline(tree: &Tree) -> Vec<String> {
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
pub(crate) fn entity<'a>(tree: &'a Tree, name: &str) -> &'a Entity {
    tree.nodes.iter().map(|n| &n.entity).find(|e| e.name == name).unwrap_or_else(|| panic!("no {name}"))
}

/// The entity with this origin.
pub(crate) fn origin<'a>(tree: &'a Tree, origin: &str) -> &'a Entity {
    tree.nodes.iter().map(|n| &n.entity).find(|e| e.origin.as_deref() == Some(origin)).expect(origin)
}

pub(crate) fn parent<'a>(tree: &'a Tree, child: &Entity) -> &'a Entity {
    let id = child.parent_id.as_deref().unwrap_or_else(|| panic!("{} has no parent", child.name));
    tree.nodes.iter().map(|n| &n.entity).find(|e| e.id == id).expect("parent in the trace")
}

pub(crate) fn annotations(entity: &Entity) -> Value {
    Value::Object(entity.annotations.clone())
}

/// What every run of the chain has in common, from the stage down to the handler: names, parents, fields.
pub(crate) fn check_chain(stack: &Stack, tree: &Tree, method: &str, path: &str, status: u16) {
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

/// The entities named `name`, in display order.
pub(crate) fn all<'a>(tree: &'a Tree, name: &str) -> Vec<&'a Entity> {
    tree.nodes.iter().map(|n| &n.entity).filter(|e| e.name == name).collect()
}

/// What the queue leg of an order's trace holds under `publish` (the id of `publish_order_event`): a `SendMessage`
/// to each queue, and under each the segment of the function that processed the message, which waited in the
/// queue, then fulfilled the order `order_id` with a DynamoDB `PutItem`.
pub(crate) fn check_queue_leg(tree: &Tree, publish: &str, order_id: &str) {
    for (queue, function) in [(POLLED_QUEUE, POLLER), (PUSHED_QUEUE, CONSUMER)] {
        let sends = all(tree, "SQS");
        let send = sends
            .iter()
            .find(|s| s.aws.as_ref().is_some_and(|a| a["queue_url"].as_str().is_some_and(|u| u.ends_with(queue))))
            .unwrap_or_else(|| panic!("no SendMessage to {queue}"));
        assert_eq!(send.parent_id.as_deref(), Some(publish));
        assert_eq!(send.aws.as_ref().expect("aws")["operation"], "SendMessage");
        assert_eq!((send.namespace.as_deref(), send.error, send.fault), (Some("aws"), false, false));

        // The function's processing: a segment of its own in this trace, under the send call.
        let processing = entity(tree, function);
        assert_eq!(processing.parent_id.as_deref(), Some(send.id.as_str()), "{function}");
        let marks = annotations(processing);
        assert_eq!(marks["queue"], queue);
        assert!(marks["message_id"].as_str().is_some_and(|id| id.len() == 36), "{marks}");
        // It starts when the message was sent (SentTimestamp, in milliseconds), while the send call was running.
        let end = send.end.expect("the send call ended");
        assert!(processing.start >= send.start - 0.001 && processing.start <= end, "{function}");
        let wait = entity(tree, &format!("{queue} wait"));
        assert_eq!(wait.parent_id.as_deref(), Some(processing.id.as_str()));
        assert_eq!(wait.start, processing.start);
        let fulfil = all(tree, "fulfil").into_iter().find(|f| f.parent_id.as_deref() == Some(processing.id.as_str()));
        let fulfil = fulfil.unwrap_or_else(|| panic!("no fulfil under {function}"));
        assert_eq!(annotations(fulfil), json!({"order_id": order_id}));
        assert!(wait.end.is_some_and(|end| end <= fulfil.start), "the wait ends where processing begins");
        let put = tree.nodes.iter().map(|n| &n.entity).find(|e| e.parent_id.as_deref() == Some(fulfil.id.as_str()));
        let put = put.expect("the PutItem");
        let aws = put.aws.as_ref().expect("aws");
        assert_eq!((put.name.as_str(), aws["operation"].as_str()), ("DynamoDB", Some("PutItem")));
        assert_eq!(aws["table_name"], FULFILMENTS_TABLE);
    }
}

/// The outline (as [`outline`] writes it) of an order event's publish and its processing by both functions, each
/// line indented by `indent`.
pub(crate) fn queue_leg(indent: &str) -> Vec<String> {
    [
        "publish_order_event",
        "  SQS (aws)",
        "    order-poller",
        "      order-events-polled wait",
        "      fulfil",
        "        DynamoDB (aws)",
        "  SQS (aws)",
        "    order-consumer",
        "      order-events-pushed wait",
        "      fulfil",
        "        DynamoDB (aws)",
    ]
    .iter()
    .map(|line| format!("{indent}{line}"))
    .collect()
}
