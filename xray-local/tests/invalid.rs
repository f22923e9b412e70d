//! Refused datagrams are kept aside to be looked at, but a flood of noise must not fill the disk: each is kept as
//! its first kilobyte, the table keeps the newest rows, and what was not kept is counted.

mod common;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::Scratch;
use xray_local::daemon::{Config, Daemon};
use xray_local::store::Store;

fn start(scratch: &Scratch, invalid_rows: usize) -> Daemon {
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), scratch.0.clone());
    config.status_every = None;
    config.invalid_rows = invalid_rows;
    Daemon::start(config).expect("daemon")
}

/// Sends each datagram, a few at a time so the kernel keeps up, and stops the daemon once it has read them all.
fn send_and_stop(daemon: Daemon, datagrams: &[Vec<u8>]) -> xray_local::daemon::stats::Snapshot {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    for (n, datagram) in datagrams.iter().enumerate() {
        socket.send_to(datagram, daemon.addr()).expect("send");
        if n % 8 == 7 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.stats().received < datagrams.len() as u64 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    daemon.stop()
}

#[test]
fn a_stored_invalid_datagram_keeps_only_its_first_kilobyte() {
    // Guards issue 10 point 11: every refused datagram was stored whole, 64 KiB of noise per row.
    let scratch = Scratch::new("invalid-prefix");
    let noise: Vec<u8> = [&b"{\"format\":\"json\",\"version\":1}\n{"[..], &vec![b'x'; 59_969]].concat();
    let stats = send_and_stop(start(&scratch, 100), &[noise]);
    assert_eq!((stats.invalid, stats.invalid_dropped), (1, 0), "{stats:?}");
    let kept = Store::open(&scratch.0).expect("db").invalid(10).expect("invalid");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].size, 60_000);
    assert_eq!(kept[0].datagram.len(), 1024);
    assert!(kept[0].datagram.starts_with("{\"format\":\"json\",\"version\":1}\n{xxx"), "{:?}", kept[0].datagram);
    assert!(kept[0].reason.starts_with("invalid JSON: "), "{}", kept[0].reason);
}

#[test]
fn the_invalid_table_keeps_the_newest_rows_and_counts_the_rest() {
    let scratch = Scratch::new("invalid-cap");
    let datagrams: Vec<Vec<u8>> = (0..300).map(|n| format!("noise {n:03}").into_bytes()).collect();
    let stats = send_and_stop(start(&scratch, 100), &datagrams);
    assert_eq!((stats.invalid, stats.invalid_dropped, stats.invalid_evicted), (300, 0, 200), "{stats:?}");
    let store = Store::open(&scratch.0).expect("db");
    assert_eq!(store.status().expect("status").invalid, 100);
    let kept: Vec<String> = store.invalid(1000).expect("invalid").into_iter().map(|i| i.datagram).collect();
    let newest: Vec<String> = (200..300).rev().map(|n| format!("noise {n:03}")).collect();
    assert_eq!(kept, newest);
}
