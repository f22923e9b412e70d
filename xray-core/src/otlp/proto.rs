//! Protocol Buffers wire format, written straight into a buffer: varints, keys, length-delimited fields and the
//! OTLP `AnyValue`/`KeyValue` messages. Fields are written in field-number order and default values are left out,
//! so the bytes are exactly what `protobuf` itself serializes for the same message.

/// Wire type of varints (ints, enums, bools).
const VARINT: u32 = 0;
/// Wire type of fixed 64-bit values (`fixed64`, `double`).
const FIXED64: u32 = 1;
/// Wire type of length-delimited fields (strings, bytes, messages).
const LEN: u32 = 2;

#[inline]
pub(crate) fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[inline]
pub(crate) fn varint_len(value: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    ((64 - (value | 1).leading_zeros() as usize) + 6) / 7
}

#[inline]
fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from(field << 3 | wire));
}

/// The size of a key for `field`.
#[inline]
pub(crate) fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

/// The size of a length-delimited field of `len` bytes, with its key.
#[inline]
pub(crate) fn delimited_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

#[inline]
pub(crate) fn bytes(out: &mut Vec<u8>, field: u32, data: &[u8]) {
    key(out, field, LEN);
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// A string field; an empty one is left out, as proto3 does.
#[inline]
pub(crate) fn string(out: &mut Vec<u8>, field: u32, text: &str) {
    if !text.is_empty() {
        bytes(out, field, text.as_bytes());
    }
}

#[inline]
pub(crate) fn fixed64(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, FIXED64);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A `uint32`/`int32`/enum field; zero is left out.
#[inline]
pub(crate) fn uint(out: &mut Vec<u8>, field: u32, value: u64) {
    if value != 0 {
        key(out, field, VARINT);
        varint(out, value);
    }
}

/// A `fixed32` field; zero is left out.
#[inline]
pub(crate) fn fixed32(out: &mut Vec<u8>, field: u32, value: u32) {
    if value != 0 {
        key(out, field, 5);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

/// A nested message whose size is known only once written: written after a one-byte length, which is widened in
/// place if the message turned out longer than 127 bytes.
#[inline]
pub(crate) fn message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    let width = varint_len(len as u64);
    if width > 1 {
        out.resize(out.len() + width - 1, 0);
        out.copy_within(at + 1..at + 1 + len, at + width);
    }
    let mut value = len as u64;
    for slot in &mut out[at..at + width] {
        *slot = value as u8 & 0x7f | if value >= 0x80 { 0x80 } else { 0 };
        value >>= 7;
    }
}

/// An attribute value (`AnyValue`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    /// An array of strings.
    Strs(&'a [&'a str]),
}

/// An `AnyValue` message's fields. A oneof member is written even when it holds its type's default.
fn any_value(out: &mut Vec<u8>, value: Value<'_>) {
    match value {
        Value::Str(text) => bytes(out, 1, text.as_bytes()),
        Value::Bool(b) => {
            key(out, 2, VARINT);
            out.push(u8::from(b));
        }
        Value::Int(i) => {
            key(out, 3, VARINT);
            varint(out, i as u64);
        }
        Value::Double(d) => {
            key(out, 4, FIXED64);
            out.extend_from_slice(&d.to_le_bytes());
        }
        Value::Strs(items) => message(out, 5, |out| {
            for item in items {
                message(out, 1, |out| bytes(out, 1, item.as_bytes()));
            }
        }),
    }
}

/// A `KeyValue` in repeated field `field` (the `attributes` of a span, an event, a link or a resource).
#[inline]
pub(crate) fn attribute(out: &mut Vec<u8>, field: u32, name: &str, value: Value<'_>) {
    message(out, field, |out| {
        string(out, 1, name);
        message(out, 2, |out| any_value(out, value));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_their_lengths() {
        for (value, bytes) in [(0u64, &[0u8][..]), (1, &[1]), (127, &[127]), (128, &[0x80, 1]), (300, &[0xac, 2])] {
            let mut out = Vec::new();
            varint(&mut out, value);
            assert_eq!(out, bytes);
            assert_eq!(varint_len(value), bytes.len());
        }
        assert_eq!(varint_len(u64::MAX), 10);
        assert_eq!(varint_len(1 << 21), 4);
    }

    #[test]
    fn a_long_message_gets_a_wide_length() {
        for len in [0, 1, 127, 128, 300, 20_000, 3_000_000] {
            let mut out = vec![9];
            message(&mut out, 2, |out| out.extend(std::iter::repeat_n(7u8, len)));
            let mut expected = vec![9, 0x12];
            varint(&mut expected, len as u64);
            expected.extend(std::iter::repeat_n(7u8, len));
            assert_eq!(out, expected, "{len}");
        }
    }
}
