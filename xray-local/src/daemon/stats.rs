//! The daemon's counters, shared by its threads and printed as a status line.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($field:ident: $doc:literal),* $(,)?) => {
        /// Counters of what the daemon did since it started.
        #[derive(Debug, Default)]
        pub struct Stats {
            $(#[doc = $doc] pub $field: AtomicU64,)*
        }

        /// A copy of [`Stats`] at one moment.
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
        pub struct Snapshot {
            $(#[doc = $doc] pub $field: u64,)*
        }

        impl Stats {
            /// The values now.
            pub fn snapshot(&self) -> Snapshot {
                Snapshot { $($field: self.$field.load(Ordering::Relaxed),)* }
            }
        }

        impl Snapshot {
            /// Every counter with its name, in a fixed order.
            pub fn named(&self) -> Vec<(&'static str, u64)> {
                vec![$((stringify!($field), self.$field),)*]
            }
        }
    };
}

counters! {
    received: "Datagrams read from the socket.",
    valid: "Documents that passed the checks.",
    invalid: "Datagrams, OTLP/HTTP requests and spans refused (bad header line, bad JSON or protobuf, broken rules); their first KiB kept in the `invalid` table.",
    stale: "In-progress documents that arrived after their complete document, ignored.",
    stored: "Documents written to the database.",
    dropped: "Valid documents not stored: the database queue was at its byte bound, or a write failed.",
    invalid_dropped: "Invalid datagrams not kept: the database queue was at its byte bound, or a write failed.",
    invalid_evicted: "Invalid datagrams deleted, or never written, to keep the invalid table at its size.",
    kernel_dropped: "Datagrams the kernel dropped before the daemon could read them, its receive buffer being full (Linux).",
    forwarded: "Documents accepted by PutTraceSegments.",
    forward_failed: "Documents not forwarded: refused after every retry, or the forwarding queue was full.",
    traces_settled: "Traces that went quiet with nothing in progress (shown by --follow).",
    write_failed: "Writes to the database that failed (a full or read-only disk, a locked database), each told on stderr.",
    evicted: "Traces deleted, least recently updated first, to keep the database under --max-db-size.",
    spans: "OTLP spans read from T1S/T1U datagrams and /v1/traces requests (each stored as a document).",
    unsampled: "Spans of T1U datagrams (unsampled, sent for Application Signals): checked and counted, not stored.",
    otlp_requests: "OTLP/HTTP requests to /v1/traces.",
    forwarded_otlp: "Spans accepted by the --forward-otlp backend.",
    forward_otlp_failed: "Spans not forwarded to the --forward-otlp backend: refused after every retry, or its queue was full.",
}

impl Stats {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets `counter` to `n`, for a count kept elsewhere.
    pub fn set(counter: &AtomicU64, n: u64) {
        counter.store(n, Ordering::Relaxed);
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.named().iter().map(|(name, value)| format!("{name}={value}")).collect();
        write!(f, "status: {}", parts.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_names_every_counter() {
        let stats = Stats::default();
        Stats::add(&stats.received, 3);
        Stats::add(&stats.invalid, 1);
        assert_eq!(
            stats.snapshot().to_string(),
            "status: received=3 valid=0 invalid=1 stale=0 stored=0 dropped=0 invalid_dropped=0 invalid_evicted=0 \
             kernel_dropped=0 forwarded=0 forward_failed=0 traces_settled=0 write_failed=0 evicted=0 spans=0 \
             unsampled=0 otlp_requests=0 forwarded_otlp=0 forward_otlp_failed=0"
        );
    }
}
