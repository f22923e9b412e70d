//! The segment document model and its JSON form.
//!
//! An [`Entity`] is one segment or subsegment as recorded. [`write_document`] turns an entity (and, through a
//! callback, its embedded children) into the exact JSON the daemon expects, following the
//! `xray-segmentdocument-schema-v1.0.0` schema. Rules of the schema that user input could break are enforced when
//! the input is recorded: names are sanitized, annotation keys checked, long strings shortened.

use std::borrow::Cow;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};

use crate::diag::diag;
use crate::ids::{SegmentId, TraceId};

/// Microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The current time.
    ///
    /// On Unix the clock is read with `clock_gettime` directly: `SystemTime::now` followed by `duration_since` costs
    /// twice as much, and every sampled subsegment reads the clock twice.
    #[inline]
    pub fn now() -> Self {
        #[cfg(unix)]
        {
            let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
            // SAFETY: `now` is a valid, writable `timespec`, the only thing `clock_gettime` writes to.
            if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) } == 0
                && let (Ok(secs), Ok(nanos)) = (u64::try_from(now.tv_sec), u64::try_from(now.tv_nsec))
            {
                return Self(secs * 1_000_000 + nanos / 1_000);
            }
        }
        Self(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() * 1_000_000 + u64::from(d.subsec_micros())),
        )
    }

    /// A time from microseconds since the epoch.
    pub fn from_micros(micros: u64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub fn as_micros(&self) -> u64 {
        self.0
    }

    /// Seconds since the epoch, as written in documents.
    pub fn as_secs_f64(&self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// A value an annotation can hold: string, number or boolean.
#[derive(Debug, Clone, PartialEq)]
pub enum AnnotationValue {
    /// A string of at most 1000 characters.
    String(Cow<'static, str>),
    /// An integer.
    Int(i64),
    /// A finite floating point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for AnnotationValue {
    fn from(v: &str) -> Self {
        Self::String(Cow::Owned(v.to_owned()))
    }
}
impl From<String> for AnnotationValue {
    fn from(v: String) -> Self {
        Self::String(Cow::Owned(v))
    }
}
impl From<Cow<'static, str>> for AnnotationValue {
    fn from(v: Cow<'static, str>) -> Self {
        Self::String(v)
    }
}
impl From<bool> for AnnotationValue {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<f64> for AnnotationValue {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<f32> for AnnotationValue {
    fn from(v: f32) -> Self {
        Self::Float(f64::from(v))
    }
}
macro_rules! int_annotation {
    ($($t:ty),*) => {$(
        impl From<$t> for AnnotationValue {
            fn from(v: $t) -> Self {
                i64::try_from(v).map_or(Self::Float(v as f64), Self::Int)
            }
        }
    )*};
}
int_annotation!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

/// Longest annotation string value the schema allows.
pub const MAX_ANNOTATION_VALUE_CHARS: usize = 1000;
/// Longest segment name the schema allows.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest `http` field the schema allows.
pub const MAX_HTTP_FIELD_CHARS: usize = 250;

/// Whether `key` is a valid annotation key: 1 to 500 ASCII letters, digits or underscores.
pub fn is_valid_annotation_key(key: &str) -> bool {
    (1..=500).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Which ASCII bytes a name may hold: letters, digits, the space and `_.:/%&#=+-@` (tabs and line breaks may not).
const NAME_ASCII: [bool; 128] = {
    let mut table = [false; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let punctuation = b" _.:/%&#=+-@";
    let mut i = 0;
    while i < punctuation.len() {
        table[punctuation[i] as usize] = true;
        i += 1;
    }
    table
};

/// Whether a segment or subsegment name may hold `c`: the schema's letters (`\p{L}`), separators (`\p{Z}`),
/// numbers (`\p{N}`) and `_.:/%&#=+-@`.
pub fn is_valid_name_char(c: char) -> bool {
    match u8::try_from(c) {
        Ok(b) if b.is_ascii() => NAME_ASCII[usize::from(b)],
        _ => c.is_alphanumeric() || (c.is_whitespace() && !c.is_control()),
    }
}

/// A segment name made valid for the schema: characters outside letters, digits, spaces and `_.:/%&#=+-@` become
/// `_`, and the name is cut to 200 characters. A valid name is returned as it is, without allocating.
pub fn sanitize_name(name: Cow<'static, str>) -> Cow<'static, str> {
    let valid = if name.is_ascii() {
        (1..=MAX_NAME_CHARS).contains(&name.len()) && name.bytes().all(|b| NAME_ASCII[usize::from(b)])
    } else {
        name.chars().count() <= MAX_NAME_CHARS && name.chars().all(is_valid_name_char)
    };
    if valid {
        return name;
    }
    let mut clean: String =
        name.chars().take(MAX_NAME_CHARS).map(|c| if is_valid_name_char(c) { c } else { '_' }).collect();
    if clean.is_empty() {
        clean.push_str("unnamed");
    }
    Cow::Owned(clean)
}

/// A name fit for a document: sanitized at run time, or checked by the macros when they expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name(Cow<'static, str>);

impl Name {
    /// `name`, made valid by [`sanitize_name`].
    pub(crate) fn sanitized(name: Cow<'static, str>) -> Self {
        Self(sanitize_name(name))
    }

    /// A name the macros have already made valid (a `name = "..."` they checked, or a function's name they
    /// sanitized): a sampled `#[traced]` call does not check its constant name again.
    pub(crate) fn checked(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` cut to at most `max` characters.
pub(crate) fn truncate_chars(text: &mut String, max: usize) -> bool {
    match text.char_indices().nth(max) {
        Some((at, _)) => {
            text.truncate(at);
            true
        }
        None => false,
    }
}

/// The downstream kind of a subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// A call to an AWS service.
    Aws,
    /// A call to any other downstream service.
    Remote,
}

impl Namespace {
    fn as_str(self) -> &'static str {
        match self {
            Self::Aws => "aws",
            Self::Remote => "remote",
        }
    }
}

/// The `http` block: an incoming or outgoing HTTP request and its response.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Http {
    /// The request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// The response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

/// `http.request`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpRequest {
    /// Request method, e.g. `GET`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Full URL (at most 250 characters are kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The caller's user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The caller's IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// Whether `client_ip` came from an `X-Forwarded-For` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_forwarded_for: Option<bool>,
    /// For outgoing calls: whether the downstream service is traced too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traced: Option<bool>,
}

/// `http.response`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpResponse {
    /// Response status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Body length in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
}

/// The `aws` block of a subsegment for an AWS SDK call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Aws {
    /// The API operation, e.g. `SendMessage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The region the call went to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The request id the service returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The account that owns the resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// How many times the call was retried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Per-service resource fields, such as `queue_url` or `table_name`.
    #[serde(flatten)]
    pub resources: serde_json::Map<String, serde_json::Value>,
}

/// The `sql` block of a subsegment for a database query.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sql {
    /// Connection URL without the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Connection string without the password, for databases that do not use URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// The query with user values removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sanitized_query: Option<String>,
    /// The database engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    /// The database version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    /// The client driver's name and version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// The database user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `call` or `statement`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
}

/// One frame of an exception's stack.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StackFrame {
    /// Source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Line number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Function name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// One exception in a `cause`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exception {
    /// The exception's id, unique in the trace.
    pub id: SegmentId,
    /// The error's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The error's type name.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the error came from a downstream service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
    /// Stack frames left out because there were too many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u32>,
    /// Exceptions left out because they were already recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u32>,
    /// The id of the exception that caused this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<SegmentId>,
    /// Stack frames.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
}

impl Exception {
    /// An exception with a new id, a type name and a message.
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            id: SegmentId::new(),
            message: Some(message.into()),
            kind: Some(kind.into()),
            remote: None,
            truncated: None,
            skipped: None,
            cause: None,
            stack: Vec::new(),
        }
    }
}

/// The `cause` of an error, fault or throttle.
#[derive(Debug, Clone, PartialEq)]
pub enum Cause {
    /// The id of an exception recorded in another subsegment of the trace.
    Reference(SegmentId),
    /// The exceptions themselves.
    Detail {
        /// The process's working directory.
        working_directory: Option<String>,
        /// Source paths the stack frames refer to.
        paths: Vec<String>,
        /// The exceptions, outermost first; each names the next as its `cause`.
        exceptions: Vec<Exception>,
    },
}

impl Cause {
    /// A cause built from an error and its `source()` chain; the outermost error's type name is `kind`.
    pub fn from_error(kind: &str, error: &(dyn std::error::Error + '_)) -> Self {
        let mut exceptions = vec![Exception::new(kind, error.to_string())];
        let mut source = error.source();
        while let Some(inner) = source {
            if exceptions.len() == 32 {
                break;
            }
            let next = Exception::new("source", inner.to_string());
            if let Some(last) = exceptions.last_mut() {
                last.cause = Some(next.id);
            }
            exceptions.push(next);
            source = inner.source();
        }
        Self::Detail { working_directory: None, paths: Vec::new(), exceptions }
    }

    /// Adds an exception to the cause (turning a reference into a detailed cause).
    pub fn push(&mut self, exception: Exception) {
        match self {
            Self::Detail { exceptions, .. } => exceptions.push(exception),
            Self::Reference(_) => {
                *self = Self::Detail { working_directory: None, paths: Vec::new(), exceptions: vec![exception] };
            }
        }
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            Self::Reference(id) => id.serialize(serializer),
            Self::Detail { working_directory, paths, exceptions } => {
                let mut map = serializer.serialize_map(None)?;
                if let Some(dir) = working_directory {
                    map.serialize_entry("working_directory", dir)?;
                }
                if !paths.is_empty() {
                    map.serialize_entry("paths", paths)?;
                }
                map.serialize_entry("exceptions", exceptions)?;
                map.end()
            }
        }
    }
}

impl Serialize for SegmentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default())
    }
}

impl Serialize for TraceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let bytes = self.to_bytes();
        serializer.serialize_str(std::str::from_utf8(&bytes).unwrap_or_default())
    }
}

/// Error, fault and throttle flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Status {
    /// A client error (4xx).
    pub error: bool,
    /// A server error (5xx) or a failure of the code itself.
    pub fault: bool,
    /// Throttled (429).
    pub throttle: bool,
}

/// Rarely used parts of an entity, boxed so an entity that uses none of them stays small.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    pub(crate) http: Option<Http>,
    pub(crate) aws: Option<Aws>,
    pub(crate) sql: Option<Sql>,
    pub(crate) cause: Option<Cause>,
    pub(crate) origin: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) metadata: Vec<(Cow<'static, str>, Cow<'static, str>, serde_json::Value)>,
    /// Set when the document was trimmed to fit a datagram: what was dropped.
    pub(crate) trimmed: Option<&'static str>,
}

/// Whether an entity is the trace's segment or a subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Segment,
    Subsegment,
}

/// One recorded segment or subsegment.
#[derive(Debug, Clone)]
pub(crate) struct Entity {
    pub(crate) kind: Kind,
    pub(crate) id: SegmentId,
    /// The parent's id: the caller's segment for a segment (if any), the enclosing entity for a subsegment.
    pub(crate) parent_id: Option<SegmentId>,
    pub(crate) name: Cow<'static, str>,
    pub(crate) start: Timestamp,
    pub(crate) end: Option<Timestamp>,
    pub(crate) status: Status,
    pub(crate) namespace: Option<Namespace>,
    pub(crate) annotations: Vec<(Cow<'static, str>, AnnotationValue)>,
    pub(crate) extra: Option<Box<Extra>>,
}

impl Entity {
    pub(crate) fn new(kind: Kind, name: Name, parent_id: Option<SegmentId>) -> Self {
        Self {
            kind,
            id: SegmentId::new(),
            parent_id,
            name: name.0,
            start: Timestamp::now(),
            end: None,
            status: Status::default(),
            namespace: None,
            annotations: Vec::new(),
            extra: None,
        }
    }

    pub(crate) fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Adds or replaces an annotation; an invalid key or value is refused with a diagnostic.
    pub(crate) fn put_annotation(&mut self, key: Cow<'static, str>, value: AnnotationValue) {
        if !is_valid_annotation_key(&key) {
            diag!(InvalidAnnotation, "annotation key `{key}` refused: keys are 1-500 ASCII letters, digits or `_`");
            return;
        }
        let value = match value {
            AnnotationValue::Float(f) if !f.is_finite() => {
                diag!(InvalidAnnotation, "annotation `{key}` refused: {f} is not a finite number");
                return;
            }
            AnnotationValue::String(s) if s.len() > MAX_ANNOTATION_VALUE_CHARS => {
                let mut s = s.into_owned();
                if truncate_chars(&mut s, MAX_ANNOTATION_VALUE_CHARS) {
                    diag!(InvalidAnnotation, "annotation `{key}` cut to {MAX_ANNOTATION_VALUE_CHARS} characters");
                }
                AnnotationValue::String(Cow::Owned(s))
            }
            other => other,
        };
        match self.annotations.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.annotations.push((key, value)),
        }
    }

    /// Adds or replaces a metadata entry in a namespace; the reserved `AWS.` prefix is refused.
    pub(crate) fn put_metadata(
        &mut self,
        namespace: Cow<'static, str>,
        key: Cow<'static, str>,
        value: serde_json::Value,
    ) {
        if namespace.starts_with("AWS.") || namespace.is_empty() {
            diag!(
                InvalidMetadata,
                "metadata namespace `{namespace}` refused: it is empty or uses the reserved `AWS.` prefix"
            );
            return;
        }
        let metadata = &mut self.extra().metadata;
        match metadata.iter_mut().find(|(n, k, _)| *n == namespace && *k == key) {
            Some(slot) => slot.2 = value,
            None => metadata.push((namespace, key, value)),
        }
    }

    pub(crate) fn set_http(&mut self, mut http: Http) {
        if let Some(request) = &mut http.request {
            for field in [&mut request.method, &mut request.url, &mut request.user_agent, &mut request.client_ip]
                .into_iter()
                .flatten()
            {
                truncate_chars(field, MAX_HTTP_FIELD_CHARS);
            }
        }
        self.extra().http = Some(http);
    }
}

/// How an entity is written: inside its parent's document, or as a document of its own.
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

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn names_are_sanitized_without_allocating_when_valid() {
        assert!(matches!(sanitize_name("## handler".into()), Cow::Borrowed("## handler")));
        assert_eq!(sanitize_name("get<user>!".into()), "get_user__");
        assert_eq!(sanitize_name("".into()), "unnamed");
        assert_eq!(sanitize_name("é".repeat(300).into()).chars().count(), 200);
        assert_eq!(sanitize_name("a".repeat(201).into()).len(), 200);
        assert!(matches!(sanitize_name("Größe 12".into()), Cow::Borrowed(_)));
        // `\p{Z}` holds the space and other separators, not tabs or line breaks.
        assert_eq!(sanitize_name("a\tb\nc\u{85}d\u{a0}e".into()), "a_b_c_d\u{a0}e");
    }

    #[test]
    fn every_ascii_byte_is_judged_as_the_schema_does() {
        for b in 0u8..128 {
            let expected = b.is_ascii_alphanumeric() || b" _.:/%&#=+-@".contains(&b);
            assert_eq!(is_valid_name_char(char::from(b)), expected, "byte {b}");
        }
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

    #[test]
    fn invalid_annotations_are_refused_with_a_diagnostic() {
        let mut e = Entity::new(Kind::Subsegment, Name::checked("s"), None);
        let before = crate::diag::count(crate::diag::DiagKind::InvalidAnnotation);
        e.put_annotation("bad-key".into(), 1.into());
        e.put_annotation("".into(), 1.into());
        e.put_annotation("nan".into(), f64::NAN.into());
        e.put_annotation("ok_key".into(), "x".repeat(1500).into());
        e.put_annotation("ok_key".into(), true.into());
        assert_eq!(e.annotations, vec![(Cow::Borrowed("ok_key"), AnnotationValue::Bool(true))]);
        assert!(crate::diag::count(crate::diag::DiagKind::InvalidAnnotation) >= before + 4);
    }

    #[test]
    fn error_chain_becomes_linked_exceptions() {
        let outer = Wrapper(std::io::Error::other("disk full"));
        let Cause::Detail { exceptions, .. } = Cause::from_error("Wrapper", &outer) else {
            panic!("detail expected");
        };
        assert_eq!(exceptions.len(), 2);
        assert_eq!(exceptions[0].kind.as_deref(), Some("Wrapper"));
        assert_eq!(exceptions[0].message.as_deref(), Some("wrapped"));
        assert_eq!(exceptions[0].cause, Some(exceptions[1].id));
        assert_eq!(exceptions[1].message.as_deref(), Some("disk full"));
    }

    #[derive(Debug)]
    struct Wrapper(std::io::Error);
    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
