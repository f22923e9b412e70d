//! The official segment document schema (`xray-segmentdocument-schema-v1.0.0`, in `shared/schemas` beside the
//! checkout): every document a test looks at is checked against it.

use std::sync::OnceLock;

use serde_json::Value;
use xray_core::testing::MemorySink;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/schemas/xray-segmentdocument-schema-v1.0.0.json");
        let text = std::fs::read_to_string(path).expect("the schema in ../shared/schemas beside the checkout");
        let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
        jsonschema::draft4::new(&schema).expect("schema compiles")
    })
}

/// Panics unless `doc` is valid against the schema.
pub fn valid(doc: &Value) -> &Value {
    let errors: Vec<String> = validator().iter_errors(doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "document breaks the schema: {errors:?}\n{doc:#}");
    doc
}

/// The sink's documents, each checked against the schema.
pub fn documents(sink: &MemorySink) -> Vec<Value> {
    let docs = sink.documents();
    docs.iter().for_each(|d| {
        valid(d);
    });
    docs
}
