//! Putting documents together into traces.
//!
//! Two halves: [`Assembler`] follows documents as they arrive (which entity is complete, which trace has gone
//! quiet), and [`Tree`] turns the stored documents of one trace into the tree of segments and subsegments that
//! is shown. Both apply the same rule: per entity the complete document replaces the in-progress one, never the
//! other way round, whatever order they arrive in.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

/// One segment or subsegment, taken out of a document (embedded subsegments become entities of their own).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entity {
    /// The 16-hex id.
    pub id: String,
    /// The enclosing entity: the embedding one, or `parent_id` of the document.
    pub parent_id: Option<String>,
    /// `segment` or `subsegment`.
    pub kind: &'static str,
    /// The name.
    pub name: String,
    /// Start, seconds since the epoch.
    pub start: f64,
    /// End, seconds since the epoch; `None` while in progress.
    pub end: Option<f64>,
    /// Whether the entity was still running when this was sent.
    pub in_progress: bool,
    /// A client error (4xx).
    pub error: bool,
    /// A server error (5xx).
    pub fault: bool,
    /// Throttled (429).
    pub throttle: bool,
    /// `aws` or `remote`, if set.
    pub namespace: Option<String>,
    /// The origin, e.g. `AWS::Lambda::Function`.
    pub origin: Option<String>,
    /// Annotations as sent.
    pub annotations: Map<String, Value>,
    /// The `http` object, if any.
    pub http: Option<Value>,
    /// The `aws` object, if any.
    pub aws: Option<Value>,
    /// The `sql` object, if any.
    pub sql: Option<Value>,
    /// First exception message of the cause, if any.
    pub exception: Option<String>,
}

impl Entity {
    /// Duration in seconds, if finished.
    pub fn duration(&self) -> Option<f64> {
        self.end.map(|end| end - self.start)
    }
}

/// Every entity in a (valid) document: the document's own and its embedded subsegments, depth first.
pub fn entities(doc: &Value) -> Vec<Entity> {
    let mut out = Vec::new();
    let kind = if doc.get("type").and_then(Value::as_str) == Some("subsegment") { "subsegment" } else { "segment" };
    let parent = doc.get("parent_id").and_then(Value::as_str).map(str::to_owned);
    collect(doc, parent, kind, &mut out);
    out
}

fn collect(e: &Value, parent_id: Option<String>, kind: &'static str, out: &mut Vec<Entity>) {
    let text = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
    let flag = |k: &str| e.get(k).and_then(Value::as_bool).unwrap_or(false);
    let in_progress = flag("in_progress");
    let id = text("id").unwrap_or_default();
    out.push(Entity {
        id: id.clone(),
        parent_id,
        kind,
        name: text("name").unwrap_or_default(),
        start: e.get("start_time").and_then(Value::as_f64).unwrap_or(0.0),
        end: if in_progress { None } else { e.get("end_time").and_then(Value::as_f64) },
        in_progress,
        error: flag("error"),
        fault: flag("fault"),
        throttle: flag("throttle"),
        namespace: text("namespace"),
        origin: text("origin"),
        annotations: e.get("annotations").and_then(Value::as_object).cloned().unwrap_or_default(),
        http: e.get("http").cloned(),
        aws: e.get("aws").cloned(),
        sql: e.get("sql").cloned(),
        exception: e.pointer("/cause/exceptions/0").map(|x| {
            let kind = x.get("type").and_then(Value::as_str).unwrap_or("error");
            match x.get("message").and_then(Value::as_str) {
                Some(message) => format!("{kind}: {message}"),
                None => kind.to_owned(),
            }
        }),
    });
    if let Some(children) = e.get("subsegments").and_then(Value::as_array) {
        for child in children {
            collect(child, Some(id.clone()), "subsegment", out);
        }
    }
}

/// One trace as a tree, ready to show.
#[derive(Debug, Clone, Serialize)]
pub struct Tree {
    /// The trace id.
    pub trace_id: String,
    /// Entities in display order (depth first, children by start time).
    pub nodes: Vec<Node>,
    /// Parent ids that some entity names but no document provided (e.g. the Lambda function segment, which Lambda
    /// sends itself).
    pub missing_parents: Vec<String>,
}

/// An entity with its place in the tree.
#[derive(Debug, Clone, Serialize)]
pub struct Node {
    /// Nesting depth, 0 for roots.
    pub depth: usize,
    /// The entity.
    #[serde(flatten)]
    pub entity: Entity,
}

/// What the trace list shows of a trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The trace id.
    pub trace_id: String,
    /// Name of the earliest root entity.
    pub root: String,
    /// Earliest start, seconds since the epoch.
    pub start: f64,
    /// Latest end minus earliest start, in seconds.
    pub duration: f64,
    /// Any entity has `error`.
    pub error: bool,
    /// Any entity has `fault`.
    pub fault: bool,
    /// Any entity has `throttle`.
    pub throttle: bool,
    /// Any entity is still in progress.
    pub in_progress: bool,
    /// Number of entities.
    pub entities: usize,
    /// Annotations of all entities (later ones win on equal keys).
    pub annotations: Map<String, Value>,
}

impl Tree {
    /// Builds the tree from a trace's documents, in any order. Per entity id a complete entity beats an in-progress
    /// one; among equals the later document wins.
    pub fn build<'a>(trace_id: &str, documents: impl IntoIterator<Item = &'a Value>) -> Tree {
        let mut by_id: HashMap<String, Entity> = HashMap::new();
        for doc in documents {
            for entity in entities(doc) {
                match by_id.get(&entity.id) {
                    Some(kept) if !kept.in_progress && entity.in_progress => {}
                    // An embedded copy carries no parent of its own beyond its embedder; keep the one we had.
                    _ => {
                        by_id.insert(entity.id.clone(), entity);
                    }
                }
            }
        }
        let mut children: HashMap<Option<&str>, Vec<&Entity>> = HashMap::new();
        let mut missing = HashSet::new();
        for entity in by_id.values() {
            let parent = entity.parent_id.as_deref().filter(|p| by_id.contains_key(*p) && *p != entity.id);
            if let (None, Some(p)) = (parent, entity.parent_id.as_deref()) {
                missing.insert(p.to_owned());
            }
            children.entry(parent).or_default().push(entity);
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| a.start.total_cmp(&b.start).then_with(|| a.id.cmp(&b.id)));
        }
        let mut nodes = Vec::with_capacity(by_id.len());
        let mut stack: Vec<(&Entity, usize)> =
            children.get(&None).map(|roots| roots.iter().rev().map(|e| (*e, 0)).collect()).unwrap_or_default();
        while let Some((entity, depth)) = stack.pop() {
            nodes.push(Node { depth, entity: entity.clone() });
            if let Some(kids) = children.get(&Some(entity.id.as_str())) {
                stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
            }
        }
        let mut missing_parents: Vec<String> = missing.into_iter().collect();
        missing_parents.sort();
        Tree { trace_id: trace_id.to_owned(), nodes, missing_parents }
    }

    /// The list entry for this trace.
    pub fn summary(&self) -> Summary {
        let start = self.nodes.iter().map(|n| n.entity.start).fold(f64::INFINITY, f64::min);
        let end = self.nodes.iter().filter_map(|n| n.entity.end.or(Some(n.entity.start))).fold(start, f64::max);
        let root = self.nodes.iter().filter(|n| n.depth == 0).min_by(|a, b| a.entity.start.total_cmp(&b.entity.start));
        let mut annotations = Map::new();
        for node in &self.nodes {
            annotations.extend(node.entity.annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        Summary {
            trace_id: self.trace_id.clone(),
            root: root.map(|n| n.entity.name.clone()).unwrap_or_default(),
            start: if start.is_finite() { start } else { 0.0 },
            duration: if start.is_finite() { end - start } else { 0.0 },
            error: self.nodes.iter().any(|n| n.entity.error),
            fault: self.nodes.iter().any(|n| n.entity.fault),
            throttle: self.nodes.iter().any(|n| n.entity.throttle),
            in_progress: self.nodes.iter().any(|n| n.entity.in_progress),
            entities: self.nodes.len(),
            annotations,
        }
    }
}

/// What became of an arriving document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// First document of its entity, or a complete one replacing the in-progress one.
    Accepted,
    /// An in-progress document for an entity already seen complete (arrived late): ignored.
    Stale,
}

/// Follows arriving documents per trace, to tell late in-progress documents apart and to see traces go quiet.
#[derive(Debug)]
pub struct Assembler {
    traces: HashMap<String, Pending>,
    settle: Duration,
    give_up: Duration,
}

#[derive(Debug)]
struct Pending {
    /// Per entity id: whether only an in-progress document has been seen.
    entities: HashMap<String, bool>,
    open: usize,
    last: Instant,
}

impl Assembler {
    /// A trace is settled once no document came for `settle` and none of its entities is in progress, or once
    /// nothing came for `give_up` whatever its state.
    pub fn new(settle: Duration, give_up: Duration) -> Self {
        Self { traces: HashMap::new(), settle, give_up }
    }

    /// Records a valid document of `trace_id` for entity `id`, including its embedded subsegments' ids.
    pub fn arrive(&mut self, trace_id: &str, doc: &Value, now: Instant) -> Arrival {
        let pending = match self.traces.get_mut(trace_id) {
            Some(p) => p,
            None => self.traces.entry(trace_id.to_owned()).or_insert(Pending {
                entities: HashMap::new(),
                open: 0,
                last: now,
            }),
        };
        pending.last = now;
        let mut accepted = false;
        note(pending, doc, &mut accepted);
        if accepted { Arrival::Accepted } else { Arrival::Stale }
    }

    /// Traces that have settled since the last call, forgotten here (a late document starts them again).
    pub fn settled(&mut self, now: Instant) -> Vec<String> {
        let (settle, give_up) = (self.settle, self.give_up);
        let done: Vec<String> = self
            .traces
            .iter()
            .filter(|(_, p)| {
                let quiet = now.saturating_duration_since(p.last);
                (quiet >= settle && p.open == 0) || quiet >= give_up
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &done {
            self.traces.remove(id);
        }
        // A map keeps its table after a flood; give it back once most of it is empty, so the memory a flood of
        // traces took is released when they complete or expire, not held for the daemon's life.
        if self.traces.capacity() > 1024 && self.traces.capacity() > 4 * self.traces.len() {
            self.traces.shrink_to(2 * self.traces.len());
        }
        done
    }

    /// Traces still being followed.
    pub fn pending(&self) -> usize {
        self.traces.len()
    }
}

/// Marks `e` and its embedded subsegments; `accepted` becomes true if any of them is news.
fn note(pending: &mut Pending, e: &Value, accepted: &mut bool) {
    let id = e.get("id").and_then(Value::as_str).unwrap_or_default();
    let in_progress = e.get("in_progress").and_then(Value::as_bool).unwrap_or(false);
    match pending.entities.get_mut(id) {
        None => {
            pending.entities.insert(id.to_owned(), in_progress);
            pending.open += usize::from(in_progress);
            *accepted = true;
        }
        Some(open) if *open && !in_progress => {
            *open = false;
            pending.open -= 1;
            *accepted = true;
        }
        // A repeat of what we have, or an in-progress document after the complete one.
        Some(_) => {}
    }
    if let Some(children) = e.get("subsegments").and_then(Value::as_array) {
        for child in children {
            note(pending, child, accepted);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    fn doc(id: &str, parent: Option<&str>, start: f64, end: Option<f64>) -> Value {
        let mut d = json!({"name": id, "id": id, "trace_id": TRACE, "start_time": start});
        match end {
            Some(end) => d["end_time"] = json!(end),
            None => d["in_progress"] = json!(true),
        }
        if let Some(p) = parent {
            d["type"] = json!("subsegment");
            d["parent_id"] = json!(p);
        }
        d
    }

    fn shape(tree: &Tree) -> Vec<(usize, String, bool)> {
        tree.nodes.iter().map(|n| (n.depth, n.entity.name.clone(), n.entity.in_progress)).collect()
    }

    #[test]
    fn children_arriving_before_their_parent_end_up_under_it() {
        let child = doc("000000000000000b", Some("000000000000000a"), 10.5, Some(11.0));
        let parent = doc("000000000000000a", None, 10.0, Some(12.0));
        let tree = Tree::build(TRACE, [&child, &parent]);
        assert_eq!(shape(&tree), vec![(0, "000000000000000a".into(), false), (1, "000000000000000b".into(), false)]);
        assert!(tree.missing_parents.is_empty());
    }

    #[test]
    fn complete_replaces_in_progress_in_either_order() {
        let open = doc("000000000000000a", None, 10.0, None);
        let done = doc("000000000000000a", None, 10.0, Some(12.0));
        for order in [[&open, &done], [&done, &open]] {
            let tree = Tree::build(TRACE, order);
            assert_eq!(shape(&tree), vec![(0, "000000000000000a".into(), false)]);
            assert_eq!(tree.nodes[0].entity.end, Some(12.0));
        }
        let mut assembler = Assembler::new(Duration::ZERO, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(assembler.arrive(TRACE, &done, now), Arrival::Accepted);
        assert_eq!(assembler.arrive(TRACE, &open, now), Arrival::Stale);
    }

    #[test]
    fn embedded_subsegments_nest_and_missing_parents_are_named() {
        let mut seg = doc("000000000000000c", Some("00000000000000ff"), 1.0, Some(4.0));
        seg["subsegments"] = json!([doc("000000000000000d", None, 2.0, Some(3.0))]);
        let tree = Tree::build(TRACE, [&seg]);
        assert_eq!(shape(&tree), vec![(0, "000000000000000c".into(), false), (1, "000000000000000d".into(), false)]);
        assert_eq!(tree.missing_parents, vec!["00000000000000ff".to_string()]);
        let summary = tree.summary();
        assert_eq!((summary.start, summary.duration, summary.entities), (1.0, 3.0, 2));
    }

    #[test]
    fn a_trace_settles_only_when_quiet_and_nothing_is_open() {
        let mut assembler = Assembler::new(Duration::from_millis(100), Duration::from_secs(5));
        let t0 = Instant::now();
        assembler.arrive(TRACE, &doc("000000000000000a", None, 1.0, None), t0);
        assert!(assembler.settled(t0 + Duration::from_secs(1)).is_empty(), "still in progress");
        assembler.arrive(TRACE, &doc("000000000000000a", None, 1.0, Some(2.0)), t0 + Duration::from_secs(1));
        assert!(assembler.settled(t0 + Duration::from_millis(1050)).is_empty(), "not quiet yet");
        assert_eq!(assembler.settled(t0 + Duration::from_millis(1100)), vec![TRACE.to_string()]);
        assert_eq!(assembler.pending(), 0);
    }

    #[test]
    fn the_memory_of_a_flood_of_in_progress_traces_is_released_when_they_complete_or_expire() {
        // Guards issue 18 point 19: the table of followed traces kept its size after a flood, so the memory of
        // 100,000 in-progress traces stayed with the daemon after they had all completed or expired.
        let mut assembler = Assembler::new(Duration::from_millis(100), Duration::from_secs(5));
        let t0 = Instant::now();
        let ids: Vec<String> = (0..100_000).map(|i| format!("1-581cf771-{i:024x}")).collect();
        for id in &ids {
            assembler.arrive(id, &doc("000000000000000a", None, 1.0, None), t0);
        }
        let flooded = assembler.traces.capacity();
        assert!(flooded >= 100_000);
        // Half complete and settle, the other half stays in progress until it is given up on.
        for id in &ids[..50_000] {
            assembler.arrive(id, &doc("000000000000000a", None, 1.0, Some(2.0)), t0);
        }
        assert_eq!(assembler.settled(t0 + Duration::from_secs(1)).len(), 50_000);
        assert!(assembler.traces.capacity() < flooded, "completed traces give their room back");
        assert_eq!(assembler.settled(t0 + Duration::from_secs(6)).len(), 50_000);
        assert_eq!(assembler.pending(), 0);
        assert!(assembler.traces.capacity() <= 1024, "{} slots kept for no trace", assembler.traces.capacity());
    }
}
