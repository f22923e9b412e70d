//! A trace's arena: the entities still open or not yet sent, addressed by handles that know when their slot has been
//! reused.

use std::sync::Arc;

use super::pending::Ended;
use crate::document::Entity;
use crate::emit::Emitter;
use crate::ids::SegmentId;

/// How many ended subsegments wait in a trace before they are written: about 64 bytes each for a `#[traced]` call.
pub(crate) const MAX_ENDED: usize = 64;

/// A handle on an entity in a trace's arena; the generation guards against a slot reused after its entity was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handle {
    pub(crate) idx: u32,
    generation: u32,
    pub(crate) id: SegmentId,
}

impl Handle {
    /// The handle of a subsegment kept out of the arena until it is adopted (see [`super::Pending`]): it names the
    /// subsegment's id, and no slot.
    pub(crate) fn pending(id: SegmentId) -> Self {
        Self { idx: u32::MAX, generation: u32::MAX, id }
    }

    /// Whether this handle names a subsegment not (yet) in the arena.
    pub(crate) fn is_pending(&self) -> bool {
        self.idx == u32::MAX
    }
}

thread_local! {
    /// The buffer of the last trace that ended on this thread, for the next one: an invocation does not allocate one.
    static SPARE: std::cell::Cell<Vec<Waiting>> = const { std::cell::Cell::new(Vec::new()) };
}

/// An empty buffer of [`MAX_ENDED`] places: the spare one, or a new one.
pub(crate) fn buffer() -> Vec<Waiting> {
    let mut spare = SPARE.try_with(std::cell::Cell::take).unwrap_or_default();
    if spare.capacity() < MAX_ENDED {
        spare.reserve_exact(MAX_ENDED);
    }
    spare
}

/// Keeps `buffer` (emptied) for the next trace on this thread.
pub(crate) fn recycle(mut buffer: Vec<Waiting>) {
    if buffer.capacity() != 0 {
        buffer.clear();
        let _ = SPARE.try_with(|spare| spare.set(buffer));
    }
}

/// A subsegment that ended and waits to be written.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Waiting {
    /// A `#[traced]` call that ended pending, as a fixed record.
    Call(Ended),
    /// The slot of an entity of the arena.
    Slot(u32),
}

/// One place in the arena.
#[derive(Debug)]
pub(crate) struct Slot {
    generation: u32,
    pub(crate) parent: Option<u32>,
    pub(crate) entity: Option<Entity>,
    /// In Lambda: whether the entity has been sent `in_progress` (once is enough for a timeout to show it).
    pub(crate) announced: bool,
}

/// The entities of one trace.
#[derive(Default)]
pub(crate) struct Tree {
    pub(crate) slots: Vec<Slot>,
    free: Vec<u32>,
    /// Outside Lambda: whether the segment has been sent (entities ending later are sent on their own).
    pub(crate) segment_sent: bool,
    /// In Lambda: what ended and has not been written yet, in the order it ended (see `flush.rs`).
    pub(crate) ended: Vec<Waiting>,
    /// For a trace made outside any scoped emitter: the one scoped where the first of those waiting ended, which
    /// they go to (as they would have, sent when they ended).
    pub(crate) ended_emitter: Option<Arc<dyn Emitter>>,
}

impl Tree {
    pub(crate) fn get_mut(&mut self, handle: Handle) -> Option<&mut Entity> {
        self.slots
            .get_mut(handle.idx as usize)
            .filter(|s| s.generation == handle.generation)
            .and_then(|s| s.entity.as_mut())
    }

    pub(crate) fn insert(&mut self, entity: Entity, parent: Option<Handle>) -> Handle {
        let id = entity.id;
        let parent = parent.filter(|p| self.get_mut(*p).is_some()).map(|p| p.idx);
        // A freed slot is refilled in place: the entity is moved once, straight into the arena.
        if let Some(idx) = self.free.pop()
            && let Some(old) = self.slots.get_mut(idx as usize)
        {
            old.generation = old.generation.wrapping_add(1);
            old.parent = parent;
            old.entity = Some(entity);
            old.announced = false;
            return Handle { idx, generation: old.generation, id };
        }
        self.slots.push(Slot { generation: 0, parent, entity: Some(entity), announced: false });
        Handle { idx: (self.slots.len() - 1) as u32, generation: 0, id }
    }

    pub(crate) fn take(&mut self, idx: u32) -> Option<Entity> {
        let slot = self.slots.get_mut(idx as usize)?;
        let entity = slot.entity.take()?;
        self.free.push(idx);
        Some(entity)
    }

    /// The handle on the entity `id`, if it is in the arena.
    pub(crate) fn find(&self, id: SegmentId) -> Option<Handle> {
        self.slots.iter().enumerate().find_map(|(i, s)| {
            let e = s.entity.as_ref().filter(|e| e.id == id)?;
            Some(Handle { idx: i as u32, generation: s.generation, id: e.id })
        })
    }

    /// Whether the ended entities waiting to be written fill the buffer.
    pub(crate) fn ended_full(&self) -> bool {
        self.ended.len() >= MAX_ENDED
    }

    /// Handles on every entity still in the arena.
    pub(crate) fn handles(&self) -> Vec<Handle> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let e = s.entity.as_ref()?;
                Some(Handle { idx: i as u32, generation: s.generation, id: e.id })
            })
            .collect()
    }
}
