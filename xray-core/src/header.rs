//! The `X-Amzn-Trace-Id` header: `Root=1-...;Parent=...;Sampled=1;Lineage=...`.
//!
//! Keys may come in any order and with whitespace around them. `Lineage` (Lambda's recursive-loop detection) and
//! keys this crate does not know are kept in their order and written back unchanged, so re-injecting a header never
//! silently drops them. `Self` (added by load balancers) is dropped.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use crate::ids::{SegmentId, TraceId};

/// The header's name as it appears on HTTP requests.
pub const HEADER_NAME: &str = "X-Amzn-Trace-Id";

/// The `Sampled` field of a trace header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sampled {
    /// `Sampled=1`: record and send.
    Yes,
    /// `Sampled=0`: record nothing, but keep propagating.
    No,
    /// `Sampled=?`: the upstream asks the receiver to decide.
    Requested,
    /// No `Sampled` field: the receiver decides.
    Unknown,
}

impl Sampled {
    fn as_str(self) -> Option<&'static str> {
        match self {
            Self::Yes => Some("1"),
            Self::No => Some("0"),
            Self::Requested => Some("?"),
            Self::Unknown => None,
        }
    }
}

/// Why a trace header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The header is empty or holds only separators and whitespace.
    Empty,
    /// A field has no `=`.
    MissingEquals(String),
    /// A field has an empty key.
    EmptyKey,
    /// `Root`, `Parent` or `Sampled` appears more than once.
    DuplicateKey(&'static str),
    /// There is no `Root` field.
    MissingRoot,
    /// `Root` is not a trace id.
    InvalidRoot(String),
    /// `Parent` is not a 16-hex-digit id.
    InvalidParent(String),
    /// `Sampled` is not `0`, `1` or `?`.
    InvalidSampled(String),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("trace header is empty"),
            Self::MissingEquals(field) => write!(f, "trace header field `{field}` has no `=`"),
            Self::EmptyKey => f.write_str("trace header has a field with an empty key"),
            Self::DuplicateKey(key) => write!(f, "trace header repeats `{key}`"),
            Self::MissingRoot => f.write_str("trace header has no `Root`"),
            Self::InvalidRoot(v) => write!(f, "trace header `Root={v}` is not a trace id (1-8hex-24hex)"),
            Self::InvalidParent(v) => write!(f, "trace header `Parent={v}` is not 16 hex digits"),
            Self::InvalidSampled(v) => write!(f, "trace header `Sampled={v}` is not 0, 1 or ?"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// A parsed `X-Amzn-Trace-Id` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    root: TraceId,
    parent: Option<SegmentId>,
    sampled: Sampled,
    extra: Vec<(String, String)>,
}

impl TraceHeader {
    /// A header for a trace with no extra fields.
    pub fn new(root: TraceId, parent: Option<SegmentId>, sampled: Sampled) -> Self {
        Self { root, parent, sampled, extra: Vec::new() }
    }

    /// Parses the header's value.
    pub fn parse(text: &str) -> Result<Self, HeaderError> {
        let mut extras = Extras::new(false, false);
        let (root, parent, sampled) = read_strict(text, &mut extras)?;
        Ok(Self { root, parent, sampled, extra: extras.kept })
    }

    /// The trace id.
    pub fn root(&self) -> TraceId {
        self.root
    }

    /// The caller's segment or subsegment id, if any.
    pub fn parent(&self) -> Option<SegmentId> {
        self.parent
    }

    /// The sampling decision carried by the header.
    pub fn sampled(&self) -> Sampled {
        self.sampled
    }

    /// `Lineage` and unknown fields, in the order they arrived.
    pub fn extra(&self) -> &[(String, String)] {
        &self.extra
    }

    /// The `Lineage` field, if present.
    pub fn lineage(&self) -> Option<&str> {
        self.extra.iter().find(|(k, _)| k == "Lineage").map(|(_, v)| v.as_str())
    }

    /// The same header with another parent, as injected into a downstream call.
    pub fn with_parent(&self, parent: SegmentId) -> Self {
        Self { parent: Some(parent), ..self.clone() }
    }

    /// The same header with another sampling decision.
    pub fn with_sampled(&self, sampled: Sampled) -> Self {
        Self { sampled, ..self.clone() }
    }

    /// Adds an extra field, kept after the known ones.
    pub fn push_extra(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.extra.push((key.into(), value.into()));
    }
}

/// What can be kept of a header that [`TraceHeader::parse`] refuses, so a malformed header does not lose the trace:
/// fields without `=` or with an empty key are skipped; `Root` is the first valid one; `Parent` and `Sampled` are
/// kept only when every occurrence is valid and they agree (else there is no parent, and `Sampled` is unknown);
/// `Lineage` and unknown keys are kept as they came, each key once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Salvaged {
    /// The header rebuilt from the valid parts; `None` when there is no valid `Root`.
    pub header: Option<TraceHeader>,
    /// `Lineage` and unknown keys, also when there is no valid `Root`.
    pub extra: Vec<(String, String)>,
}

impl TraceHeader {
    /// The valid parts of `text`; see [`Salvaged`].
    pub fn salvage(text: &str) -> Salvaged {
        let mut extras = Extras::new(false, true);
        let fields = read_lenient(text, &mut extras);
        let extra = extras.kept;
        let header = fields.map(|(root, parent, sampled)| Self { root, parent, sampled, extra: extra.clone() });
        Salvaged { header, extra }
    }
}

/// The three known fields of a header: `Root`, `Parent`, `Sampled`.
type Known = (TraceId, Option<SegmentId>, Sampled);

/// Where `Lineage` and unknown keys go while a header is read: all of them kept or, for a header over
/// [`MAX_INCOMING_LEN`], only the first `Lineage` of at most [`MAX_LINEAGE_LEN`] bytes, the others counted and
/// dropped, so that a sender's 200 KB of keys costs one pass and no copy.
struct Extras<'t> {
    bounded: bool,
    /// Salvage keeps each key once: the keys seen so far (a set, so a header of many keys is read in linear time).
    seen: Option<HashSet<&'t str>>,
    kept: Vec<(String, String)>,
    /// How many fields with a key other than `Lineage` were read (each key once when salvaging).
    unknown: usize,
    /// How many were dropped by the bound as they were read.
    dropped: usize,
}

impl<'t> Extras<'t> {
    fn new(bounded: bool, each_key_once: bool) -> Self {
        Self { bounded, seen: each_key_once.then(HashSet::new), kept: Vec::new(), unknown: 0, dropped: 0 }
    }

    fn push(&mut self, key: &'t str, value: &'t str) {
        if let Some(seen) = &mut self.seen
            && !seen.insert(key)
        {
            return;
        }
        let lineage = key == "Lineage";
        self.unknown += usize::from(!lineage);
        // Bounded, the one field kept is the first short enough `Lineage`.
        if self.bounded && !(lineage && value.len() <= MAX_LINEAGE_LEN && self.kept.is_empty()) {
            self.dropped += 1;
            return;
        }
        self.kept.push((key.to_owned(), value.to_owned()));
    }
}

/// [`TraceHeader::parse`]'s reading: the known fields, `Lineage` and unknown keys into `extras`.
fn read_strict<'t>(text: &'t str, extras: &mut Extras<'t>) -> Result<Known, HeaderError> {
    let mut root = None;
    let mut parent = None;
    let mut sampled = None;
    let mut fields = 0;
    // Lambda's own header starts `Root=...;Parent=...;Sampled=.`: read those three at their fixed places, and the
    // rest (`Lineage`, ...) as any header.
    let mut rest = text;
    if let Some((r, p, s, after)) = canonical_start(text) {
        (root, parent, sampled, fields, rest) = (Some(r), Some(p), Some(s), 3, after);
    }
    for field in rest.split(';').map(str::trim).filter(|f| !f.is_empty()) {
        fields += 1;
        let (key, value) = field.split_once('=').ok_or_else(|| HeaderError::MissingEquals(field.to_owned()))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            return Err(HeaderError::EmptyKey);
        }
        if key.eq_ignore_ascii_case("Root") {
            let id = value.parse().map_err(|_| HeaderError::InvalidRoot(value.to_owned()))?;
            set_once(&mut root, id, "Root")?;
        } else if key.eq_ignore_ascii_case("Parent") {
            let id = value.parse().map_err(|_| HeaderError::InvalidParent(value.to_owned()))?;
            set_once(&mut parent, id, "Parent")?;
        } else if key.eq_ignore_ascii_case("Sampled") {
            let flag = sampled_flag(value).ok_or_else(|| HeaderError::InvalidSampled(value.to_owned()))?;
            set_once(&mut sampled, flag, "Sampled")?;
        } else if !key.eq_ignore_ascii_case("Self") {
            extras.push(key, value);
        }
    }
    if fields == 0 {
        return Err(HeaderError::Empty);
    }
    Ok((root.ok_or(HeaderError::MissingRoot)?, parent, sampled.unwrap_or(Sampled::Unknown)))
}

/// [`TraceHeader::salvage`]'s reading: the known fields when there is a valid `Root`; the rest into `extras`.
fn read_lenient<'t>(text: &'t str, extras: &mut Extras<'t>) -> Option<Known> {
    let mut root = None;
    let mut parents: Vec<Option<SegmentId>> = Vec::new();
    let mut flags: Vec<Option<Sampled>> = Vec::new();
    for field in text.split(';').map(str::trim) {
        let Some((key, value)) = field.split_once('=') else { continue };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            continue;
        }
        if key.eq_ignore_ascii_case("Root") {
            root = root.or_else(|| value.parse::<TraceId>().ok());
        } else if key.eq_ignore_ascii_case("Parent") {
            parents.push(value.parse().ok());
        } else if key.eq_ignore_ascii_case("Sampled") {
            flags.push(sampled_flag(value));
        } else if !key.eq_ignore_ascii_case("Self") {
            extras.push(key, value);
        }
    }
    let parent = agreed(&parents).flatten();
    let sampled = agreed(&flags).flatten().unwrap_or(Sampled::Unknown);
    root.map(|root| (root, parent, sampled))
}

/// The decision a `Sampled` value spells, if it is one.
fn sampled_flag(value: &str) -> Option<Sampled> {
    match value {
        "1" => Some(Sampled::Yes),
        "0" => Some(Sampled::No),
        "?" => Some(Sampled::Requested),
        _ => None,
    }
}

/// The longest trace header, in bytes, passed on whole when taken from outside the process (a message, an event, an
/// incoming request). AWS documents no maximum for `X-Amzn-Trace-Id` or SQS's `AWSTraceHeader`; what AWS itself
/// writes (`Root` 35 characters, `Parent` 16, `Sampled` 1, a `Lineage` of a few entries) is under 200 bytes, and
/// OpenTelemetry's X-Ray propagator for Java refuses headers over 256 characters. 1024 bytes leaves room for keys
/// of other tracers and stays far below the 8 KiB many HTTP servers allow for all of a request's headers.
pub const MAX_INCOMING_LEN: usize = 1024;

/// The most keys other than `Root`, `Parent`, `Sampled`, `Lineage` and `Self` passed on from a header taken from
/// outside the process.
pub const MAX_UNKNOWN_KEYS: usize = 8;

/// The longest `Lineage` value, in bytes, kept from a header over the bound.
pub const MAX_LINEAGE_LEN: usize = 256;

/// A header taken from outside the process, read as far as it can be ([`TraceHeader::incoming`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// The header to continue; `None` when there is no valid `Root`. Its extra fields are [`Incoming::extra`].
    pub header: Option<TraceHeader>,
    /// `Lineage` and unknown keys to pass on, also when there is no valid `Root`.
    pub extra: Vec<(String, String)>,
    /// Why strict parsing refused the header, when it did: the header and extra fields are then what
    /// [`TraceHeader::salvage`] kept.
    pub malformed: Option<HeaderError>,
    /// Set when the header was over the bound ([`MAX_INCOMING_LEN`], [`MAX_UNKNOWN_KEYS`]): only `Root`, `Parent`,
    /// `Sampled` and one `Lineage` (of at most [`MAX_LINEAGE_LEN`] bytes) were kept.
    pub over_bound: Option<OverBound>,
}

/// How far a header taken from outside the process was over the bound, and what was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBound {
    /// The header's length in bytes.
    pub len: usize,
    /// How many fields with unknown keys it had (each key once when the header was malformed and salvaged).
    pub unknown_keys: usize,
    /// How many fields were dropped.
    pub dropped: usize,
}

impl TraceHeader {
    /// Reads a header taken from outside the process: strictly if it can, else what [`TraceHeader::salvage`] keeps;
    /// then bounded, so that no sender can make this process pass on a header that downstream services refuse. A
    /// header over [`MAX_INCOMING_LEN`] is read in one pass that collects only `Root`, `Parent`, `Sampled` and the
    /// first short enough `Lineage`, so its length costs no more than reading it.
    /// The model reports nothing: the caller turns `malformed` and `over_bound` into diagnostics.
    pub fn incoming(text: &str) -> Incoming {
        // Over the bound by its length, only the four fields are collected as the text is read, in one pass.
        let bounded = text.len() > MAX_INCOMING_LEN;
        let mut extras = Extras::new(bounded, false);
        let (known, malformed) = match read_strict(text, &mut extras) {
            Ok(known) => (Some(known), None),
            Err(err) => {
                extras = Extras::new(bounded, true);
                (read_lenient(text, &mut extras), Some(err))
            }
        };
        let Extras { kept: mut extra, unknown: unknown_keys, dropped, .. } = extras;
        let over_bound = (bounded || unknown_keys > MAX_UNKNOWN_KEYS).then(|| {
            let before = extra.len();
            let mut lineage = false;
            extra.retain(|(key, value)| {
                let keep = !lineage && key == "Lineage" && value.len() <= MAX_LINEAGE_LEN;
                lineage |= keep;
                keep
            });
            OverBound { len: text.len(), unknown_keys, dropped: dropped + before - extra.len() }
        });
        let header = known.map(|(root, parent, sampled)| Self { root, parent, sampled, extra: extra.clone() });
        Incoming { header, extra, malformed, over_bound }
    }
}

/// The value every occurrence agrees on; `None` when there are none or they differ.
fn agreed<T: PartialEq + Copy>(values: &[T]) -> Option<T> {
    let first = *values.first()?;
    values.iter().all(|v| *v == first).then_some(first)
}

/// `Root=<trace id>;Parent=<segment id>;Sampled=<1|0|?>` at the very start of `text`, followed by its end or a `;`:
/// the three fields and what follows them. `None` for any other shape (spaces, another order, an invalid id), which
/// the general parser then reads, so the result is the same either way.
fn canonical_start(text: &str) -> Option<(TraceId, SegmentId, Sampled, &str)> {
    const ROOT: &str = "Root=";
    const PARENT: &str = ";Parent=";
    const SAMPLED: &str = ";Sampled=";
    let rest = text.strip_prefix(ROOT)?;
    let (root, rest) = (rest.get(..TraceId::LEN)?, rest.get(TraceId::LEN..)?);
    let rest = rest.strip_prefix(PARENT)?;
    let (parent, rest) = (rest.get(..SegmentId::LEN)?, rest.get(SegmentId::LEN..)?);
    let rest = rest.strip_prefix(SAMPLED)?;
    let (flag, rest) = (rest.get(..1)?, rest.get(1..)?);
    if !(rest.is_empty() || rest.starts_with(';')) {
        return None;
    }
    Some((root.parse().ok()?, parent.parse().ok()?, sampled_flag(flag)?, rest))
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &'static str) -> Result<(), HeaderError> {
    if slot.replace(value).is_some() {
        return Err(HeaderError::DuplicateKey(key));
    }
    Ok(())
}

impl FromStr for TraceHeader {
    type Err = HeaderError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_fields(f, self.root, self.parent, self.sampled, &self.extra)
    }
}

/// Writes a header's fields in wire form. Shared by [`TraceHeader`]'s `Display` and
/// [`crate::Context::trace_header_value`], which formats the header of every instrumented outgoing call without
/// building (and cloning the extra fields into) a `TraceHeader` first.
pub(crate) fn write_fields(
    out: &mut impl fmt::Write,
    root: TraceId,
    parent: Option<SegmentId>,
    sampled: Sampled,
    extra: &[(String, String)],
) -> fmt::Result {
    write!(out, "Root={root}")?;
    if let Some(parent) = parent {
        write!(out, ";Parent={parent}")?;
    }
    if let Some(flag) = sampled.as_str() {
        write!(out, ";Sampled={flag}")?;
    }
    for (key, value) in extra {
        write!(out, ";{key}={value}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression (issue 10, point 1): a header that failed strict parsing lost its Root and Lineage.
    #[test]
    fn the_canonical_start_reads_as_the_general_parser_does() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        for text in [
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1"),
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1"),
            format!("Root={root};Parent=53995C3F42CD8AD8;Sampled=?;foo=bar;Self=1-x"),
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1;"),
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1;Root={root}"),
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1;Sampled=0"),
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=2"),
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=10"),
            format!("Root={root};Parent=53995c3f42cd8adz;Sampled=1"),
            "Root=1-5759e988-bd862e3fe1be46a99427279g;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1;novalue"),
            format!("Root={root};Parent=53995c3f42cd8ad8"),
        ] {
            // A leading space takes the general parser's path.
            assert_eq!(TraceHeader::parse(&text), TraceHeader::parse(&format!(" {text}")), "{text}");
        }
    }

    #[test]
    fn salvage_keeps_root_lineage_and_unknown_keys() {
        let text = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5;Sampled=1");
        assert_eq!(TraceHeader::parse(&text), Err(HeaderError::DuplicateKey("Sampled")));
        let salvaged = TraceHeader::salvage(&text);
        let header = salvaged.header.expect("root kept");
        assert_eq!(header.root().to_string(), ROOT);
        assert_eq!(header.parent().map(|p| p.to_string()).as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(header.sampled(), Sampled::Yes);
        assert_eq!(header.lineage(), Some("a87bd80c:1|68fd508a:5"));

        for (text, parent, sampled) in [
            (format!("Root={ROOT};Parent=;Sampled=1;Foo=bar"), None, Sampled::Yes),
            (
                format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=;Foo=bar"),
                Some("53995c3f42cd8ad8"),
                Sampled::Unknown,
            ),
            (
                format!("Root={ROOT};garbage;Parent=53995c3f42cd8ad8;Sampled=0;Foo=bar"),
                Some("53995c3f42cd8ad8"),
                Sampled::No,
            ),
            (
                format!("Root={ROOT};Parent=53995c3f42cd8ad8;Parent=1111111111111111;Sampled=1;Foo=bar"),
                None,
                Sampled::Yes,
            ),
        ] {
            assert!(TraceHeader::parse(&text).is_err(), "{text}");
            let header = TraceHeader::salvage(&text).header.expect("root kept");
            assert_eq!(header.parent().map(|p| p.to_string()).as_deref(), parent, "{text}");
            assert_eq!(header.sampled(), sampled, "{text}");
            assert_eq!(header.extra(), [("Foo".to_owned(), "bar".to_owned())], "{text}");
        }

        let no_root = TraceHeader::salvage("Root=nope;Lineage=a87bd80c:1");
        assert_eq!(no_root.header, None);
        assert_eq!(no_root.extra, [("Lineage".to_owned(), "a87bd80c:1".to_owned())]);
    }

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn an_incoming_header_within_the_bound_is_read_whole_and_one_over_it_keeps_the_four_fields() {
        let within = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1;k=v");
        let incoming = TraceHeader::incoming(&within);
        assert_eq!((incoming.malformed, incoming.over_bound), (None, None));
        assert_eq!(incoming.header.map(|h| h.to_string()), Some(within.clone()));

        let long = format!("{within};pad={}", "x".repeat(MAX_INCOMING_LEN));
        let incoming = TraceHeader::incoming(&long);
        assert_eq!(incoming.over_bound, Some(OverBound { len: long.len(), unknown_keys: 2, dropped: 2 }));
        let kept = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1");
        assert_eq!(incoming.header.map(|h| h.to_string()).as_deref(), Some(kept.as_str()));

        // Over the bound by its keys, malformed as well, with an oversized Lineage: Root, Parent and Sampled remain.
        let keys: String = (0..=MAX_UNKNOWN_KEYS).map(|i| format!(";k{i}=v")).collect();
        let text = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0;Lineage={};broken{keys}", "l".repeat(300));
        let incoming = TraceHeader::incoming(&text);
        assert!(incoming.malformed.is_some() && incoming.over_bound.is_some());
        assert_eq!(incoming.extra, []);
        assert_eq!(
            incoming.header.map(|h| h.to_string()),
            Some(format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0"))
        );
    }

    // Regression (issue 18 review, item 2): a malformed header over the bound was salvaged whole before the bound
    // was applied, its keys deduplicated in quadratic time: 850 KB of distinct keys (an SQS body envelope carries up to
    // 1 MiB) held the consumer's thread for about a minute in a debug build. Over the bound only Root, Parent,
    // Sampled and the first Lineage are collected, in one pass.
    #[test]
    fn a_malformed_header_of_a_hundred_thousand_keys_keeps_only_the_four_fields() {
        const KEYS: usize = 131_000;
        let keys: String = (0..KEYS).map(|i| format!(";{i:x}=")).collect();
        let text = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1;broken;Lineage=b:2{keys}");
        assert!(text.len() > 800 * 1024);
        let incoming = TraceHeader::incoming(&text);
        assert_eq!(incoming.malformed, Some(HeaderError::MissingEquals("broken".into())));
        let over = incoming.over_bound.expect("over the bound");
        assert_eq!((over.len, over.unknown_keys, over.dropped), (text.len(), KEYS, KEYS));
        assert_eq!(incoming.extra, [("Lineage".to_owned(), "a:1".to_owned())]);
        let header = incoming.header.expect("root kept");
        assert!(header.extra().iter().filter(|(k, _)| k != "Lineage").count() <= MAX_UNKNOWN_KEYS);
        assert_eq!(header.to_string(), format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1"));

        // A valid header over the bound is read the same way: strict parsing collects no unknown key either.
        let valid = text.replace(";broken", "");
        let incoming = TraceHeader::incoming(&valid);
        assert_eq!(incoming.malformed, None);
        assert_eq!(incoming.over_bound.map(|o| (o.unknown_keys, o.dropped)), Some((KEYS, KEYS + 1)));
        assert_eq!(incoming.extra, [("Lineage".to_owned(), "a:1".to_owned())]);
    }

    #[test]
    fn parses_the_lambda_form_with_lineage() {
        let text = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5");
        let header = TraceHeader::parse(&text).expect("valid");
        assert_eq!(header.root().to_string(), ROOT);
        assert_eq!(header.parent().map(|p| p.to_string()).as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(header.sampled(), Sampled::Yes);
        assert_eq!(header.lineage(), Some("a87bd80c:1|68fd508a:5"));
        assert_eq!(header.to_string(), text);
    }

    #[test]
    fn accepts_any_order_whitespace_and_drops_self() {
        let header = TraceHeader::parse(&format!(
            " Sampled=? ; Self=1-67891234-12456789abcdef012345678;foo=bar ;Root= {ROOT};Lineage=x:1; "
        ))
        .expect("valid");
        assert_eq!(header.sampled(), Sampled::Requested);
        assert_eq!(header.parent(), None);
        assert_eq!(header.to_string(), format!("Root={ROOT};Sampled=?;foo=bar;Lineage=x:1"));
    }

    #[test]
    fn root_only_is_valid_as_load_balancers_send_it() {
        let header = TraceHeader::parse(&format!("Root={ROOT}")).expect("valid");
        assert_eq!(header.sampled(), Sampled::Unknown);
        assert_eq!(header.to_string(), format!("Root={ROOT}"));
    }

    #[test]
    fn every_malformed_class_has_its_error() {
        let cases: [(String, HeaderError); 10] = [
            (String::new(), HeaderError::Empty),
            (" ; ;".into(), HeaderError::Empty),
            (format!("Root={ROOT};Parent"), HeaderError::MissingEquals("Parent".into())),
            (format!("Root={ROOT};=1"), HeaderError::EmptyKey),
            (format!("Root={ROOT};Root={ROOT}"), HeaderError::DuplicateKey("Root")),
            (format!("Root={ROOT};Sampled=1;Sampled=0"), HeaderError::DuplicateKey("Sampled")),
            ("Parent=53995c3f42cd8ad8;Sampled=1".into(), HeaderError::MissingRoot),
            ("Root=1-xyz-abc".into(), HeaderError::InvalidRoot("1-xyz-abc".into())),
            (format!("Root={ROOT};Parent=53995c3f42cd8ad"), HeaderError::InvalidParent("53995c3f42cd8ad".into())),
            (format!("Root={ROOT};Sampled=yes"), HeaderError::InvalidSampled("yes".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(TraceHeader::parse(&text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn errors_read_as_diagnostics() {
        let err = TraceHeader::parse("Root=nope").expect_err("invalid");
        assert_eq!(err.to_string(), "trace header `Root=nope` is not a trace id (1-8hex-24hex)");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn header() -> impl Strategy<Value = TraceHeader> {
            let sampled =
                prop_oneof![Just(Sampled::Yes), Just(Sampled::No), Just(Sampled::Requested), Just(Sampled::Unknown)];
            let extra = proptest::collection::vec(("[A-Za-z][A-Za-z0-9_-]{0,8}", "[A-Za-z0-9:|,._-]{0,12}"), 0..4)
                .prop_filter("known keys are not extra", |fields| {
                    fields
                        .iter()
                        .all(|(k, _)| !["root", "parent", "sampled", "self"].contains(&k.to_ascii_lowercase().as_str()))
                });
            (any::<u32>(), any::<u128>(), proptest::option::of(any::<u64>()), sampled, extra).prop_map(
                |(epoch, random, parent, sampled, extra)| {
                    let root = format!("1-{epoch:08x}-{:024x}", random & ((1 << 96) - 1)).parse().expect("valid root");
                    TraceHeader { root, parent: parent.map(SegmentId::from_u64), sampled, extra }
                },
            )
        }

        proptest! {
            #[test]
            fn format_then_parse_round_trips(h in header()) {
                prop_assert_eq!(TraceHeader::parse(&h.to_string()), Ok(h));
            }

            #[test]
            fn parse_never_panics_and_reformats_stably(text in "[ -~]{0,80}") {
                if let Ok(h) = TraceHeader::parse(&text) {
                    prop_assert_eq!(TraceHeader::parse(&h.to_string()), Ok(h));
                }
            }
        }
    }
}
