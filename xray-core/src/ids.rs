//! Trace and segment identifiers.
//!
//! Ids come from a per-thread wyrand generator seeded once from the standard library's randomly keyed hasher:
//! no system call after the first id on a thread, and none of `thread_rng`'s cold-start cost.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

/// Next value of the thread's wyrand generator.
pub(crate) fn random_u64() -> u64 {
    RNG.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s).wrapping_mul(u128::from(s ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) ^ t) as u64
    })
}

/// Each byte value's two lowercase hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [DIGITS[i >> 4], DIGITS[i & 0xf]];
        i += 1;
    }
    table
};

/// Writes `bytes` as hex into `out`, which holds exactly two digits per byte.
fn write_hex(out: &mut [u8], bytes: &[u8]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&HEX_PAIRS[usize::from(*byte)]);
    }
}

fn parse_hex(text: &str, digits: usize) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() != digits || digits > 32 {
        return None;
    }
    // At most 16 digits per half, each folded in 64 bits (a 128-bit shift per digit costs twice as much).
    let (high, low) = bytes.split_at(digits.saturating_sub(16));
    let fold = |half: &[u8]| {
        half.iter().try_fold(0u64, |acc, &b| {
            let digit = HEX_DIGITS[usize::from(b)];
            (digit < 16).then_some(acc << 4 | u64::from(digit))
        })
    };
    Some(u128::from(fold(high)?) << 64 | u128::from(fold(low)?))
}

/// The value of every byte that is a hex digit (either case); 255 for every other byte.
const HEX_DIGITS: [u8; 256] = {
    let mut table = [255u8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Error returned when text is not a valid trace or segment id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidId {
    kind: &'static str,
}

impl fmt::Display for InvalidId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            "trace" => f.write_str("invalid trace id: expected `1-` + 8 hex digits + `-` + 24 hex digits"),
            _ => f.write_str("invalid segment id: expected 16 hex digits"),
        }
    }
}

impl std::error::Error for InvalidId {}

/// An X-Ray trace id, `1-{8 hex digits of epoch seconds}-{24 random hex digits}`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId {
    epoch: u32,
    random: u128,
}

impl TraceId {
    /// Length of the text form.
    pub const LEN: usize = 35;

    /// A new trace id stamped with the current time.
    pub fn new() -> Self {
        let epoch = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32);
        let random = (u128::from(random_u64()) << 32 | u128::from(random_u64() as u32)) & ((1 << 96) - 1);
        Self { epoch, random }
    }

    /// The epoch seconds encoded in the id.
    pub fn epoch_seconds(&self) -> u32 {
        self.epoch
    }

    /// The 16 bytes of a W3C (OpenTelemetry) trace id: the epoch seconds, then the 96 random bits, as AWS maps them.
    pub fn to_w3c_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&self.epoch.to_be_bytes());
        out[4..].copy_from_slice(&self.random.to_be_bytes()[4..]);
        out
    }

    /// The text form in a stack buffer, without allocating.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = b'1';
        out[1] = b'-';
        write_hex(&mut out[2..10], &self.epoch.to_be_bytes());
        out[10] = b'-';
        write_hex(&mut out[11..], &self.random.to_be_bytes()[4..]);
        out
    }
}

impl Default for TraceId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for TraceId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = InvalidId { kind: "trace" };
        let rest = text.strip_prefix("1-").ok_or(invalid.clone())?;
        let (epoch, random) = rest.split_once('-').ok_or(invalid.clone())?;
        let epoch = parse_hex(epoch, 8).ok_or(invalid.clone())? as u32;
        let random = parse_hex(random, 24).ok_or(invalid)?;
        Ok(Self { epoch, random })
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// A segment or subsegment id: 64 bits shown as 16 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentId(u64);

impl SegmentId {
    /// Length of the text form.
    pub const LEN: usize = 16;

    /// A new random id (never all zeros).
    pub fn new() -> Self {
        Self(random_u64().max(1))
    }

    /// The id's 64-bit value.
    pub fn as_u64(&self) -> u64 {
        self.0
    }

    /// An id from its 64-bit value.
    pub fn from_u64(value: u64) -> Self {
        Self(value)
    }

    /// The text form in a stack buffer, without allocating.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        write_hex(&mut out, &self.0.to_be_bytes());
        out
    }
}

impl Default for SegmentId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for SegmentId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_hex(text, Self::LEN).map(|v| Self(v as u64)).ok_or(InvalidId { kind: "segment" })
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.to_bytes();
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentId({self})")
    }
}

impl serde::Serialize for SegmentId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default())
    }
}

impl serde::Serialize for TraceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_read_as_the_standard_parser_reads_it() {
        let cases = [
            "0",
            "f",
            "F",
            "deadBEEF",
            "0123456789abcdef",
            "0123456789abcdefABCDEF01",
            "g",
            "12 4",
            "-1",
            "+1",
            "ffffffffffffffffffffffffffffffff",
            "1234567890abcdef1",
        ];
        for text in cases {
            let expected = u128::from_str_radix(text, 16).ok().filter(|_| text.bytes().all(|b| b.is_ascii_hexdigit()));
            assert_eq!(parse_hex(text, text.len()), expected, "{text:?}");
        }
        assert_eq!(parse_hex("abc", 4), None, "the wrong length");
        assert_eq!(parse_hex(&"f".repeat(33), 33), None, "more than 128 bits");
        for byte in 0..=255u8 {
            let text = [b'1', byte, b'0'];
            let Ok(text) = std::str::from_utf8(&text) else { continue };
            assert_eq!(parse_hex(text, 3).is_some(), byte.is_ascii_hexdigit(), "{byte}");
        }
    }

    #[test]
    fn trace_id_text_form_has_the_documented_shape() {
        let id = TraceId::new();
        let text = id.to_string();
        assert_eq!(text.len(), TraceId::LEN);
        assert!(text.starts_with("1-"));
        assert_eq!(&text[10..11], "-");
        assert!(text[2..10].bytes().chain(text[11..].bytes()).all(|b| b.is_ascii_hexdigit()));
        assert_eq!(text.parse::<TraceId>(), Ok(id));
    }

    #[test]
    fn trace_id_carries_the_current_epoch() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let epoch = u64::from(TraceId::new().epoch_seconds());
        assert!(now.abs_diff(epoch) <= 1, "{now} vs {epoch}");
    }

    #[test]
    fn segment_ids_are_16_hex_and_distinct() {
        let ids: std::collections::HashSet<_> = (0..10_000).map(|_| SegmentId::new()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            let text = id.to_string();
            assert_eq!(text.len(), 16);
            assert_eq!(text.parse::<SegmentId>(), Ok(*id));
        }
    }

    #[test]
    fn malformed_ids_are_rejected() {
        for bad in [
            "",
            "1-5759e988",
            "2-5759e988-bd862e3fe1be46a994272793",
            "1-5759e98-bd862e3fe1be46a994272793a",
            "1-5759e988-bd862e3fe1be46a99427279",
            "1-5759e988-bd862e3fe1be46a99427279z",
            "1_5759e988-bd862e3fe1be46a994272793",
        ] {
            assert!(bad.parse::<TraceId>().is_err(), "{bad}");
        }
        for bad in ["", "53995c3f42cd8ad", "53995c3f42cd8ad8a", "53995c3f42cd8adg", "+3995c3f42cd8ad8"] {
            assert!(bad.parse::<SegmentId>().is_err(), "{bad}");
        }
    }
}
