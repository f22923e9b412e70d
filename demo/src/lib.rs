//! The demo: the example functions of `examples/template.yaml` running on this machine as they run on AWS, with
//! their X-Ray traces.
//!
//! `cargo run -p demo` builds the functions and `xray-local`, installs moto into `target/moto-venv` on first use,
//! starts the [`stack`] (moto as DynamoDB, `xray-local daemon` as the X-Ray daemon, each function under
//! `xray-local lambda`, `xray-local ui` over the daemon's store ([`ui`]), stand-ins for API Gateway ([`gateway`]) and for the external pricing API ([`pricing`])),
//! places an order through the API and prints the waterfall of its trace. Everything it started is stopped when it
//! ends, also on Ctrl-C.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use demo::stack::{Options, Stack};
//!
//! let stack = Stack::start(Options::new("example")?).await?;
//! let order = serde_json::json!({"customer_id": "c-42", "sku": "book", "quantity": 2});
//! let reply = stack.request(http::Method::POST, "/orders", Some(&order)).await?;
//! let trace_id = reply.trace_id.expect("traced");
//! stack.daemon().print_waterfall(&trace_id)?;
//! # Ok(()) }
//! ```
//!
//! The end-to-end tests (`tests/`) drive the same stack and check the traces exactly.
#![warn(missing_docs, unreachable_pub)]

pub mod binaries;
pub mod daemon;
pub mod gateway;
pub mod lambda;
pub mod pricing;
pub mod process;
pub mod stack;
pub mod tap;
pub mod triggers;
pub mod ui;

/// A random id shaped as the UUIDs AWS services use for request and event ids.
fn uuid() -> String {
    let hex = format!("{}{}", xray_core::SegmentId::new(), xray_core::SegmentId::new());
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
