//! One call of the instrumented function, every contender in the same group, sync and async, in a sampled trace,
//! an unsampled one and without a trace: `cargo bench -p xray-bench --bench calls`.
//!
//! After the timings it prints the heap allocations per call of each contender, counted on the calling thread.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use xray_bench::counting::{Counting, counted};
use xray_bench::{Call, Contender, Mode, repeat, run_in};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn time(call: &Call<'_>, is_async: bool, iters: u64) -> Duration {
    let start = Instant::now();
    if is_async {
        repeat(call, iters, || {
            black_box(call.call_async(black_box(7)));
        });
    } else {
        repeat(call, iters, || {
            black_box(call.call(black_box(7)));
        });
    }
    start.elapsed()
}

fn groups(c: &mut Criterion) {
    for is_async in [false, true] {
        for mode in Mode::ALL {
            let kind = if is_async { "async" } else { "sync" };
            let mut group = c.benchmark_group(format!("call/{kind}/{}", mode.name()));
            for contender in Contender::ALL {
                run_in(contender, mode, |call| {
                    group.bench_function(contender.name(), |b| b.iter_custom(|iters| time(&call, is_async, iters)));
                });
            }
            group.finish();
        }
    }
}

fn allocations(_c: &mut Criterion) {
    const CALLS: u64 = 10_000;
    println!("\nheap allocations per call (calling thread):");
    println!("{:<14} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}", "", "sync", "", "", "async", "", "");
    print!("{:<14}", "contender");
    for _ in 0..2 {
        for mode in Mode::ALL {
            print!(" {:>12}", mode.name());
        }
    }
    println!();
    for contender in Contender::ALL {
        print!("{:<14}", contender.name());
        for is_async in [false, true] {
            for mode in Mode::ALL {
                let (allocs, ()) = run_in(contender, mode, |call| {
                    // Warm up first: thread-locals, buffers and pools are filled once.
                    time(&call, is_async, 1_000);
                    counted(|| {
                        time(&call, is_async, CALLS);
                    })
                });
                print!(" {:>12.3}", allocs as f64 / CALLS as f64);
            }
        }
        println!();
    }
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = groups, allocations }
criterion_main!(benches);
