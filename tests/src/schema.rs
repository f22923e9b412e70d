//! The official segment document schema (`xray-segmentdocument-schema-v1.0.0`, vendored in `tests/schema-check`):
//! every document a test looks at is checked against it.

use serde_json::Value;
use xray_core::testing::MemorySink;

pub use xray_schema_check::valid;

/// The sink's documents, each checked against the schema.
pub fn documents(sink: &MemorySink) -> Vec<Value> {
    xray_schema_check::all_valid(sink.documents())
}
