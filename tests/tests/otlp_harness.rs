//! The OTLP harness itself: the official decoder reads what `protobuf` wrote, refuses what is not OTLP, and the
//! collector keeps what it is sent.

use std::io::{Read, Write};
use std::net::TcpStream;

use xray_tests::otlp::{Collector, Reply, decoder};

const REQUEST: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"orders"}}]},
  "scopeSpans":[{"scope":{"name":"t"},"spans":[{"traceId":"5759e988bd862e3fe1be46a994272793","spanId":"53995c3f42cd8ad8",
  "name":"work","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;

#[test]
fn the_decoder_reads_requests_and_datagrams_and_refuses_garbage() {
    let mut decoder = decoder();
    let protobuf = decoder.json_to_protobuf(REQUEST);
    let decoded = decoder.request(&protobuf);
    assert_eq!(decoded["roundtrip"], true, "{decoded}");
    assert_eq!(decoded["resources"][0]["service.name"], "orders");
    let span = &decoded["spans"][0];
    assert_eq!(span["trace_id"], "5759e988bd862e3fe1be46a994272793");
    assert_eq!(span["kind"], "SPAN_KIND_SERVER");
    assert!(decoder.request(b"\xff\xff\xff").get("error").is_some());
    assert!(decoder.datagram(b"{\"format\":\"json\",\"version\":1}\nT1Xabc").get("error").is_some());
    assert!(decoder.datagram(b"{\"format\":\"json\",\"version\":1}\nT1S@@@@").get("error").is_some());
}

#[test]
fn the_collector_keeps_requests_and_answers_as_told() {
    let collector = Collector::start(Reply::Status(429));
    let mut stream = TcpStream::connect(collector.addr()).expect("connects");
    stream
        .write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Key: v\r\n\r\nabc")
        .expect("sends");
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).expect("answers");
    assert_eq!(&answer, b"HTTP/1.1 429");
    let received = collector.received();
    assert_eq!(received[0].path, "/v1/traces");
    assert_eq!(received[0].header("x-key"), Some("v"));
    assert_eq!(received[0].body, b"abc");
}
