//! Logs that carry the trace: [`TraceIdFormat`] adds `xray_trace_id` to `tracing-subscriber`'s lines, and
//! [`init_default_subscriber`] is lambda_runtime's log set-up with it and the layer.

use std::fmt;

use ::tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use super::{XRayLayer, spans};
use crate::diag::diag;
use crate::ids::TraceId;

/// The subscriber `lambda_runtime::tracing::init_default_subscriber()` installs, with `layer` (usually
/// [`layer()`](super::layer), with its annotations) and `xray_trace_id` added, writing to stdout: call it first thing
/// in `main`, in place of lambda_runtime's.
///
/// ```no_run
/// xray_core::tracing::init_default_subscriber(xray_core::tracing::layer().with_annotations(["order_id"]));
/// ```
///
/// As lambda_runtime's: JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON` (any case), else text without ANSI
/// colors; no timestamps (CloudWatch adds its own) and no targets; the level from `AWS_LAMBDA_LOG_LEVEL`, else
/// `RUST_LOG`, else `INFO`. Unlike lambda_runtime's, `RUST_LOG` is read as one level (`debug`), not as per-module
/// directives: anything else gets a diagnostic and `INFO`. If a global subscriber is already set, this one is not
/// installed and a diagnostic says so: it never panics.
pub fn init_default_subscriber(layer: XRayLayer) {
    if ::tracing::subscriber::set_global_default(default_subscriber(layer, std::io::stdout)).is_err() {
        diag!(BadConfig, "xray_core::tracing::init_default_subscriber: a global subscriber is already set; kept it");
    }
}

/// The subscriber [`init_default_subscriber`] installs, writing to `writer`, not installed: for tests
/// (`tracing::subscriber::with_default`) or a writer of your own.
pub fn default_subscriber<W>(layer: XRayLayer, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.trim().eq_ignore_ascii_case("json"));
    let fmt = tracing_subscriber::fmt::layer().with_target(false).without_time().with_writer(writer);
    let base = tracing_subscriber::registry().with(log_level()).with(layer);
    if json {
        Box::new(base.with(fmt.json().map_event_format(TraceIdFormat::json)))
    } else {
        Box::new(base.with(fmt.with_ansi(false).map_event_format(TraceIdFormat::text)))
    }
}

/// `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls; `FATAL` reads as `ERROR`), else `RUST_LOG`, else
/// `INFO`.
fn log_level() -> LevelFilter {
    let (name, value) = match (std::env::var("AWS_LAMBDA_LOG_LEVEL"), std::env::var("RUST_LOG")) {
        (Ok(level), _) => ("AWS_LAMBDA_LOG_LEVEL", level),
        (_, Ok(level)) => ("RUST_LOG", level),
        _ => return LevelFilter::INFO,
    };
    let text = value.trim();
    if text.eq_ignore_ascii_case("fatal") {
        return LevelFilter::ERROR;
    }
    text.parse().unwrap_or_else(|_| {
        diag!(BadEnvVar, "{name}=`{value}` is not one level (trace, debug, info, warn, error, off); using INFO");
        LevelFilter::INFO
    })
}

/// A `tracing-subscriber` event format that adds `xray_trace_id`, the Root id of the event's trace, to what `F`
/// writes: `fmt::layer().json().map_event_format(TraceIdFormat::json)`, or
/// `fmt::layer().with_ansi(false).map_event_format(TraceIdFormat::text)`.
///
/// The trace is the one current where the event is emitted ([`crate::trace_id`]: inside spans that
/// [`layer`](super::layer) records, theirs), or for an event given an explicit parent span, that span's (or its nearest
/// recorded ancestor's); outside any trace the line is `F`'s, unchanged. `F`'s output is written to a buffer first, so
/// text is written without ANSI colors (which Lambda's logs do not want either).
#[derive(Debug, Clone)]
pub struct TraceIdFormat<F> {
    inner: F,
    json: bool,
}

impl<F> TraceIdFormat<F> {
    /// For JSON lines (`fmt::format().json()`): `"xray_trace_id":"1-..."` as the object's first field.
    pub fn json(inner: F) -> Self {
        Self { inner, json: true }
    }

    /// For text lines: ` xray_trace_id=1-...` at the end of each line.
    pub fn text(inner: F) -> Self {
        Self { inner, json: false }
    }
}

/// The Root id of the trace `event` belongs to. An event in the spans entered where it is emitted runs in the
/// context the layer swapped in for them: the current trace. One given an explicit parent may be emitted outside it:
/// the nearest span around it that the layer records says.
fn event_trace_id<S, N>(ctx: &FmtContext<'_, S, N>, event: &Event<'_>) -> Option<TraceId>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    if !event.is_contextual()
        && spans::any()
        && let Some(scope) = ctx.event_scope()
        && let Some(id) = scope.into_iter().find_map(|s| spans::trace_id_of(s.id().into_u64()))
    {
        return Some(id);
    }
    crate::trace_id()
}

impl<S, N, F> FormatEvent<S, N> for TraceIdFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let Some(trace_id) = event_trace_id(ctx, event) else {
            return self.inner.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.inner.format_event(ctx, Writer::new(&mut line), event)?;
        if self.json
            && let Some(rest) = line.strip_prefix('{')
        {
            let comma = if rest.trim_start().starts_with('}') { "" } else { "," };
            // A trace id is ASCII letters, digits and `-`: nothing to escape.
            return write!(writer, "{{\"xray_trace_id\":\"{trace_id}\"{comma}{rest}");
        }
        let (body, newline) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line.as_str(), ""),
        };
        write!(writer, "{body} xray_trace_id={trace_id}{newline}")
    }
}
