//! A local stand-in for the AWS X-Ray daemon.
//!
//! `xray-local daemon` listens where the daemon does (UDP 127.0.0.1:2000), speaks its protocol, checks every
//! document against the segment document rules (keeping refused ones aside with the reason), takes OpenTelemetry
//! spans too (`T1S` datagrams, OTLP/HTTP with `--otlp-http`) as the documents AWS translates them into, assembles documents
//! into traces and stores them in SQLite under a data dir. `xray-local traces` lists them and `xray-local show`
//! prints a waterfall; `--forward` also sends everything on to the X-Ray API. `xray-local lambda` runs a Lambda
//! function's own binary behind the Lambda Runtime API and sends the segments Lambda sends (see [`lambda`]).
//!
//! The layout, each module importing only those named after it: [`cli`] (one file per subcommand), [`daemon`]
//! (receive, framing, checks, assembler, queues, counters, forwarding, the OTLP/HTTP receiver), [`otlp`] (OTLP
//! spans to segment documents and back, no I/O), [`lambda`] (the emulator), [`render`]
//! (terminal output), [`ui`] (the web view), [`store`] (the SQLite store, with every read query in [`store::query`] and the latency
//! aggregate in [`store::latency`]), [`assemble`] (the tree of a trace), and the leaves [`units`] and [`clock`].
//!
//! The pieces are usable as a library, e.g. to run the daemon inside a test:
//!
//! ```
//! use std::time::Duration;
//! use xray_local::daemon::{Config, Daemon};
//!
//! let dir = std::env::temp_dir().join(format!("xray-local-doc-{}", std::process::id()));
//! let daemon = Daemon::start(Config::new("127.0.0.1:0".parse().unwrap(), dir.clone())).unwrap();
//! let emitter = xray_core::emit::UdpEmitter::new(daemon.addr());
//! xray_core::emit::Emitter::send(&emitter, br#"{"name":"job","id":"70de5b6f19ff9a0a",
//!     "trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1.0,"end_time":2.0}"#);
//! while daemon.stats().stored < 1 {
//!     std::thread::sleep(Duration::from_millis(10));
//! }
//! daemon.stop();
//! let store = xray_local::store::Store::open(&dir).unwrap();
//! let tree = store.tree("1-581cf771-a006649127e371903a2de979").unwrap().unwrap();
//! assert_eq!(tree.nodes[0].entity.name, "job");
//! # std::fs::remove_dir_all(&dir).ok();
//! ```
#![warn(missing_docs, unreachable_pub)]

pub mod assemble;
pub mod cli;
pub mod clock;
pub mod daemon;
pub mod lambda;
pub mod otlp;
pub mod render;
mod serve;
pub mod store;
pub mod ui;
pub mod units;
