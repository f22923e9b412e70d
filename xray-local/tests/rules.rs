//! The Rust rules of `xray_local::daemon::validate` agree with the official segment document schema: documents the schema
//! refuses are refused, documents it accepts are accepted unless they break a rule of the service it leaves out.

mod common;

use common::schema_errors;
use serde_json::{Value, json};
use xray_local::daemon::validate::check;

fn segment() -> Value {
    json!({"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
           "start_time": 1.478293361271e9, "end_time": 1.478293361449e9, "user": "ann", "fault": true,
           "annotations": {"k": "v", "n": 1, "b": false}, "metadata": {"default": {"x": [1]}},
           "http": {"request": {"method": "GET", "url": "https://a.test/"}, "response": {"status": 500}},
           "cause": {"working_directory": "/", "exceptions": [{"id": "70de5b6f19ff9a0c", "message": "m"}]},
           "subsegments": [{"name": "db", "id": "70de5b6f19ff9a0b", "start_time": 1.478293361272e9,
                            "end_time": 1.478293361300e9, "namespace": "aws",
                            "aws": {"operation": "GetItem", "table_name": "t"}, "sql": {"sanitized_query": "q"}}]})
}

/// Applies `edit` to a copy of the segment.
fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    let mut doc = segment();
    edit(&mut doc);
    doc
}

#[test]
fn the_rules_refuse_what_the_schema_refuses() {
    let broken: Vec<(&str, Value)> = vec![
        ("no name", edited(|d| drop(d.as_object_mut().map(|o| o.remove("name"))))),
        ("no id", edited(|d| drop(d.as_object_mut().map(|o| o.remove("id"))))),
        ("no start", edited(|d| drop(d.as_object_mut().map(|o| o.remove("start_time"))))),
        ("no trace id", edited(|d| drop(d.as_object_mut().map(|o| o.remove("trace_id"))))),
        ("short id", edited(|d| d["id"] = json!("70de5b6f19ff9a0"))),
        ("short trace id", edited(|d| d["trace_id"] = json!("1-581cf771-a006649127e371903a2de97"))),
        ("bad name", edited(|d| d["name"] = json!("a<b>"))),
        ("tab in name", edited(|d| d["name"] = json!("a\tb"))),
        ("annotation key", edited(|d| d["annotations"] = json!({"a.b": 1}))),
        ("annotation value", edited(|d| d["annotations"] = json!({"a": {"b": 1}}))),
        ("long annotation", edited(|d| d["annotations"] = json!({"a": "x".repeat(1001)}))),
        ("metadata namespace", edited(|d| d["metadata"] = json!({"default": 1}))),
        ("long url", edited(|d| d["http"]["request"]["url"] = json!("u".repeat(251)))),
        ("long user", edited(|d| d["user"] = json!("u".repeat(251)))),
        ("status type", edited(|d| d["http"]["response"]["status"] = json!("500"))),
        ("cause id", edited(|d| d["cause"] = json!("abc"))),
        (
            "exception id",
            edited(|d| d["cause"]["exceptions"][0].as_object_mut().map(|o| o.remove("id")).map_or((), drop)),
        ),
        ("fault type", edited(|d| d["fault"] = json!("yes"))),
        ("subsegment id", edited(|d| drop(d["subsegments"][0].as_object_mut().map(|o| o.remove("id"))))),
        ("subsegment name", edited(|d| d["subsegments"][0]["name"] = json!(""))),
        ("subsegments type", edited(|d| d["subsegments"] = json!({}))),
        ("aws type", edited(|d| d["subsegments"][0]["aws"]["operation"] = json!(1))),
    ];
    assert!(schema_errors(&segment()).is_empty() && check(&segment()).is_empty());
    for (what, doc) in &broken {
        assert!(!schema_errors(doc).is_empty(), "the schema accepts {what}");
        assert!(!check(doc).is_empty(), "the rules accept {what}: {doc}");
    }
}

#[test]
fn the_rules_add_only_what_the_service_requires() {
    let extra: Vec<(&str, Value, &str)> = vec![
        (
            "no end",
            edited(|d| drop(d.as_object_mut().map(|o| o.remove("end_time")))),
            "end_time is missing and in_progress is not true: a finished entity needs an end_time",
        ),
        (
            "non-hex id",
            edited(|d| d["id"] = json!("zzzzzzzzzzzzzzzz")),
            "id \"zzzzzzzzzzzzzzzz\" is not 16 hexadecimal digits",
        ),
        (
            "orphan",
            edited(|d| d["type"] = json!("subsegment")),
            "parent_id is missing: an independent subsegment needs its parent's id",
        ),
        ("end before start", edited(|d| d["end_time"] = json!(1.0)), "end_time 1 is before start_time 1478293361.271"),
    ];
    for (what, doc, reason) in &extra {
        assert!(schema_errors(doc).is_empty(), "{what} is beyond the schema");
        assert_eq!(check(doc), vec![reason.to_string()], "{what}");
    }
}
