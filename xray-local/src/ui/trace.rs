//! `/trace/<trace id>`: the waterfall `xray-local show` prints, as HTML with an SVG bar per entity: offset from the
//! trace's start, duration, nesting, queue waits and status colours. Clicking a row opens the entity's
//! annotations, metadata, `http`, `aws`, `sql` and cause with its stack; a linked trace (the `linked_trace_id`
//! annotation, span `links`) is a link to it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde_json::Value;

use super::layout::{self, duration, is_trace_id, marks, status_class, time, trace_link};
use super::list::plain;
use crate::assemble::{Entity, Node, Tree};
use crate::store::Store;

/// Width of the timeline in SVG user units.
const TIMELINE: f64 = 1000.0;

/// The page of the trace that `id` names (the whole id, or enough of it: then a redirect to the whole one).
pub fn page(store: &Store, id: &str) -> rusqlite::Result<Response> {
    let id = match store.resolve(id)? {
        Ok(Some(found)) if found == id => found,
        Ok(Some(found)) if is_trace_id(&found) => return Ok(Redirect::to(&format!("/trace/{found}")).into_response()),
        Ok(Some(found)) => found,
        Ok(None) => return Ok(layout::error(StatusCode::NOT_FOUND, &format!("no trace {id} is stored"))),
        Err(candidates) => {
            let body = html! {
                h1 { "Several traces match " (id) }
                ul { @for c in &candidates { li { (trace_link(c)) } } }
            };
            return Ok(super::html(layout::page("several traces", "", body)));
        }
    };
    let Some(tree) = store.tree(&id)? else {
        return Ok(layout::error(StatusCode::NOT_FOUND, &format!("no trace {id} is stored")));
    };
    Ok(super::html(layout::page(&format!("trace {id}"), "", waterfall(&tree))))
}

/// The waterfall of `tree`.
pub fn waterfall(tree: &Tree) -> Markup {
    let s = tree.summary();
    let total = if s.duration > 0.0 { s.duration } else { 1e-6 };
    html! {
        h1 { "trace " span #trace-id { (tree.trace_id) } }
        p.summary {
            "started " (time(s.start)) " UTC · " (duration(s.duration)) " · " span #entity-count { (s.entities) } " entities "
            (marks(s.fault, s.error, s.throttle, s.in_progress))
        }
        @for parent in &tree.missing_parents {
            p.note { "Parent " code { (parent) } " was not received; its children are shown at the top level." }
        }
        p.hint { "Click a row for its annotations, metadata, http, aws and cause." }
        table #waterfall {
            thead { tr { th.num { "offset" } th.num { "duration" } th { "name" } th.timeline { "timeline" } } }
            tbody {
                @for (i, node) in tree.nodes.iter().enumerate() {
                    (row(tree, i, node, s.start, total))
                }
            }
        }
    }
}

/// Whether `e` is the time a message waited in its queue: the subsegment `<queue> wait` that xray-core records
/// under the segment of a message's processing (annotated `queue`).
fn is_queue_wait(tree: &Tree, e: &Entity) -> bool {
    let parent = e.parent_id.as_deref().and_then(|p| tree.nodes.iter().find(|n| n.entity.id == p));
    parent
        .and_then(|p| p.entity.annotations.get("queue"))
        .and_then(Value::as_str)
        .is_some_and(|queue| e.name.strip_suffix(" wait") == Some(queue))
}

fn row(tree: &Tree, i: usize, node: &Node, start: f64, total: f64) -> Markup {
    let e = &node.entity;
    let offset = e.start - start;
    let wait = is_queue_wait(tree, e);
    let class = if wait {
        "wait"
    } else if e.in_progress {
        "progress"
    } else {
        status_class(e.fault, e.error, e.throttle)
    };
    let x = (offset / total * TIMELINE).clamp(0.0, TIMELINE);
    let width = match e.duration() {
        Some(d) => (d / total * TIMELINE).max(2.0),
        None => TIMELINE - x,
    }
    .min(TIMELINE - x)
    .max(2.0);
    let kind = e.origin.as_deref().or(e.namespace.as_deref());
    html! {
        tr class={"entity " (class)} data-entity=(i) data-depth=(node.depth) tabindex="0" {
            td.num.offset { (duration(offset)) }
            td.num.duration { (e.duration().map(duration).unwrap_or_else(|| "…".into())) }
            td.name {
                @for _ in 0..node.depth { span.indent {} }
                span.label { (e.name) }
                @if let Some(kind) = kind { " " span.kind { (kind) } }
                @if wait { " " span.mark.wait { "queue wait" } }
                " " (marks(e.fault, e.error, e.throttle, e.in_progress))
            }
            td.timeline {
                svg.bar viewBox={"0 0 " (TIMELINE) " 10"} preserveAspectRatio="none" {
                    rect x=(format!("{x:.2}")) y="0" width=(format!("{width:.2}")) height="10" class=(class) {}
                }
            }
        }
        tr.details hidden data-for=(i) {
            td colspan="4" { (details(e)) }
        }
    }
}

/// Everything an entity carries beyond its row.
fn details(e: &Entity) -> Markup {
    let blocks = [("http", &e.http), ("aws", &e.aws), ("sql", &e.sql), ("metadata", &e.metadata)];
    html! {
        dl {
            dt { "id" } dd { code { (e.id) } }
            dt { "kind" } dd { (e.kind) }
            dt { "start" } dd { (time(e.start)) " UTC" }
            @if let Some(end) = e.end { dt { "end" } dd { (time(end)) " UTC" } }
        }
        @if !e.annotations.is_empty() {
            h3 { "annotations" }
            table.pairs {
                @for (k, v) in &e.annotations {
                    tr { th { (k) } td {
                        @if k == "linked_trace_id" && v.as_str().is_some_and(is_trace_id) {
                            (trace_link(v.as_str().unwrap_or_default()))
                        } @else { (plain(v)) }
                    } }
                }
            }
        }
        @if let Some(Value::Array(links)) = &e.links {
            h3 { "links" }
            ul.links {
                @for link in links {
                    li {
                        @match link.get("trace_id").and_then(Value::as_str) {
                            Some(t) => { (trace_link(t)) }
                            None => {}
                        }
                        @if let Some(id) = link.get("id").and_then(Value::as_str) { " entity " code { (id) } }
                        @if let Some(attributes) = link.get("attributes") { " " code { (attributes) } }
                    }
                }
            }
        }
        @for (title, block) in blocks {
            @if let Some(value) = block {
                h3 { (title) }
                pre { (serde_json::to_string_pretty(value).unwrap_or_default()) }
            }
        }
        @if let Some(cause) = &e.cause { (self::cause(cause)) }
    }
}

/// A cause: each exception with its type, message and stack, or the id of an exception recorded elsewhere.
fn cause(cause: &Value) -> Markup {
    let exceptions = cause.get("exceptions").and_then(Value::as_array).cloned().unwrap_or_default();
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    html! {
        h3 { "cause" }
        @if let Some(id) = cause.as_str() { p { "exception " code { (id) } " (recorded on another entity)" } }
        @if let Some(dir) = cause.get("working_directory").and_then(Value::as_str) { p { "working directory " code { (dir) } } }
        @for x in &exceptions {
            div.exception {
                p { strong { (text(x, "type")) } @if !text(x, "message").is_empty() { ": " (text(x, "message")) }
                    @if x.get("remote").and_then(Value::as_bool) == Some(true) { " (remote)" } }
                @if let Some(stack) = x.get("stack").and_then(Value::as_array) {
                    ol.stack {
                        @for frame in stack {
                            li { code { (text(frame, "label")) } " " (text(frame, "path"))
                                 @if let Some(line) = frame.get("line") { ":" (line) } }
                        }
                    }
                }
            }
        }
    }
}
