//! What the library adds to the first invocation of a fresh process: this binary starts itself 30 times per
//! handler (plain; `#[traced_handler]` with three `#[traced]` calls; the same after `xray_core::lambda::prepare()` in
//! the init phase; in turn), each child times its first and second invocation (and `prepare()`) and counts their
//! heap allocations, and the parent reports medians and spread: `cargo bench -p xray-bench --bench cold_start`.
//! Documents go over UDP to a socket the parent binds on loopback (`AWS_XRAY_DAEMON_ADDRESS`), so the first
//! invocation pays for opening the emitter's socket too, unless `prepare()` opened it.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Traced,
    /// Traced, with `prepare()` called before the first invocation, as in Lambda's init phase.
    Prepared,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Plain, Kind::Traced, Kind::Prepared];

    fn name(self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Traced => "traced",
            Kind::Prepared => "prepared",
        }
    }
}

/// In the child: `prepare()` (prepared only) and two invocations, each printed as `nanoseconds allocations`.
fn child(kind: Kind) {
    let (mut prepare_nanos, mut prepare_allocs) = (0, 0);
    if kind == Kind::Prepared {
        let start = Instant::now();
        prepare_allocs = counted(xray_core::lambda::prepare).0;
        prepare_nanos = start.elapsed().as_nanos();
    }
    let mut line = format!("{prepare_nanos} {prepare_allocs} ");
    for _ in 0..2 {
        let e = event(Some(SAMPLED));
        let start = Instant::now();
        let (allocs, out) =
            counted(|| if kind == Kind::Plain { ready(plain_handler(e)) } else { ready(traced_handler(e)) });
        let nanos = start.elapsed().as_nanos();
        assert!(out.is_ok());
        line.push_str(&format!("{nanos} {allocs} "));
    }
    println!("{}", line.trim_end());
}

/// `[prepare ns, prepare allocations, first ns, first allocations, second ns, second allocations]`.
fn run_child(kind: Kind, daemon: &str) -> Option<[u64; 6]> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env(CHILD_VAR, kind.name())
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

/// The median, spread and allocations of what `runs` add to `plain`'s first invocations, run by run.
fn added(label: &str, plain: &[[u64; 6]], runs: &[[u64; 6]]) {
    let column = |runs: &[[u64; 6]], i: usize| runs.iter().map(|r| r[i] as f64).collect::<Vec<_>>();
    let mut added: Vec<f64> = runs.iter().zip(plain).map(|(r, p)| r[2] as f64 - p[2] as f64).collect();
    let (q1, q3) = quartiles(&mut added);
    println!(
        "  added to the first invocation, {label}: median {:.1} us (interquartile {:.1} to {:.1} us, min {:.1}, \
         max {:.1}), {:.0} allocations",
        median(&mut added) / 1e3,
        q1 / 1e3,
        q3 / 1e3,
        added[0] / 1e3,
        added[added.len() - 1] / 1e3,
        median(&mut column(runs, 3)) - median(&mut column(plain, 3)),
    );
}

fn main() {
    if let Ok(mode) = std::env::var(CHILD_VAR) {
        child(Kind::ALL.into_iter().find(|k| k.name() == mode).expect("a known kind"));
        return;
    }
    // `cargo bench` passes --bench; `cargo test --benches` does not, and then three runs check that it works.
    let runs = if std::env::args().any(|a| a == "--bench") { 30 } else { 3 };
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind the stand-in daemon");
    let address = daemon.local_addr().expect("address").to_string();
    let mut results: [Vec<[u64; 6]>; 3] = Default::default();
    for _ in 0..runs {
        for (kind, results) in Kind::ALL.into_iter().zip(&mut results) {
            results.push(run_child(kind, &address).unwrap_or_else(|| panic!("{} child", kind.name())));
        }
    }
    let [plain, traced, prepared] = &results;
    let column = |runs: &[[u64; 6]], i: usize| runs.iter().map(|r| r[i] as f64).collect::<Vec<_>>();
    println!("cold start, {runs} fresh processes per handler (first invocation; second in brackets):");
    for (label, runs) in [("plain handler", plain), ("traced handler", traced), ("traced, prepare() in init", prepared)]
    {
        println!(
            "  {label}: median {:.1} us ({:.1} us), {:.0} allocations ({:.0})",
            median(&mut column(runs, 2)) / 1e3,
            median(&mut column(runs, 4)) / 1e3,
            median(&mut column(runs, 3)),
            median(&mut column(runs, 5)),
        );
    }
    added("without prepare()", plain, traced);
    added("after prepare()", plain, prepared);
    let (mut init, mut init_allocs) = (column(prepared, 0), column(prepared, 1));
    let (q1, q3) = quartiles(&mut init);
    println!(
        "  prepare() in the init phase: median {:.1} us (interquartile {:.1} to {:.1} us), {:.0} allocations",
        median(&mut init) / 1e3,
        q1 / 1e3,
        q3 / 1e3,
        median(&mut init_allocs),
    );
}
