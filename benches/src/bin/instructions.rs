//! Runs one contender's call `n` times after a warm-up, for `callgrind.sh` to count the instructions: the script
//! runs it twice with different `n` under `valgrind --tool=callgrind` and divides the difference by the difference
//! in calls, so start-up and warm-up cancel out.
//!
//! `instructions <contender> <sampled|unsampled|no-trace> <sync|async> <n>`
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::ExitCode;

use xray_bench::{Contender, Mode, repeat, run_in};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [c, m, k, n] => Contender::from_name(c)
            .zip(Mode::from_name(m))
            .zip(n.parse::<u64>().ok())
            .map(|((c, m), n)| (c, m, k == "async", n)),
        _ => None,
    };
    let Some((contender, mode, is_async, n)) = parsed else {
        eprintln!("usage: instructions <contender> <sampled|unsampled|no-trace> <sync|async> <calls>");
        return ExitCode::FAILURE;
    };
    run_in(contender, mode, |call| {
        let run = |calls| {
            if is_async {
                repeat(&call, calls, || {
                    black_box(call.call_async(black_box(7)));
                });
            } else {
                repeat(&call, calls, || {
                    black_box(call.call(black_box(7)));
                });
            }
        };
        run(1_000);
        run(n);
    });
    ExitCode::SUCCESS
}
