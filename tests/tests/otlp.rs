//! `OTEL_TRACES_EXPORTER=otlp`: what xray-rs records, sent as OTLP spans over real UDP sockets and real HTTP, every
//! datagram and request decoded by the official `opentelemetry-proto` package (never only by our own code), the
//! SigV4 signature checked against botocore's signer.

use std::net::UdpSocket;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::Value;
use xray_core::config::{Config, OtlpSettings, TracesExporter};
use xray_core::diag::{self, DiagKind};
use xray_core::emit::{self, OtlpHttpEmitter, UdpEmitter};
use xray_core::lambda::Invocation;
use xray_core::queue::Mode;
use xray_core::sqs::Carrier;
use xray_core::{Aws, Http, HttpRequest, HttpResponse, Namespace, in_subsegment, traced, traced_publish};
use xray_tests::otlp::{Collector, Reply, decoder};
use xray_tests::{moto, sdk};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const W3C_ROOT: &str = "5759e988bd862e3fe1be46a994272793";
const FACADE: &str = "53995c3f42cd8ad8";

fn header() -> String {
    // A trace id of today: AWS's translation refuses ids older than 28 days, and the decoder does not care.
    format!("Root={ROOT};Parent={FACADE};Sampled=1")
}

/// Every test of this binary records OTLP spans, as `OTEL_TRACES_EXPORTER=otlp` asks.
fn otlp() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Unsampled spans on too: they must not change what a sampled trace sends.
        let otlp = OtlpSettings { unsampled_spans: true, ..OtlpSettings::default() };
        let config = Config { traces_exporter: TracesExporter::Otlp, otlp, ..Config::from_env() };
        assert!(xray_core::config::init(config), "settings were read before the test chose OTLP");
    });
}

/// A socket standing in for Lambda's UDP endpoint, and the emitter sending to it.
fn endpoint() -> (UdpSocket, Arc<UdpEmitter>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("loopback");
    socket.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    let emitter = Arc::new(UdpEmitter::new(socket.local_addr().expect("bound")));
    (socket, emitter)
}

/// Every datagram waiting on `socket`, decoded.
fn datagrams(socket: &UdpSocket) -> Vec<Value> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 70_000];
    while let Ok(len) = socket.recv(&mut buf) {
        assert!(len <= 64_000, "a datagram of {len} bytes");
        let decoded = decoder().datagram(&buf[..len]);
        assert!(decoded.get("error").is_none(), "{decoded}");
        assert_eq!(decoded["roundtrip"], true, "bytes protobuf would not write: {decoded}");
        out.push(decoded);
    }
    out
}

fn spans(decoded: &[Value]) -> Vec<Value> {
    decoded.iter().flat_map(|d| d["spans"].as_array().cloned().unwrap_or_default()).collect()
}

fn by_name<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no span `{name}` in {spans:#?}"))
}

#[traced]
async fn load_order(id: u64) -> Result<u64, std::io::Error> {
    xray_core::put_annotation("order_id", id);
    xray_core::put_metadata_in("orders", "lines", serde_json::json!([1, 2]));
    Ok(id)
}

#[derive(Debug)]
struct Declined;
impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}
impl std::error::Error for Declined {}

#[tokio::test]
async fn an_invocation_arrives_as_t1s_datagrams_with_the_ids_parents_kinds_and_attributes_x_ray_needs() {
    otlp();
    let (socket, emitter) = endpoint();
    let header = header();
    let result: Result<u64, String> = emit::scoped(emitter, async {
        Invocation::new(Some(&header))
            .run(async {
                let id = load_order(7).await.map_err(|e| e.to_string())?;
                in_subsegment("DynamoDB", async {
                    let rec = xray_core::current();
                    rec.set_namespace(Namespace::Aws);
                    let mut aws = Aws {
                        operation: Some("GetItem".into()),
                        region: Some("eu-west-1".into()),
                        request_id: Some("REQ1".into()),
                        ..Aws::default()
                    };
                    aws.resources.insert("table_name".into(), "orders".into());
                    rec.set_aws(aws);
                    rec.mark_throttle();
                })
                .await;
                in_subsegment("pricing.example.com", async {
                    let rec = xray_core::current();
                    rec.set_namespace(Namespace::Remote);
                    rec.set_http(Http {
                        request: Some(HttpRequest {
                            method: Some("GET".into()),
                            url: Some("https://pricing.example.com/v1/price?id=7".into()),
                            ..HttpRequest::default()
                        }),
                        response: Some(HttpResponse { status: Some(503), content_length: None }),
                    });
                    rec.mark_fault();
                    xray_core::record_error(&Declined);
                })
                .await;
                Ok(id)
            })
            .await
    })
    .await;
    assert_eq!(result, Ok(7), "the handler's result is unchanged");
    let decoded = datagrams(&socket);
    assert_eq!(decoded.len(), 1, "one invocation, one datagram: {decoded:#?}");
    assert_eq!(decoded[0]["prefix"], "T1S");
    let resource = &decoded[0]["resources"][0];
    assert!(resource["service.name"].is_string(), "{resource}");
    assert_eq!(resource["telemetry.sdk.name"], "xray-rs");
    assert_eq!(resource["telemetry.sdk.language"], "rust");
    assert_eq!(resource["cloud.provider"], "aws");
    assert_eq!(decoded[0]["scopes"][0]["name"], "xray-rs");

    let spans = spans(&decoded);
    assert_eq!(spans.len(), 4, "{spans:#?}");
    assert!(spans.iter().all(|s| s["trace_id"] == W3C_ROOT), "{spans:#?}");
    assert!(spans.iter().all(|s| s["flags"] == 1));
    let handler = by_name(&spans, "## handler");
    assert_eq!(handler["parent_span_id"], FACADE, "the header's Parent is the handler's parent");
    assert_eq!(handler["kind"], "SPAN_KIND_INTERNAL");
    assert!(handler["attributes"]["ColdStart"].is_boolean(), "{handler}");
    assert!(handler["attributes"]["aws.xray.annotations"].as_array().is_some_and(|a| a.contains(&"Service".into())));
    assert!(handler["end_time_unix_nano"].as_u64() >= handler["start_time_unix_nano"].as_u64());

    let load = by_name(&spans, "load_order");
    assert_eq!(load["parent_span_id"], handler["span_id"]);
    assert_eq!(load["kind"], "SPAN_KIND_INTERNAL");
    assert_eq!(load["attributes"]["order_id"], 7);
    assert_eq!(load["attributes"]["aws.xray.annotations"], serde_json::json!(["order_id"]));
    assert_eq!(load["attributes"]["aws.xray.metadata.orders"], r#"{"lines":[1,2]}"#);
    assert_eq!(load["status"]["code"], "STATUS_CODE_UNSET");

    let ddb = by_name(&spans, "DynamoDB");
    assert_eq!(ddb["kind"], "SPAN_KIND_CLIENT");
    let attrs = &ddb["attributes"];
    assert_eq!(attrs["rpc.system"], "aws-api");
    assert_eq!(attrs["rpc.service"], "DynamoDB");
    assert_eq!(attrs["rpc.method"], "GetItem");
    assert_eq!(attrs["aws.request_id"], "REQ1");
    assert_eq!(attrs["cloud.region"], "eu-west-1");
    assert_eq!(attrs["aws.dynamodb.table_names"], serde_json::json!(["orders"]));
    assert_eq!(attrs["http.response.status_code"], 429, "a throttle is a 429");
    assert_eq!(ddb["status"]["code"], "STATUS_CODE_ERROR");

    let http = by_name(&spans, "pricing.example.com");
    assert_eq!(http["kind"], "SPAN_KIND_CLIENT");
    assert_eq!(http["attributes"]["http.request.method"], "GET");
    assert_eq!(http["attributes"]["url.full"], "https://pricing.example.com/v1/price?id=7");
    assert_eq!(http["attributes"]["server.address"], "pricing.example.com");
    assert_eq!(http["attributes"]["http.response.status_code"], 503);
    assert_eq!(http["status"]["code"], "STATUS_CODE_ERROR");
    assert_eq!(http["status"]["message"], "card declined");
    let event = &http["events"][0];
    assert_eq!(event["name"], "exception");
    assert_eq!(event["attributes"]["exception.message"], "card declined");
    assert!(event["attributes"]["exception.type"].as_str().is_some_and(|t| t.ends_with("Declined")), "{event}");
}

#[tokio::test]
async fn five_hundred_spans_fill_few_datagrams_of_at_most_64_kb_and_every_span_arrives() {
    otlp();
    let (socket, emitter) = endpoint();
    // A large receive buffer: the datagrams arrive faster than this test reads them.
    let socket = {
        let socket = socket2::Socket::from(socket);
        socket.set_recv_buffer_size(4 << 20).expect("buffer");
        UdpSocket::from(socket)
    };
    let header = header();
    let ids: Vec<String> = emit::scoped(emitter, async {
        let invocation = Invocation::new(Some(&header));
        let ids = invocation
            .instrument(async {
                let mut ids = Vec::new();
                for i in 0..500u32 {
                    let id = in_subsegment(format!("step {i}"), async move {
                        let rec = xray_core::current();
                        rec.put_annotation("step", i);
                        rec.put_metadata("payload", "x".repeat(150));
                        rec.id()
                    })
                    .await;
                    ids.push(id.expect("recorded").to_string());
                }
                ids
            })
            .await;
        invocation.end();
        ids
    })
    .await;
    let decoded = datagrams(&socket);
    let spans = spans(&decoded);
    for id in &ids {
        assert!(spans.iter().any(|s| s["span_id"] == id.as_str()), "span {id} did not arrive");
    }
    assert_eq!(spans.len(), 501, "500 steps and the handler, each once");
    let bytes: Vec<u64> = decoded.iter().map(|d| d["bytes"].as_u64().expect("size")).collect();
    assert!(decoded.len() >= 3, "{bytes:?}");
    // As few as fit: every datagram but the last holds all the spans the next one could not add.
    for size in &bytes[..bytes.len() - 1] {
        assert!(*size > 47_000, "a datagram sent half empty: {bytes:?}");
    }
    assert!(decoded.iter().all(|d| d["datagram_bytes"].as_u64() <= Some(64_000)));
}

#[tokio::test]
async fn a_span_too_big_for_a_datagram_alone_is_trimmed_and_marked_as_documents_are() {
    otlp();
    let (socket, emitter) = endpoint();
    let header = header();
    let before = diag::count(DiagKind::Oversize);
    emit::scoped(emitter, async {
        Invocation::new(Some(&header))
            .run(async {
                in_subsegment("huge", async {
                    xray_core::put_annotation("kept", true);
                    xray_core::put_metadata("blob", "y".repeat(120_000));
                })
                .await;
                Ok::<_, String>(())
            })
            .await
    })
    .await
    .expect("handler ok");
    let spans = spans(&datagrams(&socket));
    let huge = by_name(&spans, "huge");
    assert_eq!(huge["attributes"]["aws.xray.metadata.xray"], r#"{"trimmed":"metadata"}"#);
    assert_eq!(huge["attributes"]["kept"], true, "only what had to go went");
    assert!(huge["attributes"].get("aws.xray.metadata.default").is_none());
    assert!(diag::count(DiagKind::Oversize) > before);
}

#[traced_publish]
async fn publish_order(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<(), String> {
    sqs.send_message().queue_url(queue_url).message_body("{}").send().await.map_err(|e| e.to_string())?;
    Ok(())
}

#[tokio::test]
async fn a_message_processed_in_link_mode_links_to_the_producers_send_span_and_continue_mode_keeps_it_as_parent() {
    otlp();
    let config = sdk::config(&moto::shared().endpoint);
    let sqs = xray_core::aws_client!(aws_sdk_sqs, &config);
    let queue = format!("otlp-orders-{}", std::process::id());
    let url = sqs.create_queue().queue_name(&queue).send().await.expect("queue").queue_url.expect("url");
    let (socket, emitter) = endpoint();
    let header = header();
    emit::scoped(emitter.clone(), async {
        let invocation = Invocation::new(Some(&header));
        invocation.instrument(publish_order(&sqs, &url)).await.expect("sent");
        invocation.end();
    })
    .await;
    let producer = spans(&datagrams(&socket));
    let send = by_name(&producer, "SQS");
    assert_eq!(send["kind"], "SPAN_KIND_PRODUCER");
    assert_eq!(send["attributes"]["rpc.method"], "SendMessage");
    assert_eq!(send["attributes"]["aws.sqs.queue.url"], url.as_str());
    assert_eq!(send["attributes"]["messaging.destination.name"], queue.as_str());
    assert_eq!(send["attributes"]["messaging.system"], "aws_sqs");

    let received = sqs
        .receive_message()
        .queue_url(&url)
        .message_system_attribute_names(MessageSystemAttributeName::AwsTraceHeader)
        .send()
        .await
        .expect("received");
    let message = received.messages.unwrap_or_default().remove(0);
    let carried = xray_core::sqs::read_sdk(&message, Some(&queue));
    assert_eq!(carried.found_in, Some(Carrier::SystemAttribute));
    let consumer = "Root=1-6560e000-cccccccccccccccccccccccc;Parent=cccccccccccccccc;Sampled=1";
    for mode in [Mode::Link, Mode::Continue] {
        emit::scoped(emitter.clone(), async {
            let invocation = Invocation::new(Some(consumer));
            invocation
                .instrument(async {
                    let processing = xray_core::queue::Processing::begin(&carried, mode, "consumer", "process");
                    processing.end();
                })
                .await;
            invocation.end();
        })
        .await;
        let spans = spans(&datagrams(&socket));
        match mode {
            Mode::Link => {
                let process = by_name(&spans, "process");
                assert_eq!(process["kind"], "SPAN_KIND_CONSUMER");
                assert_eq!(process["trace_id"], "6560e000cccccccccccccccccccccccc");
                assert_eq!(process["links"][0]["trace_id"], W3C_ROOT);
                assert_eq!(process["links"][0]["span_id"], send["span_id"], "the link names the send span");
                assert_eq!(process["attributes"]["messaging.operation.type"], "process");
            }
            _ => {
                let segment = by_name(&spans, "consumer");
                assert_eq!(segment["kind"], "SPAN_KIND_SERVER", "a segment in the producer's trace");
                assert_eq!(segment["trace_id"], W3C_ROOT);
                assert_eq!(segment["parent_span_id"], send["span_id"], "continue mode keeps the send as parent");
                assert_eq!(segment["attributes"]["aws.local.service"], "consumer");
                assert!(segment["links"].as_array().is_some_and(Vec::is_empty));
            }
        }
    }
}

fn http_settings(collector: &Collector, timeout: Duration) -> OtlpSettings {
    OtlpSettings {
        endpoint: Some(collector.traces_url()),
        headers: vec![("x-team".into(), "pay ments".into())],
        gzip: true,
        timeout,
        ..OtlpSettings::default()
    }
}

async fn invoke(emitter: Arc<OtlpHttpEmitter>) -> (Result<u32, String>, Duration) {
    let header = header();
    let started = Instant::now();
    let result = emit::scoped(emitter, async {
        Invocation::new(Some(&header)).run(async { in_subsegment("work", async { Ok::<u32, String>(7) }).await }).await
    })
    .await;
    (result, started.elapsed())
}

#[tokio::test]
async fn otlp_http_posts_gzipped_protobuf_with_the_configured_headers_before_the_result_goes_back() {
    otlp();
    let collector = Collector::start(Reply::Ok);
    let emitter = Arc::new(OtlpHttpEmitter::new(http_settings(&collector, Duration::from_secs(5))));
    let (result, _) = invoke(emitter.clone()).await;
    assert_eq!(result, Ok(7));
    // Sent before `run` returned: nothing to wait for here.
    let received = collector.received();
    assert_eq!(received.len(), 1, "one request for the invocation");
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/traces");
    assert_eq!(request.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert_eq!(request.header("x-team"), Some("pay ments"));
    let decoded = request.decoded();
    assert_eq!(decoded["roundtrip"], true, "{decoded}");
    let names: Vec<&str> =
        decoded["spans"].as_array().expect("spans").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"work") && names.contains(&"## handler"));
    assert_eq!(emitter.stats().sent, 1);
}

#[tokio::test]
async fn a_collector_down_slow_or_refusing_costs_at_most_the_timeout_and_a_counted_diagnostic() {
    otlp();
    let timeout = Duration::from_millis(400);
    // Down: nothing listens on the port.
    let down = Collector::start(Reply::Ok);
    let settings = http_settings(&down, timeout);
    drop(down);
    std::thread::sleep(Duration::from_millis(50));
    for (name, collector) in [
        ("down", None),
        ("slow", Some(Collector::start(Reply::Late(Duration::from_secs(3))))),
        ("never answers", Some(Collector::start(Reply::Never))),
        ("429", Some(Collector::start(Reply::Status(429)))),
        ("500", Some(Collector::start(Reply::Status(500)))),
    ] {
        let settings = collector.as_ref().map_or_else(|| settings.clone(), |c| http_settings(c, timeout));
        let emitter = Arc::new(OtlpHttpEmitter::new(settings));
        let before = diag::count(DiagKind::SendFailed);
        let (result, took) = invoke(emitter.clone()).await;
        assert_eq!(result, Ok(7), "{name}: the handler's result is unchanged");
        assert!(took < timeout + Duration::from_millis(300), "{name}: the invocation took {took:?}");
        // The request fails within the timeout, in the background if the invocation stopped waiting.
        let deadline = Instant::now() + Duration::from_secs(5);
        while emitter.stats().dropped == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(emitter.stats().dropped, 1, "{name}: counted");
        assert_eq!(emitter.stats().sent, 0, "{name}");
        assert!(diag::count(DiagKind::SendFailed) > before, "{name}: a diagnostic");
    }
}

#[tokio::test]
async fn an_unsampled_invocation_sends_t1u_only_when_asked_and_passes_sampled_0_on() {
    otlp();
    let (socket, emitter) = endpoint();
    let unsampled = format!("Root={ROOT};Parent={FACADE};Sampled=0");
    let passed_on = emit::scoped(emitter, async {
        let invocation = Invocation::new(Some(&unsampled));
        let header = invocation.trace().header_for(None).to_string();
        invocation.instrument(in_subsegment("work", async {})).await;
        invocation.end();
        header
    })
    .await;
    assert!(passed_on.contains("Sampled=0"), "{passed_on}");
    let decoded = datagrams(&socket);
    assert_eq!(decoded.len(), 1);
    assert_eq!(decoded[0]["prefix"], "T1U");
    let spans = spans(&decoded);
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s["flags"] == 0 && s["trace_id"] == W3C_ROOT), "{spans:#?}");
    // Never over OTLP/HTTP, where a collector would show them as traces.
    let collector = Collector::start(Reply::Ok);
    let http = Arc::new(OtlpHttpEmitter::new(http_settings(&collector, Duration::from_secs(2))));
    emit::scoped(http, async {
        Invocation::new(Some(&unsampled)).run(async { Ok::<_, String>(()) }).await.expect("ok");
    })
    .await;
    assert!(collector.received().is_empty());
}
