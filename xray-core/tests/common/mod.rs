//! Shared by the integration tests: every document a test looks at passes through [`valid`], which checks it against
//! the official segment document schema, so every document the suite produces is validated.
#![allow(dead_code, unreachable_pub)]

use std::sync::OnceLock;

use serde_json::Value;
use xray_core::testing::MemorySink;

pub const HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
pub const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
pub const FACADE: &str = "53995c3f42cd8ad8";

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        // The schema lives in shared/ beside the checkout: look upwards from the crate being tested.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|dir| dir.join("shared/schemas/xray-segmentdocument-schema-v1.0.0.json"))
            .find(|path| path.exists())
            .expect("shared/schemas/xray-segmentdocument-schema-v1.0.0.json beside the checkout");
        let text = std::fs::read_to_string(path).expect("schema readable");
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

/// Whether `doc` is valid against the schema.
pub fn is_valid(doc: &Value) -> bool {
    validator().is_valid(doc)
}

/// The sink's documents, each checked against the schema.
pub fn documents(sink: &MemorySink) -> Vec<Value> {
    let docs = sink.documents();
    docs.iter().for_each(|d| {
        valid(d);
    });
    docs
}

/// The document named `name`.
pub fn named<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter().find(|d| d["name"] == name).unwrap_or_else(|| panic!("no document named {name} in {docs:#?}"))
}
