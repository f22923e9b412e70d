//! Where finished documents go: the [`Emitter`] trait, the UDP emitter to the daemon, and which emitter is in
//! force (a scoped one, else the process-wide one).
//!
//! A leaf: this module knows bytes and destinations, nothing of traces or documents. Every document travels as one
//! UDP datagram, framed in `emit/udp.rs`; a send that fails (daemon down, buffer full) is counted as dropped and
//! reported as a diagnostic, never returned to the caller. Documents are cut to fit a datagram before they get here
//! (see `document::split`).

#[cfg(feature = "otlp")]
mod otlp_http;
#[cfg(feature = "otlp-sigv4")]
mod sigv4;
#[cfg(feature = "otlp-https")]
mod tls;
mod udp;

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

pub use crate::rules::{DATAGRAM_HEADER, MAX_DOCUMENT_BYTES};
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp_http::OtlpHttpEmitter;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use udp::MAX_UDP_SPANS_REQUEST;
pub use udp::UdpEmitter;

/// Where finished documents go.
pub trait Emitter: Send + Sync + 'static {
    /// Sends one segment document (JSON, without the header line). Must neither block nor panic.
    fn send(&self, document: &[u8]);

    /// Sends several documents at once, each as [`Emitter::send`] would: what a Lambda invocation hands over when
    /// its handler waits or ends. By default one `send` each; [`UdpEmitter`] makes one system call of them.
    fn send_all(&self, documents: Documents<'_>) {
        for document in documents.iter() {
            self.send(document);
        }
    }

    /// Sends one OTLP `ExportTraceServiceRequest` (protobuf) of at most [`Emitter::max_spans_request`] bytes;
    /// `sampled` is false for the spans of an unsampled trace (Application Signals' `T1U`). Must neither block nor
    /// panic. An emitter that does not implement it drops the spans with a diagnostic.
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    fn send_spans(&self, request: &[u8], sampled: bool) {
        let _ = sampled;
        crate::diag::diag!(
            SendFailed,
            "this emitter takes no OTLP spans; a request of {} bytes dropped",
            request.len()
        );
    }

    /// The largest request [`Emitter::send_spans`] takes (by default what fits a datagram to the daemon).
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    fn max_spans_request(&self) -> usize {
        MAX_UDP_SPANS_REQUEST
    }

    /// Waits until everything handed over has left, at most `within`; called when a Lambda invocation ends. By
    /// default returns at once (a datagram has left when `send` returns).
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    fn flush(&self, within: std::time::Duration) {
        let _ = within;
    }
}

/// Documents written one after the other into one buffer: what [`Emitter::send_all`] takes.
#[derive(Debug, Clone, Copy)]
pub struct Documents<'a> {
    bytes: &'a [u8],
    /// Where each document ends in `bytes`, in order.
    ends: &'a [usize],
}

impl<'a> Documents<'a> {
    /// The documents of `bytes` ending at each of `ends` (offsets in increasing order, the last at most
    /// `bytes.len()`); an offset out of order or past the end is ignored.
    pub fn new(bytes: &'a [u8], ends: &'a [usize]) -> Self {
        Self { bytes, ends }
    }

    /// How many documents.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Each document, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let bytes = self.bytes;
        let mut start = 0;
        self.ends.iter().filter_map(move |&end| {
            let document = bytes.get(start..end)?;
            start = end;
            Some(document)
        })
    }
}

/// Counters of what an emitter did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitStats {
    /// Datagrams handed to the operating system.
    pub sent: u64,
    /// Datagrams that could not be sent.
    pub dropped: u64,
}

static DEFAULT_UDP: OnceLock<Arc<UdpEmitter>> = OnceLock::new();
static GLOBAL: RwLock<Option<Arc<dyn Emitter>>> = RwLock::new(None);

thread_local! {
    /// The emitter scoped to the code running on this thread, if any; swapped in and out with the trace context.
    static SCOPED: RefCell<Option<Arc<dyn Emitter>>> = const { RefCell::new(None) };
}

/// The emitter to the daemon named by `AWS_XRAY_DAEMON_ADDRESS`, opened on first use.
pub fn daemon() -> &'static Arc<UdpEmitter> {
    DEFAULT_UDP.get_or_init(|| Arc::new(UdpEmitter::new(crate::config::get().daemon.udp)))
}

/// Opens the daemon's socket, unless another emitter is installed, and runs the send path once without sending
/// anything to the daemon (see [`crate::lambda::prepare`]).
pub(crate) fn prepare() {
    drop(global());
    udp::warm_up();
}

/// The process-wide emitter: the one installed with [`set_global`], else (with `OTEL_TRACES_EXPORTER=otlp` and an
/// OTLP endpoint) the OTLP/HTTP one, else the daemon's.
pub fn global() -> Arc<dyn Emitter> {
    if let Ok(guard) = GLOBAL.read()
        && let Some(emitter) = guard.as_ref()
    {
        return Arc::clone(emitter);
    }
    #[cfg(feature = "otlp")]
    if let Some(http) = otlp_http::configured() {
        return http.clone();
    }
    daemon().clone()
}

/// Replaces the process-wide emitter (for example with a [`crate::testing::MemorySink`]).
pub fn set_global(emitter: Arc<dyn Emitter>) {
    if let Ok(mut guard) = GLOBAL.write() {
        *guard = Some(emitter);
    }
}

/// The emitter scoped to the calling code, if any.
pub(crate) fn scoped_here() -> Option<Arc<dyn Emitter>> {
    // Not during the thread's teardown, where a trace dropped last may still send.
    SCOPED.try_with(|s| s.try_borrow().ok().and_then(|s| s.clone())).ok().flatten()
}

/// The emitter in force here: the scoped one, else the global one.
pub(crate) fn in_force() -> Arc<dyn Emitter> {
    scoped_here().unwrap_or_else(global)
}

/// Swaps `emitter` with the one scoped to this thread.
pub(crate) fn swap_scoped(emitter: &mut Option<Arc<dyn Emitter>>) {
    SCOPED.with(|s| {
        if let Ok(mut scoped) = s.try_borrow_mut() {
            std::mem::swap(&mut *scoped, emitter);
        }
    });
}

/// Swaps the scoped emitter back when dropped, so a panic still restores the thread's.
struct Restore<'a>(&'a mut Option<Arc<dyn Emitter>>);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        swap_scoped(self.0);
    }
}

/// Runs `f` with `slot` swapped in as the scoped emitter, and swapped back out afterwards (after a panic too).
pub(crate) fn run_swapped<R>(slot: &mut Option<Arc<dyn Emitter>>, f: impl FnOnce() -> R) -> R {
    swap_scoped(slot);
    let _restore = Restore(slot);
    f()
}

/// Runs `f` with `emitter` receiving the documents of traces created or sent inside it.
pub fn run_scoped<R>(emitter: Arc<dyn Emitter>, f: impl FnOnce() -> R) -> R {
    run_swapped(&mut Some(emitter), f)
}

/// Runs `future` with `emitter` receiving the documents of every trace created inside it (and of traces created
/// elsewhere that send from inside it). Other code in the process keeps the global emitter.
pub fn scoped<F: Future>(emitter: Arc<dyn Emitter>, future: F) -> Scoped<F> {
    Scoped { emitter: Some(emitter), inner: future }
}

pin_project! {
    /// A future whose documents go to a given emitter; see [`scoped`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Scoped<F> {
        emitter: Option<Arc<dyn Emitter>>,
        #[pin]
        inner: F,
    }
}

impl<F> fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("emit::Scoped").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        run_swapped(this.emitter, move || inner.poll(cx))
    }
}
