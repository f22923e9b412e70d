//! Putting documents together into traces: [`Tree`] turns the stored documents of one trace into the tree of
//! segments and subsegments that is shown, and [`Tree::summary`] into its entry in the trace list. Per entity the
//! complete document replaces the in-progress one, never the other way round, whatever order they arrive in; the
//! daemon's assembler (`daemon/assembler.rs`), which follows documents as they arrive, keeps the same rule.

use std::collections::{HashMap, HashSet};

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
    /// The `metadata` object, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// The whole `cause` (exceptions with their stacks, or an exception id), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Value>,
    /// Span links (`links`: other traces' entities this one refers to), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
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
        metadata: e.get("metadata").cloned(),
        cause: e.get("cause").cloned(),
        links: e.get("links").cloned(),
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

#[cfg(test)]
pub(crate) mod tests {
    //! Also the fixtures of the assembler's tests (`daemon/assembler.rs`).
    use serde_json::json;

    use super::*;

    pub(crate) const TRACE: &str = "1-581cf771-a006649127e371903a2de979";

    pub(crate) fn doc(id: &str, parent: Option<&str>, start: f64, end: Option<f64>) -> Value {
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

    pub(crate) fn shape(tree: &Tree) -> Vec<(usize, String, bool)> {
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
    fn embedded_subsegments_nest_and_missing_parents_are_named() {
        let mut seg = doc("000000000000000c", Some("00000000000000ff"), 1.0, Some(4.0));
        seg["subsegments"] = json!([doc("000000000000000d", None, 2.0, Some(3.0))]);
        let tree = Tree::build(TRACE, [&seg]);
        assert_eq!(shape(&tree), vec![(0, "000000000000000c".into(), false), (1, "000000000000000d".into(), false)]);
        assert_eq!(tree.missing_parents, vec!["00000000000000ff".to_string()]);
        let summary = tree.summary();
        assert_eq!((summary.start, summary.duration, summary.entities), (1.0, 3.0, 2));
    }
}
