//! Runs one contender's call `n` times after a warm-up, for `callgrind.sh` to count the instructions: the script
//! runs it under `valgrind --tool=callgrind`, collecting only inside [`measured`], and divides by `n`.
//!
//! `instructions <contender> <sampled|unsampled|no-trace> <sync|async> <n>`
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::ExitCode;

use xray_bench::{Call, Contender, Mode, repeat, run_in};

/// The calls counted: everything this thread executes inside this function (and nothing else) is collected.
#[inline(never)]
fn measured(call: &Call<'_>, is_async: bool, calls: u64) {
    run(call, is_async, calls);
}

/// The warm-up, not counted: the same calls outside [`measured`].
#[inline(never)]
fn warm_up(call: &Call<'_>, is_async: bool, calls: u64) {
    // Not the same machine code as `measured`, or the linker may fold the two into one symbol.
    black_box("warm-up");
    run(call, is_async, calls);
}

#[inline(always)]
fn run(call: &Call<'_>, is_async: bool, calls: u64) {
    if is_async {
        repeat(call, calls, || {
            black_box(call.call_async(black_box(7)));
        });
    } else {
        repeat(call, calls, || {
            black_box(call.call(black_box(7)));
        });
    }
}

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
        warm_up(&call, is_async, 1_000);
        measured(&call, is_async, n);
    });
    ExitCode::SUCCESS
}
