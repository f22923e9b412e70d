//! The demo, run as a real process, sends its subsegment tree to the daemon address taken from
//! `AWS_XRAY_DAEMON_ADDRESS` (here a collector on a loopback port) and prints the same documents.

use std::process::Command;
use std::time::Duration;

use xray_core::testing::UdpCollector;

#[test]
fn demo_sends_a_connected_tree_to_the_configured_daemon() {
    let collector = UdpCollector::bind().expect("bind");
    let address = format!("tcp:127.0.0.1:2000 udp:127.0.0.1:{}", collector.addr().expect("addr").port());
    let output = Command::new(env!("CARGO_BIN_EXE_subsegment-tree"))
        .env("AWS_XRAY_DAEMON_ADDRESS", &address)
        .output()
        .expect("demo runs");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("datagrams sent: 3, dropped: 0"), "{stdout}");

    let docs = collector.collect(Duration::from_millis(300), Duration::from_secs(5)).expect("datagrams");
    assert_eq!(docs.len(), 3, "{docs:#?}");
    let docs = xray_schema_check::all_valid(docs);
    let named = |name: &str| docs.iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("no {name}"));
    let handler = named("## handle_order");
    for child in ["validate", "DynamoDB"] {
        assert_eq!(named(child)["parent_id"], handler["id"]);
        assert!(stdout.contains(&format!("\"name\":\"{child}\"")));
    }
    assert_eq!(handler["annotations"]["order_id"], 42);
    assert_eq!(named("DynamoDB")["aws"]["table_name"], "orders");
    assert!(docs.iter().all(|d| d["trace_id"] == handler["trace_id"]));
}
