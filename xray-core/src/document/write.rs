//! The JSON writer: one entity, and through a callback its embedded children, written as the exact document the
//! daemon expects (`xray-segmentdocument-schema-v1.0.0`), into a reused buffer and without building a value tree.

use serde::Serialize;

use super::{AnnotationValue, Entity, Extra, Kind};
use crate::clock::Timestamp;
use crate::ids::TraceId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// A segment, or a subsegment sent on its own (`type`, `trace_id`, `parent_id`).
    Top,
    /// A subsegment embedded in its parent's `subsegments`.
    Embedded,
}

/// Writes `text` as a JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_key(out: &mut Vec<u8>, key: &str) {
    out.push(b',');
    write_str(out, key);
    out.push(b':');
}

/// The two decimal digits of every number below 100.
const DECIMAL_PAIRS: [[u8; 2]; 100] = {
    let mut table = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        table[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    table
};

fn write_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    while value >= 100 {
        at -= 2;
        buf[at..at + 2].copy_from_slice(&DECIMAL_PAIRS[(value % 100) as usize]);
        value /= 100;
    }
    if value >= 10 {
        at -= 2;
        buf[at..at + 2].copy_from_slice(&DECIMAL_PAIRS[value as usize]);
    } else {
        at -= 1;
        buf[at] = b'0' + value as u8;
    }
    out.extend_from_slice(&buf[at..]);
}

/// Writes seconds since the epoch with exactly six decimals (microseconds).
fn write_time(out: &mut Vec<u8>, time: Timestamp) {
    let micros = time.as_micros();
    let mut secs = micros / 1_000_000;
    let frac = (micros % 1_000_000) as u32;
    let [a, b] = DECIMAL_PAIRS[(frac / 10_000) as usize];
    let [c, d] = DECIMAL_PAIRS[(frac / 100 % 100) as usize];
    let [e, f] = DECIMAL_PAIRS[(frac % 100) as usize];
    if !(1_000_000_000..10_000_000_000).contains(&secs) {
        write_u64(out, secs);
        out.extend_from_slice(&[b'.', a, b, c, d, e, f]);
        return;
    }
    // Every time from 2001 to 2286 has ten digits of seconds: written in a buffer of fixed size, without a loop.
    let mut text = [0u8; 17];
    for at in [8, 6, 4, 2, 0] {
        text[at..at + 2].copy_from_slice(&DECIMAL_PAIRS[(secs % 100) as usize]);
        secs /= 100;
    }
    text[10..].copy_from_slice(&[b'.', a, b, c, d, e, f]);
    out.extend_from_slice(&text);
}

fn write_json(out: &mut Vec<u8>, value: &impl Serialize) {
    let mark = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(mark);
        out.extend_from_slice(b"null");
    }
}

fn write_annotation(out: &mut Vec<u8>, value: &AnnotationValue) {
    match value {
        AnnotationValue::String(s) => write_str(out, s),
        AnnotationValue::Int(i) => {
            if *i < 0 {
                out.push(b'-');
            }
            write_u64(out, i.unsigned_abs());
        }
        AnnotationValue::Float(f) => write_json(out, f),
        AnnotationValue::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
    }
}

/// Writes one entity's JSON document. `children` writes the embedded subsegments, comma-separated, and returns
/// how many it wrote; `now` is unused unless the entity is still open.
pub(crate) fn write_document(
    out: &mut Vec<u8>,
    entity: &Entity,
    trace_id: &[u8; TraceId::LEN],
    placement: Placement,
    children: &mut dyn FnMut(&mut Vec<u8>) -> usize,
) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, &entity.name);
    out.extend_from_slice(b",\"id\":\"");
    out.extend_from_slice(&entity.id.to_bytes());
    out.extend_from_slice(b"\",\"start_time\":");
    write_time(out, entity.start);
    match entity.end {
        Some(end) => {
            out.extend_from_slice(b",\"end_time\":");
            write_time(out, end.max(entity.start));
        }
        None => out.extend_from_slice(b",\"in_progress\":true"),
    }
    if placement == Placement::Top {
        out.extend_from_slice(b",\"trace_id\":\"");
        out.extend_from_slice(trace_id);
        out.push(b'"');
        if let Some(parent) = entity.parent_id {
            out.extend_from_slice(b",\"parent_id\":\"");
            out.extend_from_slice(&parent.to_bytes());
            out.push(b'"');
        }
        if entity.kind == Kind::Subsegment {
            out.extend_from_slice(b",\"type\":\"subsegment\"");
        }
    }
    if let Some(namespace) = entity.namespace {
        write_key(out, "namespace");
        write_str(out, namespace.as_str());
    }
    for (flag, key) in
        [(entity.status.error, "error"), (entity.status.fault, "fault"), (entity.status.throttle, "throttle")]
    {
        if flag {
            write_key(out, key);
            out.extend_from_slice(b"true");
        }
    }
    if let Some(extra) = &entity.extra {
        write_extra(out, entity.kind, extra);
    }
    if !entity.annotations.is_empty() {
        write_key(out, "annotations");
        out.push(b'{');
        for (i, (key, value)) in entity.annotations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, key);
            out.push(b':');
            write_annotation(out, value);
        }
        out.push(b'}');
    }
    if let Some(extra) = &entity.extra {
        write_metadata(out, extra);
    }
    out.extend_from_slice(b",\"subsegments\":[");
    if children(out) == 0 {
        // No children: take back the opening of the array.
        out.truncate(out.len() - b",\"subsegments\":[".len());
    } else {
        out.push(b']');
    }
    out.push(b'}');
}

fn write_extra(out: &mut Vec<u8>, kind: Kind, extra: &Extra) {
    if kind == Kind::Segment {
        for (key, value) in [("origin", &extra.origin), ("user", &extra.user)] {
            if let Some(value) = value {
                write_key(out, key);
                write_str(out, value);
            }
        }
        if let Some(version) = &extra.service_version {
            write_key(out, "service");
            out.extend_from_slice(b"{\"version\":");
            write_str(out, version);
            out.push(b'}');
        }
    }
    if let Some(http) = &extra.http {
        write_key(out, "http");
        write_json(out, http);
    }
    if let Some(aws) = &extra.aws {
        write_key(out, "aws");
        write_json(out, aws);
    }
    if let Some(sql) = extra.sql.as_ref().filter(|_| kind == Kind::Subsegment) {
        write_key(out, "sql");
        write_json(out, sql);
    }
    if let Some(cause) = &extra.cause {
        write_key(out, "cause");
        write_json(out, cause);
    }
}

fn write_metadata(out: &mut Vec<u8>, entity: &Extra) {
    if entity.metadata.is_empty() && entity.trimmed.is_none() {
        return;
    }
    write_key(out, "metadata");
    out.push(b'{');
    let mut namespaces: Vec<&str> = Vec::new();
    for (namespace, _, _) in &entity.metadata {
        if !namespaces.contains(&namespace.as_ref()) {
            namespaces.push(namespace);
        }
    }
    for (i, namespace) in namespaces.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, namespace);
        out.extend_from_slice(b":{");
        let entries = entity.metadata.iter().filter(|(n, _, _)| n == namespace);
        for (j, (_, key, value)) in entries.enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write_str(out, key);
            out.push(b':');
            write_json(out, value);
        }
        out.push(b'}');
    }
    if let Some(what) = entity.trimmed {
        if !namespaces.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"xray\":{\"trimmed\":");
        write_str(out, what);
        out.push(b'}');
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Name;
    use crate::ids::SegmentId;

    fn json(entity: &Entity, placement: Placement) -> serde_json::Value {
        let mut out = Vec::new();
        write_document(&mut out, entity, b"1-5759e988-bd862e3fe1be46a994272793", placement, &mut |_| 0);
        serde_json::from_slice(&out).expect("valid JSON")
    }

    #[test]
    fn embedded_subsegment_has_no_trace_fields() {
        let mut e = Entity::new(Kind::Subsegment, Name::checked("child"), Some(SegmentId::from_u64(7)));
        e.end = Some(Timestamp::from_micros(e.start.as_micros() + 1500));
        let doc = json(&e, Placement::Embedded);
        assert!(doc.get("trace_id").is_none() && doc.get("parent_id").is_none() && doc.get("type").is_none());
        assert_eq!(doc["name"], "child");
        let top = json(&e, Placement::Top);
        assert_eq!(top["type"], "subsegment");
        assert_eq!(top["parent_id"], "0000000000000007");
    }

    #[test]
    fn times_keep_microseconds() {
        let mut e = Entity::new(Kind::Segment, Name::checked("s"), None);
        e.start = Timestamp::from_micros(1_700_000_000_000_007);
        e.end = Some(Timestamp::from_micros(1_700_000_000_250_000));
        let mut out = Vec::new();
        write_document(&mut out, &e, &TraceId::new().to_bytes(), Placement::Top, &mut |_| 0);
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("\"start_time\":1700000000.000007"), "{text}");
        assert!(text.contains("\"end_time\":1700000000.250000"), "{text}");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é");
        let back: String = serde_json::from_slice(&out).expect("valid");
        assert_eq!(back, "a\"b\\c\nd\u{1}é");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for value in [0, 7, 10, 99, 100, 101, 999, 1000, 1_700_000_000, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, value);
            assert_eq!(out, value.to_string().as_bytes());
        }
        for (micros, text) in [
            (5_000_010, "5.000010"),
            (1_700_000_000_250_000, "1700000000.250000"),
            (999_999_999_999_999, "999999999.999999"),
            (1_000_000_000_000_001, "1000000000.000001"),
            (9_999_999_999_999_999, "9999999999.999999"),
            (10_000_000_000_000_000, "10000000000.000000"),
        ] {
            let mut out = Vec::new();
            write_time(&mut out, Timestamp::from_micros(micros));
            assert_eq!(String::from_utf8_lossy(&out), text);
        }
    }
}
