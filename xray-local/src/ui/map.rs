//! `/map`: the service map of a time range as SVG, a node per service (segments by name, downstream calls by name
//! and namespace) and an arrow per caller -> callee with request count, error / fault / throttle rates and
//! p50 / p90 / p99, with the same numbers in a table below. A node links to `/map/node`, its latency histogram,
//! whose bars link to the list of their traces.

use std::collections::BTreeMap;

use axum::response::Response;
use maud::{Markup, html};

use super::layout::{self, duration, input_time, time, trace_link};
use super::params::{self, Query};
use crate::store::Store;
use crate::store::map::{Range, ServiceMap, Stats};

const NODE_W: f64 = 190.0;
const NODE_H: f64 = 56.0;
const COLUMN: f64 = 300.0;
const ROW: f64 = 96.0;
const MARGIN: f64 = 24.0;

/// Bars of a node's histogram.
const BINS: usize = 24;
/// Traces listed for a histogram bar.
const BIN_TRACES: usize = 100;

fn range_form(action: &str, range: Range, hidden: &[(&str, &str)]) -> Markup {
    html! {
        form.filters method="get" action=(action) {
            @for (k, v) in hidden { input type="hidden" name=(k) value=(v); }
            label { "from (UTC) " input type="datetime-local" step="0.001" name="from" value=(input_time(range.from)); }
            label { "to " input type="datetime-local" step="0.001" name="to" value=(input_time(range.to)); }
            button type="submit" { "Show" }
        }
    }
}

/// The query string naming `range`.
fn range_query(range: Range) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(from) = range.from {
        q.append_pair("from", &from.to_string());
    }
    if let Some(to) = range.to {
        q.append_pair("to", &to.to_string());
    }
    q.finish()
}

fn node_href(service: &str, range: Range) -> String {
    let mut q = form_urlencoded::Serializer::new(range_query(range));
    q.append_pair("service", service);
    format!("/map/node?{}", q.finish())
}

fn percent(part: u64, whole: u64) -> String {
    if whole == 0 { "0%".into() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

fn rates(s: &Stats) -> String {
    format!(
        "{} err · {} fault · {} throttle",
        percent(s.errors, s.count),
        percent(s.faults, s.count),
        percent(s.throttles, s.count)
    )
}

fn latency(s: &Stats) -> String {
    format!("p50 {} · p90 {} · p99 {}", duration(s.p50), duration(s.p90), duration(s.p99))
}

/// Each node's column: 0 for nodes nobody calls, else the fewest calls from one of those (breadth first, so a
/// cycle, a consumer calling back into its queue, does not push nodes ever further right).
fn columns(map: &ServiceMap) -> BTreeMap<&str, usize> {
    let called: std::collections::BTreeSet<&str> =
        map.edges.iter().filter(|e| e.caller != e.callee).map(|e| e.callee.as_str()).collect();
    let mut column: BTreeMap<&str, usize> = BTreeMap::new();
    let mut frontier: Vec<&str> = map.nodes.iter().map(|(n, _)| n.as_str()).filter(|n| !called.contains(n)).collect();
    let mut depth = 0;
    while !frontier.is_empty() {
        let mut next = Vec::new();
        for node in frontier {
            if column.contains_key(node) {
                continue;
            }
            column.insert(node, depth);
            next.extend(map.edges.iter().filter(|e| e.caller == node).map(|e| e.callee.as_str()));
        }
        frontier = next;
        depth += 1;
    }
    // Nodes only on a cycle: the first column.
    for (n, _) in &map.nodes {
        column.entry(n.as_str()).or_insert(0);
    }
    column
}

/// The page for the query string `raw`.
pub fn page(store: &Store, raw: &str) -> rusqlite::Result<Response> {
    let query = Query::parse(raw);
    let (range, problems) = params::range(&query);
    let map = store.service_map(range)?;
    let columns = columns(&map);
    let mut rows: BTreeMap<usize, usize> = BTreeMap::new();
    let mut at: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (name, _) in &map.nodes {
        let column = columns.get(name.as_str()).copied().unwrap_or(0);
        let row = rows.entry(column).or_default();
        at.insert(name, (MARGIN + column as f64 * COLUMN, MARGIN + *row as f64 * ROW));
        *row += 1;
    }
    let width = MARGIN * 2.0 + (columns.values().max().copied().unwrap_or(0) as f64) * COLUMN + NODE_W;
    let height = MARGIN * 2.0 + (rows.values().max().copied().unwrap_or(1) as f64 - 1.0) * ROW + NODE_H;
    let body = html! {
        h1 { "Service map" }
        (range_form("/map", range, &[]))
        (layout::problems(&problems))
        @if map.nodes.is_empty() { p.empty { "No trace in this range." } }
        @else {
            svg #map viewBox={"0 0 " (width) " " (height)} width=(width) height=(height) role="img" {
                defs {
                    marker #arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                        path d="M 0 0 L 10 5 L 0 10 z" {}
                    }
                }
                @for e in &map.edges {
                    @if let (Some(&(x1, y1)), Some(&(x2, y2))) = (at.get(e.caller.as_str()), at.get(e.callee.as_str())) {
                        @let (sx, sy, tx, ty) = (x1 + NODE_W, y1 + NODE_H / 2.0, x2, y2 + NODE_H / 2.0);
                        @let bend = if tx > sx { (tx - sx) / 2.0 } else { COLUMN / 2.0 };
                        g class={"edge " (edge_class(&e.stats))} {
                            path d=(format!("M {sx:.1} {sy:.1} C {:.1} {sy:.1}, {:.1} {ty:.1}, {tx:.1} {ty:.1}", sx + bend, tx - bend)) marker-end="url(#arrow)" {}
                            text x=(format!("{:.1}", (sx + tx) / 2.0)) y=(format!("{:.1}", (sy + ty) / 2.0 - 4.0)) text-anchor="middle" {
                                (edge_label(&e.stats))
                            }
                        }
                    }
                }
                @for (name, stats) in &map.nodes {
                    @if let Some(&(x, y)) = at.get(name.as_str()) {
                        a.node href=(node_href(name, range)) data-node=(name) {
                            rect x=(x) y=(y) width=(NODE_W) height=(NODE_H) rx="8" class=(edge_class(stats)) {}
                            title { (name) }
                            text x=(x + NODE_W / 2.0) y=(y + 22.0) text-anchor="middle" class="name" { (fit(name)) }
                            text x=(x + NODE_W / 2.0) y=(y + 42.0) text-anchor="middle" class="stats" {
                                (stats.count) " req · p50 " (duration(stats.p50))
                            }
                        }
                    }
                }
            }
            h2 { "Edges" }
            table #edges {
                thead { tr { th { "caller" } th { "callee" } th.num { "requests" } th.num { "error" } th.num { "fault" }
                             th.num { "throttle" } th.num { "p50" } th.num { "p90" } th.num { "p99" } } }
                tbody {
                    @for e in &map.edges {
                        tr data-caller=(e.caller) data-callee=(e.callee) {
                            td.caller { a href=(node_href(&e.caller, range)) { (e.caller) } }
                            td.callee { a href=(node_href(&e.callee, range)) { (e.callee) } }
                            td.num.count { (e.stats.count) }
                            td.num { (percent(e.stats.errors, e.stats.count)) }
                            td.num { (percent(e.stats.faults, e.stats.count)) }
                            td.num { (percent(e.stats.throttles, e.stats.count)) }
                            td.num { (duration(e.stats.p50)) } td.num { (duration(e.stats.p90)) } td.num { (duration(e.stats.p99)) }
                        }
                    }
                }
            }
            h2 { "Nodes" }
            table #nodes {
                thead { tr { th { "service" } th.num { "requests" } th { "rates" } th { "latency" } } }
                tbody {
                    @for (name, s) in &map.nodes {
                        tr data-node=(name) { td { a href=(node_href(name, range)) { (name) } } td.num { (s.count) }
                                             td { (rates(s)) } td { (latency(s)) } }
                    }
                }
            }
        }
    };
    Ok(super::html(layout::page("Service map", "/map", body)))
}

/// What an arrow says: its requests, and the rate of each mark that occurred.
fn edge_label(s: &Stats) -> String {
    let mut label = format!("{} req", s.count);
    for (n, mark) in [(s.errors, "error"), (s.faults, "fault"), (s.throttles, "throttle")] {
        if n > 0 {
            label.push_str(&format!(" · {} {mark}", percent(n, s.count)));
        }
    }
    label
}

/// A node's name cut to fit its box (the whole name is its tooltip and in the tables).
fn fit(name: &str) -> String {
    const MAX: usize = 24;
    if name.chars().count() <= MAX {
        return name.to_owned();
    }
    name.chars().take(MAX - 1).chain(['…']).collect()
}

fn edge_class(s: &Stats) -> &'static str {
    if s.faults > 0 {
        "fault"
    } else if s.throttles > 0 {
        "throttle"
    } else if s.errors > 0 {
        "error"
    } else {
        "ok"
    }
}

/// `/map/node?service=..[&bin=first-last]`: a node's latency histogram and, for a bar, its traces.
pub fn node_page(store: &Store, raw: &str) -> rusqlite::Result<Response> {
    let query = Query::parse(raw);
    let (range, problems) = params::range(&query);
    let service = query.get("service").unwrap_or("").to_owned();
    let bins = store.histogram(&service, range, BINS)?;
    let chosen =
        query.get("bin").and_then(|b| b.split_once('-')).and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    let traces = match chosen {
        Some(bin) => Some(store.bucket_traces(&service, bin, range, BIN_TRACES)?),
        None => None,
    };
    let most = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64;
    let (bar, gap, plot) = (28.0, 4.0, 160.0);
    let width = bins.len() as f64 * (bar + gap) + gap;
    let body = html! {
        h1 { "Latency of " span #service { (service) } }
        (range_form("/map/node", range, &[("service", &service)]))
        (layout::problems(&problems))
        @if bins.is_empty() { p.empty { "No request to this service in this range." } }
        @else {
            p.hint { "Each bar is a range of durations; click one for its traces." }
            svg #histogram viewBox={"0 0 " (width) " " (plot + 40.0)} width=(width) height=(plot + 40.0) {
                @for (i, b) in bins.iter().enumerate() {
                    @let h = (b.count as f64 / most * plot).max(if b.count > 0 { 2.0 } else { 0.0 });
                    @let x = gap + i as f64 * (bar + gap);
                    @let mut href = form_urlencoded::Serializer::new(range_query(range));
                    @let href = href.append_pair("service", &service).append_pair("bin", &format!("{}-{}", b.first, b.last)).finish();
                    a.bin href={"/map/node?" (href)} data-count=(b.count) {
                        title { (duration(b.lower)) " – " (duration(b.upper)) ": " (b.count) " requests" }
                        rect x=(x) y=(plot - h) width=(bar) height=(h) class=(if chosen == Some((b.first, b.last)) { "chosen" } else { "" }) {}
                        rect.hit x=(x) y="0" width=(bar) height=(plot) {}
                        @if b.count > 0 { text x=(x + bar / 2.0) y=(plot - h - 3.0) text-anchor="middle" { (b.count) } }
                    }
                    @if i % 4 == 0 { text.axis x=(x) y=(plot + 16.0) { (duration(b.lower)) } }
                }
            }
        }
        @if let (Some(traces), Some((first, last))) = (&traces, chosen) {
            @let (lower, upper) = (crate::store::derive::bucket_bounds(first).0, crate::store::derive::bucket_bounds(last).1);
            h2 { "Traces with a request to " (service) " of " (duration(lower)) " – " (duration(upper)) }
            table #bin-traces {
                thead { tr { th { "started (UTC)" } th { "trace" } th { "root" } th.num { "duration" } } }
                tbody {
                    @for t in traces {
                        tr { td { (time(t.start)) } td { (trace_link(&t.trace_id)) } td { (t.root) } td.num { (duration(t.duration)) } }
                    }
                }
            }
        }
    };
    Ok(super::html(layout::page(&format!("latency of {service}"), "/map", body)))
}
