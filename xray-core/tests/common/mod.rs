//! Shared by the integration tests: every document a test looks at passes through [`valid`], which checks it against
//! the official segment document schema, so every document the suite produces is validated.
#![allow(dead_code, unreachable_pub, unused_imports)]

use serde_json::Value;
use xray_core::testing::MemorySink;

pub use xray_schema_check::fixtures::{FACADE, ROOT, WITH_LINEAGE as HEADER, named};

pub use xray_schema_check::{is_valid, valid};

/// The sink's documents, each checked against the schema.
pub fn documents(sink: &MemorySink) -> Vec<Value> {
    xray_schema_check::all_valid(sink.documents())
}
