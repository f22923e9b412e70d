//! Where the time of an entry point goes: for a service, an API route or a queue consumer, over the traces of a
//! time range, how its end-to-end duration splits into parts along the critical path, at p50 and at p99. The one
//! home of this aggregate: `xray-local latency` prints it, the web view's `/latency` page shows it.
//!
//! ```
//! use xray_local::assemble::Tree;
//! use xray_local::store::latency::{Entry, Part, aggregate, splits};
//!
//! let trace = "1-581cf771-a006649127e371903a2de979";
//! let doc = serde_json::json!({"name": "api", "id": "000000000000000a", "trace_id": trace,
//!     "start_time": 10.0, "end_time": 10.1,
//!     "subsegments": [{"name": "pricing", "namespace": "remote", "id": "000000000000000b",
//!                      "start_time": 10.02, "end_time": 10.08}]});
//! let tree = Tree::build(trace, [&doc]);
//! let latency = aggregate(Entry::Service { name: "api".into() }, splits(&tree, &Entry::Service { name: "api".into() }));
//! let pricing = latency.rows.iter().find(|r| r.part == Part::subsegment("pricing", Some("remote"))).unwrap();
//! assert!((pricing.p99_share - 0.6).abs() < 1e-9);
//! assert_eq!(latency.samples, 1);
//! ```
//!
//! # What is measured
//!
//! - **Samples**: every outermost occurrence of the entry point in a complete trace (an occurrence nested inside
//!   another one of the same entry point is part of it, not a sample of its own). Usually one per trace.
//! - **End-to-end**: the entry segment's duration, plus the wait in the queue before it when it was started by a
//!   message whose send call the trace holds and it carries no wait of its own (see queue waits below).
//! - **Critical path** (the walk Jaeger's critical-path view makes): within an entity, from its end back to its
//!   start, the child that ended last is on the path; the walk descends into it, then continues from that child's
//!   start with the children that started before it (a child overlapping the one after it is cut where that one
//!   starts). Time of the entity that no child on the path covers is its own. Children are cut to their parent's
//!   span; a child that ends more than [`ASYNC_AFTER`] after its parent (a message's processing under its send
//!   call, a spawned task), or is still in progress, is not on its parent's path.
//! - **Parts**: the own time of subsegments, summed per name and namespace ([`Part::Subsegment`]); queue waits,
//!   per queue ([`Part::QueueWait`]): the `<queue> wait` subsegment that xray-core's queue processing records at
//!   the start of its segment, or, for a consumer segment without one, the gap between the end of the send call
//!   it hangs under and its start; and the own time of segments, the gaps that no subsegment covers
//!   ([`Part::Uncovered`]). For each sample the parts add up to its end-to-end duration exactly.
//! - **p50 and p99**: samples are ranked by end-to-end duration (1 = fastest). The quantile `q` of `n` samples is
//!   the nearest rank `k = ceil(q n)`; its band is the ranks `k - h ..= k + h` with `h = floor(n / 200)` (half a
//!   percent of the samples on each side; just rank `k` below 200 samples). A part's p99 figure is its mean time
//!   over the p99 band, its share that mean divided by the band's mean end-to-end duration, so the shares of a
//!   band add up to 1. Means over a band rather than the one trace at rank `k`, so the figures are those of the
//!   slow traces in general, not of whichever one happened to land on that rank.

use std::collections::HashMap;
use std::fmt;

use rusqlite::params;
use serde::Serialize;
use serde_json::Value;

use super::Store;
use crate::assemble::{Entity, Tree};

/// How much later than its parent a child may end and still be on the parent's critical path (clocks of two hosts
/// disagree a little; a message's processing ends much later than its send call).
pub const ASYNC_AFTER: f64 = 0.001;

/// How wide a band is on each side of its rank, as a fraction of the samples.
const BAND_HALF_WIDTH: f64 = 0.005;

/// The entry point whose latency is split.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// Segments of this name (a service, a function).
    Service {
        /// The segment name.
        name: String,
    },
    /// Segments whose `http.request` has this method and URL path. A path ending in `*` matches every path that
    /// starts with what comes before it (`/orders/*`).
    Route {
        /// The HTTP method, compared without regard to case.
        method: String,
        /// The URL path, e.g. `/orders`.
        path: String,
    },
    /// The segments that processed a message of this queue: annotated `queue` with its name (as xray-core's queue
    /// processing does) or holding a `<queue> wait` subsegment.
    Queue {
        /// The queue's name.
        name: String,
    },
}

impl Entry {
    /// Reads a route as typed: `METHOD /path` (e.g. `POST /orders`).
    pub fn route(text: &str) -> Result<Entry, String> {
        let (method, path) = text
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("`{text}` is not a route like `POST /orders`"))?;
        let path = path.trim();
        if method.is_empty() || !path.starts_with('/') {
            return Err(format!("`{text}` is not a route like `POST /orders`"));
        }
        Ok(Entry::Route { method: method.to_ascii_uppercase(), path: path.to_owned() })
    }

    /// Whether `entity` is an occurrence of this entry point; `waits` says whether it has a queue-wait child for a
    /// queue name.
    fn matches(&self, entity: &Entity, wait_of: &dyn Fn(&str) -> bool) -> bool {
        if entity.kind != "segment" {
            return false;
        }
        match self {
            Entry::Service { name } => entity.name == *name,
            Entry::Route { method, path } => {
                route_of(entity).is_some_and(|(m, p)| m.eq_ignore_ascii_case(method) && path_matches(path, p))
            }
            Entry::Queue { name } => {
                entity.annotations.get("queue").and_then(Value::as_str) == Some(name.as_str()) || wait_of(name)
            }
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Service { name } => write!(f, "service {name}"),
            Entry::Route { method, path } => write!(f, "route {method} {path}"),
            Entry::Queue { name } => write!(f, "queue {name}"),
        }
    }
}

/// The traces considered: those whose earliest start lies in `from ..= to` (seconds since the epoch; `None`: no
/// bound on that side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Range {
    /// The earliest trace start taken, if bounded.
    pub from: Option<f64>,
    /// The latest trace start taken, if bounded.
    pub to: Option<f64>,
}

/// A part of the end-to-end duration.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Part {
    /// The own time of subsegments of this name and namespace: not spent in a child on the path.
    Subsegment {
        /// The subsegment name, e.g. `DynamoDB`.
        name: String,
        /// `aws`, `remote`, or none.
        namespace: Option<String>,
    },
    /// Time a message waited in this queue before its processing began.
    QueueWait {
        /// The queue's name.
        queue: String,
    },
    /// Time of a segment that none of its subsegments covers.
    Uncovered {
        /// The segment name.
        segment: String,
        /// Its origin, e.g. `AWS::Lambda::Function`, if set.
        origin: Option<String>,
    },
}

impl Part {
    /// The part for the own time of subsegments named `name` in `namespace`.
    pub fn subsegment(name: &str, namespace: Option<&str>) -> Part {
        Part::Subsegment { name: name.to_owned(), namespace: namespace.map(str::to_owned) }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Subsegment { name, namespace: Some(ns) } => write!(f, "{name} ({ns})"),
            Part::Subsegment { name, namespace: None } => f.write_str(name),
            Part::QueueWait { queue } => write!(f, "queue wait: {queue}"),
            Part::Uncovered { segment, origin: Some(origin) } => write!(f, "not covered: {segment} ({origin})"),
            Part::Uncovered { segment, origin: None } => write!(f, "not covered: {segment}"),
        }
    }
}

/// One occurrence of the entry point, split into its parts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    /// The trace it is in.
    pub trace_id: String,
    /// End-to-end duration, seconds.
    pub duration: f64,
    /// Seconds per part; they add up to `duration`.
    pub parts: Vec<(Part, f64)>,
}

/// The samples around one quantile of the end-to-end duration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Band {
    /// The quantile, e.g. 0.99.
    pub quantile: f64,
    /// The nearest rank `ceil(quantile * samples)`, 1 = fastest.
    pub rank: usize,
    /// The first rank of the band.
    pub first_rank: usize,
    /// The last rank of the band.
    pub last_rank: usize,
    /// The end-to-end duration of the sample at `rank`: the quantile itself, in milliseconds.
    pub duration_ms: f64,
    /// The mean end-to-end duration over the band, in milliseconds (what the band's shares divide).
    pub mean_ms: f64,
    /// The traces of the band's samples, fastest first.
    pub traces: Vec<String>,
}

/// One part's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The part.
    pub part: Part,
    /// The part as shown, e.g. `DynamoDB (aws)`, `queue wait: orders`.
    pub label: String,
    /// Its mean time over the p50 band, in milliseconds.
    pub p50_ms: f64,
    /// Its mean time over the p99 band, in milliseconds.
    pub p99_ms: f64,
    /// `p50_ms` over the p50 band's mean end-to-end duration (0 to 1).
    pub p50_share: f64,
    /// `p99_ms` over the p99 band's mean end-to-end duration (0 to 1).
    pub p99_share: f64,
}

/// The split of an entry point's latency at p50 and p99.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    /// The entry point.
    pub entry: Entry,
    /// How many occurrences of it were found (see the module docs).
    pub samples: usize,
    /// The p50 band; `None` when there are no samples.
    pub p50: Option<Band>,
    /// The p99 band; `None` when there are no samples.
    pub p99: Option<Band>,
    /// One row per part present in either band, the largest at p99 first.
    pub rows: Vec<Row>,
}

/// An entry point found in the traces, with how many samples of it there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryPoint {
    /// The entry point.
    pub entry: Entry,
    /// Its samples (outermost occurrences in complete traces).
    pub samples: usize,
}

impl Store {
    /// The split of `entry`'s latency over the traces that started in `range`.
    pub fn latency(&self, entry: &Entry, range: Range) -> rusqlite::Result<Latency> {
        let mut all = Vec::new();
        self.each_tree(range, |tree| all.extend(splits(tree, entry)))?;
        Ok(aggregate(entry.clone(), all))
    }

    /// Every entry point in the traces that started in `range` (services, routes, queues), the most samples first.
    pub fn entry_points(&self, range: Range) -> rusqlite::Result<Vec<EntryPoint>> {
        let mut counts: HashMap<Entry, usize> = HashMap::new();
        self.each_tree(range, |tree| {
            for entry in entries(tree) {
                let found = splits(tree, &entry).len();
                if found > 0 {
                    *counts.entry(entry).or_default() += found;
                }
            }
        })?;
        let mut list: Vec<EntryPoint> =
            counts.into_iter().map(|(entry, samples)| EntryPoint { entry, samples }).collect();
        list.sort_by(|a, b| b.samples.cmp(&a.samples).then_with(|| a.entry.to_string().cmp(&b.entry.to_string())));
        Ok(list)
    }

    /// Calls `f` with the tree of each trace that started in `range`, reading the documents in one pass.
    fn each_tree(&self, range: Range, mut f: impl FnMut(&Tree)) -> rusqlite::Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.trace_id, d.body FROM documents d JOIN traces t ON t.trace_id = d.trace_id
             WHERE t.in_progress = 0 AND t.start >= ?1 AND t.start <= ?2 ORDER BY d.trace_id",
        )?;
        let from = range.from.unwrap_or(f64::MIN);
        let to = range.to.unwrap_or(f64::MAX);
        let mut rows = stmt.query(params![from, to])?;
        let mut current: Option<String> = None;
        let mut docs: Vec<Value> = Vec::new();
        let mut flush = |id: &str, docs: &mut Vec<Value>| {
            if !docs.is_empty() {
                f(&Tree::build(id, docs.iter()));
                docs.clear();
            }
        };
        while let Some(row) = rows.next()? {
            let trace_id = row.get_ref(0)?.as_str()?;
            if current.as_deref() != Some(trace_id) {
                if let Some(id) = current.take() {
                    flush(&id, &mut docs);
                }
                current = Some(trace_id.to_owned());
            }
            // Only valid JSON is stored; a row that does not parse is skipped, as everywhere else.
            if let Ok(doc) = serde_json::from_str(row.get_ref(1)?.as_str()?) {
                docs.push(doc);
            }
        }
        if let Some(id) = current {
            flush(&id, &mut docs);
        }
        Ok(())
    }
}

/// The method and URL path of a segment's `http.request`.
fn route_of(entity: &Entity) -> Option<(&str, &str)> {
    let request = entity.http.as_ref()?.get("request")?;
    let method = request.get("method")?.as_str()?;
    let url = request.get("url")?.as_str()?;
    // `https://host/path?query#fragment` or a bare `/path?query`.
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path =
        if url.contains("://") { after_scheme.find('/').map_or("/", |i| &after_scheme[i..]) } else { after_scheme };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    Some((method, if path.is_empty() { "/" } else { path }))
}

fn path_matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

/// The tree's entities by id and their children, each list by start time.
struct Index<'a> {
    by_id: HashMap<&'a str, &'a Entity>,
    children: HashMap<&'a str, Vec<&'a Entity>>,
}

impl<'a> Index<'a> {
    fn new(tree: &'a Tree) -> Self {
        let mut by_id = HashMap::with_capacity(tree.nodes.len());
        let mut children: HashMap<&str, Vec<&Entity>> = HashMap::new();
        for node in &tree.nodes {
            by_id.insert(node.entity.id.as_str(), &node.entity);
        }
        // Display order is depth first with children by start time, so each list comes out sorted.
        for node in &tree.nodes {
            if let Some(parent) = node.entity.parent_id.as_deref().filter(|p| by_id.contains_key(p)) {
                children.entry(parent).or_default().push(&node.entity);
            }
        }
        Index { by_id, children }
    }

    fn children(&self, entity: &Entity) -> &[&'a Entity] {
        self.children.get(entity.id.as_str()).map_or(&[], Vec::as_slice)
    }

    fn parent(&self, entity: &Entity) -> Option<&'a Entity> {
        entity.parent_id.as_deref().and_then(|p| self.by_id.get(p).copied()).filter(|p| p.id != entity.id)
    }

    /// The queue whose wait `entity` is: a subsegment named `<queue> wait` right under a segment, starting where
    /// the segment starts or under a segment annotated with that queue.
    fn queue_wait<'e>(&self, entity: &'e Entity) -> Option<&'e str> {
        let queue = entity.name.strip_suffix(" wait").filter(|q| !q.is_empty())?;
        let parent = self.parent(entity).filter(|p| p.kind == "segment" && entity.kind == "subsegment")?;
        let annotated = parent.annotations.get("queue").and_then(Value::as_str) == Some(queue);
        ((entity.start - parent.start).abs() < 1e-6 || annotated).then_some(queue)
    }

    /// Whether `entity` has a queue-wait child for `queue`.
    fn waits_for(&self, entity: &Entity, queue: &str) -> bool {
        self.children(entity).iter().any(|c| self.queue_wait(c) == Some(queue))
    }
}

/// The samples of `entry` in one trace, split into their parts (none if the trace holds no complete occurrence).
pub fn splits(tree: &Tree, entry: &Entry) -> Vec<Split> {
    let index = Index::new(tree);
    let is_match = |e: &Entity| entry.matches(e, &|queue| index.waits_for(e, queue));
    let mut out = Vec::new();
    for node in &tree.nodes {
        let e = &node.entity;
        let Some(end) = e.end else { continue };
        if !is_match(e) {
            continue;
        }
        let mut ancestor = index.parent(e);
        let mut nested = false;
        while let Some(a) = ancestor {
            if is_match(a) {
                nested = true;
                break;
            }
            ancestor = index.parent(a);
        }
        if nested {
            continue;
        }
        let mut walk = Walk { index: &index, parts: HashMap::new() };
        let mut duration = end - e.start;
        if let Some((queue, wait)) = foreign_wait(&index, e) {
            walk.add(Part::QueueWait { queue }, wait);
            duration += wait;
        }
        walk.path(e, e.start, end);
        let mut parts: Vec<(Part, f64)> = walk.parts.into_iter().collect();
        parts.sort_by(|a, b| a.0.cmp(&b.0));
        out.push(Split { trace_id: tree.trace_id.clone(), duration, parts });
    }
    out
}

/// For a segment started by a message whose send call is its parent and that records no wait of its own: the
/// queue and the time from the end of the send call to the segment's start.
fn foreign_wait(index: &Index<'_>, segment: &Entity) -> Option<(String, f64)> {
    let send = index.parent(segment).filter(|p| p.kind == "subsegment")?;
    let (send_end, end) = (send.end?, segment.end?);
    let has_wait = index.children(segment).iter().any(|c| index.queue_wait(c).is_some());
    if has_wait || end <= send_end + ASYNC_AFTER || segment.start <= send_end {
        return None;
    }
    let url = send.aws.as_ref().and_then(|aws| aws.get("queue_url")).and_then(Value::as_str);
    let queue = url.and_then(|u| u.rsplit('/').find(|s| !s.is_empty())).unwrap_or(&send.name);
    Some((queue.to_owned(), segment.start - send_end))
}

/// The critical-path walk of one sample, adding up time per part.
struct Walk<'i, 'a> {
    index: &'i Index<'a>,
    parts: HashMap<Part, f64>,
}

impl Walk<'_, '_> {
    fn add(&mut self, part: Part, seconds: f64) {
        if seconds > 0.0 {
            *self.parts.entry(part).or_default() += seconds;
        }
    }

    /// What `entity`'s own time counts as.
    fn own(&self, entity: &Entity) -> Part {
        if let Some(queue) = self.index.queue_wait(entity) {
            return Part::QueueWait { queue: queue.to_owned() };
        }
        match entity.kind {
            "segment" => Part::Uncovered { segment: entity.name.clone(), origin: entity.origin.clone() },
            _ => Part::Subsegment { name: entity.name.clone(), namespace: entity.namespace.clone() },
        }
    }

    /// Splits the time `lo..hi` of `entity` between its own part and its children on the critical path.
    fn path(&mut self, entity: &Entity, lo: f64, hi: f64) {
        let own = self.own(entity);
        let limit = entity.end.unwrap_or(hi) + ASYNC_AFTER;
        // The children on the path candidates: finished, not asynchronous, cut to `lo..hi`.
        let mut kids: Vec<(f64, f64, &Entity)> = self
            .index
            .children(entity)
            .iter()
            .filter_map(|c| {
                let end = c.end.filter(|&end| end <= limit)?;
                let (s, e) = (c.start.max(lo), end.min(hi));
                (e > s).then_some((s, e, *c))
            })
            .collect();
        let mut t = hi;
        while t > lo {
            // The child that ends last before `t` (cut at `t`); on a tie the one that started later.
            let next = kids
                .iter()
                .enumerate()
                .filter(|(_, (s, _, _))| *s < t)
                .max_by(|(_, a), (_, b)| a.1.min(t).total_cmp(&b.1.min(t)).then(a.0.total_cmp(&b.0)))
                .map(|(i, _)| i);
            let Some(i) = next else {
                self.add(own.clone(), t - lo);
                break;
            };
            let (s, e, child) = kids.swap_remove(i);
            let e = e.min(t);
            self.add(own.clone(), t - e);
            self.path(child, s, e);
            t = s;
        }
    }
}

/// Aggregates the samples of `entry` into its split at p50 and p99 (see the module docs for the definitions).
pub fn aggregate(entry: Entry, mut samples: Vec<Split>) -> Latency {
    samples.sort_by(|a, b| a.duration.total_cmp(&b.duration).then_with(|| a.trace_id.cmp(&b.trace_id)));
    let n = samples.len();
    if n == 0 {
        return Latency { entry, samples: 0, p50: None, p99: None, rows: Vec::new() };
    }
    let (p50, p50_parts) = band(&samples, 0.5);
    let (p99, p99_parts) = band(&samples, 0.99);
    let mut parts: Vec<&Part> = p50_parts.keys().chain(p99_parts.keys()).collect();
    parts.sort();
    parts.dedup();
    let share = |ms: f64, band: &Band| if band.mean_ms > 0.0 { ms / band.mean_ms } else { 0.0 };
    let mut rows: Vec<Row> = parts
        .into_iter()
        .map(|part| {
            let p50_ms = p50_parts.get(part).copied().unwrap_or(0.0);
            let p99_ms = p99_parts.get(part).copied().unwrap_or(0.0);
            Row {
                part: part.clone(),
                label: part.to_string(),
                p50_ms,
                p99_ms,
                p50_share: share(p50_ms, &p50),
                p99_share: share(p99_ms, &p99),
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.p99_ms.total_cmp(&a.p99_ms).then(b.p50_ms.total_cmp(&a.p50_ms)).then_with(|| a.part.cmp(&b.part))
    });
    Latency { entry, samples: n, p50: Some(p50), p99: Some(p99), rows }
}

/// The band around quantile `q` of `sorted` (by duration, fastest first), and each part's mean over it in ms.
fn band(sorted: &[Split], q: f64) -> (Band, HashMap<Part, f64>) {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    let half = (n as f64 * BAND_HALF_WIDTH).floor() as usize;
    let (first, last) = (rank.saturating_sub(half).max(1), (rank + half).min(n));
    let members = &sorted[first - 1..last];
    let count = members.len() as f64;
    let mut parts: HashMap<Part, f64> = HashMap::new();
    for sample in members {
        for (part, seconds) in &sample.parts {
            *parts.entry(part.clone()).or_default() += seconds * 1e3 / count;
        }
    }
    let band = Band {
        quantile: q,
        rank,
        first_rank: first,
        last_rank: last,
        duration_ms: sorted[rank - 1].duration * 1e3,
        mean_ms: members.iter().map(|s| s.duration).sum::<f64>() * 1e3 / count,
        traces: members.iter().map(|s| s.trace_id.clone()).collect(),
    };
    (band, parts)
}

/// The entry points a trace holds: its segments' names and routes, and the queues its segments processed.
fn entries(tree: &Tree) -> Vec<Entry> {
    let index = Index::new(tree);
    let mut out = Vec::new();
    for node in &tree.nodes {
        let e = &node.entity;
        if e.kind != "segment" {
            continue;
        }
        out.push(Entry::Service { name: e.name.clone() });
        if let Some((method, path)) = route_of(e) {
            out.push(Entry::Route { method: method.to_ascii_uppercase(), path: path.to_owned() });
        }
        if let Some(queue) = e.annotations.get("queue").and_then(Value::as_str) {
            out.push(Entry::Queue { name: queue.to_owned() });
        }
        for child in index.children(e) {
            if let Some(queue) = index.queue_wait(child) {
                out.push(Entry::Queue { name: queue.to_owned() });
            }
        }
    }
    out.sort_by_key(|e| e.to_string());
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    fn seconds(split: &Split, part: &Part) -> f64 {
        split.parts.iter().find(|(p, _)| p == part).map_or(0.0, |(_, s)| *s)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn parallel_calls_put_only_the_last_to_finish_on_the_path() {
        // api 0..10: a 1..4 and b 2..6 overlap (b ends last, so b is on the path from 6 back to 2, a only 1..2),
        // c 7..9 with d 7.5..8.5 inside it; 0..1, 6..7 and 9..10 are not covered.
        let doc = json!({"name": "api", "id": "000000000000000a", "trace_id": TRACE, "start_time": 0.0, "end_time": 10.0,
            "subsegments": [
                {"name": "a", "id": "000000000000000b", "start_time": 1.0, "end_time": 4.0},
                {"name": "b", "id": "000000000000000c", "start_time": 2.0, "end_time": 6.0, "namespace": "aws"},
                {"name": "c", "id": "000000000000000d", "start_time": 7.0, "end_time": 9.0,
                 "subsegments": [{"name": "d", "id": "000000000000000e", "start_time": 7.5, "end_time": 8.5}]}]});
        let tree = Tree::build(TRACE, [&doc]);
        let [split] = splits(&tree, &Entry::Service { name: "api".into() }).try_into().expect("one sample");
        assert!(close(split.duration, 10.0));
        let uncovered = Part::Uncovered { segment: "api".into(), origin: None };
        assert!(close(seconds(&split, &uncovered), 3.0));
        assert!(close(seconds(&split, &Part::subsegment("a", None)), 1.0));
        assert!(close(seconds(&split, &Part::subsegment("b", Some("aws"))), 4.0));
        assert!(close(seconds(&split, &Part::subsegment("c", None)), 1.0));
        assert!(close(seconds(&split, &Part::subsegment("d", None)), 1.0));
        assert!(close(split.parts.iter().map(|(_, s)| s).sum::<f64>(), split.duration));
    }

    #[test]
    fn a_message_s_processing_is_not_on_its_send_call_s_path_but_is_a_queue_consumer_with_its_wait() {
        // api 0..1 sends at 0.2..0.3; the consumer's segment starts at the send (0.25, xray-core's queue wait
        // 0.25..0.75) and ends at 2.0, long after the send call.
        let api = json!({"name": "api", "id": "000000000000000a", "trace_id": TRACE, "start_time": 0.0, "end_time": 1.0,
            "subsegments": [{"name": "SQS", "namespace": "aws", "id": "000000000000000b", "start_time": 0.2,
                             "end_time": 0.3, "aws": {"queue_url": "http://q/123/orders"}}]});
        let consumer = json!({"name": "worker", "id": "000000000000000c", "trace_id": TRACE,
            "parent_id": "000000000000000b", "start_time": 0.25, "end_time": 2.0, "annotations": {"queue": "orders"},
            "subsegments": [{"name": "orders wait", "id": "000000000000000d", "start_time": 0.25, "end_time": 0.75},
                            {"name": "fulfil", "id": "000000000000000e", "start_time": 0.8, "end_time": 1.9}]});
        let tree = Tree::build(TRACE, [&api, &consumer]);
        let [api_split] = splits(&tree, &Entry::Service { name: "api".into() }).try_into().expect("one sample");
        assert!(close(seconds(&api_split, &Part::subsegment("SQS", Some("aws"))), 0.1));
        assert_eq!(api_split.parts.len(), 2, "{:?}", api_split.parts);
        for entry in [Entry::Queue { name: "orders".into() }, Entry::Service { name: "worker".into() }] {
            let [split] = splits(&tree, &entry).try_into().expect("one sample");
            assert!(close(split.duration, 1.75));
            assert!(close(seconds(&split, &Part::QueueWait { queue: "orders".into() }), 0.5));
            assert!(close(seconds(&split, &Part::subsegment("fulfil", None)), 1.1));
        }
    }

    #[test]
    fn a_consumer_without_a_wait_of_its_own_counts_the_gap_after_the_send_call() {
        let api = json!({"name": "api", "id": "000000000000000a", "trace_id": TRACE, "start_time": 0.0, "end_time": 1.0,
            "subsegments": [{"name": "SQS", "namespace": "aws", "id": "000000000000000b", "start_time": 0.2,
                             "end_time": 0.3, "aws": {"queue_url": "http://q/123/orders"}}]});
        let consumer = json!({"name": "worker", "id": "000000000000000c", "trace_id": TRACE,
            "parent_id": "000000000000000b", "start_time": 1.3, "end_time": 2.0});
        let tree = Tree::build(TRACE, [&api, &consumer]);
        let [split] = splits(&tree, &Entry::Service { name: "worker".into() }).try_into().expect("one sample");
        assert!(close(split.duration, 1.7));
        assert!(close(seconds(&split, &Part::QueueWait { queue: "orders".into() }), 1.0));
    }

    #[test]
    fn routes_match_method_and_path_and_nested_occurrences_are_not_samples_of_their_own() {
        let doc = json!({"name": "gw", "id": "000000000000000a", "trace_id": TRACE, "start_time": 0.0, "end_time": 1.0,
            "http": {"request": {"method": "POST", "url": "https://api.example.com/orders?x=1"}}});
        let inner = json!({"name": "gw", "id": "000000000000000b", "trace_id": TRACE, "start_time": 0.1,
            "end_time": 0.9, "parent_id": "000000000000000a",
            "http": {"request": {"method": "POST", "url": "/orders"}}});
        let tree = Tree::build(TRACE, [&doc, &inner]);
        let route = Entry::route("post /orders").expect("route");
        assert_eq!(route, Entry::Route { method: "POST".into(), path: "/orders".into() });
        assert_eq!(splits(&tree, &route).len(), 1);
        assert_eq!(splits(&tree, &Entry::route("POST /ord*").expect("route")).len(), 1);
        assert!(splits(&tree, &Entry::route("GET /orders").expect("route")).is_empty());
        assert!(splits(&tree, &Entry::route("POST /order").expect("route")).is_empty());
        assert!(Entry::route("orders").is_err());
    }

    #[test]
    fn bands_are_half_a_percent_each_side_of_the_nearest_rank() {
        let sample = |i: usize| Split {
            trace_id: format!("t{i:05}"),
            duration: i as f64,
            parts: vec![(Part::subsegment("x", None), i as f64)],
        };
        let latency = aggregate(Entry::Service { name: "s".into() }, (1..=1000).rev().map(sample).collect());
        let p99 = latency.p99.expect("p99");
        assert_eq!((p99.rank, p99.first_rank, p99.last_rank), (990, 985, 995));
        assert!(close(p99.duration_ms, 990_000.0) && close(p99.mean_ms, 990_000.0));
        assert_eq!(p99.traces.len(), 11);
        let p50 = latency.p50.expect("p50");
        assert_eq!((p50.rank, p50.first_rank, p50.last_rank), (500, 495, 505));
        assert_eq!(latency.rows.len(), 1);
        assert!(close(latency.rows[0].p99_share, 1.0));
        let small = aggregate(Entry::Service { name: "s".into() }, (1..=10).map(sample).collect());
        let p99 = small.p99.expect("p99");
        assert_eq!((p99.rank, p99.first_rank, p99.last_rank), (10, 10, 10));
        assert!(aggregate(Entry::Service { name: "s".into() }, vec![]).p50.is_none());
    }
}
