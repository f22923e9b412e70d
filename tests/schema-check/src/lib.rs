//! The official segment document schema (`xray-segmentdocument-schema-v1.0.0`, kept in `shared/schemas` beside the
//! checkout) as a test helper: every test suite of the workspace checks the documents it looks at through here.
//!
//! ```
//! let doc = serde_json::json!({"name": "a", "id": "53995c3f42cd8ad8", "start_time": 1.0, "end_time": 2.0,
//!     "trace_id": "1-5759e988-bd862e3fe1be46a994272793"});
//! xray_schema_check::valid(&doc);
//! assert!(!xray_schema_check::is_valid(&serde_json::json!({"name": "a"})));
//! ```

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

const SCHEMA: &str = "shared/schemas/xray-segmentdocument-schema-v1.0.0.json";

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        // shared/ sits beside the checkout: look upwards from this crate.
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|dir| dir.join(SCHEMA))
            .find(|path| path.exists())
            .unwrap_or_else(|| panic!("{SCHEMA} beside the checkout"));
        let text = std::fs::read_to_string(path).expect("schema readable");
        let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
        jsonschema::draft4::new(&schema).expect("schema compiles")
    })
}

/// The schema's complaints about `doc`, empty when it is valid.
pub fn errors(doc: &Value) -> Vec<String> {
    validator().iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect()
}

/// Whether `doc` is valid.
pub fn is_valid(doc: &Value) -> bool {
    validator().is_valid(doc)
}

/// `doc`, after panicking with the schema's complaints unless it is valid.
pub fn valid(doc: &Value) -> &Value {
    let errors = errors(doc);
    assert!(errors.is_empty(), "document breaks the schema: {errors:?}\n{doc:#}");
    doc
}

/// `docs`, after checking each one.
pub fn all_valid(docs: Vec<Value>) -> Vec<Value> {
    docs.iter().for_each(|doc| {
        valid(doc);
    });
    docs
}
