//! `examples/instrumented` (plain lambda_runtime, `#[instrument]` and the `tracing` layer, no xray-rs macro) under
//! `xray-local lambda --max-concurrency 8`: 40 invocations at once, each traced end to end in its own trace, no
//! subsegment in another invocation's trace, every parent exact, and every JSON log line carrying its own
//! invocation's `xray_trace_id`.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use common::{entity, parent};
use demo::stack::{INSTRUMENTED, INSTRUMENTED_CONCURRENCY, TABLE};
use serde_json::{Value, json};
use xray_local::assemble::Tree;

const INVOCATIONS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_invocations_never_mix_and_every_parent_is_exact() {
    assert_eq!(INSTRUMENTED_CONCURRENCY, 8);
    let stack = Arc::new(common::stack("instrumented", |_| {}).await);
    let dynamodb = aws_sdk_dynamodb::Client::new(&xray_tests::sdk::config(stack.moto_endpoint()));
    for i in 0..INVOCATIONS {
        let item = HashMap::from([
            ("order_id".to_owned(), AttributeValue::S(format!("o-{i}"))),
            ("quantity".to_owned(), AttributeValue::N("2".into())),
            ("unit_cents".to_owned(), AttributeValue::N(format!("{}", 100 + i))),
        ]);
        dynamodb.put_item().table_name(TABLE).set_item(Some(item)).send().await.expect("order stored");
    }

    let calls: Vec<_> = (0..INVOCATIONS)
        .map(|i| {
            let stack = stack.clone();
            tokio::spawn(async move {
                let reply = stack.invoke(INSTRUMENTED, &json!({"order_id": format!("o-{i}")}), None).await;
                (i, reply.expect("invoked"))
            })
        })
        .collect();
    let mut traces = Vec::new();
    for call in calls {
        let (i, reply) = call.await.expect("joined");
        assert_eq!(reply.status, 200, "{}", reply.body);
        let total = 2 * (100 + i as u64);
        assert_eq!(reply.body, json!({"order_id": format!("o-{i}"), "found": true, "total_cents": total}));
        traces.push((i, reply.trace_id.expect("a traced answer")));
    }
    let distinct: std::collections::HashSet<&String> = traces.iter().map(|(_, t)| t).collect();
    assert_eq!(distinct.len(), INVOCATIONS, "one trace per invocation");

    let daemon = stack.daemon();
    let names = ["## handler", "handler", "load_order", "DynamoDB", "price", "audit"];
    for (i, trace_id) in &traces {
        let tree: Tree = daemon.complete_tree_with(trace_id, &names, Duration::from_secs(30)).await.expect("trace");
        xray_schema_check::all_valid(daemon.documents(trace_id).expect("documents"));
        // Ours, once each: nothing from another invocation, nothing recorded twice.
        for name in names {
            let count = tree.nodes.iter().filter(|n| n.entity.name == name).count();
            assert_eq!(count, 1, "{name} in trace {trace_id} (invocation {i})");
        }
        let top = entity(&tree, "## handler");
        assert_eq!(parent(&tree, top).origin.as_deref(), Some("AWS::Lambda::Function"), "{trace_id}");
        let handler = entity(&tree, "handler");
        assert_eq!(parent(&tree, handler).id, top.id);
        assert_eq!(handler.annotations.get("order_id"), Some(&json!(format!("o-{i}"))), "invocation {i}");
        for child in ["load_order", "price", "audit"] {
            assert_eq!(parent(&tree, entity(&tree, child)).id, handler.id, "{child} in {trace_id}");
        }
        let call = entity(&tree, "DynamoDB");
        assert_eq!(parent(&tree, call).id, entity(&tree, "load_order").id);
        assert_eq!(call.aws.as_ref().map(|a| a["operation"].clone()), Some(json!("GetItem")));
    }

    // The function's stdout: JSON lines (AWS_LAMBDA_LOG_FORMAT=JSON), each with its own invocation's trace id.
    let log = stack.options().dir.join("logs").join(format!("{INSTRUMENTED}.log"));
    let text = std::fs::read_to_string(&log).expect("the function's log");
    let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect();
    let looked_up: Vec<&Value> = lines.iter().filter(|l| l["fields"]["message"] == "order looked up").collect();
    assert_eq!(looked_up.len(), INVOCATIONS, "{text}");
    for line in looked_up {
        let order = line["span"]["order_id"].as_str().expect("the handler span's order_id");
        let i: usize = order.trim_start_matches("o-").parse().expect("order number");
        assert_eq!(line["xray_trace_id"], traces[i].1.as_str(), "{line}");
    }
}
