//! The handler called as `lambda_http` calls it (an API Gateway proxy event turned into a `Request` carrying the
//! Lambda context, built from `Context::default()`), against a real moto server (DynamoDB) and a pricing API served
//! on a loopback port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequest;
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Request, RequestExt, Response};
use orders_api::{Deps, handler};
use serde_json::{Value, json};
use xray_core::testing::MemorySink;
use xray_schema_check::fixtures::{FACADE, ROOT, SAMPLED, named};
use xray_tests::{moto, sdk};

/// What the pricing API stand-in saw: the `X-Amzn-Trace-Id` of each request.
type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// Quotes `book` (12.50 + 4.99 shipping), fails for `broken` with a 500, knows nothing else.
async fn quotes(State(seen): State<Seen>, RawQuery(query): RawQuery, headers: HeaderMap) -> (StatusCode, String) {
    let header = headers.get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    seen.lock().expect("seen").push(header);
    let query = query.unwrap_or_default();
    if query.contains("sku=book&") {
        let quote = json!({"sku": "book", "unit_price_cents": 1250, "shipping_cents": 499, "currency": "EUR"});
        (StatusCode::OK, quote.to_string())
    } else if query.contains("sku=broken&") {
        (StatusCode::INTERNAL_SERVER_ERROR, "{}".into())
    } else {
        (StatusCode::NOT_FOUND, "{}".into())
    }
}

/// The pricing API on a loopback port: its base URL and what it saw.
async fn pricing_api() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new().route("/quotes", axum::routing::get(quotes)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos:x}")
}

/// Deps against moto and a fresh pricing API, with a table of their own (created unless `create` is false).
async fn deps(create: bool) -> (Deps, aws_sdk_dynamodb::Client, String, Seen) {
    let config = sdk::config(&moto::shared().endpoint);
    let plain = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("orders");
    if create {
        orders_api::create_table(&plain, &table).await.expect("table created");
    }
    let (url, seen) = pricing_api().await;
    (Deps::new(&config, &table, url), plain, table, seen)
}

/// An API Gateway proxy event for `method resource`, as API Gateway builds it for the routes of template.yaml.
fn proxy_event(method: Method, resource: &str, path: &str, body: Option<&str>) -> ApiGatewayProxyRequest {
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = method.clone();
    request.resource = Some(resource.to_owned());
    request.path = Some(path.to_owned());
    request.body = body.map(str::to_owned);
    request.request_context.request_id = Some(unique("req"));
    request.request_context.resource_path = Some(resource.to_owned());
    request.request_context.http_method = method;
    if let Some(id) = path.strip_prefix("/orders/") {
        request.path_parameters = HashMap::from([("id".to_owned(), id.to_owned())]);
    }
    request
}

/// The `Request` lambda_http makes of a proxy event, with the invocation's Lambda context in it.
fn request_of(event: ApiGatewayProxyRequest, context: Context) -> Request {
    Request::from(LambdaRequest::ApiGatewayV1(event)).with_lambda_context(context)
}

fn event(method: Method, resource: &str, path: &str, body: Option<&str>) -> Request {
    request_of(proxy_event(method, resource, path, body), Context::default())
}

fn post(body: &str) -> Request {
    event(Method::POST, "/orders", "/orders", Some(body))
}

/// API Gateway's request id of a request, which names the order it places.
fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV1(context)) => {
            context.request_id.clone().expect("request id")
        }
        other => panic!("not a REST API request: {other:?}"),
    }
}

fn body(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("JSON body"),
        other => panic!("no text body: {other:?}"),
    }
}

const BOOK: &str = r#"{"customer_id":"c-42","sku":"book","quantity":2}"#;

#[tokio::test]
async fn an_order_is_priced_stored_and_read_back() {
    let (deps, plain, table, _) = deps(true).await;
    let placed = post(BOOK);
    let order_id = request_id(&placed);

    let response = handler(&deps, placed).await.expect("an answer");
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    let expected = json!({
        "order_id": order_id, "customer_id": "c-42", "sku": "book", "quantity": 2,
        "unit_price_cents": 1250, "shipping_cents": 499, "total_cents": 2999, "currency": "EUR",
    });
    assert_eq!(body(&response), expected);

    let key = AttributeValue::S(order_id.clone());
    let item = plain.get_item().table_name(&table).key("order_id", key).send().await.expect("get").item;
    let item = item.expect("the order is stored");
    assert_eq!(item["total_cents"], AttributeValue::N("2999".into()));
    assert_eq!(item["customer_id"], AttributeValue::S("c-42".into()));

    let path = format!("/orders/{order_id}");
    let read = handler(&deps, event(Method::GET, "/orders/{id}", &path, None)).await.expect("an answer");
    assert_eq!((read.status().as_u16(), body(&read)), (200, expected));
}

#[tokio::test]
async fn bad_requests_get_4xx_answers_and_nothing_is_stored() {
    let (deps, plain, table, seen) = deps(true).await;
    let cases = [
        (post("not json"), 400, "invalid order"),
        (post(r#"{"customer_id":"c-1","sku":"book","quantity":0}"#), 400, "quantity must be 1 to 100"),
        (post(r#"{"customer_id":"c-1","sku":"unknown","quantity":1}"#), 422, "no price for sku `unknown`"),
        (event(Method::GET, "/orders/{id}", "/orders/nope", None), 404, "not found"),
        (event(Method::DELETE, "/orders/{id}", "/orders/nope", None), 404, "not found"),
        (event(Method::GET, "/customers", "/customers", None), 404, "not found"),
    ];
    for (request, status, message) in cases {
        let response = handler(&deps, request).await.expect("an answer");
        assert_eq!(response.status(), status);
        let text = body(&response)["message"].as_str().unwrap_or_default().to_owned();
        assert!(text.contains(message), "{text}");
    }
    let mut binary = proxy_event(Method::POST, "/orders", "/orders", Some("eyJjdXN0b21lcl9pZCI6ImMtNDIifQ=="));
    binary.is_base64_encoded = true;
    let binary = request_of(binary, Context::default());
    assert_eq!(handler(&deps, binary).await.expect("an answer").status(), 400);

    let count = plain.scan().table_name(&table).send().await.expect("scan").count;
    assert_eq!(count, 0);
    assert_eq!(seen.lock().expect("seen").len(), 1, "only the unknown sku reached the pricing API");
}

#[tokio::test]
async fn a_failing_pricing_api_answers_502() {
    let (deps, ..) = deps(true).await;
    let broken = post(r#"{"customer_id":"c-1","sku":"broken","quantity":1}"#);
    let response = handler(&deps, broken).await.expect("an answer");
    assert_eq!(
        (response.status().as_u16(), body(&response)["message"].clone()),
        (502, json!("the pricing service failed"))
    );

    // Nothing listens on port 9 (discard) of loopback: refused at once.
    let config = sdk::config(&moto::shared().endpoint);
    let unreachable = Deps::new(&config, "orders", "http://127.0.0.1:9");
    assert_eq!(handler(&unreachable, post(BOOK)).await.expect("an answer").status(), 502);
    let bad_url = Deps::new(&config, "orders", "not a url");
    assert_eq!(handler(&bad_url, post(BOOK)).await.expect("an answer").status(), 502);
}

#[tokio::test]
async fn a_missing_table_answers_500() {
    let (deps, ..) = deps(false).await;
    let response = handler(&deps, post(BOOK)).await.expect("an answer");
    assert_eq!(response.status(), 500);
    assert_eq!(body(&response)["message"], "the order could not be stored");
    let read = handler(&deps, event(Method::GET, "/orders/{id}", "/orders/o-1", None)).await.expect("an answer");
    assert_eq!(read.status(), 500);
}

/// Runs the handler as a sampled invocation whose function segment is [`FACADE`]; the documents it sent.
async fn traced(deps: &Deps, request: Request) -> (Response<Body>, Vec<Value>) {
    let mut context = request.lambda_context();
    context.xray_trace_id = Some(SAMPLED.to_owned());
    let sink = MemorySink::new();
    let response = sink.scope(handler(deps, request.with_lambda_context(context))).await.expect("an answer");
    let docs: Vec<Value> = sink.documents().into_iter().filter(|d| d["in_progress"] != true).collect();
    (response, xray_schema_check::all_valid(docs))
}

#[tokio::test]
async fn the_trace_shows_our_code_the_pricing_api_and_dynamodb() {
    let (deps, _, table, seen) = deps(true).await;
    let placed = post(BOOK);
    let order_id = request_id(&placed);
    let (response, docs) = traced(&deps, placed).await;
    assert_eq!(response.status(), 201);

    let names: Vec<&str> = docs.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["127.0.0.1", "quote", "DynamoDB", "save_order", "## handler"]);
    assert!(docs.iter().all(|d| d["trace_id"] == ROOT && d["type"] == "subsegment"));
    let handler_doc = named(&docs, "## handler");
    assert_eq!(handler_doc["parent_id"], FACADE);
    assert_eq!(handler_doc["annotations"]["order_id"], order_id.as_str());
    assert_eq!(handler_doc["annotations"]["customer_id"], "c-42");
    assert!(handler_doc.get("error").is_none() && handler_doc.get("fault").is_none());

    let quote = named(&docs, "quote");
    assert_eq!(quote["parent_id"], handler_doc["id"]);
    assert_eq!(quote["annotations"]["sku"], "book");
    let pricing = named(&docs, "127.0.0.1");
    assert_eq!(pricing["parent_id"], quote["id"]);
    assert_eq!(pricing["namespace"], "remote");
    assert_eq!(pricing["http"]["request"]["method"], "GET");
    assert!(pricing["http"]["request"]["url"].as_str().is_some_and(|u| u.ends_with("/quotes")), "{pricing}");
    assert_eq!(pricing["http"]["response"]["status"], 200);
    // The pricing API got the trace with the remote subsegment as parent.
    let header = format!("Root={ROOT};Parent={};Sampled=1", pricing["id"].as_str().expect("id"));
    assert_eq!(seen.lock().expect("seen").as_slice(), [Some(header)]);

    let save = named(&docs, "save_order");
    assert_eq!(save["parent_id"], handler_doc["id"]);
    let dynamodb = named(&docs, "DynamoDB");
    assert_eq!(dynamodb["parent_id"], save["id"]);
    assert_eq!(dynamodb["namespace"], "aws");
    assert_eq!(dynamodb["aws"]["operation"], "PutItem");
    assert_eq!(dynamodb["aws"]["table_name"], table.as_str());
    assert_eq!(dynamodb["http"]["response"]["status"], 200);
}

#[tokio::test]
async fn a_missing_table_is_a_fault_of_save_order_under_dynamodb_s_error() {
    let (deps, _, table, _) = deps(false).await;
    let (response, docs) = traced(&deps, post(BOOK)).await;
    assert_eq!(response.status(), 500);

    // DynamoDB answered 400 ResourceNotFoundException: an error of the call (the service refused it) ...
    let dynamodb = named(&docs, "DynamoDB");
    assert_eq!(dynamodb["error"], true);
    assert!(dynamodb.get("fault").is_none());
    assert_eq!(dynamodb["aws"]["table_name"], table.as_str());
    assert_eq!(dynamodb["cause"]["exceptions"][0]["type"], "ResourceNotFoundException");
    // ... that our code could not recover from: a fault of save_order, whose cause is the whole chain ...
    let save = named(&docs, "save_order");
    assert_eq!(save["fault"], true);
    let exceptions = save["cause"]["exceptions"].as_array().expect("exceptions");
    assert!(exceptions[0]["type"].as_str().is_some_and(|t| t.ends_with("CallError")), "{save:#}");
    assert_eq!(exceptions[0]["message"], "PutItem failed: ResourceNotFoundException: Requested resource not found");
    // ... and the handler answered 500: a fault of the invocation's handler subsegment, nothing stored.
    let handler_doc = named(&docs, "## handler");
    assert_eq!(handler_doc["fault"], true);
    assert_eq!(save["parent_id"], handler_doc["id"]);
    assert_eq!(named(&docs, "quote").get("fault"), None);
}

#[tokio::test]
async fn client_errors_mark_the_handler_error_and_pricing_failures_fault_quote() {
    let (deps, ..) = deps(true).await;
    let (response, docs) = traced(&deps, post(r#"{"customer_id":"c-1","sku":"unknown","quantity":1}"#)).await;
    assert_eq!(response.status(), 422);
    let handler_doc = named(&docs, "## handler");
    assert_eq!((handler_doc["error"].clone(), handler_doc.get("fault")), (json!(true), None));
    // A 404 from the pricing API is its answer for an unknown SKU: an error of the call, not of quote.
    assert_eq!(named(&docs, "127.0.0.1")["error"], true);
    assert_eq!(named(&docs, "quote").get("fault"), None);

    let (response, docs) = traced(&deps, post(r#"{"customer_id":"c-1","sku":"broken","quantity":1}"#)).await;
    assert_eq!(response.status(), 502);
    assert_eq!(named(&docs, "127.0.0.1")["fault"], true);
    assert_eq!(named(&docs, "quote")["fault"], true);
    assert_eq!(named(&docs, "## handler")["fault"], true);
    assert!(docs.iter().all(|d| d["name"] != "save_order"), "nothing is stored after a failed quote");
}

#[tokio::test]
async fn each_order_placed_is_announced_to_the_queues_in_its_trace() {
    let (deps, ..) = deps(true).await;
    let sqs = aws_sdk_sqs::Client::new(&sdk::config(&moto::shared().endpoint));
    let queue = sqs.create_queue().queue_name(unique("order-events")).send().await.expect("queue").queue_url;
    let queue = queue.expect("url");
    let deps = deps.publishing_to([queue.clone()]);
    let (response, docs) = traced(&deps, post(BOOK)).await;
    assert_eq!(response.status(), 201);

    let names: Vec<&str> = docs.iter().filter_map(|d| d["name"].as_str()).collect();
    assert_eq!(names, ["127.0.0.1", "quote", "DynamoDB", "save_order", "SQS", "publish_order_event", "## handler"]);
    let publish = named(&docs, "publish_order_event");
    assert_eq!(publish["parent_id"], named(&docs, "## handler")["id"]);
    assert_eq!(publish["annotations"]["order_id"], body(&response)["order_id"]);
    let send = named(&docs, "SQS");
    assert_eq!((&send["parent_id"], &send["aws"]["operation"]), (&publish["id"], &json!("SendMessage")));

    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .expect("received");
    let message = &received.messages.unwrap_or_default()[0];
    let event = orders_api::OrderEvent::parse(message.body().unwrap_or_default()).expect("an order event");
    assert_eq!(
        (event.order_id.as_str(), event.total_cents),
        (publish["annotations"]["order_id"].as_str().unwrap_or_default(), 2999)
    );
    let header = message.attributes().and_then(|a| a.values().next()).cloned().unwrap_or_default();
    assert_eq!(header, format!("Root={ROOT};Parent={};Sampled=1", send["id"].as_str().expect("id")));
}
