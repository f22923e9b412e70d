//! The official segment document schema (`xray-segmentdocument-schema-v1.0.0`, vendored in `schema/`; its README
//! says where it comes from) as a test helper: every test suite of the workspace checks the documents it looks at
//! through here.
//!
//! ```
//! let doc = serde_json::json!({"name": "a", "id": "53995c3f42cd8ad8", "start_time": 1.0, "end_time": 2.0,
//!     "trace_id": "1-5759e988-bd862e3fe1be46a994272793"});
//! xray_schema_check::valid(&doc);
//! assert!(!xray_schema_check::is_valid(&serde_json::json!({"name": "a"})));
//! ```

use std::sync::OnceLock;

use serde_json::Value;

/// The schema's text, compiled into the test binaries.
pub const SCHEMA: &str = include_str!("../schema/xray-segmentdocument-schema-v1.0.0.json");

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema is JSON");
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

/// Values every test suite shares: one trace, one Lambda function segment, the headers built from them, and lookups
/// over captured documents.
pub mod fixtures {
    use serde_json::Value;

    /// The trace id of the fixture invocation.
    pub const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    /// The Lambda function segment (the facade) the invocation's subsegments hang under.
    pub const FACADE: &str = "53995c3f42cd8ad8";
    /// A sampled invocation's header.
    pub const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    /// An unsampled invocation's header.
    pub const UNSAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
    /// A sampled header with the `Lineage` Lambda adds.
    pub const WITH_LINEAGE: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";
    /// A sampled header with `Lineage` and a key this project does not know, both to be passed on.
    pub const WITH_UNKNOWN: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1;Foo=bar";

    /// The names of the documents, in the order they were sent.
    pub fn names(docs: &[Value]) -> Vec<&str> {
        docs.iter().map(|d| d["name"].as_str().expect("name")).collect()
    }

    /// The document named `name`: the first complete one, else (only `in_progress` ones were sent) the first.
    pub fn named<'a>(docs: &'a [Value], name: &str) -> &'a Value {
        let mut all = docs.iter().filter(|d| d["name"] == name);
        let first = all.next().unwrap_or_else(|| panic!("no document named {name} in {docs:#?}"));
        std::iter::once(first).chain(all).find(|d| !is_in_progress(d)).unwrap_or(first)
    }

    /// The documents of complete subsegments: without those sent `in_progress` (the handler's when it begins, a
    /// Lambda subsegment's open when the handler waits), each replaced by the complete one with its id.
    pub fn complete(docs: &[Value]) -> Vec<&Value> {
        docs.iter().filter(|d| !is_in_progress(d)).collect()
    }

    fn is_in_progress(doc: &Value) -> bool {
        doc["in_progress"] == true
    }
}
