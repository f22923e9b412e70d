//! What the library adds to the first invocation of a fresh process: this binary starts itself 30 times per
//! handler (plain and `#[traced_handler]` with three `#[traced]` calls, alternating), each child times its first
//! and second invocation and counts their heap allocations, and the parent reports medians and spread:
//! `cargo bench -p xray-bench --bench cold_start`. Documents go over UDP to a socket the parent binds on loopback
//! (`AWS_XRAY_DAEMON_ADDRESS`), so the first invocation pays for opening the emitter's socket too.
#![allow(missing_docs)]

use std::net::UdpSocket;
use std::process::Command;
use std::time::Instant;

use xray_bench::counting::{Counting, counted};
use xray_bench::handler::{event, plain_handler, traced_handler};
use xray_bench::{SAMPLED, ready};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CHILD_VAR: &str = "XRAY_BENCH_COLD_START";

/// In the child: two invocations, each printed as `nanoseconds allocations`.
fn child(traced: bool) {
    let mut line = String::new();
    for _ in 0..2 {
        let e = event(Some(SAMPLED));
        let start = Instant::now();
        let (allocs, out) = counted(|| if traced { ready(traced_handler(e)) } else { ready(plain_handler(e)) });
        let nanos = start.elapsed().as_nanos();
        assert!(out.is_ok());
        line.push_str(&format!("{nanos} {allocs} "));
    }
    println!("{}", line.trim_end());
}

fn run_child(traced: bool, daemon: &str) -> Option<[u64; 4]> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env(CHILD_VAR, if traced { "traced" } else { "plain" })
        .env("AWS_XRAY_DAEMON_ADDRESS", daemon)
        .env_remove("_X_AMZN_TRACE_ID")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let values: Vec<u64> = text.split_whitespace().filter_map(|v| v.parse().ok()).collect();
    values.try_into().ok()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn quartiles(values: &mut [f64]) -> (f64, f64) {
    values.sort_by(f64::total_cmp);
    (values[values.len() / 4], values[values.len() * 3 / 4])
}

fn main() {
    if let Ok(mode) = std::env::var(CHILD_VAR) {
        child(mode == "traced");
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` does not, and then three runs check that it works.
    let runs = if std::env::args().any(|a| a == "--bench") { 30 } else { 3 };
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind the stand-in daemon");
    let address = daemon.local_addr().expect("address").to_string();
    let (mut plain, mut traced) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        plain.push(run_child(false, &address).expect("plain child"));
        traced.push(run_child(true, &address).expect("traced child"));
    }
    let column = |runs: &[[u64; 4]], i: usize| runs.iter().map(|r| r[i] as f64).collect::<Vec<_>>();
    let mut added: Vec<f64> = (0..runs).map(|i| traced[i][0] as f64 - plain[i][0] as f64).collect();
    let (q1, q3) = quartiles(&mut added);
    println!("cold start, {runs} fresh processes per handler (first invocation; second in brackets):");
    println!(
        "  plain handler:  median {:.1} us ({:.1} us), {:.0} allocations ({:.0})",
        median(&mut column(&plain, 0)) / 1e3,
        median(&mut column(&plain, 2)) / 1e3,
        median(&mut column(&plain, 1)),
        median(&mut column(&plain, 3)),
    );
    println!(
        "  traced handler: median {:.1} us ({:.1} us), {:.0} allocations ({:.0})",
        median(&mut column(&traced, 0)) / 1e3,
        median(&mut column(&traced, 2)) / 1e3,
        median(&mut column(&traced, 1)),
        median(&mut column(&traced, 3)),
    );
    println!(
        "  added by the library to the first invocation: median {:.1} us (interquartile {:.1} to {:.1} us, min {:.1}, \
         max {:.1}), {:.0} allocations",
        median(&mut added) / 1e3,
        q1 / 1e3,
        q3 / 1e3,
        added[0] / 1e3,
        added[added.len() - 1] / 1e3,
        median(&mut column(&traced, 1)) - median(&mut column(&plain, 1)),
    );
}
