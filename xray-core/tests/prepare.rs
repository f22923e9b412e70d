//! `lambda::prepare()` in the init phase: it sends nothing to the daemon, the first invocation after it is still the
//! cold start, and that invocation's documents go out on the socket it opened. Its own process: the settings, the
//! daemon's socket and the cold start are process-wide.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::{HEADER, valid};
use xray_core::lambda::{Invocation, prepare};
use xray_core::testing::UdpCollector;

#[test]
fn prepare_sends_nothing_and_leaves_the_cold_start_to_the_first_invocation() {
    let collector = UdpCollector::bind().expect("bind");
    let port = collector.addr().expect("addr").port();
    // SAFETY: the only test of this process, and no other thread reads the environment yet.
    unsafe { std::env::set_var("AWS_XRAY_DAEMON_ADDRESS", format!("127.0.0.1:{port}")) };
    prepare();
    let quiet = Duration::from_millis(200);
    assert_eq!(collector.collect(quiet, Duration::from_secs(1)).expect("no datagram"), Vec::<serde_json::Value>::new());

    Invocation::new(Some(HEADER)).end();
    let docs = collector.collect(quiet, Duration::from_secs(2)).expect("datagrams");
    assert_eq!(docs.len(), 2, "{docs:?}");
    for doc in &docs {
        valid(doc);
        assert_eq!((&doc["name"], &doc["annotations"]["ColdStart"]), (&"## handler".into(), &true.into()));
    }
    assert_eq!(docs[0]["in_progress"], true);
}
