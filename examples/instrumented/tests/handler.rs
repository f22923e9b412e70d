//! The handler called as `lambda_runtime` calls it, inside lambda_runtime's own invocation span
//! (`layers::trace::request_span`), on `Context::default()`, against moto, through the subscriber `main` installs:
//! the spans become subsegments under `## handler`, the DynamoDB call is recorded once, and the JSON log lines carry
//! `xray_trace_id`.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, KeyType};
use instrumented::{Answer, Deps, Lookup, handler, layer};
use lambda_runtime::{Context, LambdaEvent, layers::trace::request_span};
use serde_json::Value;
use tracing::Instrument;
use xray_core::testing::MemorySink;
use xray_schema_check::fixtures::{FACADE, ROOT, SAMPLED, named};
use xray_tests::{moto, sdk};

/// A `fmt` writer into a shared buffer: the function's stdout.
#[derive(Clone, Default)]
struct Stdout(Arc<Mutex<Vec<u8>>>);

impl io::Write for Stdout {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stdout {
    type Writer = Stdout;

    fn make_writer(&'a self) -> Stdout {
        self.clone()
    }
}

impl Stdout {
    fn json_lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let text = String::from_utf8(bytes).expect("utf-8");
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
    }
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos:x}")
}

fn dynamodb() -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk::config(&moto::shared().endpoint))
}

/// A new orders table holding `o-1` (2 x 1749 cents).
async fn orders_table() -> String {
    let table = unique("orders");
    order_events::create_table(&dynamodb(), &table, &[("order_id", KeyType::Hash)]).await.expect("table");
    let item = [("order_id", "o-1"), ("quantity", "2"), ("unit_cents", "1749")].map(|(k, v)| {
        (k.to_owned(), if k == "order_id" { AttributeValue::S(v.into()) } else { AttributeValue::N(v.into()) })
    });
    dynamodb().put_item().table_name(&table).set_item(Some(item.into_iter().collect())).send().await.expect("put");
    table
}

/// Invokes the handler for `order_id` inside lambda_runtime's invocation span, as the runtime does, with JSON logs
/// (`AWS_LAMBDA_LOG_FORMAT=JSON`); returns the answer, the documents sent and the log lines.
async fn invoke(table: &str, order_id: &str) -> (Result<Answer, lambda_runtime::Error>, Vec<Value>, Vec<Value>) {
    // SAFETY: every test of this file sets the same value, before the subscriber reads it.
    unsafe { std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON") };
    let stdout = Stdout::default();
    let _subscriber = tracing::subscriber::set_default(xray_core::tracing::default_subscriber(layer(), stdout.clone()));
    let deps = Deps::new(&sdk::config(&moto::shared().endpoint), table);
    let mut context = Context::default();
    context.request_id = unique("req");
    context.xray_trace_id = Some(SAMPLED.to_owned());
    let sink = MemorySink::new();
    let span = sink.run(|| request_span(&context));
    let event = LambdaEvent::new(Lookup { order_id: order_id.to_owned() }, context);
    let answer = sink.scope(async { handler(&deps, event).await }.instrument(span)).await;
    let docs = xray_schema_check::all_valid(sink.documents());
    (answer, docs.into_iter().filter(|d| d.get("in_progress").is_none()).collect(), stdout.json_lines())
}

#[tokio::test(flavor = "current_thread")]
async fn an_instrumented_handler_is_traced_end_to_end_and_its_logs_carry_the_trace() {
    let table = orders_table().await;
    let (answer, docs, logs) = invoke(&table, "o-1").await;
    assert_eq!(answer.expect("answer"), Answer { order_id: "o-1".into(), found: true, total_cents: 3498 });

    let mut names: Vec<&str> = docs.iter().filter_map(|d| d["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["## handler", "DynamoDB", "audit", "handler", "load_order", "price"], "one DynamoDB call");
    let top = named(&docs, "## handler");
    assert_eq!((&top["parent_id"], &top["trace_id"]), (&FACADE.into(), &ROOT.into()));
    assert!(top["annotations"]["ColdStart"].is_boolean());
    let handler = named(&docs, "handler");
    assert_eq!(handler["parent_id"], top["id"]);
    assert_eq!(handler["annotations"]["order_id"], "o-1");
    for child in ["load_order", "price", "audit"] {
        assert_eq!(named(&docs, child)["parent_id"], handler["id"], "{child}");
    }
    let call = named(&docs, "DynamoDB");
    assert_eq!(call["parent_id"], named(&docs, "load_order")["id"]);
    assert_eq!(call["namespace"], "aws");
    assert_eq!(call["aws"]["operation"], "GetItem");
    assert_eq!(call["aws"]["table_name"], table);

    assert!(logs.len() >= 2, "{logs:?}");
    for line in &logs {
        assert_eq!(line["xray_trace_id"], ROOT, "{line}");
        assert!(line["span"]["name"].as_str().is_some(), "{line}");
    }
    let looked_up = logs.iter().find(|l| l["fields"]["message"] == "order looked up").expect("logged");
    assert_eq!(looked_up["fields"]["total_cents"], 3498);
    // lambda_runtime's span around every line: the request id, for Logs Insights' joins.
    assert!(looked_up["spans"][0]["requestId"].as_str().is_some_and(|r| r.starts_with("req-")), "{looked_up}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_call_marks_its_span_a_fault_and_the_handler_answers_the_error() {
    let (answer, docs, logs) = invoke(&unique("missing"), "o-1").await;
    assert!(answer.is_err());
    let load = named(&docs, "load_order");
    assert_eq!(load["fault"], true);
    assert!(load["cause"]["exceptions"][0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{load}");
    assert_eq!(named(&docs, "DynamoDB")["parent_id"], load["id"]);
    assert!(logs.iter().all(|l| l["xray_trace_id"] == ROOT), "{logs:?}");
}
