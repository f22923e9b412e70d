//! Shared by the integration tests: every document a test looks at passes through [`valid`], which checks it against
//! the official segment document schema, so every document the suite produces is validated.
#![allow(dead_code, unreachable_pub, unused_imports)]

use serde_json::Value;
use xray_core::testing::MemorySink;

pub const HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
pub const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
pub const FACADE: &str = "53995c3f42cd8ad8";

pub use xray_schema_check::{is_valid, valid};

/// The sink's documents, each checked against the schema.
pub fn documents(sink: &MemorySink) -> Vec<Value> {
    xray_schema_check::all_valid(sink.documents())
}

/// The document named `name`.
pub fn named<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("no document named {name} in {docs:#?}"))
}
