//! Runs one contender's call `n` times after a warm-up, for `callgrind.sh` to count the instructions: the script
//! runs it under `valgrind --tool=callgrind`, collecting only inside [`measured`], and divides by `n`.
//!
//! `instructions <contender> <sampled|unsampled|no-trace> <sync|async> <n>`, or
//! `instructions invocation <plain|traced> <sampled|unsampled> <n>` for one Lambda invocation (`handler.rs`), its
//! documents written and discarded; or `instructions queue <plain|traced> <sampled|unsampled> <n>` for one SQS message
//! through `#[traced_subscribe]` (continue mode); or `instructions layer <registry|no-trace|sampled> <n>` for one
//! `tracing` span.
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::ExitCode;

use std::sync::Arc;

use xray_bench::handler::{event, message, plain_handler, plain_message, subscribed_message, traced_handler};
use xray_bench::{Call, Contender, Mode, SAMPLED, UNSAMPLED, ready, repeat, run_in};
use xray_core::testing::Discard;

/// Invocations counted, like [`measured`]; the events are made before, outside.
#[inline(never)]
fn measured_invocations(traced: bool, events: Vec<lambda_runtime::LambdaEvent<u64>>) {
    for e in events {
        let out = if traced { ready(traced_handler(e)) } else { ready(plain_handler(e)) };
        black_box(out.ok());
    }
}

/// Messages counted, like [`measured`].
#[inline(never)]
fn measured_messages(traced: bool, message: &aws_lambda_events::sqs::SqsMessage, n: usize) {
    for _ in 0..n {
        let out = if traced { ready(subscribed_message(message)) } else { ready(plain_message(message)) };
        black_box(out);
    }
}

/// `instructions queue <plain|traced> <sampled|unsampled> <n>`.
fn messages(args: &[String]) -> ExitCode {
    let (Some(traced), Some(header), Some(n)) = (
        args.first().map(|k| k == "traced"),
        args.get(1).map(|m| if m == "unsampled" { UNSAMPLED } else { SAMPLED }),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: instructions queue <plain|traced> <sampled|unsampled> <calls>");
        return ExitCode::FAILURE;
    };
    let message = message(header);
    xray_core::emit::run_scoped(Arc::new(Discard), || {
        for _ in 0..100 {
            black_box(ready(subscribed_message(&message)));
            black_box(ready(plain_message(&message)));
        }
        measured_messages(traced, &message, n);
    });
    ExitCode::SUCCESS
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn spanned(x: u64) -> u64 {
    xray_bench::work(x)
}

/// Spans counted, like [`measured`].
#[inline(never)]
fn measured_spans(n: usize) {
    for _ in 0..n {
        black_box(spanned(black_box(7)));
    }
}

/// `instructions layer <registry|no-trace|sampled> <n>`: one `#[tracing::instrument]` span (as
/// `benches/tracing_layer.rs`) under a root span, with the Registry alone, with the layer outside any trace, or with
/// the layer in a sampled Lambda trace (documents written, discarded).
fn spans(args: &[String]) -> ExitCode {
    use tracing_subscriber::layer::SubscriberExt;
    let (Some(case), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: instructions layer <registry|no-trace|sampled> <spans>");
        return ExitCode::FAILURE;
    };
    let run = || {
        let _root = tracing::info_span!("root").entered();
        for _ in 0..1_000 {
            black_box(spanned(black_box(7)));
        }
        measured_spans(n);
    };
    match case.as_str() {
        "registry" => tracing::subscriber::with_default(tracing_subscriber::registry(), run),
        "no-trace" => {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(xray_core::tracing::layer()), run)
        }
        _ => {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(xray_core::tracing::layer()), || {
                xray_core::emit::run_scoped(Arc::new(Discard), || {
                    let _in_trace = xray_core::Trace::lambda(Some(SAMPLED)).context().enter();
                    run()
                })
            })
        }
    }
    ExitCode::SUCCESS
}

/// `instructions invocation <plain|traced> <sampled|unsampled> <n>`.
fn invocations(args: &[String]) -> ExitCode {
    let (Some(kind), Some(header), Some(n)) = (
        args.first().map(|k| k == "traced"),
        args.get(1).map(|m| if m == "unsampled" { UNSAMPLED } else { SAMPLED }),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: instructions invocation <plain|traced> <sampled|unsampled> <calls>");
        return ExitCode::FAILURE;
    };
    xray_core::emit::run_scoped(Arc::new(Discard), || {
        let warm: Vec<_> = (0..100).map(|_| event(Some(header))).collect();
        for e in warm {
            black_box(ready(traced_handler(e)).ok());
            black_box(ready(plain_handler(event(Some(header)))).ok());
        }
        measured_invocations(kind, (0..n).map(|_| event(Some(header))).collect());
    });
    ExitCode::SUCCESS
}

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
    if args.first().is_some_and(|a| a == "invocation") {
        return invocations(&args[1..]);
    }
    if args.first().is_some_and(|a| a == "queue") {
        return messages(&args[1..]);
    }
    if args.first().is_some_and(|a| a == "layer") {
        return spans(&args[1..]);
    }
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
    // fastrace's collector thread has the last roots' spans still to take: it finishes them before the process ends,
    // so that a count over every thread has them.
    if contender.calls_per_root().is_some() {
        fastrace::flush();
    }
    ExitCode::SUCCESS
}
