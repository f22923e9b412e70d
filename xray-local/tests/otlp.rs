//! OTLP in and out of the daemon, as a real process: spans written by the official `opentelemetry-proto` package
//! (PyPI) and by ADOT Python's own UDP exporter (`aws-opentelemetry-distro`) arrive as `T1S` datagrams and over
//! OTLP/HTTP, mix with segment documents in one trace and are shown; `--forward-otlp` output is decoded by the
//! official package.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Daemon, Scratch, counter, datagram, status, stdout};
use serde_json::{Value, json};
use xray_tests::otlp::{Collector, Reply, decoder};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// A trace id of now, in OTel hex and X-Ray form.
fn trace(tag: u8) -> (String, String) {
    let random = format!("{tag:02x}{}", "5e1f0d2c3b4a596877869a");
    let hex = format!("{:08x}{random}", now());
    let xray = format!("1-{}-{}", &hex[..8], &hex[8..]);
    (hex, xray)
}

/// The spans of one order as OTLP/JSON, turned into protobuf by the official package (not by our code).
fn order_request(trace_hex: &str, secs: u64) -> Vec<u8> {
    let t = secs * 1_000_000_000;
    let ns = |ms: u64| (t + ms * 1_000_000).to_string();
    let s = |v: &str| json!({"stringValue": v});
    let request = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": s("orders-api")},
                                    {"key": "cloud.region", "value": s("eu-west-1")}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": [
            {"traceId": trace_hex, "spanId": "a000000000000001", "name": "GET /orders/{id}", "kind": 2,
             "startTimeUnixNano": ns(0), "endTimeUnixNano": ns(50),
             "attributes": [{"key": "http.request.method", "value": s("GET")},
                            {"key": "url.full", "value": s("https://api.example.com/orders/7")},
                            {"key": "http.response.status_code", "value": {"intValue": "200"}}]},
            {"traceId": trace_hex, "spanId": "a000000000000002", "parentSpanId": "a000000000000001",
             "name": "DynamoDB.GetItem", "kind": 3, "startTimeUnixNano": ns(5), "endTimeUnixNano": ns(15),
             "attributes": [{"key": "rpc.system", "value": s("aws-api")},
                            {"key": "rpc.service", "value": s("DynamoDB")},
                            {"key": "rpc.method", "value": s("GetItem")},
                            {"key": "aws.request_id", "value": s("REQ123")},
                            {"key": "aws.dynamodb.table_names", "value": {"arrayValue": {"values": [s("orders")]}}}]},
            {"traceId": trace_hex, "spanId": "a000000000000003", "parentSpanId": "a000000000000001",
             "name": "price", "kind": 1, "startTimeUnixNano": ns(16), "endTimeUnixNano": ns(40),
             "attributes": [{"key": "order.id", "value": s("7")},
                            {"key": "aws.xray.annotations", "value": {"arrayValue": {"values": [s("order.id")]}}},
                            {"key": "aws.xray.metadata.pricing", "value": s("{\"currency\":\"EUR\"}")},
                            {"key": "attempt", "value": {"intValue": "2"}}],
             "events": [{"name": "exception", "timeUnixNano": ns(39), "attributes": [
                 {"key": "exception.type", "value": s("PriceError")},
                 {"key": "exception.message", "value": s("no price for 7")}]}],
             "status": {"code": 2, "message": "no price for 7"},
             "links": [{"traceId": trace_hex, "spanId": "b000000000000001"}]},
            {"traceId": trace_hex, "spanId": "a000000000000004", "parentSpanId": "a000000000000003",
             "name": "POST", "kind": 3, "startTimeUnixNano": ns(20), "endTimeUnixNano": ns(30),
             "attributes": [{"key": "peer.service", "value": s("pricing")},
                            {"key": "http.request.method", "value": s("POST")},
                            {"key": "http.response.status_code", "value": {"intValue": "429"}}]}
        ]}]
    }]});
    decoder().json_to_protobuf(&request.to_string())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn send(daemon: &Daemon, datagram: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("sender");
    socket.send_to(datagram, daemon.addr).expect("send");
}

fn nodes(dir: &std::path::Path, trace: &str) -> Vec<Value> {
    let tree: Value = serde_json::from_str(&stdout(dir, &["show", trace, "--json"])).expect("JSON");
    tree["nodes"].as_array().expect("nodes").clone()
}

fn node<'a>(nodes: &'a [Value], id: &str) -> &'a Value {
    nodes.iter().find(|n| n["id"] == id).unwrap_or_else(|| panic!("no {id} in {nodes:#?}"))
}

#[test]
fn t1s_spans_and_segment_documents_form_one_trace_that_show_draws() {
    let scratch = Scratch::new("otlp-udp");
    let daemon = Daemon::start(&scratch.0, &[], &[]);
    let (hex, xray) = trace(1);
    let t = now();
    let protobuf = order_request(&hex, t);
    // Java writes the header with spaces; both spellings are taken.
    let spaced = [b"{\"format\": \"json\", \"version\": 1}\nT1S".as_slice(), b64(&protobuf).as_bytes()].concat();
    assert_eq!(decoder().datagram(&spaced)["spans"].as_array().map(Vec::len), Some(4), "the package reads it too");
    send(&daemon, &spaced);
    // A segment document in the same trace, child of a span: the trace mixes both formats.
    let t = t as f64;
    send(
        &daemon,
        &datagram(&json!({"type": "subsegment", "trace_id": xray, "id": "c000000000000001",
            "parent_id": "a000000000000003", "name": "cache", "start_time": t + 0.017, "end_time": t + 0.018})),
    );
    daemon.wait_counter("stored", 5);
    let nodes = nodes(&scratch.0, &xray);
    let shape: Vec<(&str, &str, u64)> = nodes
        .iter()
        .map(|n| (n["id"].as_str().unwrap_or(""), n["name"].as_str().unwrap_or(""), n["depth"].as_u64().unwrap_or(9)))
        .collect();
    assert_eq!(
        shape,
        [
            ("a000000000000001", "orders-api", 0),
            ("a000000000000002", "DynamoDB", 1),
            ("a000000000000003", "price", 1),
            ("c000000000000001", "cache", 2),
            ("a000000000000004", "pricing", 2),
        ]
    );
    let root = node(&nodes, "a000000000000001");
    assert_eq!(root["kind"], "segment");
    assert_eq!(root["http"]["request"]["method"], "GET");
    assert_eq!(root["http"]["response"]["status"], 200);
    let dynamo = node(&nodes, "a000000000000002");
    assert_eq!(
        (&dynamo["kind"], &dynamo["namespace"], &dynamo["parent_id"]),
        (&json!("subsegment"), &json!("aws"), &json!("a000000000000001"))
    );
    assert_eq!(dynamo["aws"]["operation"], "GetItem");
    assert_eq!(dynamo["aws"]["table_name"], "orders");
    assert_eq!(dynamo["aws"]["request_id"], "REQ123");
    let price = node(&nodes, "a000000000000003");
    assert_eq!(price["annotations"], json!({"order_id": "7"}));
    assert_eq!(price["fault"], true);
    assert!(price["exception"].as_str().is_some_and(|e| e.contains("no price for 7")), "{price}");
    let pricing = node(&nodes, "a000000000000004");
    assert_eq!(
        (&pricing["namespace"], &pricing["throttle"], &pricing["error"]),
        (&json!("remote"), &json!(true), &json!(true))
    );
    let waterfall = stdout(&scratch.0, &["show", &xray, "--color", "never"]);
    for want in ["orders-api", "├─ DynamoDB", "price", "cache", "pricing", "FAULT", "THROTTLE", "no price for 7"] {
        assert!(waterfall.contains(want), "{want:?} missing from\n{waterfall}");
    }
    assert_eq!(counter(&status(&scratch.0), "spans"), 4);
}

#[test]
fn t1u_spans_are_counted_not_stored_and_bad_otlp_datagrams_are_refused_with_a_reason() {
    let scratch = Scratch::new("otlp-bad");
    let mut daemon = Daemon::start(&scratch.0, &[], &[]);
    let (hex, xray) = trace(2);
    let protobuf = order_request(&hex, now());
    send(&daemon, &[b"{\"format\":\"json\",\"version\":1}\nT1U".as_slice(), b64(&protobuf).as_bytes()].concat());
    let header = b"{\"format\":\"json\",\"version\":1}\n".as_slice();
    let bad: [(&[u8], &str); 5] = [
        (b"T1S!!!not base64", "OTLP datagram: the payload is not base64"),
        (b"T1S////", "OTLP datagram: not a protobuf ExportTraceServiceRequest"),
        (b"T1S/////w==", "OTLP datagram: not a protobuf ExportTraceServiceRequest"),
        (b"M1AAAA", "OTLP metrics (M1) are not traces: not stored"),
        (b"T1S", ""),
    ];
    for (payload, _) in &bad {
        send(&daemon, &[header, payload].concat());
    }
    // A span with an all-zero span id is refused alone; its neighbour is stored.
    let mixed = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": hex, "spanId": "0000000000000000", "name": "zero", "startTimeUnixNano": "1", "endTimeUnixNano": "2"},
        {"traceId": hex, "spanId": "d000000000000001", "name": "fine", "kind": 2,
         "startTimeUnixNano": format!("{}", now() * 1_000_000_000), "endTimeUnixNano": format!("{}", now() * 1_000_000_000 + 1000)}
    ]}]}]});
    let mixed = decoder().json_to_protobuf(&mixed.to_string());
    send(&daemon, &[header, b"T1S", b64(&mixed).as_bytes()].concat());
    let s = daemon.wait_counter("stored", 1);
    let s = if counter(&s, "invalid") < 5 { daemon.wait_counter("invalid", 5) } else { s };
    assert_eq!(counter(&s, "unsampled"), 4, "{s:#}");
    assert!(daemon.alive());
    let invalid: Vec<Value> = stdout(&scratch.0, &["invalid", "--limit", "100", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let reasons: Vec<String> = invalid.iter().rev().map(|i| i["reason"].as_str().unwrap_or("").to_owned()).collect();
    for (i, (_, want)) in bad.iter().enumerate().filter(|(_, (_, w))| !w.is_empty()) {
        assert!(reasons[i].starts_with(want), "case {i}: {:?}", reasons[i]);
    }
    assert!(reasons.iter().any(|r| r == "OTLP span \"zero\": span id is all zeros"), "{reasons:?}");
    // Unsampled spans are not stored; the neighbour of the bad span is.
    let names: Vec<String> =
        nodes(&scratch.0, &xray).iter().map(|n| n["name"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(names, ["fine"]);
}

/// A raw HTTP/1.1 request; returns the status and the body.
fn http(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut head =
        format!("POST /v1/traces HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body)).expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("HTTP response");
    let status =
        String::from_utf8_lossy(&response[..split]).split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    (status, response[split + 4..].to_vec())
}

fn http_addr(daemon: &Daemon) -> SocketAddr {
    daemon
        .stderr()
        .iter()
        .find_map(|l| l.split(" and http://").nth(1)?.split('/').next()?.parse().ok())
        .expect("the daemon names its OTLP/HTTP address")
}

#[test]
fn otlp_http_takes_protobuf_gzip_and_json_and_refuses_bad_bodies() {
    let scratch = Scratch::new("otlp-http");
    let daemon = Daemon::start(&scratch.0, &["--otlp-http", "127.0.0.1:0"], &[]);
    let addr = http_addr(&daemon);
    let (hex, xray) = trace(3);
    let protobuf = order_request(&hex, now());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&protobuf).expect("gzip");
    let gzipped = gz.finish().expect("gzip");
    let (code, body) =
        http(addr, &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")], &gzipped);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    // An empty ExportTraceServiceResponse: nothing rejected.
    assert!(body.is_empty(), "{body:?}");
    let (hex2, xray2) = trace(4);
    let json_body = json!({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": hex2, "spanId": "e000000000000001", "name": "json", "kind": 2,
         "startTimeUnixNano": format!("{}", now() * 1_000_000_000), "endTimeUnixNano": format!("{}", now() * 1_000_000_000 + 5000)},
        {"traceId": hex2, "spanId": "00", "name": "short id", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}
    ]}]}]});
    let (code, body) = http(addr, &[("Content-Type", "application/json")], json_body.to_string().as_bytes());
    assert_eq!(code, 200);
    let answer: Value = serde_json::from_slice(&body).expect("JSON answer");
    assert_eq!(answer["partialSuccess"]["rejectedSpans"].to_string().trim_matches('"'), "1", "{answer}");
    assert!(answer["partialSuccess"]["errorMessage"].as_str().is_some_and(|m| m.contains("span id has 1 bytes")));
    assert_eq!(http(addr, &[("Content-Type", "application/x-protobuf")], b"\xff\xff\xff").0, 400);
    assert_eq!(http(addr, &[("Content-Type", "text/plain")], b"hello").0, 415);
    assert_eq!(http(addr, &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")], b"no").0, 400);
    let s = daemon.wait_counter("stored", 5);
    assert_eq!(counter(&s, "otlp_requests"), 5);
    let s = daemon.wait_counter("invalid", 4);
    assert_eq!(counter(&s, "invalid"), 4, "{s:#}");
    assert_eq!(nodes(&scratch.0, &xray).len(), 4);
    assert_eq!(nodes(&scratch.0, &xray2)[0]["name"], "json");
}

#[test]
fn forward_otlp_sends_every_stored_entity_as_spans_the_official_package_reads() {
    let scratch = Scratch::new("otlp-forward");
    let collector = Collector::start(Reply::Ok);
    let daemon = Daemon::start(&scratch.0, &["--forward-otlp", &collector.traces_url()], &[]);
    let (_, xray) = trace(5);
    let t = now() as f64;
    let hex = xray.strip_prefix("1-").expect("a trace id").replace('-', "");
    // A segment with an embedded subsegment, an independent subsegment under it, and an in-progress document
    // (not a span yet, so not forwarded).
    send(
        &daemon,
        &datagram(
            &json!({"name": "orders", "id": "f000000000000001", "trace_id": xray, "parent_id": "f0000000000000ff",
            "start_time": t, "end_time": t + 1.0, "annotations": {"customer": "c-9", "vip": true},
            "metadata": {"debug": {"cart": [1, 2]}}, "http": {"request": {"method": "POST"}, "response": {"status": 502}},
            "fault": true, "cause": {"exceptions": [{"id": "0000000000000abc", "type": "Boom", "message": "bad gateway"}]},
            "subsegments": [{"name": "SQS", "id": "f000000000000002", "namespace": "aws", "start_time": t + 0.1,
                "end_time": t + 0.2, "aws": {"operation": "SendMessage", "queue_url": "http://q/1", "request_id": "r-1"}}]}),
        ),
    );
    send(
        &daemon,
        &datagram(&json!({"type": "subsegment", "name": "work", "id": "f000000000000003", "trace_id": xray,
            "parent_id": "f000000000000002", "start_time": t + 0.3, "end_time": t + 0.4})),
    );
    send(
        &daemon,
        &datagram(&json!({"type": "subsegment", "name": "later", "id": "f000000000000004", "trace_id": xray,
            "parent_id": "f000000000000001", "start_time": t + 0.5, "in_progress": true})),
    );
    let s = daemon.wait_counter("forwarded_otlp", 3);
    assert_eq!(counter(&s, "forward_otlp_failed"), 0);
    let mut spans: Vec<Value> = Vec::new();
    for request in collector.received() {
        assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/traces"));
        assert_eq!(request.header("content-type"), Some("application/x-protobuf"));
        let decoded = request.decoded();
        assert_eq!(decoded["roundtrip"], true, "{decoded}");
        for span in decoded["spans"].as_array().expect("spans") {
            let mut span = span.clone();
            span["service"] =
                decoded["resources"][span["resource"].as_u64().unwrap_or(0) as usize]["service.name"].clone();
            spans.push(span);
        }
    }
    spans.sort_by(|a, b| a["span_id"].as_str().cmp(&b["span_id"].as_str()));
    let shape: Vec<(&str, &str, &str, &str, &str)> = spans
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or("");
            (f("span_id"), f("parent_span_id"), f("name"), f("kind"), f("service"))
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("f000000000000001", "f0000000000000ff", "orders", "SPAN_KIND_SERVER", "orders"),
            ("f000000000000002", "f000000000000001", "SQS", "SPAN_KIND_CLIENT", "orders"),
            ("f000000000000003", "f000000000000002", "work", "SPAN_KIND_INTERNAL", "orders"),
        ]
    );
    assert!(spans.iter().all(|s| s["trace_id"] == hex.as_str()), "{spans:#?}");
    let root = &spans[0];
    assert_eq!(root["attributes"]["customer"], "c-9");
    assert_eq!(root["attributes"]["vip"], true);
    assert_eq!(root["attributes"]["aws.xray.annotations"], json!(["customer", "vip"]));
    assert_eq!(root["attributes"]["aws.xray.metadata.debug"], "{\"cart\":[1,2]}");
    assert_eq!(root["attributes"]["http.request.method"], "POST");
    assert_eq!(root["attributes"]["http.response.status_code"], 502);
    assert_eq!(root["status"], json!({"code": "STATUS_CODE_ERROR", "message": "bad gateway"}));
    assert_eq!(root["events"][0]["attributes"]["exception.type"], "Boom");
    let sqs = &spans[1]["attributes"];
    assert_eq!(
        (
            &sqs["rpc.system"],
            &sqs["rpc.service"],
            &sqs["rpc.method"],
            &sqs["aws.sqs.queue_url"],
            &sqs["aws.request_id"]
        ),
        (&json!("aws-api"), &json!("SQS"), &json!("SendMessage"), &json!("http://q/1"), &json!("r-1"))
    );
    assert_eq!(spans[0]["end_time_unix_nano"].as_u64(), Some(((t + 1.0) * 1e6).round() as u64 * 1000));
}

#[test]
fn forward_otlp_failures_are_retried_within_a_bound_and_counted() {
    let scratch = Scratch::new("otlp-forward-fail");
    let collector = Collector::start(Reply::Status(503));
    let daemon = Daemon::start(&scratch.0, &["--forward-otlp", &collector.traces_url()], &[]);
    let (_, xray) = trace(6);
    let t = now() as f64;
    let started = Instant::now();
    send(
        &daemon,
        &datagram(
            &json!({"name": "job", "id": "f100000000000001", "trace_id": xray, "start_time": t, "end_time": t + 1.0}),
        ),
    );
    let s = daemon.wait_counter("forward_otlp_failed", 1);
    // Five tries, 0 + 100 + 200 + 400 + 800 ms apart (plus the 200 ms a batch waits for company).
    assert_eq!(collector.received().len(), 5);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(counter(&s, "stored"), 1, "stored whatever the backend says");
    // A backend that is not there at all: counted too, and the daemon goes on.
    drop(collector);
    let dead = Collector::start(Reply::Ok);
    let url = dead.traces_url();
    drop(dead);
    let scratch2 = Scratch::new("otlp-forward-dead");
    let daemon2 = Daemon::start(&scratch2.0, &["--forward-otlp", &url], &[]);
    send(
        &daemon2,
        &datagram(
            &json!({"name": "job", "id": "f100000000000002", "trace_id": xray, "start_time": t, "end_time": t + 1.0}),
        ),
    );
    daemon2.wait_counter("forward_otlp_failed", 1);
    assert!(daemon2.stderr().iter().any(|l| l.contains("spans not forwarded")), "{:?}", daemon2.stderr());
    drop(daemon);
}

/// ADOT Python's own exporter, sending the spans of a small trace to the daemon's UDP port.
const ADOT: &str = r#"
import sys, time
from amazon.opentelemetry.distro.otlp_udp_exporter import OTLPUdpSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.trace import SpanKind

provider = TracerProvider(id_generator=AwsXRayIdGenerator(), resource=Resource.create({"service.name": "adot-checkout"}))
provider.add_span_processor(SimpleSpanProcessor(OTLPUdpSpanExporter(endpoint=sys.argv[1])))
tracer = provider.get_tracer("interop")
with tracer.start_as_current_span("POST /checkout", kind=SpanKind.SERVER) as root:
    root.set_attribute("http.request.method", "POST")
    root.set_attribute("http.response.status_code", 201)
    with tracer.start_as_current_span("S3.PutObject", kind=SpanKind.CLIENT) as call:
        call.set_attribute("rpc.system", "aws-api")
        call.set_attribute("rpc.service", "S3")
        call.set_attribute("rpc.method", "PutObject")
        time.sleep(0.002)
    with tracer.start_as_current_span("render") as inner:
        inner.set_attribute("aws.xray.annotations", ["cart_size"])
        inner.set_attribute("cart_size", 3)
provider.shutdown()
ctx = root.get_span_context()
print("%032x %016x" % (ctx.trace_id, ctx.span_id))
"#;

#[test]
fn spans_from_adots_own_udp_exporter_are_received_stored_and_shown() {
    let python = xray_tests::venv::python_with("adot-venv", &["aws-opentelemetry-distro==0.21.0"], ".adot-0.21.0")
        .expect("aws-opentelemetry-distro installs");
    let scratch = Scratch::new("otlp-adot");
    let daemon = Daemon::start(&scratch.0, &[], &[]);
    let out = Command::new(python).args(["-c", ADOT, &daemon.addr.to_string()]).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout);
    let (trace_hex, root_id) = printed.trim().split_once(' ').expect("trace and span id");
    let xray = format!("1-{}-{}", &trace_hex[..8], &trace_hex[8..]);
    // SimpleSpanProcessor exports each span as it ends: three datagrams.
    daemon.wait_counter("stored", 3);
    let nodes = nodes(&scratch.0, &xray);
    let shape: Vec<(&str, u64, &str)> = nodes
        .iter()
        .map(|n| (n["name"].as_str().unwrap_or(""), n["depth"].as_u64().unwrap_or(9), n["kind"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(shape, [("adot-checkout", 0, "segment"), ("S3", 1, "subsegment"), ("render", 1, "subsegment")]);
    assert_eq!(nodes[0]["id"], root_id);
    assert_eq!(nodes[1]["namespace"], "aws");
    assert_eq!(nodes[1]["aws"]["operation"], "PutObject");
    assert_eq!(nodes[2]["annotations"], json!({"cart_size": 3}));
    let waterfall = stdout(&scratch.0, &["show", &xray, "--color", "never"]);
    assert!(waterfall.starts_with(&format!("trace {xray}")), "{waterfall}");
    for want in ["adot-checkout", "├─ S3", "└─ render", "cart_size=3", "http: POST -> 201"] {
        assert!(waterfall.contains(want), "{want:?} missing from\n{waterfall}");
    }
}
