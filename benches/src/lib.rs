//! xray-rs against the plain function and the other Rust tracers, measured side by side in one process.
//!
//! The same one-line function (`x * 31`) exists once per contender: plain, `#[xray_core::traced]`,
//! `#[tracing::instrument]` (a `tracing_subscriber::Registry`), `#[fastrace::trace]` (local spans, a reporter that
//! drops), an `opentelemetry_sdk` span (simple processor, an exporter that drops) and an `xray-lite` subsegment (a
//! client that serializes and drops). Each contender runs in one of three [`Mode`]s set up by [`run_in`]: a sampled
//! child span under an active trace, the same trace unsampled, and no trace at all.
//!
//! ```
//! use xray_bench::{Contender, Mode, run_in};
//! let out = run_in(Contender::Xray, Mode::Sampled, |f| f.call(7));
//! assert_eq!(out, 7 * 31);
//! ```
//!
//! The criterion benches (`benches/`) and the instruction counter (`src/bin/instructions.rs`, driven by
//! `callgrind.sh`) use these, so the timings and the instruction counts measure the same code.
#![warn(missing_docs, unreachable_pub)]

pub mod counting;
pub mod handler;
mod peers;

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

pub use peers::{LiteContext, init_peers};

/// The trace header of a sampled invocation.
pub const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
/// The same invocation, not sampled.
pub const UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

/// Who instruments the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contender {
    /// No instrumentation.
    Plain,
    /// `#[xray_core::traced]`; sampled documents are written and handed to `testing::Discard`.
    Xray,
    /// `#[tracing::instrument]` on a `tracing_subscriber::Registry`: records the span, writes nothing.
    Tracing,
    /// `#[fastrace::trace]`: a local span, collected by fastrace's thread and handed to a reporter that drops it;
    /// a root span every [`Contender::calls_per_root`] calls (100).
    Fastrace,
    /// The same, with a root every 1,000 calls.
    Fastrace1000,
    /// An `opentelemetry_sdk` span: simple span processor, an exporter that drops the `SpanData`.
    Otel,
    /// An `xray-lite` subsegment: serialized with `serde_json` at begin (in progress) and at end, then dropped.
    XrayLite,
}

impl Contender {
    /// Every contender, in the order the tables list them.
    pub const ALL: [Self; 7] =
        [Self::Plain, Self::Xray, Self::Tracing, Self::Fastrace, Self::Fastrace1000, Self::Otel, Self::XrayLite];

    /// The name used in benchmark ids and by the instruction counter.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Xray => "xray-rs",
            Self::Tracing => "tracing",
            Self::Fastrace => "fastrace",
            Self::Fastrace1000 => "fastrace-1000",
            Self::Otel => "opentelemetry",
            Self::XrayLite => "xray-lite",
        }
    }

    /// For fastrace, how many calls share one root span, opened and ended the way fastrace's docs show
    /// (`Span::root` with a random `SpanContext`, `set_local_parent`): fastrace keeps a root's local spans until the
    /// root ends (and stops recording past a limit), so a long run needs new roots. The root's cost is part of the
    /// figure, spread over its calls.
    pub fn calls_per_root(self) -> Option<u64> {
        match self {
            Self::Fastrace => Some(100),
            Self::Fastrace1000 => Some(1_000),
            _ => None,
        }
    }

    /// The contender named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// Whether there is a trace, and whether it is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A sampled trace with an active parent span.
    Sampled,
    /// A trace whose sampling decision is "no".
    Unsampled,
    /// No trace context at all.
    NoTrace,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Self; 3] = [Self::Sampled, Self::Unsampled, Self::NoTrace];

    /// The name used in benchmark ids and by the instruction counter.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sampled => "sampled",
            Self::Unsampled => "unsampled",
            Self::NoTrace => "no-trace",
        }
    }

    /// The mode named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The instrumented function of one contender, callable in the context [`run_in`] set up.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    contender: Contender,
    mode: Mode,
    lite: &'a LiteContext,
}

impl Call<'_> {
    /// Calls the contender's synchronous function.
    #[inline(always)]
    pub fn call(&self, x: u64) -> u64 {
        match self.contender {
            Contender::Plain => peers::plain(x),
            Contender::Xray => peers::xray_traced(x),
            Contender::Tracing => peers::tracing_instrumented(x),
            Contender::Fastrace | Contender::Fastrace1000 => peers::fastrace_traced(x),
            Contender::Otel if self.mode == Mode::NoTrace => peers::otel_global(x),
            Contender::Otel => peers::otel_span(x),
            Contender::XrayLite => peers::lite_subsegment(self.lite, x),
        }
    }

    /// Calls the contender's `async fn` and polls it to the end (it never waits).
    #[inline(always)]
    pub fn call_async(&self, x: u64) -> u64 {
        match self.contender {
            Contender::Plain => ready(peers::plain_async(x)),
            Contender::Xray => ready(peers::xray_traced_async(x)),
            Contender::Tracing => ready(peers::tracing_instrumented_async(x)),
            Contender::Fastrace | Contender::Fastrace1000 => ready(peers::fastrace_traced_async(x)),
            Contender::Otel if self.mode == Mode::NoTrace => ready(peers::otel_global_async(x)),
            Contender::Otel => ready(peers::otel_span_async(x)),
            Contender::XrayLite => ready(peers::lite_subsegment_async(self.lite, x)),
        }
    }
}

/// Runs `body` with `contender` set up in `mode`; `body` gets the function to call, to be called through
/// [`repeat`].
pub fn run_in<R>(contender: Contender, mode: Mode, body: impl FnOnce(Call<'_>) -> R) -> R {
    init_peers();
    peers::run_in(contender, mode, body)
}

/// Runs `f` `calls` times in the context [`run_in`] set up; for fastrace, inside root spans of
/// [`Contender::calls_per_root`] calls each.
#[inline(always)]
pub fn repeat(call: &Call<'_>, calls: u64, mut f: impl FnMut()) {
    let mode = call.mode;
    let Some(per_root) = call.contender.calls_per_root().filter(|_| mode != Mode::NoTrace) else {
        for _ in 0..calls {
            f();
        }
        return;
    };
    let mut left = calls;
    while left > 0 {
        let chunk = left.min(per_root);
        left -= chunk;
        let root = peers::fastrace_root(mode);
        let guard = root.set_local_parent();
        for _ in 0..chunk {
            f();
        }
        drop(guard);
        drop(root);
    }
}

/// Polls a future that never waits to its end. Inlined, so the future is built in place.
#[inline(always)]
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut TaskContext::from_waker(Waker::noop())) {
            return out;
        }
    }
}

/// The body every contender instruments.
#[inline(always)]
pub fn work(x: u64) -> u64 {
    black_box(x).wrapping_mul(31)
}
