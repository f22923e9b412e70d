//! `/latency`: where an entry point's time goes, as [`crate::store::latency`] splits it along the critical path
//! (the same table `xray-local latency` prints): each part's time and share at p50 and p99, drawn as one stacked
//! bar per quantile. Without an entry point, the entry points the traces of the range hold.

use axum::response::Response;
use maud::{Markup, html};

use super::layout::{self, input_time, trace_link};
use super::params::{self, Query};
use crate::store::Store;
use crate::store::latency::{Band, Entry, Latency, Range};

/// The query string choosing `entry` (`kind` and `name`; a route's name is `METHOD /path`) over `range`.
fn href(entry: &Entry, range: crate::store::map::Range) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let (kind, name) = match entry {
        Entry::Service { name } => ("service", name.clone()),
        Entry::Route { method, path } => ("route", format!("{method} {path}")),
        Entry::Queue { name } => ("queue", name.clone()),
    };
    q.append_pair("kind", kind).append_pair("name", &name);
    if let Some(from) = range.from {
        q.append_pair("from", &from.to_string());
    }
    if let Some(to) = range.to {
        q.append_pair("to", &to.to_string());
    }
    format!("/latency?{}", q.finish())
}

/// The page for the query string `raw`.
pub fn page(store: &Store, raw: &str) -> rusqlite::Result<Response> {
    let query = Query::parse(raw);
    let (range, mut problems) = params::range(&query);
    let latency_range = Range { from: range.from, to: range.to };
    let entry = match (query.get("kind"), query.get("name")) {
        (Some("service"), Some(name)) => Some(Entry::Service { name: name.to_owned() }),
        (Some("queue"), Some(name)) => Some(Entry::Queue { name: name.to_owned() }),
        (Some("route"), Some(route)) => Entry::route(route).map_err(|e| problems.push(format!("name: {e}"))).ok(),
        _ => None,
    };
    let points = store.entry_points(latency_range)?;
    let latency = match &entry {
        Some(entry) => Some(store.latency(entry, latency_range)?),
        None => None,
    };
    let body = html! {
        h1 { "Where the time goes" }
        form.filters method="get" action="/latency" {
            @if let Some(kind) = query.get("kind") { input type="hidden" name="kind" value=(kind); }
            @if let Some(name) = query.get("name") { input type="hidden" name="name" value=(name); }
            label { "from (UTC) " input type="datetime-local" step="0.001" name="from" value=(input_time(range.from)); }
            label { "to " input type="datetime-local" step="0.001" name="to" value=(input_time(range.to)); }
            button type="submit" { "Show" }
        }
        (layout::problems(&problems))
        @if let Some(latency) = &latency { (split(latency)) }
        h2 { "Entry points" }
        @if points.is_empty() { p.empty { "No complete trace in this range." } }
        table #entry-points {
            thead { tr { th { "entry point" } th.num { "samples" } } }
            tbody {
                @for p in &points {
                    tr { td { a href=(href(&p.entry, range)) { (p.entry.to_string()) } } td.num { (p.samples) } }
                }
            }
        }
    };
    Ok(super::html(layout::page("Latency", "/latency", body)))
}

/// The split of one entry point: the table and a stacked bar per quantile.
fn split(latency: &Latency) -> Markup {
    let bands = [("p50", &latency.p50), ("p99", &latency.p99)];
    html! {
        h2 #entry { (latency.entry.to_string()) }
        p.summary { (latency.samples) " samples" }
        @for (name, band) in bands {
            @if let Some(band) = band { (bar(name, band, latency)) }
        }
        table #split {
            thead { tr { th { "part" } th.num { "p50 ms" } th.num { "p50 share" } th.num { "p99 ms" } th.num { "p99 share" } } }
            tbody {
                @for (i, row) in latency.rows.iter().enumerate() {
                    tr data-part=(row.label) {
                        td { span class={"swatch c" (i % 8)} {} " " (row.label) }
                        td.num { (format!("{:.1}", row.p50_ms)) } td.num.p50 { (format!("{:.1}%", row.p50_share * 100.0)) }
                        td.num { (format!("{:.1}", row.p99_ms)) } td.num.p99 { (format!("{:.1}%", row.p99_share * 100.0)) }
                    }
                }
            }
        }
    }
}

/// A quantile's band as one bar split by part, with its traces.
fn bar(name: &str, band: &Band, latency: &Latency) -> Markup {
    let share = |i: usize| {
        let row = &latency.rows[i];
        if name == "p50" { row.p50_share } else { row.p99_share }
    };
    let mut x = 0.0;
    let spans: Vec<(f64, f64)> = (0..latency.rows.len())
        .map(|i| {
            let w = share(i) * 1000.0;
            x += w;
            (x - w, w)
        })
        .collect();
    html! {
        div.band {
            p { strong { (name) } " " (format!("{:.1} ms", band.duration_ms)) " (ranks " (band.first_rank) "–" (band.last_rank) ", mean "
                (format!("{:.1} ms", band.mean_ms)) ")" }
            svg.split viewBox="0 0 1000 18" preserveAspectRatio="none" {
                @for (i, &(x, w)) in spans.iter().enumerate() {
                    rect x=(format!("{x:.2}")) y="0" width=(format!("{w:.2}")) height="18" class={"c" (i % 8)} {
                        title { (latency.rows[i].label) ": " (format!("{:.1}%", share(i) * 100.0)) }
                    }
                }
            }
            p.traces { "traces: " @for t in band.traces.iter().take(5) { (trace_link(t)) " " } }
        }
    }
}
