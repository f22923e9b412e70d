//! Helpers for tests, including users' own: an in-memory sink that captures documents, a sink that discards, and
//! (feature `testing`) a UDP collector that stands in for the daemon on a loopback port.
//!
//! ```
//! use xray_core::testing::MemorySink;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sink = MemorySink::new();
//! sink.scope(async {
//!     let trace = xray_core::Trace::lambda(Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"));
//!     trace.context().scope(xray_core::in_subsegment("work", async {})).await;
//! }).await;
//! assert_eq!(sink.documents()[0]["name"], "work");
//! # }
//! ```

#[cfg(feature = "testing")]
mod collector;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use collector::{CollectError, UdpCollector};

use crate::emit::{self, Emitter, Scoped};

/// Captures every document sent to it, in order (and with feature `otlp`, every OTLP request).
#[derive(Clone, Default)]
pub struct MemorySink {
    documents: Arc<Mutex<Vec<Vec<u8>>>>,
    #[cfg(feature = "otlp")]
    spans: Arc<Mutex<Vec<(Vec<u8>, bool)>>>,
}

impl fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemorySink").field("documents", &self.raw().len()).finish()
    }
}

impl Emitter for MemorySink {
    fn send(&self, document: &[u8]) {
        self.documents.lock().unwrap_or_else(PoisonError::into_inner).push(document.to_vec());
    }

    #[cfg(feature = "otlp")]
    fn send_spans(&self, request: &[u8], sampled: bool) {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).push((request.to_vec(), sampled));
    }
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `future` with this sink receiving the documents of every trace created inside it (including in tasks
    /// spawned through [`crate::bind`]). Other code in the process is not affected.
    pub fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        emit::scoped(Arc::new(self.clone()), future)
    }

    /// Runs `f` with this sink receiving the documents of every trace created inside it.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        emit::run_scoped(Arc::new(self.clone()), f)
    }

    /// Makes this sink the process-wide destination of documents.
    pub fn install_global(&self) {
        emit::set_global(Arc::new(self.clone()));
    }

    /// The captured documents, exactly as they would have been sent.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.documents.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The captured documents, parsed. A document that is not valid JSON appears as a JSON string holding it.
    pub fn documents(&self) -> Vec<serde_json::Value> {
        self.raw()
            .iter()
            .map(|d| serde_json::from_slice(d).unwrap_or_else(|_| String::from_utf8_lossy(d).into_owned().into()))
            .collect()
    }

    /// Removes and returns the captured documents, parsed.
    pub fn take(&self) -> Vec<serde_json::Value> {
        let documents = self.documents();
        self.clear();
        documents
    }

    /// Forgets the captured documents (and OTLP requests).
    pub fn clear(&self) {
        self.documents.lock().unwrap_or_else(PoisonError::into_inner).clear();
        #[cfg(feature = "otlp")]
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// The captured OTLP requests (protobuf `ExportTraceServiceRequest`s), each with whether its trace was sampled.
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn span_requests(&self) -> Vec<(Vec<u8>, bool)> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// Drops every document once it has been fully written: for measuring what tracing costs without any I/O.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl Emitter for Discard {
    fn send(&self, document: &[u8]) {
        // Keeps the optimizer from skipping the work that produced the document.
        std::hint::black_box(document);
    }

    #[cfg(feature = "otlp")]
    fn send_spans(&self, request: &[u8], _sampled: bool) {
        std::hint::black_box(request);
    }
}
