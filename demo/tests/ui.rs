//! The demo's order in `xray-local ui`, read by a real headless Chromium over WebDriver: the waterfall at
//! `/trace/<id>` shows the trace's 23 entities in order with their offsets, durations and both queue waits, and
//! `/map` shows the calls from the API through both queues. Screenshots of both pages go to
//! `target/ui-screenshots/` (the README's are copies of these).

mod common;

use std::path::PathBuf;

use common::*;
use demo::stack::{CONSUMER, POLLED_QUEUE, POLLER, PUSHED_QUEUE};
use fantoccini::{Client, Locator};
use xray_local::render::duration;
use xray_tests::browser::Browser;

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).parent().expect("target").join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

async fn texts(client: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for element in client.find_all(Locator::Css(css)).await.expect("find") {
        out.push(element.text().await.expect("text"));
    }
    out
}

/// The text of the cell `column` of the edge caller -> callee in the map's table.
async fn edge(client: &Client, caller: &str, callee: &str, column: &str) -> String {
    let css = format!("#edges tr[data-caller='{caller}'][data-callee='{callee}'] td.{column}");
    let cell = client.find(Locator::Css(&css)).await.unwrap_or_else(|e| panic!("no edge {caller} -> {callee}: {e}"));
    cell.text().await.expect("text")
}

#[tokio::test]
async fn the_orders_trace_and_its_service_map_show_in_a_browser() {
    let stack = stack("ui", |_| {}).await;
    let placed = place_order(&stack).await;
    assert_eq!(placed.status, 201);
    let tree = trace_with(&stack, &placed, &[POLLER, CONSUMER]).await;
    assert_eq!(tree.nodes.len(), 23);
    let trace_id = placed.trace_id.as_deref().expect("traced");
    let browser = Browser::start(&stack.options().dir, 1500, 1150).await.expect("chromium and chromedriver");
    let client = &browser.client;

    client.goto(&stack.ui().trace_url(trace_id)).await.expect("the trace page");
    assert_eq!(texts(client, "#trace-id").await, [trace_id]);
    // Every entity in the order `xray-local show` prints them, each at its offset with its duration.
    let start = tree.summary().start;
    let names: Vec<String> = tree.nodes.iter().map(|n| n.entity.name.clone()).collect();
    assert_eq!(texts(client, "tr.entity span.label").await, names);
    let offsets: Vec<String> = tree.nodes.iter().map(|n| duration(n.entity.start - start)).collect();
    assert_eq!(texts(client, "tr.entity td.offset").await, offsets);
    let durations: Vec<String> = tree.nodes.iter().map(|n| n.entity.duration().map(duration).expect("ended")).collect();
    assert_eq!(texts(client, "tr.entity td.duration").await, durations);
    let mut depths = Vec::new();
    for row in client.find_all(Locator::Css("tr.entity")).await.expect("rows") {
        depths.push(row.attr("data-depth").await.expect("attr").expect("depth").parse::<usize>().expect("number"));
    }
    assert_eq!(depths, tree.nodes.iter().map(|n| n.depth).collect::<Vec<_>>());
    // Both queue waits, marked and drawn as waits.
    let waits = texts(client, "tr.entity.wait span.label").await;
    assert_eq!(waits, [format!("{POLLED_QUEUE} wait"), format!("{PUSHED_QUEUE} wait")]);
    assert_eq!(client.find_all(Locator::Css("tr.entity.wait rect.wait")).await.expect("bars").len(), 2);
    // A click opens an entity's details: the handler's annotations.
    let handler = client.find(Locator::Css("tr.entity[data-entity='6']")).await.expect("the handler's row");
    assert_eq!(texts(client, "tr.entity[data-entity='6'] span.label").await, ["## handler"]);
    handler.click().await.expect("click");
    let details = client.find(Locator::Css("tr.details[data-for='6']")).await.expect("details");
    assert!(details.is_displayed().await.expect("displayed"));
    let shown = details.text().await.expect("text");
    assert!(shown.contains("customer_id") && shown.contains("c-42") && shown.contains("ColdStart"), "{shown}");
    handler.click().await.expect("close again");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join("trace.png"), png).expect("write");

    // The service map: the API's calls, and each queue to the function that processed its message.
    client.goto(&format!("{}map", stack.ui().url())).await.expect("the map");
    assert_eq!(edge(client, "orders-api", "DynamoDB (aws)", "count").await, "1");
    assert_eq!(edge(client, "orders-api", "SQS (aws)", "count").await, "2");
    assert_eq!(edge(client, "SQS (aws)", POLLER, "count").await, "1");
    assert_eq!(edge(client, "SQS (aws)", CONSUMER, "count").await, "1");
    assert_eq!(edge(client, POLLER, "DynamoDB (aws)", "count").await, "1");
    assert_eq!(edge(client, CONSUMER, "DynamoDB (aws)", "count").await, "1");
    let nodes = texts(client, "#map a.node text.name").await;
    for node in ["orders/production", "orders-api", "DynamoDB (aws)", "SQS (aws)", POLLER, CONSUMER] {
        assert!(nodes.iter().any(|n| n == node), "{node} in {nodes:?}");
    }
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join("map.png"), png).expect("write");
    browser.close().await;
}
