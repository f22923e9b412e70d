//! `xray-local latency` on generated traces whose split is known (`xray_tests::generated`), sent to the daemon
//! over UDP: the pricing API's 60% of the p99, its 20% of the p50, the queue wait of the consumer.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{Daemon, Scratch, datagram, stdout};
use serde_json::Value;
use xray_tests::generated::{self, FAST, SLOW};

const TRACES: u64 = 1000;

/// Sends the generated traces to a daemon on `scratch` and waits until all are stored.
fn stored(scratch: &Scratch) -> f64 {
    let daemon = Daemon::start(&scratch.0, &[], &[]);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
    let start = now - 3600.0;
    let mut sent = 0;
    for i in 0..TRACES {
        let (_, docs) = generated::checkout(i, start + i as f64);
        for doc in docs {
            socket.send_to(&datagram(&doc), daemon.addr).expect("send");
            sent += 1;
        }
        if i % 100 == 99 {
            // Well below the daemon's burst rate, so no datagram is lost in the socket buffer.
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    daemon.wait_counter("stored", sent);
    drop(daemon.stop());
    start
}

fn row<'a>(latency: &'a Value, label: &str) -> &'a Value {
    let rows = latency["rows"].as_array().expect("rows");
    rows.iter().find(|r| r["label"] == label).unwrap_or_else(|| panic!("no row {label}: {latency:#}"))
}

fn within_1_percent(latency: &Value, label: &str, band: &str, expected: f64) {
    let share = row(latency, label)[format!("{band}_share")].as_f64().expect("a share");
    assert!((share - expected).abs() <= 0.01, "{label} at {band}: {share}, expected {expected}");
}

#[test]
fn the_split_of_generated_traces_is_reported_within_one_percent() {
    let scratch = Scratch::new("latency");
    let start = stored(&scratch);
    let dir = &scratch.0;

    let json = stdout(dir, &["latency", "--route", "POST /checkout", "--json"]);
    let latency: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(latency["samples"], TRACES);
    assert_eq!(latency["p99"]["rank"], 990);
    // 20 slow traces of 1000 take ranks 981-1000, so the p99 band (985-995) holds slow ones only.
    assert!(latency["p99"]["traces"].as_array().expect("traces").iter().all(|t| {
        let i = u64::from_str_radix(&t.as_str().expect("id")[11..], 16).expect("hex") - 0x00c0_ffee_0000_0000;
        generated::is_slow(i)
    }));
    for (label, fast, slow) in [
        ("pricing (remote)", FAST.pricing, SLOW.pricing),
        ("DynamoDB (aws)", FAST.dynamodb, SLOW.dynamodb),
        ("auth", FAST.auth, SLOW.auth),
        ("SQS (aws)", FAST.sqs, SLOW.sqs),
        ("not covered: checkout", FAST.uncovered(), SLOW.uncovered()),
    ] {
        within_1_percent(&latency, label, "p50", fast);
        within_1_percent(&latency, label, "p99", slow);
    }
    let labels: Vec<&str> =
        latency["rows"].as_array().expect("rows").iter().filter_map(|r| r["label"].as_str()).collect();
    assert_eq!(labels[0], "pricing (remote)", "the largest part at p99 first");
    for off_path in ["cache (remote)", "fulfilment", "fulfil", "queue wait: order-events"] {
        assert!(!labels.iter().any(|l| l.contains(off_path)), "{off_path} is not on the checkout's path: {labels:?}");
    }

    // The service name finds the same samples; the text table says the same.
    let text = stdout(dir, &["latency", "--service", "checkout"]);
    assert!(text.starts_with(&format!("service checkout: {TRACES} samples, end-to-end p50 ")), "{text}");
    let pricing = text.lines().find(|l| l.starts_with("pricing (remote)")).expect("a pricing row");
    assert!(pricing.trim_end().ends_with("60.0%"), "{text}");

    // The consumer: its wait in the queue is two thirds of its end-to-end time.
    let json = stdout(dir, &["latency", "--queue", generated::QUEUE, "--json"]);
    let queue: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(queue["samples"], TRACES);
    let total = generated::QUEUE_WAIT + generated::FULFIL + 0.05;
    within_1_percent(&queue, "queue wait: order-events", "p99", generated::QUEUE_WAIT / total);
    within_1_percent(&queue, "fulfil", "p50", generated::FULFIL / total);

    // A range: only the first 100 traces started before start + 99.5 s.
    let until = format!("{}", start + 99.5);
    let json = stdout(dir, &["latency", "--service", "checkout", "--to", &until, "--json"]);
    let early: Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(early["samples"], 100);

    // Without an entry point: what there is to pick.
    let text = stdout(dir, &["latency"]);
    for option in
        ["--service 'checkout'", "--route 'POST /checkout'", "--queue 'order-events'", "--service 'fulfilment'"]
    {
        assert!(text.contains(&format!("{TRACES} samples  {option}")), "{option}: {text}");
    }
    let none = stdout(dir, &["latency", "--service", "nothing"]);
    assert_eq!(none, "service nothing: no complete trace holds it\n");
}
