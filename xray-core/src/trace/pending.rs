//! A subsegment kept out of the trace's arena: what a `#[traced]` call opens in Lambda. Most calls record nothing but
//! their name and times, so their subsegment needs no slot, no lock and no entity while it is open: the call keeps it
//! and, when it ends, its document is written straight from it. It enters the arena (is adopted) only when something
//! needs it there: a recording on it, a subsegment opened under it, a copy of the context it is current in, that
//! context swapped out, or an `async fn` waiting (see `subsegment::call`).

use std::mem::ManuallyDrop;

use super::arena::Waiting;
use super::{Handle, Mode, Trace};
use crate::clock::Timestamp;
use crate::document::{Entity, Kind, Namespace, write_call};
use crate::ids::{SegmentId, TraceId};

/// An open subsegment that is not in its trace's arena; see the module's documentation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    pub(crate) id: SegmentId,
    /// The parent's handle, for the arena if it is adopted.
    parent: Option<Handle>,
    parent_id: Option<SegmentId>,
    name: &'static str,
    namespace: Option<Namespace>,
    /// A `tracing` span's: copies of it may be in the slots of the threads the span is entered on, so it is adopted
    /// once, by whichever copy comes first (see `tracing/spans.rs`).
    span: bool,
    start: Timestamp,
}

/// A pending subsegment that ended: everything its document holds, kept in the trace until it is written (see
/// `flush.rs`). About 64 bytes, copied into a buffer the trace allocates once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ended {
    pending: Pending,
    end: Timestamp,
}

impl Ended {
    /// Writes the document; `false` (nothing written) when it is not of the fixed shape (a time outside 2001-2286,
    /// no parent), for [`Ended::entity`] and the general writer.
    #[inline]
    pub(crate) fn write(&self, out: &mut Vec<u8>, trace_id: &[u8; TraceId::LEN]) -> bool {
        let p = &self.pending;
        write_call(out, p.name, p.id, p.parent_id, p.namespace, p.start, self.end, trace_id)
    }

    /// The entity, for the general writer.
    pub(crate) fn entity(&self) -> Entity {
        let mut entity = self.pending.entity();
        entity.end = Some(self.end);
        entity
    }
}

impl Pending {
    fn entity(&self) -> Entity {
        let mut entity = Entity::opened(Kind::Subsegment, self.id, self.name.into(), self.parent_id, self.start);
        entity.namespace = self.namespace;
        entity
    }
}

impl Trace {
    /// Opens `name` under `parent`, kept out of the arena. `None` when this trace records nothing, or keeps its
    /// subsegments for its segment (outside Lambda), where [`Trace::begin`] is the way. `name` has been checked.
    pub(crate) fn begin_pending(
        &self,
        parent: Option<Handle>,
        name: &'static str,
        namespace: Option<Namespace>,
    ) -> Option<Pending> {
        if !self.inner.recording || self.inner.mode != Mode::Streaming {
            return None;
        }
        Some(Pending {
            id: SegmentId::new(),
            parent,
            parent_id: parent.map(|p| p.id).or(self.inner.upstream_parent),
            name,
            namespace,
            span: false,
            start: Timestamp::now(),
        })
    }

    /// [`Trace::begin_pending`] for a `tracing` span, whose pending subsegment may be copied (see [`Trace::adopt`]).
    #[cfg(feature = "tracing")]
    pub(crate) fn begin_span_pending(
        &self,
        parent: Option<Handle>,
        name: &'static str,
        namespace: Option<Namespace>,
    ) -> Option<Pending> {
        self.begin_pending(parent, name, namespace).map(|pending| Pending { span: true, ..pending })
    }

    /// Puts `pending` in the arena, as if [`Trace::begin`] had opened it, and returns its handle. A `tracing` span's
    /// is put there once: a copy adopted later gets the handle of the first.
    pub(crate) fn adopt(&self, pending: Pending) -> Handle {
        let mut tree = self.lock();
        if pending.span
            && let Some(adopted) = tree.find(pending.id)
        {
            return adopted;
        }
        tree.insert(pending.entity(), pending.parent)
    }

    /// The handle on the entity `id`, if it is in the arena.
    pub(crate) fn find(&self, id: SegmentId) -> Option<Handle> {
        self.lock().find(id)
    }

    /// Ends `pending`: in Lambda kept as an [`Ended`] record until the trace flushes (its buffer full, the handler
    /// waiting, the invocation ending), else sent as [`Trace::finish`] sends an entity of the arena (a panic in
    /// flight marks a fault first, as `close` does).
    pub(crate) fn finish_pending(&self, pending: Pending) {
        let end = Timestamp::now();
        if self.defers() && !std::thread::panicking() {
            let mut tree = self.lock();
            self.first_waiting(&mut tree);
            tree.ended.push(Waiting::Call(Ended { pending, end }));
            let full = tree.ended_full();
            drop(tree);
            if full {
                self.flush_ended();
            }
            return;
        }
        let mut entity = pending.entity();
        entity.end = Some(end);
        if std::thread::panicking() {
            entity.mark_panicked();
            self.send_one(&entity);
            return;
        }
        // Nothing is recorded on it: it owns no memory, and dropping it would only check that it owns none.
        let entity = ManuallyDrop::new(entity);
        self.send_one(&entity);
    }
}
