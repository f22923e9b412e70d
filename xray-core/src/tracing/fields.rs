//! A span's or an event's fields, sorted into what they record: the subsegment's name and namespace, a fault and its
//! cause, annotations, metadata (see the table in the module's documentation).

use std::borrow::Cow;
use std::fmt;

use ::tracing::field::{Field, Visit};

use crate::document::{AnnotationValue, Cause, Exception, Namespace};
use crate::record::Recorder;

/// The metadata namespace of the fields that are not annotations.
const NAMESPACE: &str = "tracing";

/// A field's value, as `tracing` hands it over.
enum Value<'a> {
    Str(&'a str),
    Text(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
}

impl Value<'_> {
    fn text(&self) -> Cow<'_, str> {
        match self {
            Value::Str(s) => Cow::Borrowed(s),
            Value::Text(s) => Cow::Borrowed(s),
            Value::Int(v) => Cow::Owned(v.to_string()),
            Value::Uint(v) => Cow::Owned(v.to_string()),
            Value::Float(v) => Cow::Owned(v.to_string()),
            Value::Bool(v) => Cow::Owned(v.to_string()),
        }
    }

    fn annotation(self) -> AnnotationValue {
        match self {
            Value::Str(s) => s.into(),
            Value::Text(s) => s.into(),
            Value::Int(v) => v.into(),
            Value::Uint(v) => v.into(),
            Value::Float(v) => v.into(),
            Value::Bool(v) => v.into(),
        }
    }

    fn json(self) -> serde_json::Value {
        if let Value::Uint(v) = self {
            return v.into();
        }
        match self.annotation() {
            AnnotationValue::String(s) => s.into_owned().into(),
            AnnotationValue::Int(v) => v.into(),
            // NaN and infinities become `null`, as serde_json writes them.
            AnnotationValue::Float(v) => v.into(),
            AnnotationValue::Bool(v) => v.into(),
        }
    }
}

/// The fields of a span or an event, sorted into what they record.
pub(super) struct Fields<'a> {
    /// `None` for an event: only its error fields count.
    annotations: Option<&'a [Cow<'static, str>]>,
    pub(super) name: Option<String>,
    pub(super) namespace: Option<Namespace>,
    fault: bool,
    /// Exceptions from an `error` field holding a `dyn Error` (its `source()` chain).
    exceptions: Vec<Exception>,
    /// An error given as text: `error = %e`, `exception.message`.
    message: Option<String>,
    kind: Option<String>,
    annotated: Vec<(&'static str, AnnotationValue)>,
    metadata: Vec<(&'static str, serde_json::Value)>,
}

impl<'a> Fields<'a> {
    pub(super) fn new(annotations: &'a [Cow<'static, str>]) -> Self {
        Self { annotations: Some(annotations), ..Self::errors_only() }
    }

    pub(super) fn errors_only() -> Self {
        Self {
            annotations: None,
            name: None,
            namespace: None,
            fault: false,
            exceptions: Vec::new(),
            message: None,
            kind: None,
            annotated: Vec::new(),
            metadata: Vec::new(),
        }
    }

    /// Whether nothing is left to record (the name and namespace have been taken).
    pub(super) fn is_empty(&self) -> bool {
        !self.fault && self.annotated.is_empty() && self.metadata.is_empty()
    }

    fn field(&mut self, field: &Field, value: Value<'_>) {
        let key = field.name();
        match key {
            "error" => match value {
                Value::Bool(flag) => self.fault |= flag,
                value => {
                    self.fault = true;
                    self.message = Some(value.text().into_owned());
                }
            },
            "exception.message" => {
                self.fault = true;
                self.message = Some(value.text().into_owned());
            }
            "exception.type" => {
                self.fault = true;
                self.kind = Some(value.text().into_owned());
            }
            _ => {
                let Some(annotations) = self.annotations else { return };
                match key {
                    "otel.name" => self.name = Some(value.text().into_owned()),
                    "otel.kind" if value.text().eq_ignore_ascii_case("client") => {
                        self.namespace = Some(Namespace::Remote);
                    }
                    "otel.status_code" if value.text().eq_ignore_ascii_case("error") => self.fault = true,
                    // The other conventions' fields say how to export, not what happened.
                    _ if key.starts_with("otel.") || key.starts_with("exception.") => {}
                    _ if annotations.iter().any(|a| a == key) => self.annotated.push((key, value.annotation())),
                    _ => self.metadata.push((key, value.json())),
                }
            }
        }
    }

    /// Records what the fields say on `rec`'s subsegment (name and namespace excepted: they are chosen at opening).
    pub(super) fn apply(self, rec: &Recorder) {
        for (key, value) in self.annotated {
            rec.put_annotation(key, value);
        }
        for (key, value) in self.metadata {
            rec.put_metadata_in(NAMESPACE, key, value);
        }
        if !self.fault {
            return;
        }
        rec.mark_fault();
        if !crate::config::capture_error() {
            // `POWERTOOLS_TRACER_CAPTURE_ERROR=false`: the fault without the error's text.
            return;
        }
        if let Some(message) = self.message {
            rec.add_exception(Exception::new(self.kind.unwrap_or_else(|| "error".to_owned()), message));
        } else if let Some(kind) = self.kind.filter(|_| self.exceptions.is_empty()) {
            let mut exception = Exception::new(kind, String::new());
            exception.message = None;
            rec.add_exception(exception);
        }
        for exception in self.exceptions {
            rec.add_exception(exception);
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.field(field, Value::Str(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, Value::Int(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, Value::Uint(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.field(field, Value::Int(v)),
            Err(_) => self.field(field, Value::Text(value.to_string())),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.field(field, Value::Uint(v)),
            Err(_) => self.field(field, Value::Text(value.to_string())),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, Value::Float(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, Value::Bool(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" {
            self.fault = true;
            // Named, as a `dyn Error`, after what its `Debug` output starts with.
            if let Cause::Detail { exceptions, .. } = Cause::from_error("dyn Error", value) {
                self.exceptions.extend(exceptions);
            }
        } else {
            self.field(field, Value::Text(value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%value` (a `DisplayValue`) writes its `Display` text here.
        self.field(field, Value::Text(format!("{value:?}")));
    }
}
