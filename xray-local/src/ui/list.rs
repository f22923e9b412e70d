//! `/`: the stored traces, newest first, a page at a time, with filters that combine (see
//! [`crate::store::filter::Filter`]): any time range, service, annotations, trace id, HTTP method / URL / status,
//! error / fault / throttle, duration.

use axum::response::Response;
use maud::{Markup, html};
use serde_json::Value;

use super::layout::{self, duration, input_time, marks, status_class, time, trace_link};
use super::params::{self, Query};
use crate::store::Store;
use crate::store::filter::Listed;

/// Traces per page.
pub const PAGE_SIZE: usize = 50;

/// The page for the query string `raw`.
pub fn page(store: &Store, raw: &str) -> rusqlite::Result<Response> {
    let query = Query::parse(raw);
    let (filter, problems) = params::filter(&query);
    let after = params::cursor(&query);
    let page = store.search(&filter, after.as_ref(), PAGE_SIZE)?;
    let text = |key: &str| query.get(key).unwrap_or("").to_owned();
    let annotations: Vec<&str> = query.all("annotation").collect();
    let body = html! {
        form.filters method="get" action="/" {
            label { "from (UTC) " input type="datetime-local" step="0.001" name="from" value=(input_time(filter.from)); }
            label { "to " input type="datetime-local" step="0.001" name="to" value=(input_time(filter.to)); }
            label { "service " input name="service" value=(text("service")) placeholder="orders-api, DynamoDB"; }
            @for a in annotations.iter().copied().chain([""]) {
                label { "annotation " input name="annotation" value=(a) placeholder="key=value"; }
            }
            label { "trace id " input name="trace_id" value=(text("trace_id")) placeholder="any part"; }
            label { "method " input name="method" size="6" value=(text("method")); }
            label { "URL " input name="url" value=(text("url")) placeholder="contains"; }
            label { "status " input name="status" size="4" value=(text("status")); }
            @for (key, label) in [("error", "error"), ("fault", "fault"), ("throttle", "throttle")] {
                label { input type="checkbox" name=(key) checked[query.on(key)]; " " (label) }
            }
            label { "duration ≥ " input name="min" size="7" value=(text("min")) placeholder="100ms"; }
            label { "≤ " input name="max" size="7" value=(text("max")) placeholder="2s"; }
            button type="submit" { "Filter" }
            a href="/" { "clear" }
        }
        (layout::problems(&problems))
        table #traces {
            thead { tr { th { "started (UTC)" } th { "trace" } th { "root" } th.num { "duration" } th { "HTTP" }
                         th { "status" } th.num { "entities" } th { "annotations" } } }
            tbody {
                @for t in &page.traces { (row(t)) }
            }
        }
        @if page.traces.is_empty() { p.empty { "No trace matches." } }
        nav.pages {
            @if after.is_some() { a href={"/?" (params::with(&query, "after", ""))} { "← newest" } }
            @if let Some(next) = &page.next {
                a #next href={"/?" (params::with(&query, "after", &params::cursor_text(next)))} { "older →" }
            }
        }
    };
    Ok(super::html(layout::page("Traces", "/", body)))
}

fn row(t: &Listed) -> Markup {
    let s = &t.summary;
    let http = [t.method.clone(), t.url.clone(), t.status.map(|s| s.to_string())];
    let http: Vec<String> = http.into_iter().flatten().collect();
    html! {
        tr class=(status_class(s.fault, s.error, s.throttle)) data-trace=(s.trace_id) {
            td { (time(s.start)) }
            td { (trace_link(&s.trace_id)) }
            td { (s.root) }
            td.num { (duration(s.duration)) }
            td.http { (http.join(" ")) }
            td { (marks(s.fault, s.error, s.throttle, s.in_progress)) }
            td.num { (s.entities) }
            td.annotations {
                @for (k, v) in &s.annotations { span.pair { (k) "=" (plain(v)) } " " }
            }
        }
    }
}

/// A JSON value as text, strings without their quotes.
pub(super) fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
