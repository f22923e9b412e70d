//! Throughput of the daemon pipeline, with the sender in another process on loopback.
//!
//! `cargo bench -p xray-rs-local --bench throughput` runs two measurements against an in-process daemon (receiving
//! thread + storing thread, SQLite in a temporary dir):
//! 1. flood: the sender sends as fast as it can; we report documents/s received, parsed, checked and assembled by
//!    the receiving thread (the `valid` counter over the time from the first to the last document), and how many
//!    the kernel dropped on the way.
//! 2. paced: the sender sends at 50 000 documents/s for 3 s, then at 100 000/s, 150 000/s and 200 000/s for 2 s; we
//!    report loss (sent minus received), what was stored, and the storing rate: documents stored over the time from
//!    the first document received to the moment the database had caught up (so a queue that only hides a slow store
//!    does not count as speed).
//!
//! Each run also reports the process's peak RSS (`VmHWM`); the daemon is the only large thing in it, the sender
//! being another process.
//!
//! On a 2-core machine the sender, the receiving thread, the storing thread and the kernel share the cores, so the
//! flood figure is a floor; the per-document cost on one core is in the `checks` bench.
//!
//! The sender is this same binary started again with `XRAY_LOCAL_BENCH_SEND=addr,rate,count`.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use xray_local::daemon::{Config, Daemon};

const SEND_VAR: &str = "XRAY_LOCAL_BENCH_SEND";

/// Ten documents per trace: a segment and nine independent subsegments, about 330 bytes each.
fn datagrams(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|n| {
            let trace = format!("1-6560e000-{:024x}", n / 10);
            let parent = format!("{:016x}", (n / 10) * 10 + 1);
            let doc = if n % 10 == 0 {
                format!(
                    r#"{{"name":"orders-api","id":"{parent}","trace_id":"{trace}","start_time":1700000000.0,"end_time":1700000000.05,"http":{{"request":{{"method":"POST","url":"https://shop.test/orders"}},"response":{{"status":200}}}}}}"#
                )
            } else {
                format!(
                    r#"{{"type":"subsegment","name":"DynamoDB","id":"{:016x}","trace_id":"{trace}","parent_id":"{parent}","start_time":1700000000.001,"end_time":1700000000.004,"namespace":"aws","aws":{{"operation":"GetItem","region":"eu-west-1","table_name":"orders"}},"annotations":{{"n":{n}}}}}"#,
                    n + 1_000_000
                )
            };
            [xray_core::emit::DATAGRAM_HEADER, doc.as_bytes()].concat()
        })
        .collect()
}

/// The sender process: sends `count` datagrams to `addr` at `rate` per second (0: as fast as possible).
fn send(spec: &str) {
    let parts: Vec<&str> = spec.split(',').collect();
    let addr: SocketAddr = parts[0].parse().expect("address");
    let rate: f64 = parts[1].parse().expect("rate");
    let count: usize = parts[2].parse().expect("count");
    let grams = datagrams(count);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
    socket.connect(addr).expect("connect");
    let started = Instant::now();
    let mut sent = 0usize;
    while sent < count {
        let due = if rate > 0.0 { ((started.elapsed().as_secs_f64() * rate) as usize).min(count) } else { count };
        while sent < due {
            let _ = socket.send(&grams[sent]);
            sent += 1;
        }
        if rate > 0.0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    println!("{sent} {}", started.elapsed().as_secs_f64());
}

fn run_sender(addr: SocketAddr, rate: u64, count: usize) -> (usize, f64) {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .env(SEND_VAR, format!("{addr},{rate},{count}"))
        .output()
        .expect("sender runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace();
    let sent = it.next().and_then(|s| s.parse().ok()).expect("sent count");
    let secs = it.next().and_then(|s| s.parse().ok()).expect("seconds");
    (sent, secs)
}

/// CPU seconds (user + system) used so far by this process's thread named `name` (Linux; 0 elsewhere).
fn thread_cpu(name: &str) -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // Fields after the parenthesised name: state is field 3, utime 14 and stime 15, in clock ticks (100/s).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<f64> = rest.split_whitespace().map(|f| f.parse().unwrap_or(0.0)).collect();
        return (fields.get(11).copied().unwrap_or(0.0) + fields.get(12).copied().unwrap_or(0.0)) / 100.0;
    }
    0.0
}

/// The most memory this process has held (`VmHWM`, Linux; 0 elsewhere), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap_or("0");
    line.trim().trim_end_matches("kB").trim().parse().unwrap_or(0)
}

/// Starts a daemon on a fresh dir and samples its `valid` counter while `work` runs, returning documents/s over
/// the span in which documents were arriving.
fn measure(name: &str, rate: u64, count: usize) {
    // Starts this run's peak afresh (Linux: writing 5 to clear_refs resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let dir = std::env::temp_dir().join(format!("xray-local-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = Config::new("127.0.0.1:0".parse().expect("addr"), dir.clone());
    config.status_every = None;
    let daemon = Daemon::start(config).expect("daemon");
    let addr = daemon.addr();
    let sender = std::thread::spawn(move || run_sender(addr, rate, count));
    // Sample the counter every millisecond: first and last moment it changed.
    let (mut first, mut last, mut seen) = (None, Instant::now(), 0);
    let (mut stored_seen, mut stored_last) = (0, Instant::now());
    let mut quiet_since = Instant::now();
    loop {
        let stats = daemon.stats();
        let valid = stats.valid;
        let now = Instant::now();
        if stats.stored != stored_seen {
            (stored_seen, stored_last) = (stats.stored, now);
        }
        if valid != seen {
            if seen == 0 {
                first = Some(now);
            }
            seen = valid;
            last = now;
            quiet_since = now;
        }
        if sender.is_finished() && now.duration_since(quiet_since) > Duration::from_millis(500) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let (sent, send_secs) = sender.join().expect("sender");
    // Thread names are cut to 15 bytes by the kernel.
    let receiver_cpu = thread_cpu("xray-local-rece");
    let span = first.map(|f| last.duration_since(f).as_secs_f64()).unwrap_or(f64::NAN);
    // Let the database catch up before reading `stored`.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let stats = daemon.stats();
        if stats.stored != stored_seen {
            (stored_seen, stored_last) = (stats.stored, Instant::now());
        }
        if stats.stored >= stats.valid || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = daemon.stop();
    let store_secs = first.map(|f| stored_last.duration_since(f).as_secs_f64()).unwrap_or(f64::NAN);
    println!(
        "{name}: sent {sent} in {send_secs:.2}s ({:.0}/s offered); received+assembled {} in {span:.2}s = {:.0} docs/s; \
         lost in the kernel {} ({:.2}%); stored {} in {store_secs:.2}s = {:.0} docs/s; dropped (queue) {}; \
         receiving thread used {receiver_cpu:.2} CPU s = {:.0} docs per CPU second; peak RSS {} MiB",
        sent as f64 / send_secs,
        stats.valid,
        stats.valid as f64 / span,
        sent as u64 - stats.received,
        (sent as u64 - stats.received) as f64 * 100.0 / sent as f64,
        stats.stored,
        stats.stored as f64 / store_secs,
        stats.dropped,
        stats.valid as f64 / receiver_cpu,
        peak_rss_kib() / 1024,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    if let Ok(spec) = std::env::var(SEND_VAR) {
        return send(&spec);
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and gets a quick smoke run.
    let full = std::env::args().any(|a| a == "--bench");
    let scale = if full { 1 } else { 20 };
    measure("flood", 0, 500_000 / scale);
    measure("paced 50k/s", 50_000, 150_000 / scale);
    measure("paced 100k/s", 100_000, 200_000 / scale);
    measure("paced 150k/s", 150_000, 300_000 / scale);
    measure("paced 200k/s", 200_000, 400_000 / scale);
}
