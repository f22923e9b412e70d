//! End-to-end: `reqwest` through `reqwest-middleware` with the X-Ray middleware, against a real HTTP server on
//! 127.0.0.1 started by the test; asserts on the exact remote subsegments and on the headers the server received.

use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{Value, json};
use xray_core::Trace;
use xray_core::http::XRayMiddleware;
use xray_core::testing::MemorySink;
use xray_tests::schema;

use xray_schema_check::fixtures::{FACADE, ROOT, WITH_UNKNOWN as HEADER};

type Seen = Arc<Mutex<Vec<Vec<String>>>>;

/// An HTTP API on a free port of 127.0.0.1 that answers by path and keeps the trace headers of every request.
async fn server() -> (String, Seen) {
    async fn answer(State(seen): State<Seen>, request: Request) -> (StatusCode, &'static str) {
        let headers = request.headers().get_all("x-amzn-trace-id").iter();
        let headers = headers.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect();
        seen.lock().unwrap_or_else(PoisonError::into_inner).push(headers);
        match request.uri().path() {
            "/orders/7" => (StatusCode::OK, r#"{"id":7}"#),
            "/slow" => {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                (StatusCode::OK, "late")
            }
            "/limited" => (StatusCode::TOO_MANY_REQUESTS, "slow down"),
            "/broken" => (StatusCode::SERVICE_UNAVAILABLE, "down"),
            _ => (StatusCode::NOT_FOUND, "no such thing"),
        }
    }
    let seen = Seen::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(answer).with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

fn client(middleware: XRayMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new()).with(middleware).build()
}

async fn traced<F: std::future::Future>(header: &str, f: F) -> (F::Output, Vec<Value>) {
    let sink = MemorySink::new();
    // The trace is made inside the sink's scope so it keeps sending there, even from a future dropped later.
    let output = sink.scope(async { Trace::lambda(Some(header)).context().scope(f).await }).await;
    (output, schema::documents(&sink))
}

/// The single document, with its id and times checked and replaced by placeholders.
fn only(docs: &[Value]) -> Value {
    assert_eq!(docs.len(), 1, "{docs:#?}");
    let mut doc = docs[0].clone();
    assert_eq!(doc["id"].as_str().map(str::len), Some(16), "{doc}");
    assert!(doc["end_time"].as_f64() >= doc["start_time"].as_f64(), "{doc}");
    for (key, placeholder) in [("id", "<id>"), ("start_time", "<t>"), ("end_time", "<t>")] {
        doc[key] = placeholder.into();
    }
    if let Some(exceptions) = doc.pointer_mut("/cause/exceptions").and_then(Value::as_array_mut) {
        exceptions.iter_mut().for_each(|e| e["id"] = "<id>".into());
    }
    doc
}

fn remote(url: &str, status: u16, length: u64) -> Value {
    json!({
        "name": "127.0.0.1", "id": "<id>", "trace_id": ROOT, "parent_id": FACADE, "type": "subsegment",
        "start_time": "<t>", "end_time": "<t>", "namespace": "remote",
        "http": {"request": {"method": "GET", "url": url}, "response": {"status": status, "content_length": length}},
    })
}

#[tokio::test]
async fn a_get_is_a_remote_subsegment_without_the_query_string_and_carries_its_id_as_parent() {
    let (base, seen) = server().await;
    let client = client(XRayMiddleware::new());

    let (response, docs) = traced(HEADER, async {
        let response = client.get(format!("{base}/orders/7?token=secret#top")).send().await.expect("sent");
        (response.status(), response.text().await.expect("body"))
    })
    .await;

    assert_eq!(response, (reqwest::StatusCode::OK, r#"{"id":7}"#.to_owned()));
    assert_eq!(only(&docs), remote(&format!("{base}/orders/7"), 200, 8));
    let id = docs[0]["id"].as_str().expect("id");
    assert_eq!(
        *seen.lock().expect("seen"),
        vec![vec![format!("Root={ROOT};Parent={id};Sampled=1;Lineage=a87bd80c:1;Foo=bar")]]
    );
}

#[tokio::test]
async fn the_query_string_is_kept_when_asked_for() {
    let (base, _) = server().await;
    let client = client(XRayMiddleware::new().with_query_string(true));

    let (_, docs) = traced(HEADER, client.get(format!("{base}/orders/7?page=2")).send()).await;

    assert_eq!(only(&docs)["http"]["request"]["url"], format!("{base}/orders/7?page=2"));
}

#[tokio::test]
async fn status_classes_are_error_throttle_and_fault_and_responses_reach_the_caller_unchanged() {
    let (base, _) = server().await;
    let client = client(XRayMiddleware::new());

    for (path, status, flags) in [
        ("/missing", 404, json!({"error": true})),
        ("/limited", 429, json!({"error": true, "throttle": true})),
        ("/broken", 503, json!({"fault": true})),
    ] {
        let url = format!("{base}{path}");
        let (response, docs) = traced(HEADER, client.get(&url).send()).await;
        assert_eq!(response.expect("a response").status().as_u16(), status);
        let mut expected =
            remote(&url, status, docs[0]["http"]["response"]["content_length"].as_u64().expect("length"));
        expected.as_object_mut().expect("object").extend(flags.as_object().expect("flags").clone());
        assert_eq!(only(&docs), expected, "{path}");
    }
}

#[tokio::test]
async fn a_connection_failure_is_a_fault_with_the_error_as_cause_and_the_error_reaches_the_caller() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let url = format!("http://{closed}/orders/7");
    let client = client(XRayMiddleware::new());

    let (response, docs) = traced(HEADER, client.get(&url).send()).await;

    let err = response.expect_err("nothing listens");
    let doc = only(&docs);
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["http"], json!({"request": {"method": "GET", "url": url}}));
    let exceptions = doc["cause"]["exceptions"].as_array().expect("exceptions");
    assert_eq!(exceptions[0]["type"], "reqwest_middleware::error::Error");
    assert_eq!(exceptions[0]["message"], err.to_string());
}

#[tokio::test]
async fn an_unsampled_trace_records_nothing_and_replaces_a_header_the_caller_set() {
    let (base, seen) = server().await;
    let client = client(XRayMiddleware::new());
    let header = format!("Root={ROOT};Parent={FACADE};Sampled=0;Lineage=a87bd80c:1");

    let (response, docs) =
        traced(&header, client.get(format!("{base}/orders/7")).header("X-Amzn-Trace-Id", "Root=stale").send()).await;

    assert_eq!(response.expect("sent").status(), reqwest::StatusCode::OK);
    assert_eq!(docs, Vec::<Value>::new());
    assert_eq!(*seen.lock().expect("seen"), vec![vec![header]]);
}

#[tokio::test]
async fn a_header_that_cannot_go_on_the_wire_gets_a_diagnostic_and_the_call_goes_ahead_without_it() {
    let (base, seen) = server().await;
    let client = client(XRayMiddleware::new());
    let before = xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader);

    let (response, docs) =
        traced(&format!("{HEADER};Note=a\u{1}b"), client.get(format!("{base}/orders/7")).send()).await;

    assert_eq!(response.expect("sent").status(), reqwest::StatusCode::OK);
    assert_eq!(only(&docs), remote(&format!("{base}/orders/7"), 200, 8));
    assert_eq!(*seen.lock().expect("seen"), vec![Vec::<String>::new()]);
    assert!(xray_core::diag::count(xray_core::diag::DiagKind::MalformedHeader) > before);
}

// Regression (issue 10, point 8): a URL's user info was recorded with its password, and a connection error recorded
// the full URL, query string included, in the exception message.
#[tokio::test]
async fn user_info_and_the_query_string_are_recorded_nowhere_error_text_included() {
    let (base, _) = server().await;
    let client = client(XRayMiddleware::new());
    let with_user = base.replace("http://", "http://orders:hunter2@");
    let request = reqwest::Request::new(reqwest::Method::GET, format!("{with_user}/orders/7").parse().expect("url"));

    let (response, docs) = traced(HEADER, client.execute(request)).await;

    assert_eq!(response.expect("sent").status(), reqwest::StatusCode::OK);
    assert_eq!(only(&docs), remote(&format!("{base}/orders/7"), 200, 8));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let request = reqwest::Request::new(
        reqwest::Method::GET,
        format!("http://orders:hunter2@{closed}/orders/7?token=secret").parse().expect("url"),
    );
    let (response, docs) = traced(HEADER, client.execute(request)).await;
    let err = response.expect_err("nothing listens");
    assert!(err.to_string().contains("hunter2"), "the caller's error is unchanged: {err}");
    let doc = only(&docs);
    let text = doc.to_string();
    assert!(!text.contains("hunter2") && !text.contains("orders:") && !text.contains("secret"), "{text}");
    assert_eq!(doc["http"]["request"]["url"], format!("http://{closed}/orders/7"));
    let message = doc["cause"]["exceptions"][0]["message"].as_str().expect("message");
    assert!(message.contains(&format!("http://{closed}/orders/7")), "{message}");
}

// Regression (issue 10, point 15): a call dropped before it completed ended as a normal subsegment.
#[tokio::test]
async fn a_call_dropped_before_it_completes_ends_as_an_interrupted_fault() {
    let (base, _) = server().await;
    let client = client(XRayMiddleware::new());

    let (outcome, docs) = traced(HEADER, async {
        tokio::time::timeout(std::time::Duration::from_millis(200), client.get(format!("{base}/slow")).send()).await
    })
    .await;

    assert!(outcome.is_err(), "the caller's timeout fired");
    let doc = only(&docs);
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["cause"]["exceptions"][0]["type"], "Interrupted");
    assert_eq!(doc["http"], json!({"request": {"method": "GET", "url": format!("{base}/slow")}}));
}

#[tokio::test]
async fn an_ignored_endpoint_gets_no_subsegment_and_no_header_and_the_rest_are_traced() {
    let (base, seen) = server().await;
    let client =
        client(XRayMiddleware::new().ignore_endpoint(None, ["/health*"]).ignore_endpoint(Some("nowhere.*"), ["*"]));

    let (statuses, docs) = traced(HEADER, async {
        let health = client.get(format!("{base}/healthz")).send().await.expect("sent").status();
        let order = client.get(format!("{base}/orders/7")).send().await.expect("sent").status();
        (health, order)
    })
    .await;

    assert_eq!(statuses, (reqwest::StatusCode::NOT_FOUND, reqwest::StatusCode::OK));
    assert_eq!(only(&docs)["http"]["request"]["url"], format!("{base}/orders/7"));
    let seen = seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].is_empty(), "the ignored request carries no trace header: {seen:?}");
    assert_eq!(seen[1].len(), 1);
}
