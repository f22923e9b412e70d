//! Cross-crate behaviour and end-to-end tests for xray-rs, and the harness they share: a real moto server
//! ([`moto`]), what Lambda's SQS event source mapping delivers ([`event_source`]), a fault-injecting proxy in front of it ([`proxy`]), SDK configs pointed at them ([`sdk`]), the
//! segment document schema every captured document is checked against ([`schema`]), the official OTLP decoder, botocore's
//! signer and an OTLP/HTTP collector ([`otlp`]), and the virtualenvs the Python parts run in ([`venv`]).
//!
//! ```no_run
//! use xray_tests::{moto, sdk};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let config = sdk::config(&moto::shared().endpoint);
//! let sqs = xray_core::aws_client!(aws_sdk_sqs, &config);
//! sqs.create_queue().queue_name("jobs").send().await.expect("moto answers");
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

pub mod event_source;
pub mod moto;
pub mod otlp;
pub mod proxy;
pub mod schema;
pub mod sdk;
pub mod venv;
