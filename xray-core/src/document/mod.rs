//! The segment document model: one recorded segment or subsegment ([`Entity`]) with its annotations, metadata and
//! blocks. Pure data: nothing here does I/O or reports anything. Input the X-Ray rules refuse is refused by
//! returning a [`Refusal`], which the recording API turns into a diagnostic.

mod blocks;
mod split;
mod write;

use std::borrow::Cow;
use std::fmt;

pub use blocks::{Aws, Cause, Exception, Http, HttpRequest, HttpResponse, Namespace, Sql, StackFrame};
#[cfg(feature = "otlp")]
pub(crate) use split::trim_until;
pub(crate) use split::{Node, split_tree};
pub(crate) use write::{Placement, write_call, write_document};

use crate::clock::Timestamp;
use crate::ids::{SegmentId, TraceId};
use crate::rules::{self, MAX_ANNOTATION_VALUE_CHARS, MAX_HTTP_FIELD_CHARS, truncate_chars};

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
    /// Copies the string: an annotation outlives the code that recorded it.
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

/// A name fit for a document: sanitized at run time, or checked by the macros when they expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name(Cow<'static, str>);

impl Name {
    /// `name`, made valid by [`rules::sanitize_name`].
    pub(crate) fn sanitized(name: Cow<'static, str>) -> Self {
        Self(rules::sanitize_name(name))
    }

    /// A name the macros have already made valid (a `name = "..."` they checked, or a function's name they
    /// sanitized): a sampled `#[traced]` call does not check its constant name again.
    pub(crate) fn checked(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    /// The name's text.
    #[cfg(feature = "tracing")]
    pub(crate) fn into_inner(self) -> Cow<'static, str> {
        self.0
    }
}

/// Error, fault and throttle flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Status {
    /// A client error (4xx).
    pub(crate) error: bool,
    /// A server error (5xx) or a failure of the code itself.
    pub(crate) fault: bool,
    /// Throttled (429).
    pub(crate) throttle: bool,
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
    /// Entities of other traces this one is linked to (a message's producer, in link mode). Segment documents have
    /// no field for them (X-Ray takes no `links` from clients); writers that can carry links write them.
    pub(crate) links: Vec<Link>,
}

/// A link to an entity of another trace: its trace id and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) trace_id: TraceId,
    pub(crate) id: SegmentId,
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
        Self::opened(kind, SegmentId::new(), name.0, parent_id, Timestamp::now())
    }

    /// An entity `id` opened at `start`, nothing recorded on it yet. `name` has been made valid.
    pub(crate) fn opened(
        kind: Kind,
        id: SegmentId,
        name: Cow<'static, str>,
        parent_id: Option<SegmentId>,
        start: Timestamp,
    ) -> Self {
        Self {
            kind,
            id,
            parent_id,
            name,
            start,
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

    /// Marks a fault caused by a panic in the code this entity times (a cause already recorded is kept).
    pub(crate) fn mark_panicked(&mut self) {
        self.status.fault = true;
        self.extra().cause.get_or_insert_with(|| Cause::Detail {
            working_directory: None,
            paths: Vec::new(),
            exceptions: vec![Exception::new("panic", "the code panicked while this subsegment was open")],
        });
    }

    /// Adds or replaces an annotation. An invalid key or a non-finite number is refused; a string longer than
    /// the schema allows is cut, and kept (the refusal says so).
    pub(crate) fn put_annotation(&mut self, key: Cow<'static, str>, value: AnnotationValue) -> Result<(), Refusal> {
        if !rules::is_valid_annotation_key(&key) {
            return Err(Refusal::AnnotationKey(key));
        }
        let mut refusal = Ok(());
        let value = match value {
            AnnotationValue::Float(f) if !f.is_finite() => return Err(Refusal::AnnotationNumber(key, f)),
            AnnotationValue::String(s) if s.len() > MAX_ANNOTATION_VALUE_CHARS => {
                let mut s = s.into_owned();
                if truncate_chars(&mut s, MAX_ANNOTATION_VALUE_CHARS) {
                    refusal = Err(Refusal::AnnotationCut(key.clone()));
                }
                AnnotationValue::String(Cow::Owned(s))
            }
            other => other,
        };
        match self.annotations.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.annotations.push((key, value)),
        }
        refusal
    }

    /// Adds or replaces a metadata entry in a namespace; an empty namespace or the reserved `AWS.` prefix is
    /// refused.
    pub(crate) fn put_metadata(
        &mut self,
        namespace: Cow<'static, str>,
        key: Cow<'static, str>,
        value: serde_json::Value,
    ) -> Result<(), Refusal> {
        if namespace.starts_with("AWS.") || namespace.is_empty() {
            return Err(Refusal::MetadataNamespace(namespace));
        }
        let metadata = &mut self.extra().metadata;
        match metadata.iter_mut().find(|(n, k, _)| *n == namespace && *k == key) {
            Some(slot) => slot.2 = value,
            None => metadata.push((namespace, key, value)),
        }
        Ok(())
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

/// Input the X-Ray rules refuse, returned by the model for the recording API to report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// An annotation key outside `[A-Za-z0-9_]{1,500}`: the annotation is dropped.
    AnnotationKey(Cow<'static, str>),
    /// A NaN or infinite annotation number: the annotation is dropped.
    AnnotationNumber(Cow<'static, str>, f64),
    /// An annotation string over 1000 characters: kept, cut.
    AnnotationCut(Cow<'static, str>),
    /// An empty metadata namespace or one with the reserved `AWS.` prefix: the entry is dropped.
    MetadataNamespace(Cow<'static, str>),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AnnotationKey(key) => {
                write!(f, "annotation key `{}` refused: keys are 1-500 ASCII letters, digits or `_`", key)
            }
            Self::AnnotationNumber(key, n) => write!(f, "annotation `{key}` refused: {n} is not a finite number"),
            Self::AnnotationCut(key) => write!(f, "annotation `{key}` cut to {MAX_ANNOTATION_VALUE_CHARS} characters"),
            Self::MetadataNamespace(namespace) => {
                write!(f, "metadata namespace `{}` refused: it is empty or uses the reserved `AWS.` prefix", namespace)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_annotations_are_refused() {
        let mut e = Entity::new(Kind::Subsegment, Name::checked("s"), None);
        assert!(matches!(e.put_annotation("bad-key".into(), 1.into()), Err(Refusal::AnnotationKey(_))));
        assert!(matches!(e.put_annotation("".into(), 1.into()), Err(Refusal::AnnotationKey(_))));
        assert!(matches!(e.put_annotation("nan".into(), f64::NAN.into()), Err(Refusal::AnnotationNumber(..))));
        assert!(matches!(e.put_annotation("ok_key".into(), "x".repeat(1500).into()), Err(Refusal::AnnotationCut(_))));
        assert_eq!(e.put_annotation("ok_key".into(), true.into()), Ok(()));
        assert_eq!(e.annotations, vec![(Cow::Borrowed("ok_key"), AnnotationValue::Bool(true))]);
        assert!(matches!(e.put_metadata("AWS.x".into(), "k".into(), 1.into()), Err(Refusal::MetadataNamespace(_))));
    }

    // Regression (issue 10, point 4): a borrowed string could not be an annotation value.
    #[test]
    fn borrowed_strings_are_copied_into_annotations() {
        let text = String::from("order-7");
        let value = AnnotationValue::from(text.as_str());
        drop(text);
        assert_eq!(value, AnnotationValue::String(Cow::Borrowed("order-7")));
    }
}
