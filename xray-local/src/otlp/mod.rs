//! OpenTelemetry (OTLP) traces in and out: what lets the daemon take spans beside segment documents, so one trace
//! may mix both, and forward every stored trace to an OTLP backend.
//!
//! - [`decode`]: an `ExportTraceServiceRequest` from a `T1S`/`T1U` datagram's base64 or an OTLP/HTTP body.
//! - [`translate`]: spans to segment documents, as AWS translates them (the table is in its docs).
//! - [`encode`]: segment documents to spans, for `--forward-otlp`.
//!
//! Spans become documents and go the way documents go (checks, assembly, store, forwarding), so nothing after the
//! receiving side knows which format a trace came in. This module does no I/O and imports only the daemon's rules.

pub mod decode;
pub mod encode;
pub mod translate;

pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
