//! `#[traced_handler]` behaviour: the exact documents of whole invocations, captured by an in-memory sink.
#![allow(missing_docs)]

mod common;

use std::future::Future;
use std::sync::Once;
use std::time::Duration;

use common::{FACADE, ROOT, SAMPLED, UNSAMPLED, documents, exact, exception, names, within};
use lambda_runtime::{Context, Error, LambdaEvent, Service, service_fn};
use serde_json::{Value, json};
use xray_core::testing::MemorySink;
use xray_core::{traced, traced_handler};

fn event(header: Option<&str>, payload: Value) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.xray_trace_id = header.map(str::to_owned);
    LambdaEvent::new(payload, context)
}

/// Uses up the process's cold start, so each test here sees `ColdStart: false` whatever order tests run in (the
/// cold start itself is tested in `handler_env.rs`, alone in its process).
fn warm() {
    static WARM: Once = Once::new();
    WARM.call_once(|| {
        // `echo` never waits, so one poll runs it to completion.
        let invocation = std::pin::pin!(MemorySink::new().scope(echo(event(None, json!(null)))));
        let polled = invocation.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        assert!(matches!(polled, std::task::Poll::Ready(Ok(_))));
    });
}

/// The documents of an invocation whose handler waited once inside the call `open`: checks that the call was sent
/// `in_progress` at the wait (second, after the handler's own), and returns the handler's first document and the
/// complete ones.
fn first_and_complete(docs: Vec<Value>, open: &str) -> Vec<Value> {
    assert_eq!((&docs[1]["name"], &docs[1]["in_progress"]), (&json!(open), &json!(true)), "{docs:#?}");
    assert_eq!(docs.iter().filter(|d| d["in_progress"] == true).count(), 2, "{docs:#?}");
    docs.into_iter().enumerate().filter(|(i, d)| *i == 0 || d["in_progress"] != true).map(|(_, d)| d).collect()
}

/// The handler subsegment as first sent: in progress, annotated.
fn started(name: &str, service: &str) -> Value {
    json!({
        "name": name, "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment", "in_progress": true,
        "annotations": {"ColdStart": false, "Service": service},
    })
}

#[traced_handler]
async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "echo": event.payload }))
}

#[traced]
async fn price(qty: u64) -> u64 {
    tokio::task::yield_now().await;
    xray_core::handler().put_annotation("priced", true);
    qty * 250
}

#[traced_handler]
async fn order(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let qty = event.payload["qty"].as_u64().ok_or("qty missing")?;
    let total = price(qty).await;
    Ok(json!({ "total": total }))
}

#[tokio::test]
async fn an_invocation_sends_the_handler_in_progress_then_its_children_then_the_handler() {
    warm();
    let sink = MemorySink::new();
    let out = sink.scope(order(event(Some(SAMPLED), json!({"qty": 2})))).await.expect("ok");
    assert_eq!(out, json!({"total": 500}));
    let docs = first_and_complete(documents(&sink), "price");
    assert_eq!(names(&docs), ["## order", "price", "## order"]);
    assert_eq!(exact(&docs[0]), started("## order", "order"));
    assert_eq!(docs[0]["id"], docs[2]["id"], "the complete document replaces the in-progress one");
    assert_eq!(
        exact(&docs[1]),
        json!({"name": "price", "id": "<id>", "trace_id": ROOT, "parent_id": docs[2]["id"], "type": "subsegment"})
    );
    assert_eq!(
        exact(&docs[2]),
        json!({
            "name": "## order", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {"ColdStart": false, "Service": "order", "priced": true},
        })
    );
    within(&docs[1], &docs[2]);
}

#[tokio::test]
async fn an_error_marks_the_handler_fault_with_its_cause() {
    warm();
    let sink = MemorySink::new();
    let error = sink.scope(order(event(Some(SAMPLED), json!({})))).await.expect_err("qty missing");
    assert_eq!(error.to_string(), "qty missing");
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["## order", "## order"]);
    assert_eq!(docs[1]["fault"], true);
    // A string turned into `lambda_runtime::Error` has no type of its own to show.
    assert_eq!(exception(&docs[1]), ("Error", "qty missing"));
}

/// Shaped like the AWS SDK's `SdkError::ServiceError` around an operation error's variant.
#[derive(Debug)]
enum SdkError {
    ServiceError(GetItemError),
}
#[derive(Debug)]
enum GetItemError {
    ResourceNotFoundException(String),
}
impl std::fmt::Display for SdkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("service error")
    }
}
impl std::error::Error for SdkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let Self::ServiceError(inner) = self;
        Some(inner)
    }
}
impl std::fmt::Display for GetItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self::ResourceNotFoundException(message) = self;
        write!(f, "ResourceNotFoundException: {message}")
    }
}
impl std::error::Error for GetItemError {}

#[traced_handler]
async fn lookup(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Err(SdkError::ServiceError(GetItemError::ResourceNotFoundException("Requested resource not found".into())))?
}

// Regression (issue 10, point 3): a handler returning `lambda_runtime::Error` recorded the type
// `alloc::boxed::Box<dyn core::error::Error + ...>` and the message "service error".
#[tokio::test]
async fn a_boxed_sdk_error_is_recorded_by_its_code_and_message() {
    warm();
    let sink = MemorySink::new();
    let error = sink.scope(lookup(event(Some(SAMPLED), json!({})))).await.expect_err("fails");
    assert_eq!(error.to_string(), "service error", "the handler's error is returned unchanged");
    let docs = documents(&sink);
    assert_eq!(
        exception(&docs[1]),
        ("ResourceNotFoundException", "service error: ResourceNotFoundException: Requested resource not found")
    );
}

#[tokio::test]
async fn unsampled_or_headerless_invocations_send_nothing_and_return_the_same() {
    warm();
    let sink = MemorySink::new();
    for header in [Some(UNSAMPLED), None, Some("not a header")] {
        let out = sink.scope(order(event(header, json!({"qty": 1})))).await.expect("ok");
        assert_eq!(out, json!({"total": 250}));
        assert!(sink.scope(order(event(header, json!({})))).await.is_err());
    }
    assert!(sink.raw().is_empty());
}

#[traced_handler]
async fn two_args(payload: Value, context: Context) -> Result<String, Error> {
    Ok(format!("{payload} for {}", context.request_id))
}

#[tokio::test]
async fn the_two_argument_form_reads_the_header_from_its_context() {
    warm();
    let sink = MemorySink::new();
    let LambdaEvent { payload, mut context } = event(Some(SAMPLED), json!(3));
    context.request_id = "req-1".into();
    let out = sink.scope(two_args(payload, context)).await.expect("ok");
    assert_eq!(out, "3 for req-1");
    let docs = documents(&sink);
    assert_eq!(exact(&docs[0]), started("## two_args", "two_args"));
    assert_eq!(
        exact(&docs[1]),
        json!({
            "name": "## two_args", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {"ColdStart": false, "Service": "two_args"},
        })
    );
}

/// Shared state a handler borrows: built once at init, passed by `service_fn(|event| with_deps(&deps, event))`.
struct Deps {
    table: &'static str,
}

#[traced_handler]
async fn with_deps(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "table": deps.table, "got": event.payload }))
}

impl Deps {
    #[traced_handler]
    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        Ok(json!({ "table": self.table, "got": event.payload }))
    }
}

#[tokio::test]
async fn parameters_before_the_event_are_passed_through() {
    // Regression (issue 10): `#[traced_handler]` refused a handler taking shared state before its `LambdaEvent`.
    warm();
    let deps = Deps { table: "orders" };
    let sink = MemorySink::new();
    let mut service = service_fn(|event| with_deps(&deps, event));
    let out = sink.scope(service.call(event(Some(SAMPLED), json!(1)))).await.expect("ok");
    assert_eq!(out, json!({"table": "orders", "got": 1}));
    let out = sink.scope(deps.handle(event(Some(SAMPLED), json!(2)))).await.expect("ok");
    assert_eq!(out, json!({"table": "orders", "got": 2}));
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["## with_deps", "## with_deps", "## handle", "## handle"]);
    for (doc, name) in [(&docs[1], "with_deps"), (&docs[3], "handle")] {
        assert_eq!(
            exact(doc),
            json!({
                "name": format!("## {name}"), "id": "<id>", "trace_id": ROOT, "parent_id": FACADE,
                "type": "subsegment", "annotations": {"ColdStart": false, "Service": name},
            })
        );
    }
}

#[traced_handler(name = "## checkout", capture_response, err = false)]
async fn checkout(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload.is_null() {
        return Err("empty cart".into());
    }
    Ok(json!({ "items": event.payload }))
}

#[tokio::test]
async fn options_rename_capture_the_response_and_leave_errors_unrecorded() {
    warm();
    let sink = MemorySink::new();
    sink.scope(checkout(event(Some(SAMPLED), json!([1, 2])))).await.expect("ok");
    assert!(sink.scope(checkout(event(Some(SAMPLED), Value::Null))).await.is_err());
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["## checkout"; 4]);
    assert_eq!(
        exact(&docs[1]),
        json!({
            "name": "## checkout", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {"ColdStart": false, "Service": "checkout"},
            "metadata": {"checkout": {"## checkout response": {"items": [1, 2]}}},
        })
    );
    assert_eq!(
        exact(&docs[3]),
        json!({
            "name": "## checkout", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {"ColdStart": false, "Service": "checkout"},
        })
    );
}

#[traced_handler]
async fn explode(event: LambdaEvent<Value>) -> Result<Value, Error> {
    tokio::task::yield_now().await;
    panic!("handler exploded on {}", event.payload);
}

#[tokio::test]
async fn a_panic_marks_the_handler_fault_and_keeps_unwinding() {
    warm();
    let sink = MemorySink::new();
    let task = tokio::spawn(sink.scope(explode(event(Some(SAMPLED), json!(9)))));
    let payload = task.await.expect_err("panicked").into_panic();
    assert_eq!(payload.downcast_ref::<String>().map(String::as_str), Some("handler exploded on 9"));
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["## explode", "## explode"]);
    assert_eq!(docs[1]["fault"], true);
    assert_eq!(exception(&docs[1]), ("panic", "handler exploded on 9"));
}

#[traced_handler]
async fn slow(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(Value::Null)
}

#[tokio::test]
async fn a_timed_out_invocation_has_already_sent_its_handler_in_progress() {
    warm();
    let sink = MemorySink::new();
    let invocation = tokio::spawn(sink.scope(slow(event(Some(SAMPLED), json!(1)))));
    tokio::time::sleep(Duration::from_millis(20)).await;
    // What the daemon has while the function is frozen or killed at its timeout:
    let docs = documents(&sink);
    assert_eq!(docs.len(), 1);
    assert_eq!(exact(&docs[0]), started("## slow", "slow"));
    invocation.abort();
    assert!(invocation.await.expect_err("aborted").is_cancelled());
}

#[traced]
async fn background(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    n
}

#[traced_handler]
async fn leaves_work_open(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    // Detached: still running when the handler returns.
    drop(tokio::spawn(xray_core::bind(background(1))));
    tokio::time::sleep(Duration::from_millis(5)).await;
    Ok(Value::Null)
}

#[tokio::test]
async fn work_still_open_when_the_handler_returns_is_sent_in_progress_before_the_result() {
    warm();
    let sink = MemorySink::new();
    sink.scope(leaves_work_open(event(Some(SAMPLED), json!(1)))).await.expect("ok");
    let docs = documents(&sink);
    assert_eq!(names(&docs), ["## leaves_work_open", "## leaves_work_open", "background"]);
    assert_eq!(
        exact(&docs[2]),
        json!({
            "name": "background", "id": "<id>", "trace_id": ROOT, "parent_id": docs[1]["id"], "type": "subsegment",
            "in_progress": true,
        })
    );
}

#[traced_handler]
async fn numbered(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let n = event.payload.as_u64().ok_or("n")?;
    xray_core::put_annotation("n", n);
    let priced = price(n).await;
    tokio::time::sleep(Duration::from_millis(n % 7)).await;
    Ok(json!(priced))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_invocations_never_mix() {
    warm();
    let sink = MemorySink::new();
    let roots: Vec<String> = (0..50u64).map(|n| format!("1-5759e988-{n:024x}")).collect();
    let parents: Vec<String> = (0..50u64).map(|n| format!("{:016x}", 0x1000 + n)).collect();
    let invocations: Vec<_> = (0..50usize)
        .map(|n| {
            let header = format!("Root={};Parent={};Sampled=1", roots[n], parents[n]);
            tokio::spawn(sink.scope(numbered(event(Some(&header), json!(n)))))
        })
        .collect();
    for (n, invocation) in invocations.into_iter().enumerate() {
        assert_eq!(invocation.await.expect("joined").expect("ok"), json!(n * 250));
    }
    let docs = documents(&sink);
    // Each: the handler in progress, `price` in progress at the handler's wait, both complete.
    assert_eq!(docs.len(), 200);
    for n in 0..50 {
        let mine: Vec<&Value> = docs.iter().filter(|d| d["trace_id"] == roots[n].as_str()).collect();
        let handler: Vec<&&Value> = mine.iter().filter(|d| d["name"] == "## numbered").collect();
        let children: Vec<&&Value> = mine.iter().filter(|d| d["name"] == "price" && d["in_progress"] != true).collect();
        assert_eq!((mine.len(), handler.len(), children.len()), (4, 2, 1), "invocation {n}: {mine:#?}");
        let done = handler[1];
        assert_eq!(handler[0]["in_progress"], true);
        assert_eq!(done["parent_id"], parents[n].as_str());
        assert_eq!(done["annotations"], json!({"ColdStart": false, "Service": "numbered", "n": n, "priced": true}));
        assert_eq!(children[0]["parent_id"], done["id"]);
        within(children[0], done);
    }
}

/// A `lambda_http` handler, as `lambda_http::run(service_fn(orders))` runs it.
#[traced_handler]
async fn http_orders(request: lambda_http::Request) -> Result<impl lambda_http::IntoResponse, Error> {
    let total = price(if request.method() == "POST" { 7 } else { 0 }).await;
    let response = lambda_http::Response::builder().status(201).body(format!("total {total}"))?;
    Ok(response)
}

/// The API Gateway REST API proxy event lambda_http receives for `POST /orders`.
fn rest_api_event(header: Option<&str>) -> LambdaEvent<lambda_http::request::LambdaRequest> {
    let event = json!({
        "resource": "/orders", "path": "/orders", "httpMethod": "POST", "body": "{}", "isBase64Encoded": false,
        "headers": {"Host": "api.example.com"}, "multiValueHeaders": {"Host": ["api.example.com"]},
        "queryStringParameters": null, "multiValueQueryStringParameters": null, "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": "/orders", "httpMethod": "POST", "path": "/prod/orders", "stage": "prod",
            "requestId": "req-1", "accountId": "123456789012", "identity": {}, "protocol": "HTTP/1.1"
        }
    });
    let payload = serde_json::from_value(event).expect("a REST API event");
    let mut context = Context::default();
    context.xray_trace_id = header.map(str::to_owned);
    LambdaEvent::new(payload, context)
}

// Regression (issue 18, point 1): a `lambda_http` handler (`Request` -> `Result<impl IntoResponse, E>`) did not
// compile: `#[traced_handler]` accepted only `LambdaEvent<T>` or a payload and a `Context`.
#[tokio::test]
async fn a_lambda_http_handler_reads_the_header_from_the_requests_lambda_context() {
    warm();
    // lambda_http's own adapter, the one `lambda_http::run` wraps the handler in, turns the event into a `Request`
    // carrying the invocation's Context.
    let mut adapter = lambda_http::Adapter::from(service_fn(http_orders));
    let sink = MemorySink::new();
    let response = sink.scope(adapter.call(rest_api_event(Some(SAMPLED)))).await.expect("ok");
    let response = serde_json::to_value(&response).expect("a response");
    assert_eq!((&response["statusCode"], &response["body"]), (&json!(201), &json!("total 1750")));
    let docs = first_and_complete(documents(&sink), "price");
    assert_eq!(names(&docs), ["## http_orders", "price", "## http_orders"]);
    assert_eq!(exact(&docs[0]), started("## http_orders", "http_orders"));
    assert_eq!(docs[1]["parent_id"], docs[2]["id"]);
    assert_eq!(
        exact(&docs[2]),
        json!({
            "name": "## http_orders", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
            "annotations": {"ColdStart": false, "Service": "http_orders", "priced": true},
        })
    );

    // Unsampled or without a header: nothing recorded, the same answer.
    for header in [Some(UNSAMPLED), None] {
        let response = sink.scope(adapter.call(rest_api_event(header))).await.expect("ok");
        assert_eq!(serde_json::to_value(&response).expect("a response")["statusCode"], 201);
    }
    assert_eq!(documents(&sink).len(), 4, "the sampled invocation's only");
}
