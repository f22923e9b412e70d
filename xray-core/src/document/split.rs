//! Cutting a tree of entities into documents that each fit one datagram (64 KB with the header line).
//!
//! The daemon drops anything larger, so completed subtrees are written as independent subsegments until the rest
//! fits, chosen from the leaves up so that each holds as much of the tree as fits (a chain goes in full
//! datagrams, not one per level), and a single entity that is still too large is trimmed (metadata first, then
//! annotations, then the blocks) and marked, never dropped. Pure: documents go to a callback, and what was trimmed
//! is returned.

use super::{Entity, Extra, Placement, write_document};
use crate::ids::TraceId;
use crate::rules::MAX_DOCUMENT_BYTES;

/// One entity of a tree to write, with its children as indices into the same slice.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub(crate) entity: &'a Entity,
    pub(crate) children: Vec<usize>,
}

/// An entity that was still too large on its own and was sent without some of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trimmed {
    /// The entity's name.
    pub(crate) name: String,
    /// Its size before trimming.
    pub(crate) size: usize,
    /// What was left out.
    pub(crate) what: &'static str,
}

/// Stands in for the trace id where only a document's size matters: same length, no clock or random numbers.
const SIZE_PROBE_ID: [u8; TraceId::LEN] = [b'0'; TraceId::LEN];

/// Writes `nodes[root]` with its subtree as one document if it fits, as several if not, handing each to `send`.
pub(crate) fn split_tree(
    trace_id: &[u8; TraceId::LEN],
    nodes: &[Node<'_>],
    root: usize,
    send: &mut dyn FnMut(&[u8]),
) -> Vec<Trimmed> {
    let mut detached = vec![false; nodes.len()];
    let mut out = Vec::with_capacity(1024);
    let mut trimmed = Vec::new();
    let mut writer = Writer { trace_id, nodes, detached: &mut detached, out: &mut out, send, trimmed: &mut trimmed };
    writer.subtree(root);
    trimmed
}

struct Writer<'w, 'a> {
    trace_id: &'w [u8; TraceId::LEN],
    nodes: &'w [Node<'a>],
    detached: &'w mut [bool],
    out: &'w mut Vec<u8>,
    send: &'w mut dyn FnMut(&[u8]),
    trimmed: &'w mut Vec<Trimmed>,
}

impl Writer<'_, '_> {
    fn subtree(&mut self, root: usize) {
        let mut sizes = vec![0usize; self.nodes.len()];
        plan(self.nodes, root, self.detached, &mut sizes, self.out);
        self.send_detached(root);
        self.send_one(root);
    }

    /// Sends every detached subtree below `at`, deepest first.
    fn send_detached(&mut self, at: usize) {
        let nodes = self.nodes;
        for &child in &nodes[at].children {
            self.send_detached(child);
            if self.detached[child] {
                self.send_one(child);
            }
        }
    }

    /// Sends `at` with its embedded (not detached) descendants, trimmed if it is still too large.
    fn send_one(&mut self, at: usize) {
        let nodes = self.nodes;
        self.out.clear();
        write_node(self.out, self.trace_id, nodes, at, Placement::Top, self.detached);
        if self.out.len() > MAX_DOCUMENT_BYTES {
            let (copy, what) = trim(nodes[at].entity);
            self.trimmed.push(Trimmed { name: nodes[at].entity.name.to_string(), size: self.out.len(), what });
            let view = [Node { entity: &copy, children: Vec::new() }];
            self.out.clear();
            write_node(self.out, self.trace_id, &view, 0, Placement::Top, &[false]);
        }
        (self.send)(self.out);
    }
}

/// Decides, from the leaves up, which completed subtrees go as documents of their own, and returns the size of
/// `at`'s document with what stays embedded. A subtree is detached only when its parent's document would not fit
/// otherwise, and then the largest first: each detached subtree already holds everything below it that fits, so
/// it is close to full, and the datagrams are as few as the tree allows. (An entity with many small children that
/// do not fit beside it can only send them one by one: siblings cannot share a document without their parent.)
fn plan(nodes: &[Node<'_>], at: usize, detached: &mut [bool], sizes: &mut [usize], scratch: &mut Vec<u8>) -> usize {
    scratch.clear();
    write_document(scratch, nodes[at].entity, &SIZE_PROBE_ID, Placement::Top, &mut |_| 0);
    // Measured as a top-level document, which is never smaller than the embedded one.
    let mut size = scratch.len() + b",\"subsegments\":[]".len();
    for &child in &nodes[at].children {
        size += plan(nodes, child, detached, sizes, scratch) + 1;
    }
    if size > MAX_DOCUMENT_BYTES {
        let mut completed: Vec<usize> =
            nodes[at].children.iter().copied().filter(|&c| nodes[c].entity.end.is_some()).collect();
        completed.sort_by_key(|&c| std::cmp::Reverse(sizes[c]));
        for child in completed {
            if size <= MAX_DOCUMENT_BYTES {
                break;
            }
            detached[child] = true;
            size -= sizes[child] + 1;
        }
    }
    sizes[at] = size;
    size
}

fn write_node(
    out: &mut Vec<u8>,
    trace_id: &[u8; TraceId::LEN],
    nodes: &[Node<'_>],
    at: usize,
    placement: Placement,
    detached: &[bool],
) {
    write_document(out, nodes[at].entity, trace_id, placement, &mut |out| {
        let mut written = 0;
        for &child in nodes[at].children.iter().filter(|&&c| !detached[c]) {
            if written > 0 {
                out.push(b',');
            }
            write_node(out, trace_id, nodes, child, Placement::Embedded, detached);
            written += 1;
        }
        written
    });
}

/// A copy of `entity` small enough for one document, and what it leaves out (see [`trim_until`]).
fn trim(entity: &Entity) -> (Entity, &'static str) {
    trim_until(entity, &fits)
}

/// A copy of `entity` that `fits`, and what it leaves out: metadata first, then annotations, then the rest. What is
/// left out is named in the copy's `trimmed`. Any writer trims this way, each with its own measure.
pub(crate) fn trim_until(entity: &Entity, fits: &dyn Fn(&Entity) -> bool) -> (Entity, &'static str) {
    let mut copy = entity.clone();
    let mut what = "metadata";
    let extra = copy.extra();
    extra.metadata.clear();
    extra.trimmed = Some(what);
    if !fits(&copy) {
        what = "metadata and annotations";
        copy.annotations.clear();
        copy.extra().trimmed = Some(what);
    }
    if !fits(&copy) {
        what = "metadata, annotations, http, aws, sql and cause";
        copy.extra = Some(Box::new(Extra { trimmed: Some(what), ..Extra::default() }));
    }
    (copy, what)
}

fn fits(entity: &Entity) -> bool {
    let mut out = Vec::new();
    write_document(&mut out, entity, &SIZE_PROBE_ID, Placement::Top, &mut |_| 0);
    out.len() <= MAX_DOCUMENT_BYTES
}
