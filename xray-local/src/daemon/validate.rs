//! The segment document rules, checked in Rust.
//!
//! These are the rules of the published segment document schema (v1.0.0) plus the ones the X-Ray API enforces
//! beyond it (16-hex ids, the trace id's shape, an end time or `in_progress`, the fields an independent
//! subsegment needs). They are written out here rather than run through a JSON Schema engine so that every
//! document costs a single pass without a schema file on disk, and so that each reason reads as a sentence with
//! the path of the offending field. The test suite checks that these rules and the schema agree.

use std::fmt::Arguments;

use serde_json::{Map, Value};
use xray_core::rules::{is_valid_annotation_key, is_valid_name_char};

/// The longest annotation key, in characters.
pub use xray_core::rules::MAX_ANNOTATION_KEY_CHARS;
/// The longest string annotation value, in characters.
pub use xray_core::rules::MAX_ANNOTATION_VALUE_CHARS as MAX_ANNOTATION_CHARS;
/// The longest name X-Ray accepts, in characters.
pub use xray_core::rules::MAX_NAME_CHARS;

/// Checks a whole document (a segment or an independent subsegment). Returns every problem found, each a
/// human-readable sentence naming the field, or nothing when the document is valid.
pub fn check(doc: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(object) = doc.as_object() else {
        problems.push(format!("document is {}, expected a JSON object", kind(doc)));
        return problems;
    };
    let mut checker = Checker { problems: &mut problems };
    let independent = object.get("type").and_then(Value::as_str) == Some("subsegment");
    match object.get("type") {
        None => {}
        Some(Value::String(t)) if t == "subsegment" => {}
        Some(other) => {
            checker.fail(format_args!("type"), format!("is {}, expected \"subsegment\" or no type", short(other)))
        }
    }
    checker.trace_id(format_args!("trace_id"), object.get("trace_id"));
    if independent {
        match object.get("parent_id") {
            None => checker
                .fail(format_args!("parent_id"), "is missing: an independent subsegment needs its parent's id".into()),
            Some(v) => checker.hex_id(format_args!("parent_id"), v),
        }
    }
    checker.entity("", object, !independent);
    problems
}

struct Checker<'a> {
    problems: &'a mut Vec<String>,
}

impl Checker<'_> {
    /// Paths are passed as `format_args!` so that they are only built when a rule is broken.
    fn fail(&mut self, path: Arguments<'_>, message: String) {
        self.problems.push(format!("{path} {message}"));
    }

    /// The fields every segment and subsegment has; `segment` adds the rules that only segments follow.
    fn entity(&mut self, prefix: &str, e: &Map<String, Value>, segment: bool) {
        // One pass over the fields (a lookup per rule would cost more than the checks themselves).
        let (mut name, mut id, mut start, mut end, mut in_progress) = (false, false, None, None, false);
        for (key, v) in e {
            match key.as_str() {
                "name" => {
                    name = true;
                    match v {
                        Value::String(text) => self.name(format_args!("{prefix}name"), text),
                        other => {
                            self.fail(format_args!("{prefix}name"), format!("is {}, expected a string", kind(other)))
                        }
                    }
                }
                "id" => {
                    id = true;
                    self.hex_id(format_args!("{prefix}id"), v);
                }
                "parent_id" if !segment => {
                    self.typed(format_args!("{prefix}parent_id"), v, "a string", Value::is_string)
                }
                "start_time" => {
                    start = v.as_f64();
                    self.time(format_args!("{prefix}start_time"), v);
                }
                "end_time" => end = Some(v),
                "in_progress" => match v {
                    Value::Bool(b) => in_progress = *b,
                    other => self.fail(
                        format_args!("{prefix}in_progress"),
                        format!("is {}, expected true or false", kind(other)),
                    ),
                },
                "fault" | "error" | "throttle" => {
                    self.typed(format_args!("{prefix}{key}"), v, "true or false", Value::is_boolean)
                }
                "origin" | "namespace" | "resource_arn" => {
                    self.typed(format_args!("{prefix}{key}"), v, "a string", Value::is_string)
                }
                "user" => self.string_max(format_args!("{prefix}user"), v, 250),
                "cause" => self.cause(format_args!("{prefix}cause"), v),
                "annotations" => self.annotations(format_args!("{prefix}annotations"), v),
                "metadata" => self.metadata(format_args!("{prefix}metadata"), v),
                "http" => self.http(format_args!("{prefix}http"), v),
                "aws" => self.string_fields(
                    format_args!("{prefix}aws"),
                    v,
                    &["account_id", "operation", "region", "request_id", "queue_url", "table_name"],
                ),
                "sql" => {
                    self.string_fields(
                        format_args!("{prefix}sql"),
                        v,
                        &[
                            "connection_string",
                            "url",
                            "sanitized_query",
                            "database_type",
                            "database_version",
                            "driver_version",
                            "preparation",
                        ],
                    );
                    if let Some(user) = v.get("user") {
                        self.string_max(format_args!("{prefix}sql.user"), user, 250);
                    }
                }
                "subsegments" => match v {
                    Value::Array(children) => {
                        for (i, child) in children.iter().enumerate() {
                            match child.as_object() {
                                Some(c) => self.entity(&format!("{prefix}subsegments[{i}]."), c, false),
                                None => self.fail(
                                    format_args!("{prefix}subsegments[{i}]"),
                                    format!("is {}, expected an object", kind(child)),
                                ),
                            }
                        }
                    }
                    other => {
                        self.fail(format_args!("{prefix}subsegments"), format!("is {}, expected an array", kind(other)))
                    }
                },
                _ => {}
            }
        }
        if !name {
            self.fail(format_args!("{prefix}name"), "is missing".into());
        }
        if !id {
            self.fail(format_args!("{prefix}id"), "is missing".into());
        }
        if !e.contains_key("start_time") {
            self.fail(format_args!("{prefix}start_time"), "is missing".into());
        }
        match (end, in_progress) {
            (None, false) => self.fail(
                format_args!("{prefix}end_time"),
                "is missing and in_progress is not true: a finished entity needs an end_time".into(),
            ),
            (Some(_), true) => {
                self.fail(format_args!("{prefix}end_time"), "is set although in_progress is true".into())
            }
            (Some(v), false) => {
                self.time(format_args!("{prefix}end_time"), v);
                if let (Some(s), Some(t)) = (start, v.as_f64())
                    && t < s
                {
                    self.fail(format_args!("{prefix}end_time"), format!("{t} is before start_time {s}"));
                }
            }
            (None, true) => {}
        }
    }

    fn name(&mut self, path: Arguments<'_>, name: &str) {
        let chars = name.chars().count();
        if chars == 0 {
            self.fail(path, "is empty".into());
        } else if chars > MAX_NAME_CHARS {
            self.fail(path, format!("has {chars} characters, at most {MAX_NAME_CHARS} allowed"));
        }
        if let Some(bad) = name.chars().find(|&c| !is_valid_name_char(c)) {
            self.fail(
                path,
                format!(
                    "{} contains {bad:?}: only letters, digits, spaces and _ . : / % & # = + - @ are allowed",
                    short_str(name)
                ),
            );
        }
    }

    fn hex_id(&mut self, path: Arguments<'_>, v: &Value) {
        match v.as_str() {
            Some(id) if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) => {}
            Some(id) => self.fail(path, format!("{} is not 16 hexadecimal digits", short_str(id))),
            None => self.fail(path, format!("is {}, expected a string of 16 hexadecimal digits", kind(v))),
        }
    }

    fn trace_id(&mut self, path: Arguments<'_>, v: Option<&Value>) {
        let Some(v) = v else {
            return self.fail(path, "is missing".into());
        };
        let Some(id) = v.as_str() else {
            return self
                .fail(path, format!("is {}, expected a string like 1-5759e988-bd862e3fe1be46a994272793", kind(v)));
        };
        if !is_trace_id(id) {
            self.fail(path, format!("{} is not of the form 1-<8 hex digits>-<24 hex digits>", short_str(id)));
        }
    }

    fn time(&mut self, path: Arguments<'_>, v: &Value) {
        match v.as_f64() {
            Some(t) if t >= 0.0 => {}
            Some(t) => self.fail(path, format!("{t} is negative")),
            None => self.fail(path, format!("is {}, expected seconds since the epoch as a number", kind(v))),
        }
    }

    fn typed(&mut self, path: Arguments<'_>, v: &Value, expected: &str, ok: fn(&Value) -> bool) {
        if !ok(v) {
            self.fail(path, format!("is {}, expected {expected}", kind(v)));
        }
    }

    fn string_max(&mut self, path: Arguments<'_>, v: &Value, max: usize) {
        match v.as_str() {
            Some(s) if s.chars().count() > max => {
                self.fail(path, format!("has {} characters, at most {max} allowed", s.chars().count()))
            }
            Some(_) => {}
            None => self.fail(path, format!("is {}, expected a string", kind(v))),
        }
    }

    fn string_fields(&mut self, path: Arguments<'_>, v: &Value, fields: &[&str]) {
        let Some(object) = v.as_object() else {
            return self.fail(path, format!("is {}, expected an object", kind(v)));
        };
        for field in fields {
            if let Some(value) = object.get(*field) {
                self.typed(format_args!("{path}.{field}"), value, "a string", Value::is_string);
            }
        }
    }

    fn annotations(&mut self, path: Arguments<'_>, v: &Value) {
        let Some(object) = v.as_object() else {
            return self.fail(path, format!("is {}, expected an object", kind(v)));
        };
        for (key, value) in object {
            if !is_valid_annotation_key(key) {
                self.fail(path, format!("key {} is not 1 to 500 of the characters a-z A-Z 0-9 _", short_str(key)));
            }
            match value {
                Value::String(s) if s.chars().count() > MAX_ANNOTATION_CHARS => self.fail(
                    format_args!("{path}.{key}"),
                    format!("has {} characters, at most {MAX_ANNOTATION_CHARS} allowed", s.chars().count()),
                ),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {}
                other => self.fail(
                    format_args!("{path}.{key}"),
                    format!("is {}, expected a string, number or boolean", kind(other)),
                ),
            }
        }
    }

    fn metadata(&mut self, path: Arguments<'_>, v: &Value) {
        let Some(object) = v.as_object() else {
            return self.fail(path, format!("is {}, expected an object of namespaces", kind(v)));
        };
        for (namespace, value) in object {
            if !value.is_object() {
                self.fail(format_args!("{path}.{namespace}"), format!("is {}, expected an object", kind(value)));
            }
        }
    }

    fn http(&mut self, path: Arguments<'_>, v: &Value) {
        let Some(object) = v.as_object() else {
            return self.fail(path, format!("is {}, expected an object", kind(v)));
        };
        if let Some(request) = object.get("request") {
            match request.as_object() {
                Some(r) => {
                    for field in ["method", "client_ip", "url", "user_agent"] {
                        if let Some(value) = r.get(field) {
                            self.string_max(format_args!("{path}.request.{field}"), value, 250);
                        }
                    }
                    if let Some(value) = r.get("x_forwarded_for") {
                        self.typed(
                            format_args!("{path}.request.x_forwarded_for"),
                            value,
                            "true or false",
                            Value::is_boolean,
                        );
                    }
                }
                None => self.fail(format_args!("{path}.request"), format!("is {}, expected an object", kind(request))),
            }
        }
        if let Some(response) = object.get("response") {
            match response.as_object() {
                Some(r) => {
                    for field in ["status", "content_length"] {
                        if let Some(value) = r.get(field) {
                            self.typed(format_args!("{path}.response.{field}"), value, "a number", Value::is_number);
                        }
                    }
                }
                None => {
                    self.fail(format_args!("{path}.response"), format!("is {}, expected an object", kind(response)))
                }
            }
        }
    }

    fn cause(&mut self, path: Arguments<'_>, v: &Value) {
        match v {
            Value::String(_) => self.hex_id(path, v),
            Value::Object(c) => {
                if let Some(wd) = c.get("working_directory") {
                    self.typed(format_args!("{path}.working_directory"), wd, "a string", Value::is_string);
                }
                match c.get("exceptions") {
                    None => {}
                    Some(Value::Array(list)) => {
                        for (i, exception) in list.iter().enumerate() {
                            match exception.get("id") {
                                None => self.fail(format_args!("{path}.exceptions[{i}].id"), "is missing".into()),
                                Some(id) => self.hex_id(format_args!("{path}.exceptions[{i}].id"), id),
                            }
                            for field in ["message", "type", "cause"] {
                                if let Some(value) = exception.get(field) {
                                    self.typed(
                                        format_args!("{path}.exceptions[{i}].{field}"),
                                        value,
                                        "a string",
                                        Value::is_string,
                                    );
                                }
                            }
                        }
                    }
                    Some(other) => {
                        self.fail(format_args!("{path}.exceptions"), format!("is {}, expected an array", kind(other)))
                    }
                }
            }
            other => self.fail(path, format!("is {}, expected an exception id or an object", kind(other))),
        }
    }
}

/// Whether `id` has the shape `1-{8 hex}-{24 hex}`.
pub fn is_trace_id(id: &str) -> bool {
    let b = id.as_bytes();
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    b.len() == 35 && b[0] == b'1' && b[1] == b'-' && hex(&b[2..10]) && b[10] == b'-' && hex(&b[11..])
}

/// What kind of JSON value `v` is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => short_str(s),
        other => kind(other).to_string(),
    }
}

fn short_str(s: &str) -> String {
    super::protocol::shorten(s.as_bytes(), 60)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn segment() -> Value {
        json!({"name": "api", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
               "start_time": 1.478293361271e9, "end_time": 1.478293361449e9})
    }

    #[test]
    fn a_complete_segment_is_valid() {
        assert_eq!(check(&segment()), Vec::<String>::new());
    }

    #[test]
    fn each_broken_rule_has_a_readable_reason() {
        let mut doc = segment();
        doc["id"] = json!("xyz");
        doc["trace_id"] = json!("1-abc");
        doc["name"] = json!("bad<name>");
        doc["annotations"] = json!({"bad-key": 1, "list": [1]});
        doc.as_object_mut().map(|o| o.remove("end_time"));
        assert_eq!(
            check(&doc),
            vec![
                "trace_id \"1-abc\" is not of the form 1-<8 hex digits>-<24 hex digits>",
                "annotations key \"bad-key\" is not 1 to 500 of the characters a-z A-Z 0-9 _",
                "annotations.list is an array, expected a string, number or boolean",
                "id \"xyz\" is not 16 hexadecimal digits",
                "name \"bad<name>\" contains '<': only letters, digits, spaces and _ . : / % & # = + - @ are allowed",
                "end_time is missing and in_progress is not true: a finished entity needs an end_time",
            ]
        );
    }

    #[test]
    fn an_independent_subsegment_needs_its_parent() {
        let mut doc = segment();
        doc["type"] = json!("subsegment");
        assert_eq!(check(&doc), vec!["parent_id is missing: an independent subsegment needs its parent's id"]);
    }

    #[test]
    fn embedded_subsegments_are_checked_with_their_path() {
        let mut doc = segment();
        doc["subsegments"] = json!([{"name": "db", "id": "70de5b6f19ff9a0b", "start_time": 1.0, "in_progress": true,
                                     "end_time": 2.0}]);
        assert_eq!(check(&doc), vec!["subsegments[0].end_time is set although in_progress is true"]);
    }
}
