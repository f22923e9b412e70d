//! Documents produced by the project's own emitter, received by the `xray-local` binary and shown as a waterfall.

mod common;

use std::sync::Arc;

use common::{Daemon, Scratch, stdout, valid};
use serde_json::Value;
use xray_core::emit::{self, Emitter, UdpEmitter};
use xray_core::sampling::SamplingRequest;
use xray_core::testing::MemorySink;
use xray_core::{
    Aws, Http, HttpRequest, HttpResponse, Namespace, Sampled, Trace, TraceHeader, TraceId, current, put_annotation,
    subsegment,
};

/// Sends every document to the daemon and keeps a copy for the schema check.
struct Tee(Arc<UdpEmitter>, MemorySink);

impl Emitter for Tee {
    fn send(&self, document: &[u8]) {
        self.1.send(document);
        self.0.send(document);
    }
}

/// Drops the offset, duration and bar columns, which depend on timing, keeping tree, names, marks and details.
fn shape(waterfall: &str) -> Vec<String> {
    waterfall
        .lines()
        .skip(2)
        .map(|line| {
            let rest: String = line.chars().skip(21).collect();
            match (rest.find('|'), rest.rfind('|')) {
                (Some(a), Some(b)) if a < b => format!("{}{}", rest[..a].trim_end(), &rest[b + 1..]),
                _ => rest.trim_end().to_owned(),
            }
        })
        .collect()
}

#[test]
fn a_segment_with_subsegments_from_the_emitter_shows_as_a_waterfall() {
    let scratch = Scratch::new("emitter");
    let daemon = Daemon::start(&scratch.0, &[], &[]);
    let copies = MemorySink::new();
    let tee = Arc::new(Tee(Arc::new(UdpEmitter::new(daemon.addr)), copies.clone()));
    let trace_id = emit::run_scoped(tee, || {
        // A sampled upstream header, so the test does not depend on the sampling reservoir.
        let header = TraceHeader::new(TraceId::new(), None, Sampled::Yes).to_string();
        let trace = Trace::segment("orders-api", Some(&header), &SamplingRequest::default());
        let _ctx = trace.context().enter();
        current().set_http(Http {
            request: Some(HttpRequest {
                method: Some("POST".into()),
                url: Some("https://shop.test/orders".into()),
                ..Default::default()
            }),
            response: Some(HttpResponse { status: Some(502), content_length: Some(12) }),
        });
        put_annotation("customer", "c-42");
        {
            let _validate = subsegment("validate");
            put_annotation("items", 3);
        }
        {
            let _db = subsegment("DynamoDB");
            let db = current();
            db.set_namespace(Namespace::Aws);
            db.set_aws(Aws {
                operation: Some("PutItem".into()),
                region: Some("eu-west-1".into()),
                ..Default::default()
            });
            db.record_error(&std::io::Error::other("throughput exceeded"));
        }
        trace.end();
        trace.trace_id().to_string()
    });
    let docs = copies.documents();
    assert_eq!(docs.len(), 1, "{docs:#?}");
    valid(&docs[0]);
    daemon.wait_counter("stored", 1);

    let show = stdout(&scratch.0, &["show", &trace_id, "--color", "never"]);
    let first = show.lines().next().unwrap_or_default();
    assert!(first.starts_with(&format!("trace {trace_id}  started ")), "{show}");
    assert!(first.ends_with("3 entities  FAULT"), "{show}");
    assert_eq!(show.lines().nth(1), Some("   offset  duration  name                                 timeline"));
    assert_eq!(
        shape(&show),
        [
            "orders-api",
            "   annotations: customer=c-42",
            "   http: POST https://shop.test/orders -> 502 (12 bytes)",
            "├─ validate",
            "│     annotations: items=3",
            "└─ DynamoDB (aws) FAULT",
            "      aws: operation=PutItem region=eu-west-1",
            "      exception: std::io::error::Error: throughput exceeded",
        ]
    );

    // The JSON view agrees with the document the emitter sent, and places the children inside their parent.
    let tree: Value = serde_json::from_str(&stdout(&scratch.0, &["show", &trace_id, "--json"])).expect("JSON");
    let nodes = tree["nodes"].as_array().expect("nodes");
    let names: Vec<(&str, u64)> =
        nodes.iter().map(|n| (n["name"].as_str().unwrap_or(""), n["depth"].as_u64().unwrap_or(9))).collect();
    assert_eq!(names, [("orders-api", 0), ("validate", 1), ("DynamoDB", 1)]);
    assert_eq!(nodes[0]["id"], docs[0]["id"]);
    assert_eq!(nodes[0]["start"], docs[0]["start_time"]);
    assert_eq!(nodes[0]["end"], docs[0]["end_time"]);
    for child in &nodes[1..] {
        let (start, end) = (child["start"].as_f64().unwrap_or(0.0), child["end"].as_f64().unwrap_or(f64::MAX));
        assert!(start >= nodes[0]["start"].as_f64().unwrap_or(0.0) && end <= nodes[0]["end"].as_f64().unwrap_or(0.0));
    }

    // The last characters of the id are enough.
    assert_eq!(stdout(&scratch.0, &["show", &trace_id[trace_id.len() - 8..], "--color", "never"]), show);

    let list = stdout(&scratch.0, &["traces", "--annotation", "customer=c-42", "--json"]);
    let summary: Value = serde_json::from_str(list.trim()).expect("one JSON line");
    assert_eq!(summary["trace_id"], trace_id.as_str());
    assert_eq!(
        (summary["root"].as_str(), summary["fault"].as_bool(), summary["entities"].as_u64()),
        (Some("orders-api"), Some(true), Some(3))
    );
    assert_eq!(stdout(&scratch.0, &["traces", "--annotation", "customer=other"]), "");
}

#[test]
fn streamed_lambda_subsegments_hang_under_the_missing_function_segment() {
    let scratch = Scratch::new("lambda");
    let daemon = Daemon::start(&scratch.0, &[], &[]);
    let copies = MemorySink::new();
    let tee = Arc::new(Tee(Arc::new(UdpEmitter::new(daemon.addr)), copies.clone()));
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    emit::run_scoped(tee, || {
        let trace = Trace::lambda(Some(header));
        let _ctx = trace.context().enter();
        {
            let _handler = subsegment("## handler");
            let _call = subsegment("call");
            put_annotation("attempt", true);
        }
        trace.end();
    });
    let docs = copies.documents();
    assert_eq!(docs.len(), 2, "each subsegment is streamed: {docs:#?}");
    docs.iter().for_each(|d| {
        valid(d);
    });
    daemon.wait_counter("stored", 2);
    let show = stdout(&scratch.0, &["show", "1-5759e988-bd862e3fe1be46a994272793", "--color", "never"]);
    assert_eq!(
        show.lines().nth(1),
        Some("(parent 53995c3f42cd8ad8 was not received; its children are shown at the top level)")
    );
    assert_eq!(
        shape(&show[show.find('\n').map_or(0, |i| i + 1)..]),
        ["## handler", "└─ call", "      annotations: attempt=true"]
    );
}
