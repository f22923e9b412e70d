//! What every page shares: the frame (title, navigation, the script and style sheet), the error page, and how
//! times and marks are shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::render;

/// A whole page: `title`, the navigation with `current` marked, then `body`.
pub(super) fn page(title: &str, current: &str, body: Markup) -> Markup {
    let nav = [("/", "Traces"), ("/map", "Service map"), ("/latency", "Latency")];
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · xray-local" }
                link rel="stylesheet" href="/static/style.css";
                script src="/static/app.js" defer {}
            }
            body {
                header {
                    span.brand { "xray-local" }
                    nav {
                        @for (href, label) in nav {
                            a href=(href) class=[(href == current).then_some("current")] { (label) }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An error page with `status`.
pub(super) fn error(status: StatusCode, message: &str) -> Response {
    let body = html! { h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) } p.problem { (message) } };
    (status, super::html(page("error", "", body))).into_response()
}

/// Messages about values of the query string that did not read.
pub(super) fn problems(problems: &[String]) -> Markup {
    html! {
        @for p in problems { p.problem { "ignored " (p) } }
    }
}

/// `seconds` since the epoch as UTC, to the millisecond.
pub(super) fn time(seconds: f64) -> String {
    render::timestamp(seconds)
}

/// `seconds` since the epoch as a `datetime-local` input's value (UTC).
pub(super) fn input_time(seconds: Option<f64>) -> String {
    seconds.map(|s| render::timestamp(s).replacen(' ', "T", 1)).unwrap_or_default()
}

/// A short duration: `850µs`, `12.3ms`, `1.204s`.
pub(super) fn duration(seconds: f64) -> String {
    render::duration(seconds)
}

/// The class of an entity or trace by its worst mark: `fault`, `error`, `throttle` or `ok`.
pub(super) fn status_class(fault: bool, error: bool, throttle: bool) -> &'static str {
    if fault {
        "fault"
    } else if throttle {
        "throttle"
    } else if error {
        "error"
    } else {
        "ok"
    }
}

/// The marks shown beside a trace or entity.
pub(super) fn marks(fault: bool, error: bool, throttle: bool, in_progress: bool) -> Markup {
    let all = [(fault, "fault", "FAULT"), (error, "error", "ERROR"), (throttle, "throttle", "THROTTLE")];
    html! {
        @for (_, class, text) in all.iter().filter(|m| m.0) { span class={"mark " (class)} { (text) } }
        @if in_progress { span.mark.progress { "IN PROGRESS" } }
    }
}

/// Whether `text` is shaped as a trace id (`1-` 8 hex `-` 24 hex), so it can go into a link's path as it is.
pub(super) fn is_trace_id(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(parts.as_slice(), ["1", time, id] if hex(time, 8) && hex(id, 24))
}

/// A link to the waterfall of `trace_id`.
pub(super) fn trace_link(trace_id: &str) -> Markup {
    html! {
        @if is_trace_id(trace_id) { a.trace href={"/trace/" (trace_id)} { (trace_id) } } @else { (trace_id) }
    }
}
