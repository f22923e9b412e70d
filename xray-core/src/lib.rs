//! AWS X-Ray tracing for Rust, made for AWS Lambda.
//!
//! `xray-core` records what a function does as X-Ray subsegments and sends them to the X-Ray daemon: each
//! invocation gets a [`Trace`] built from the trace header Lambda hands it, code runs inside subsegments with
//! [`in_subsegment`] (async) or [`subsegment`] (sync), and the recording API ([`put_annotation`],
//! [`put_metadata`], [`record_error`], [`current`], [`handler`]) adds what X-Ray should index or show.
//!
//! ```
//! use xray_core::{Trace, in_subsegment, put_annotation, testing::MemorySink};
//!
//! async fn load_order(id: u64) -> Result<String, std::io::Error> {
//!     in_subsegment("load_order", async move {
//!         put_annotation("order_id", id);
//!         Ok(format!("order {id}"))
//!     })
//!     .await
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sink = MemorySink::new();
//! // In a Lambda handler the header comes from `event.context.xray_trace_id`.
//! let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
//! let order = sink.scope(async {
//!     Trace::lambda(Some(header)).context().scope(load_order(7)).await
//! }).await;
//! assert_eq!(order.unwrap(), "order 7");
//! let sent = sink.documents();
//! assert_eq!(sent[0]["name"], "load_order");
//! assert_eq!(sent[0]["parent_id"], "53995c3f42cd8ad8");
//! assert_eq!(sent[0]["annotations"]["order_id"], 7);
//! # }
//! ```
//!
//! Nothing here fails the traced code: bad headers, bad settings, invalid annotations, oversized documents and a
//! daemon that is down give a diagnostic on stderr (see [`diag`]) and the code carries on.
#![warn(missing_docs, unreachable_pub)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod context;
pub mod diag;
#[cfg(any(feature = "aws", feature = "reqwest"))]
mod downstream;
pub mod emit;
pub mod header;
#[cfg(feature = "reqwest")]
pub mod http;
pub mod ids;
pub mod record;
pub mod sampling;
pub mod segment;
pub mod testing;

pub use context::{Context, InSubsegment, Scoped, Subsegment, SubsegmentGuard, Trace, bind, in_subsegment, subsegment};
pub use header::{Sampled, TraceHeader};
pub use ids::{SegmentId, TraceId};
pub use record::{
    Recorder, current, handler, put_annotation, put_metadata, put_metadata_in, record_error, try_current,
};
pub use segment::{AnnotationValue, Aws, Cause, Exception, Http, HttpRequest, HttpResponse, Namespace, Sql};

// The macro crate fills in as its attributes land; the glob keeps this line stable meanwhile.
#[cfg(feature = "macros")]
#[allow(unused_imports, unreachable_pub)]
pub use xray_macros::*;
