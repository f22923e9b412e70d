//! When the database falls behind and its queue is full, documents are counted as dropped, never lost silently:
//! stored + dropped = valid, and the database holds exactly the stored ones.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Scratch, datagram};
use serde_json::json;
use xray_local::daemon::{Config, Daemon};
use xray_local::store::Store;

#[test]
fn a_full_queue_counts_every_document_it_cannot_take() {
    let scratch = Scratch::new("queue");
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), scratch.0.clone());
    config.queue = 1;
    config.status_every = None;
    let daemon = Daemon::start(config).expect("daemon");
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    for n in 0..2000u64 {
        let doc = json!({"name": "q", "id": format!("{n:016x}"), "trace_id": format!("1-581cf771-{n:024x}"),
                         "start_time": 1.0, "end_time": 2.0});
        socket.send_to(&datagram(&doc), daemon.addr()).expect("send");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.stats().received < 2000 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = daemon.stop();
    assert_eq!((stats.received, stats.valid), (2000, 2000));
    assert!(stats.dropped > 0, "a one-slot queue cannot keep up with 2000 datagrams: {stats:?}");
    assert_eq!(stats.stored + stats.dropped, stats.valid, "{stats:?}");
    let status = Store::open(&scratch.0).expect("db").status().expect("status");
    assert_eq!(status.documents, stats.stored);
}
