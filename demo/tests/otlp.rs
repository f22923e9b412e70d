//! The demo with `--otlp`: the functions send OpenTelemetry spans (`T1S` datagrams) instead of segment documents.
//! Every datagram the daemon got is captured by a tap and decoded by the official `opentelemetry-proto` package:
//! the order's spans, with Lambda's and API Gateway's own segment documents, form the same 23-entity tree, with the
//! same parents, as the segments of the order without `--otlp`, and xray-local shows the same outline.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::*;
use demo::stack::{CONSUMER, POLLER};
use serde_json::Value;
use xray_local::assemble::Tree;

/// The tree's shape without names: each entity's children's shapes, sorted, so two trees compare equal when they
/// nest the same way.
fn shape(parents: &HashMap<String, Option<String>>) -> String {
    let mut children: BTreeMap<Option<&str>, Vec<&str>> = BTreeMap::new();
    for (id, parent) in parents {
        // A parent outside the trace (a caller's) counts as none.
        let parent = parent.as_deref().filter(|p| parents.contains_key(*p));
        children.entry(parent).or_default().push(id);
    }
    fn of(id: Option<&str>, children: &BTreeMap<Option<&str>, Vec<&str>>) -> String {
        let mut kids: Vec<String> = children.get(&id).into_iter().flatten().map(|c| of(Some(c), children)).collect();
        kids.sort();
        format!("({})", kids.concat())
    }
    of(None, &children)
}

fn parents_of(tree: &Tree) -> HashMap<String, Option<String>> {
    tree.nodes.iter().map(|n| (n.entity.id.clone(), n.entity.parent_id.clone())).collect()
}

/// Each entity of a segment document, with its parent: `parent_id`, or the entity it is embedded in.
fn document_entities(doc: &Value, parent: Option<String>, out: &mut HashMap<String, Option<String>>) {
    let Some(id) = doc["id"].as_str() else { return };
    let parent = doc["parent_id"].as_str().map(str::to_owned).or(parent);
    out.insert(id.to_owned(), parent);
    for child in doc["subsegments"].as_array().into_iter().flatten() {
        document_entities(child, Some(id.to_owned()), out);
    }
}

#[tokio::test]
async fn the_orders_decoded_spans_form_the_same_23_entity_tree_as_its_segments() {
    let plain = stack("otlp-off", |_| {}).await;
    let placed = place_order(&plain).await;
    assert_eq!(placed.status, 201);
    let segments = trace_with(&plain, &placed, &[POLLER, CONSUMER]).await;
    assert_eq!(segments.nodes.len(), 23);
    drop(plain);

    let stack = stack("otlp-on", |o| {
        o.otlp = true;
        o.tap = true;
    })
    .await;
    let placed = place_order(&stack).await;
    assert_eq!(placed.status, 201);
    let trace_id = placed.trace_id.clone().expect("traced");
    let daemon = stack.daemon();
    let tree = daemon.complete_tree_with(&trace_id, &[POLLER, CONSUMER], Duration::from_secs(30)).await.expect("trace");
    assert_eq!(daemon.counts().expect("counts").1, 0, "no datagram refused");

    let trace_hex: String = trace_id.trim_start_matches("1-").replace('-', "");
    let mut entities: HashMap<String, Option<String>> = HashMap::new();
    let (mut span_datagrams, mut spans) = (0, 0);
    for datagram in stack.datagrams() {
        let newline = datagram.iter().position(|&b| b == b'\n').expect("a header line");
        let payload = &datagram[newline + 1..];
        if payload.starts_with(b"T1S") {
            let decoded = xray_tests::otlp::decoder().datagram(&datagram);
            assert!(decoded["error"].is_null(), "{decoded}");
            span_datagrams += 1;
            for span in
                decoded["spans"].as_array().expect("spans").iter().filter(|s| s["trace_id"] == trace_hex.as_str())
            {
                spans += 1;
                let parent = span["parent_span_id"].as_str().filter(|p| !p.is_empty()).map(str::to_owned);
                entities.insert(span["span_id"].as_str().expect("span id").to_owned(), parent);
            }
        } else {
            let doc: Value = serde_json::from_slice(payload).expect("a segment document");
            if doc["trace_id"] == trace_id.as_str() {
                document_entities(&doc, None, &mut entities);
            }
        }
    }
    assert!(span_datagrams > 0 && spans >= 15, "{span_datagrams} T1S datagrams, {spans} spans of the trace");
    assert_eq!(entities.len(), 23, "{entities:#?}");
    // The decoded parents are the ones xray-local assembled, entity by entity ...
    assert_eq!(entities, parents_of(&tree));
    // ... they nest as the segments of the same order do without --otlp ...
    assert_eq!(shape(&entities), shape(&parents_of(&segments)));
    // ... and the translated entities read the same.
    assert_eq!(outline(&tree), outline(&segments));
}
