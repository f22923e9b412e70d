//! Whatever arrives, the receiving path (split, parse, check) and, for what passes, assembly and rendering return
//! instead of panicking: random bytes, and valid documents with one field replaced by arbitrary JSON.

use proptest::prelude::*;
use serde_json::{Value, json};
use xray_local::assemble::Tree;
use xray_local::daemon::protocol::split_datagram;
use xray_local::daemon::validate::check;
use xray_local::render::{Color, waterfall};

/// Runs a datagram through everything the daemon does with it; returns whether it was accepted.
fn ingest(datagram: &[u8]) -> bool {
    let Ok(body) = split_datagram(datagram) else { return false };
    let Ok(doc) = serde_json::from_slice::<Value>(body) else { return false };
    if !check(&doc).is_empty() {
        return false;
    }
    let trace = doc["trace_id"].as_str().unwrap_or_default().to_owned();
    let tree = Tree::build(&trace, [&doc]);
    let _ = tree.summary();
    !waterfall(&tree, Color::Always).is_empty()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-f0-9]{16}".prop_map(Value::String),
        ".{0,300}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "name",
    "id",
    "trace_id",
    "start_time",
    "end_time",
    "in_progress",
    "parent_id",
    "type",
    "fault",
    "error",
    "annotations",
    "metadata",
    "http",
    "aws",
    "sql",
    "cause",
    "subsegments",
    "user",
    "namespace",
];

fn document() -> Value {
    json!({"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
           "start_time": 1.5e9, "end_time": 1.5e9 + 0.25,
           "subsegments": [{"name": "db", "id": "70de5b6f19ff9a0b", "start_time": 1.5e9, "end_time": 1.5e9 + 0.1}]})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), header in any::<bool>()) {
        let datagram = if header { [xray_core::emit::DATAGRAM_HEADER, &bytes].concat() } else { bytes };
        ingest(&datagram);
    }

    #[test]
    fn any_field_replaced_by_any_json_never_panics(
        field in prop::sample::select(FIELDS),
        nested in any::<bool>(),
        value in json_value(),
    ) {
        let mut doc = document();
        let target = if nested { &mut doc["subsegments"][0] } else { &mut doc };
        target[field] = value;
        let datagram = [xray_core::emit::DATAGRAM_HEADER, doc.to_string().as_bytes()].concat();
        ingest(&datagram);
    }
}

#[test]
fn the_unchanged_document_is_accepted() {
    let datagram = [xray_core::emit::DATAGRAM_HEADER, document().to_string().as_bytes()].concat();
    assert!(ingest(&datagram));
}
