//! When the database falls behind and its queue is full, documents are counted as dropped, never lost silently:
//! stored + dropped = valid, and the database holds exactly the stored ones. The queue is bounded in bytes, so a
//! burst of large documents cannot take the daemon's memory with it.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::{Scratch, datagram};
use serde_json::json;
use xray_local::daemon::stats::Snapshot;
use xray_local::daemon::{Config, Daemon};
use xray_local::store::{FILE_NAME, Store};

/// Sends `count` one-document traces of about `size` bytes each, as fast as possible or (`paced`) a few at a time
/// so the kernel keeps up with large ones, and waits until the daemon has read them all.
fn send(daemon: &Daemon, count: u64, size: usize, paced: bool) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    for n in 0..count {
        let doc = json!({"name": "q", "id": format!("{n:016x}"), "trace_id": format!("1-581cf771-{n:024x}"),
                         "start_time": 1.0, "end_time": 2.0, "metadata": {"default": {"pad": "x".repeat(size)}}});
        socket.send_to(&datagram(&doc), daemon.addr()).expect("send");
        if paced && n % 8 == 7 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.stats().received < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn check_accounting(scratch: &Scratch, stats: &Snapshot, sent: u64) {
    assert_eq!((stats.received, stats.valid), (sent, sent), "{stats:?}");
    assert_eq!(stats.stored + stats.dropped, stats.valid, "{stats:?}");
    let status = Store::open(&scratch.0).expect("db").status().expect("status");
    assert_eq!(status.documents, stats.stored);
}

#[test]
fn a_full_queue_counts_every_document_it_cannot_take() {
    let scratch = Scratch::new("queue");
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), scratch.0.clone());
    config.queue_bytes = 1000;
    config.status_every = None;
    let daemon = Daemon::start(config).expect("daemon");
    send(&daemon, 2000, 0, false);
    let stats = daemon.stop();
    assert!(stats.dropped > 0, "a queue of two documents cannot keep up with 2000 datagrams: {stats:?}");
    check_accounting(&scratch, &stats, 2000);
}

#[test]
fn a_burst_over_the_byte_bound_is_counted_as_dropped_not_queued() {
    // Guards issue 10 point 11: the queue was bounded in messages (262,144), so a burst of large documents behind
    // a slow database was queued whole, gigabytes of it.
    let scratch = Scratch::new("queue-bytes");
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), scratch.0.clone());
    config.queue_bytes = 1 << 20;
    config.status_every = None;
    let daemon = Daemon::start(config).expect("daemon");
    // Another writer holds the database, so the storing thread waits in its first write while the burst arrives.
    let blocker = rusqlite::Connection::open(scratch.0.join(FILE_NAME)).expect("db");
    blocker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let (count, size) = (100u64, 40_000);
    send(&daemon, count, size, true);
    blocker.execute_batch("COMMIT").expect("unlock");
    let stats = daemon.stop();
    // 1 MiB holds 26 documents of 40 kB; the storing thread may hold a few more, taken before it blocked.
    assert!(stats.stored <= 36, "at most 1 MiB of documents was queued: {stats:?}");
    assert!(stats.dropped >= count - 36, "{stats:?}");
    check_accounting(&scratch, &stats, count);
}
