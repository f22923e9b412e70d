//! How a trace's documents leave. In Lambda, what ends waits in the trace (a `#[traced]` call as a fixed record,
//! anything else in the arena) and is written with the rest, one batch handed to the emitter at once, when the
//! handler waits (its future returns `Pending`), when [`MAX_ENDED`](super::arena::MAX_ENDED) have ended, and when
//! the invocation ends; at a wait, what is open and has not been sent yet goes too, `in_progress`, so that a timeout
//! from then on still shows it. Outside Lambda the whole segment tree leaves when the segment ends. Every open
//! entity is sent `in_progress` when the invocation ends. Documents are written into reused buffers; one too large
//! for a datagram is split first.

use std::cell::RefCell;

use super::arena::Waiting;
use super::{Handle, Mode, Trace, TraceInner};
use crate::clock::Timestamp;
use crate::diag::diag;
use crate::document::{Entity, Node, Placement, split_tree, write_document};
use crate::emit::{self, Documents, Emitter};
use crate::ids::TraceId;
use crate::rules::MAX_DOCUMENT_BYTES;

thread_local! {
    static DOCUMENT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static BATCH: RefCell<Batch> = const { RefCell::new(Batch { bytes: Vec::new(), ends: Vec::new() }) };
}

/// Documents written one after the other, and where each ends.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Batch {
    /// Writes `entity`'s document; `false` (nothing kept) when it is too large for a datagram.
    fn push(&mut self, entity: &Entity, trace_id: &[u8; TraceId::LEN]) -> bool {
        let mark = self.bytes.len();
        write_document(&mut self.bytes, entity, trace_id, Placement::Top, &mut |_| 0);
        if self.bytes.len() - mark > MAX_DOCUMENT_BYTES {
            self.bytes.truncate(mark);
            return false;
        }
        self.ends.push(self.bytes.len());
        true
    }
}

impl TraceInner {
    /// Writes every subsegment that ended and waits in the trace (and, with `announce`, every open one not sent yet,
    /// `in_progress`), and hands them to the emitter as one batch. The lock is held while they are written, not
    /// while they are sent.
    pub(super) fn flush_ended(&self, announce: bool) {
        // During the thread's teardown (a trace dropped last) the thread's buffer may be gone: a new one serves.
        if BATCH.try_with(|batch| self.flush_into(batch, announce)).is_err() {
            self.flush_into(&RefCell::new(Batch::default()), announce);
        }
    }

    fn flush_into(&self, batch: &RefCell<Batch>, announce: bool) {
        // Re-entered (an emitter ending a subsegment from inside a send): what ended waits for the next flush.
        let Ok(mut batch) = batch.try_borrow_mut() else { return };
        let batch = &mut *batch;
        batch.bytes.clear();
        batch.ends.clear();
        let trace_id = &self.trace_id_text;
        let mut large = Vec::new();
        let emitter;
        {
            let mut tree = self.lock();
            let tree = &mut *tree;
            for k in 0..tree.ended.len() {
                match tree.ended[k] {
                    Waiting::Call(call) => {
                        if call.write(&mut batch.bytes, trace_id) {
                            batch.ends.push(batch.bytes.len());
                        } else {
                            batch.push(&call.entity(), trace_id);
                        }
                    }
                    Waiting::Slot(idx) => {
                        let Some(entity) = tree.take(idx) else { continue };
                        if !batch.push(&entity, trace_id) {
                            large.push(entity);
                        }
                    }
                }
            }
            tree.ended.clear();
            emitter = tree.ended_emitter.take();
            if announce {
                for slot in tree.slots.iter_mut().filter(|s| !s.announced) {
                    let Some(entity) = slot.entity.as_ref().filter(|e| e.end.is_none()) else { continue };
                    // One too large is sent `in_progress` as it is when the invocation ends.
                    slot.announced = batch.push(entity, trace_id);
                }
            }
        }
        if batch.ends.is_empty() && large.is_empty() {
            return;
        }
        let send = |emitter: &dyn Emitter| {
            emitter.send_all(Documents::new(&batch.bytes, &batch.ends));
            for entity in &large {
                send_split(emitter, trace_id, &[Node { entity, children: Vec::new() }]);
            }
        };
        match emitter {
            Some(emitter) => send(&*emitter),
            None => self.with_emitter(send),
        }
    }

    /// Runs `f` with this trace's emitter: the one captured at creation, else the one in force here. The captured
    /// one is borrowed, not cloned, as this runs for every batch sent.
    fn with_emitter<R>(&self, f: impl FnOnce(&dyn Emitter) -> R) -> R {
        match &self.emitter {
            Some(emitter) => f(&**emitter),
            None => f(&*emit::in_force()),
        }
    }
}

/// Sends `nodes[0]` and its subtree, split into as many documents as fitting datagrams takes.
fn send_split(emitter: &dyn Emitter, trace_id: &[u8; TraceId::LEN], nodes: &[Node<'_>]) {
    let trimmed = split_tree(trace_id, nodes, 0, &mut |document| emitter.send(document));
    for t in trimmed {
        diag!(Oversize, "subsegment `{}` ({} bytes) exceeds one datagram; sent without its {}", t.name, t.size, t.what);
    }
}

impl Trace {
    /// Ends the segment (outside Lambda) and sends it with its subsegments; in Lambda, sends every subsegment still
    /// open as `in_progress`, so a timeout leaves evidence. Safe to call more than once.
    pub fn end(&self) {
        if !self.inner.recording {
            return;
        }
        match self.inner.mode {
            Mode::Buffered => self.send_segment(),
            Mode::Streaming => {
                self.adopt_pending_spans();
                self.flush_ended();
                let open = self.lock().handles();
                for handle in open {
                    #[cfg(feature = "otlp")]
                    if self.inner.spans.is_some() {
                        // OTLP has no in-progress spans: an open one is sent ended now, marked.
                        self.with_emitter(|emitter| self.with_entity(handle, |entity| self.send_with(emitter, entity)));
                        continue;
                    }
                    self.send_in_progress(handle);
                }
            }
        }
        #[cfg(feature = "otlp")]
        self.flush_spans();
    }

    /// The handler waits: what ended leaves, and with it what is open and has not been sent yet, `in_progress`.
    pub(crate) fn waited(&self) {
        if self.defers() {
            self.adopt_pending_spans();
            self.inner.flush_ended(true);
        }
    }

    /// Writes what ended and waits in the trace (see [`TraceInner::flush_ended`]).
    pub(super) fn flush_ended(&self) {
        self.inner.flush_ended(false);
    }

    /// Sends the entity behind `handle` as it is now, marked `in_progress`, and keeps it open.
    pub(crate) fn send_in_progress(&self, handle: Handle) {
        #[cfg(feature = "otlp")]
        if self.inner.spans.is_some() {
            return;
        }
        self.with_emitter(|emitter| {
            let mut tree = self.lock();
            if let Some(entity) = tree.get_mut(handle) {
                let end = entity.end.take();
                self.send_with(emitter, entity);
                entity.end = end;
                tree.slots[handle.idx as usize].announced = true;
            }
        });
    }

    /// Sends one entity without children.
    pub(super) fn send_one(&self, entity: &Entity) {
        self.with_emitter(|emitter| self.send_with(emitter, entity));
    }

    /// Sends one entity without children: the common case in Lambda, written into a reused buffer.
    fn send_with(&self, emitter: &dyn Emitter, entity: &Entity) {
        #[cfg(feature = "otlp")]
        if let Some(spans) = &self.inner.spans {
            self.add_span(emitter, spans, entity);
            // Outside Lambda an entity sent on its own ended after its segment left: nothing else will flush it.
            if self.inner.mode == Mode::Buffered {
                self.flush_spans();
            }
            return;
        }
        let trace_id = &self.inner.trace_id_text;
        let sent = DOCUMENT.with(|buf| {
            let Ok(mut out) = buf.try_borrow_mut() else { return false };
            out.clear();
            write_document(&mut out, entity, trace_id, Placement::Top, &mut |_| 0);
            let fits = out.len() <= MAX_DOCUMENT_BYTES;
            if fits {
                emitter.send(&out);
            }
            fits
        });
        if !sent {
            self.send_tree(emitter, &[Node { entity, children: Vec::new() }]);
        }
    }

    /// Sends `nodes[0]` and its subtree, split into as many documents as fitting datagrams takes.
    fn send_tree(&self, emitter: &dyn Emitter, nodes: &[Node<'_>]) {
        #[cfg(feature = "otlp")]
        if let Some(spans) = &self.inner.spans {
            for node in nodes {
                self.add_span(emitter, spans, node.entity);
            }
            return;
        }
        send_split(emitter, &self.inner.trace_id_text, nodes);
    }

    fn send_segment(&self) {
        let mut tree = self.lock();
        if tree.segment_sent {
            return;
        }
        tree.segment_sent = true;
        let now = Timestamp::now();
        if let Some(segment) = tree.slots.first_mut().and_then(|s| s.entity.as_mut()) {
            segment.end.get_or_insert(now);
        }
        let mut index = vec![usize::MAX; tree.slots.len()];
        let mut nodes = Vec::new();
        for (i, slot) in tree.slots.iter().enumerate() {
            if let Some(entity) = &slot.entity {
                index[i] = nodes.len();
                nodes.push(Node { entity, children: Vec::new() });
            }
        }
        for (i, slot) in tree.slots.iter().enumerate() {
            if let (Some(_), Some(parent)) = (&slot.entity, slot.parent)
                && let Some(node) = nodes.get_mut(index[parent as usize])
            {
                node.children.push(index[i]);
            }
        }
        if !nodes.is_empty() {
            self.with_emitter(|emitter| self.send_tree(emitter, &nodes));
        }
        drop(nodes);
        // Completed entities are gone with the segment; open ones stay and are sent on their own when they end.
        for idx in 0..tree.slots.len() as u32 {
            if tree.slots[idx as usize].entity.as_ref().is_some_and(|e| e.end.is_some()) {
                tree.take(idx);
            }
        }
    }

    /// Adds `entity` to the spans waiting, sending the request of those gathered if this one does not fit beside
    /// them.
    #[cfg(feature = "otlp")]
    fn add_span(&self, emitter: &dyn Emitter, spans: &std::sync::Mutex<crate::otlp::Spans>, entity: &Entity) {
        let mut spans = spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let sampled = spans.sampled();
        let limit = emitter.max_spans_request();
        let trimmed = spans.add(entity, limit, &mut |request| emitter.send_spans(request, sampled));
        drop(spans);
        if let Some(t) = trimmed {
            diag!(Oversize, "span `{}` ({} bytes) exceeds one request; sent without its {}", t.name, t.size, t.what);
        }
    }

    /// Sends every span waiting; in Lambda (this trace streams), waits for them to leave, at most the export timeout.
    #[cfg(feature = "otlp")]
    pub(super) fn flush_spans(&self) {
        let Some(spans) = &self.inner.spans else { return };
        self.with_emitter(|emitter| {
            let mut spans = spans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let sampled = spans.sampled();
            spans.flush(&mut |request| emitter.send_spans(request, sampled));
            drop(spans);
            if self.inner.mode == Mode::Streaming {
                emitter.flush(crate::config::get().otlp.timeout);
            }
        });
    }

    fn with_emitter<R>(&self, f: impl FnOnce(&dyn Emitter) -> R) -> R {
        self.inner.with_emitter(f)
    }
}
