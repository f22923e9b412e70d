//! The JSON writer: one entity, and through a callback its embedded children, written as the exact document the
//! daemon expects (`xray-segmentdocument-schema-v1.0.0`), into a reused buffer and without building a value tree.

use serde::Serialize;

use super::{AnnotationValue, Entity, Extra, Kind, Namespace};
use crate::clock::Timestamp;
use crate::ids::{SegmentId, TraceId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// A segment, or a subsegment sent on its own (`type`, `trace_id`, `parent_id`).
    Top,
    /// A subsegment embedded in its parent's `subsegments`.
    Embedded,
}

/// Whether a byte must be escaped in a JSON string.
#[inline(always)]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether any byte of `bytes` must be escaped, looking at eight bytes at a time; the bytes left over are read as
/// one more word overlapping the last one (or, below eight bytes, as two overlapping halves), not one by one.
#[inline(always)]
fn any_needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `x` is zero (exact for the lowest such byte, which is all that matters here).
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    // A byte below 0x20 (its top three bits clear), a quote or a backslash.
    let word_needs = |x: u64| {
        has_zero(x & (0xE0 * ONES)) || has_zero(x ^ (b'"' as u64 * ONES)) || has_zero(x ^ (b'\\' as u64 * ONES))
    };
    let last_word = || {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[bytes.len() - 8..]);
        u64::from_le_bytes(word)
    };
    let half = |at: usize| {
        let mut half = [0u8; 4];
        half.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(half))
    };
    let len = bytes.len();
    if len < 4 {
        return bytes.iter().any(|&b| needs_escape(b));
    }
    if len < 8 {
        return word_needs(half(0) | half(len - 4) << 32);
    }
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if word_needs(u64::from_le_bytes(word)) {
            return true;
        }
    }
    !chunks.remainder().is_empty() && word_needs(last_word())
}

/// Writes `text` as a JSON string.
pub(crate) fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // Names and keys rarely need escaping: one scan, then one copy.
    if !any_needs_escape(bytes) {
        out.reserve(bytes.len() + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.push(b'"');
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
#[cfg(test)]
fn write_time(out: &mut Vec<u8>, time: Timestamp) {
    let mut head = Head::new();
    head.time(time);
    out.extend_from_slice(head.written());
}

/// The fixed-shape fields at the start of a document (ids, times, trace id), written into a stack buffer and copied
/// into the document in one go: one capacity check instead of one per field.
struct Head {
    buf: [u8; Head::CAPACITY],
    len: usize,
}

impl Head {
    /// Room for the longest head: `id`, two times of up to 21 characters, `trace_id`, `parent_id` and `type`, with
    /// their keys (about 200 bytes).
    const CAPACITY: usize = 256;

    #[inline(always)]
    fn new() -> Self {
        Self { buf: [0; Self::CAPACITY], len: 0 }
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    #[inline(always)]
    fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Seconds since the epoch with exactly six decimals (microseconds).
    #[inline(always)]
    fn time(&mut self, time: Timestamp) {
        if let Some(text) = ten_digit_time(time) {
            self.put(&text);
            return;
        }
        let micros = time.as_micros();
        let mut text = Vec::with_capacity(20);
        write_u64(&mut text, micros / 1_000_000);
        let frac = (micros % 1_000_000) as u32;
        let [f0, f1] = DECIMAL_PAIRS[(frac / 10_000) as usize];
        let [f2, f3] = DECIMAL_PAIRS[(frac / 100 % 100) as usize];
        let [f4, f5] = DECIMAL_PAIRS[(frac % 100) as usize];
        self.put(&text);
        self.put(&[b'.', f0, f1, f2, f3, f4, f5]);
    }
}

/// A 64-bit id as 16 lowercase hex digits.
#[inline(always)]
fn hex_u64(value: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&hex_u32((value >> 32) as u32));
    out[8..].copy_from_slice(&hex_u32(value as u32));
    out
}

/// A 32-bit value as 8 lowercase hex digits, computed on all digits at once rather than a table lookup per byte.
#[inline(always)]
fn hex_u32(value: u32) -> [u8; 8] {
    // Spread the 8 nibbles over the 8 bytes of a u64, nibble i (from the least significant) into byte i.
    let mut x = u64::from(value);
    x = ((x & 0xFFFF_0000) << 16) | (x & 0xFFFF);
    x = ((x & 0x0000_FF00_0000_FF00) << 8) | (x & 0x0000_00FF_0000_00FF);
    x = ((x & 0x00F0_00F0_00F0_00F0) << 4) | (x & 0x000F_000F_000F_000F);
    // Each byte n (0-15) becomes '0' + n, plus 39 more for n >= 10 ('a' - '0' - 10).
    let letters = ((x + 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101;
    (x + 0x3030_3030_3030_3030 + letters * 39).to_be_bytes()
}

/// `value` (below 100 000 000) as exactly 8 decimal digits, computed on all digits at once: the halves, then the
/// pairs in each half, then the digits in each pair, each step one multiplication for every lane.
#[inline(always)]
fn eight_digits(value: u32) -> [u8; 8] {
    let value = u64::from(value);
    // Four digits in each 32-bit lane, the first four in the low lane (the first byte written).
    let mut x = (value / 10_000) | ((value % 10_000) << 32);
    // Two in each 16-bit lane: v / 100 is (v * 10486) >> 20 for every v below 10 000.
    let high = ((x * 10_486) >> 20) & 0x0000_007F_0000_007F;
    x = high | ((x - high * 100) << 16);
    // One in each byte: v / 10 is (v * 103) >> 10 for every v below 100.
    let high = ((x * 103) >> 10) & 0x000F_000F_000F_000F;
    x = high | ((x - high * 10) << 8);
    (x + 0x3030_3030_3030_3030).to_le_bytes()
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
    // Most documents are this head and a closing brace: room for both, and the name, at once.
    out.reserve(Head::CAPACITY + entity.name.len() + 16);
    out.extend_from_slice(b"{\"name\":");
    write_str(out, &entity.name);
    if let Some(head) = lambda_head(entity, trace_id, placement) {
        out.extend_from_slice(&head);
    } else {
        write_head(out, entity, trace_id, placement);
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

/// The head of any document: `id`, the times, and at the top `trace_id`, `parent_id` and `type`.
fn write_head(out: &mut Vec<u8>, entity: &Entity, trace_id: &[u8; TraceId::LEN], placement: Placement) {
    let mut head = Head::new();
    head.put(b",\"id\":\"");
    head.put(&hex_u64(entity.id.as_u64()));
    head.put(b"\",\"start_time\":");
    head.time(entity.start);
    match entity.end {
        Some(end) => {
            head.put(b",\"end_time\":");
            head.time(end.max(entity.start));
        }
        None => head.put(b",\"in_progress\":true"),
    }
    if placement == Placement::Top {
        head.put(b",\"trace_id\":\"");
        head.put(trace_id);
        head.put(b"\"");
        if let Some(parent) = entity.parent_id {
            head.put(b",\"parent_id\":\"");
            head.put(&hex_u64(parent.as_u64()));
            head.put(b"\"");
        }
        if entity.kind == Kind::Subsegment {
            head.put(b",\"type\":\"subsegment\"");
        }
    }
    out.extend_from_slice(head.written());
}

/// The head of the document sent most: a completed subsegment sent on its own (in Lambda, every one), dated from 2001
/// to 2286. Each field has a fixed length and so a fixed place, and the head is written without a length check.
#[inline(always)]
fn lambda_head(entity: &Entity, trace_id: &[u8; TraceId::LEN], placement: Placement) -> Option<[u8; LAMBDA_HEAD_LEN]> {
    if placement != Placement::Top || entity.kind != Kind::Subsegment {
        return None;
    }
    fixed_head(entity.id, entity.parent_id?, entity.start, entity.end?, trace_id)
}

/// [`lambda_head`]'s fields written into its template.
#[inline(always)]
fn fixed_head(
    id: SegmentId,
    parent: SegmentId,
    start: Timestamp,
    end: Timestamp,
    trace_id: &[u8; TraceId::LEN],
) -> Option<[u8; LAMBDA_HEAD_LEN]> {
    let (start, end) = (ten_digit_time(start)?, ten_digit_time(end.max(start))?);
    let mut head = LAMBDA_HEAD;
    head[ID..ID + 16].copy_from_slice(&hex_u64(id.as_u64()));
    head[START..START + 17].copy_from_slice(&start);
    head[END..END + 17].copy_from_slice(&end);
    head[TRACE..TRACE + TraceId::LEN].copy_from_slice(trace_id);
    head[PARENT..PARENT + 16].copy_from_slice(&hex_u64(parent.as_u64()));
    Some(head)
}

/// Writes the document of a `#[traced]` call that ended with nothing recorded on it: its name (checked by the macro,
/// so valid and never in need of escaping: the name pattern has no quote, backslash or control character), the fixed
/// head and its namespace. `false`, with nothing written, when the head is not of the fixed shape.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn write_call(
    out: &mut Vec<u8>,
    name: &'static str,
    id: SegmentId,
    parent: Option<SegmentId>,
    namespace: Option<Namespace>,
    start: Timestamp,
    end: Timestamp,
    trace_id: &[u8; TraceId::LEN],
) -> bool {
    debug_assert!(!any_needs_escape(name.as_bytes()), "{name:?} was not checked");
    let Some(head) = parent.and_then(|parent| fixed_head(id, parent, start, end, trace_id)) else {
        return false;
    };
    out.reserve(LAMBDA_HEAD_LEN + name.len() + 40);
    out.extend_from_slice(b"{\"name\":\"");
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
    out.extend_from_slice(&head);
    if let Some(namespace) = namespace {
        out.extend_from_slice(b",\"namespace\":\"");
        out.extend_from_slice(namespace.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
    true
}

/// [`lambda_head`]'s template, the places of its fields and its length.
const LAMBDA_HEAD: [u8; LAMBDA_HEAD_LEN] = *b",\"id\":\"................\",\"start_time\":..........\
    .......,\"end_time\":.................,\"trace_id\":\"...................................\",\"parent_id\":\"\
    ................\",\"type\":\"subsegment\"";
const ID: usize = 7;
const START: usize = ID + 16 + 15;
const END: usize = START + 17 + 12;
const TRACE: usize = END + 17 + 13;
const PARENT: usize = TRACE + TraceId::LEN + 15;
const LAMBDA_HEAD_LEN: usize = PARENT + 16 + 21;

/// A time as ten digits of seconds and six of microseconds, if it has ten digits of seconds (2001 to 2286).
#[inline(always)]
fn ten_digit_time(time: Timestamp) -> Option<[u8; 17]> {
    let micros = time.as_micros();
    let secs = micros / 1_000_000;
    if !(1_000_000_000..10_000_000_000).contains(&secs) {
        return None;
    }
    let mut text = [b'.'; 17];
    text[..2].copy_from_slice(&DECIMAL_PAIRS[(secs / 100_000_000) as usize]);
    text[2..10].copy_from_slice(&eight_digits((secs % 100_000_000) as u32));
    text[11..].copy_from_slice(&eight_digits((micros % 1_000_000) as u32)[2..]);
    Some(text)
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
    fn a_call_is_written_byte_for_byte_as_the_general_writer_writes_its_entity() {
        let trace_id = b"1-5759e988-bd862e3fe1be46a994272793";
        for namespace in [None, Some(Namespace::Remote), Some(Namespace::Aws)] {
            let mut e = Entity::new(Kind::Subsegment, Name::checked("price quote"), Some(SegmentId::from_u64(7)));
            e.namespace = namespace;
            e.end = Some(Timestamp::from_micros(e.start.as_micros() + 1500));
            let (mut general, mut fixed) = (Vec::new(), Vec::new());
            write_document(&mut general, &e, trace_id, Placement::Top, &mut |_| 0);
            let end = e.end.expect("ended");
            assert!(write_call(&mut fixed, "price quote", e.id, e.parent_id, namespace, e.start, end, trace_id));
            assert_eq!(String::from_utf8(fixed).expect("utf8"), String::from_utf8(general).expect("utf8"));
        }
        // Not of the fixed shape: nothing written, for the general writer to take.
        let (mut out, start) = (Vec::new(), Timestamp::from_micros(5));
        assert!(!write_call(
            &mut out,
            "x",
            SegmentId::from_u64(1),
            Some(SegmentId::from_u64(2)),
            None,
            start,
            start,
            trace_id
        ));
        assert!(!write_call(
            &mut out,
            "x",
            SegmentId::from_u64(1),
            None,
            None,
            Timestamp::now(),
            Timestamp::now(),
            trace_id
        ));
        assert!(out.is_empty());
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
    fn the_lambda_head_is_the_general_head() {
        let trace_id = TraceId::new().to_bytes();
        for (start, length) in
            [(1_700_000_000_000_007, 1500), (1_000_000_000_000_000, 0), (9_999_999_999_000_000, 999_999)]
        {
            let mut e = Entity::new(Kind::Subsegment, Name::checked("child"), Some(SegmentId::new()));
            e.start = Timestamp::from_micros(start);
            e.end = Some(Timestamp::from_micros(start + length));
            let fast = lambda_head(&e, &trace_id, Placement::Top).expect("a lambda head");
            let mut general = Vec::new();
            write_head(&mut general, &e, &trace_id, Placement::Top);
            assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&general));
        }
        let mut open = Entity::new(Kind::Subsegment, Name::checked("child"), Some(SegmentId::new()));
        assert!(lambda_head(&open, &trace_id, Placement::Top).is_none());
        open.end = Some(open.start);
        assert!(lambda_head(&open, &trace_id, Placement::Embedded).is_none());
    }

    #[test]
    fn eight_digits_are_decimal() {
        for value in (0..100_000_000).step_by(9_973).chain([0, 9, 10, 99, 100, 9_999, 10_000, 99_999_999]) {
            assert_eq!(eight_digits(value), *format!("{value:08}").as_bytes(), "{value}");
        }
    }

    #[test]
    fn ids_are_written_as_their_text_form() {
        for value in [0, 1, 9, 10, 15, 16, 0xabcdef, 0x53995c3f42cd8ad8, u64::MAX, 0x0123_4567_89ab_cdef] {
            assert_eq!(hex_u64(value), SegmentId::from_u64(value).to_bytes(), "{value:x}");
        }
        for _ in 0..1000 {
            let id = SegmentId::new();
            assert_eq!(hex_u64(id.as_u64()), id.to_bytes());
        }
    }

    #[test]
    fn a_character_to_escape_is_found_anywhere() {
        for special in ['"', '\\', '\n', '\u{1}', '\u{1f}'] {
            for at in 0..20 {
                let mut text: String = "abcdefghij0123456789".into();
                text.insert(at, special);
                assert!(any_needs_escape(text.as_bytes()), "{text:?}");
                let mut out = Vec::new();
                write_str(&mut out, &text);
                assert_eq!(serde_json::from_slice::<String>(&out).expect("valid"), text);
            }
        }
        assert!(!any_needs_escape("plain name: with spaces & é ~ \u{7f}".as_bytes()));
        // Every length up to three words, every position: the word-wise scan agrees with a byte-wise one.
        for len in 0..24 {
            let plain = "abcdefghij0123456789xyz~".get(..len).expect("ascii");
            assert!(!any_needs_escape(plain.as_bytes()), "{plain:?}");
            for at in 0..len {
                for special in [b'"', b'\\', b'\n', 0, 0x1f] {
                    let mut text = plain.as_bytes().to_vec();
                    text[at] = special;
                    assert!(any_needs_escape(&text), "{text:?}");
                }
            }
        }
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
