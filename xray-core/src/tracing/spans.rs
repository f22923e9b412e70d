//! The spans the layer records, kept by the layer and the span's id until the span closes, and the spans entered on
//! each thread.
//!
//! A span's subsegment opens pending where the trace allows it (in Lambda, with a name that needs no checking): out
//! of the trace's arena, as a `#[traced]` call's (see `trace::Pending`), so a span that records nothing but its
//! times is written from a fixed record when it closes, without an entity, a lock of its own or the Registry's
//! extensions. While the span is entered its pending record is copied into the slot of the thread it runs on, where
//! anything that needs it in the arena (a subsegment opened under it, a copy of the context) adopts it; a span may be
//! entered on several threads at once, so its copies are adopted once (`Trace::adopt`), and the first adoption is
//! noted here when the span exits. A span that records fields, is recorded on (`Span::record`, an error event), is an
//! explicit parent, or is open when its trace's handler waits or its trace ends is adopted here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::ids::{SegmentId, TraceId};
use crate::lambda::Invocation;
use crate::record::Recorder;
use crate::subsegment::close;
use crate::trace::{Handle, Pending, Trace};

/// A recorded span, by its layer and its `tracing` id: ids are unique within one subscriber's Registry only.
pub(super) type Key = (u64, u64);

/// The layers made so far, for their keys.
static NEXT_LAYER: AtomicU64 = AtomicU64::new(1);

/// A number no other layer in the process has.
pub(super) fn new_layer() -> u64 {
    NEXT_LAYER.fetch_add(1, Ordering::Relaxed)
}

/// How many spans are recorded now, in the whole process: while none is, a hook on a span outside any trace
/// returns at once.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Whether any span is recorded now.
#[inline]
pub(super) fn any() -> bool {
    LIVE.load(Ordering::Relaxed) > 0
}

/// A recorded span's subsegment.
#[derive(Clone, Copy)]
pub(super) enum Sub {
    /// Out of the arena (see the module's documentation).
    Pending(Pending),
    /// In the arena.
    Adopted(Handle),
}

/// What the layer keeps for a recorded span. Ends the subsegment when the span closes (lambda_runtime's invocation
/// span: the invocation, which sends every document).
pub(super) struct Recorded {
    pub(super) trace: Trace,
    /// `None` for lambda_runtime's span of an invocation that records nothing (its context still carries the trace
    /// id to the logs).
    pub(super) sub: Option<Sub>,
    pub(super) handler: Option<Handle>,
    /// Boxed: the table moves a span's entry in and out, and most spans are not an invocation's.
    pub(super) invocation: Option<Box<Invocation>>,
}

impl Recorded {
    /// A span whose subsegment is `sub` in `trace`.
    pub(super) fn new(trace: Trace, sub: Sub, handler: Option<Handle>) -> Self {
        Self { trace, sub: Some(sub), handler, invocation: None }
    }

    /// lambda_runtime's invocation span.
    pub(super) fn invocation(invocation: Invocation) -> Self {
        let ctx = &invocation.ctx;
        Self {
            trace: ctx.trace.clone(),
            sub: ctx.current.map(Sub::Adopted),
            handler: ctx.handler,
            invocation: Some(Box::new(invocation)),
        }
    }

    /// The handle to make current while the span is entered, and its pending record if it has one.
    pub(super) fn current(&self) -> (Option<Handle>, Option<Pending>) {
        match self.sub {
            Some(Sub::Pending(p)) => (Some(Handle::pending(p.id)), Some(p)),
            Some(Sub::Adopted(h)) => (Some(h), None),
            None => (None, None),
        }
    }

    /// The subsegment's handle in the arena, adopting it first if it is pending.
    pub(super) fn adopted(&mut self) -> Option<Handle> {
        match self.sub? {
            Sub::Adopted(handle) => Some(handle),
            Sub::Pending(pending) => {
                let handle = self.trace.adopt(pending);
                self.note_adopted(handle);
                Some(handle)
            }
        }
    }

    /// Notes that the pending subsegment is in the arena as `handle`, if it was not noted yet.
    pub(super) fn note_adopted(&mut self, handle: Handle) {
        if let Some(Sub::Pending(_)) = self.sub {
            self.sub = Some(Sub::Adopted(handle));
            self.trace.count_pending_span(false);
        }
    }

    /// A recorder on the subsegment, adopted first.
    pub(super) fn recorder(&mut self) -> Option<Recorder> {
        let handle = self.adopted()?;
        Some(Recorder::new(Some((self.trace.clone(), handle))))
    }

    /// Ends what the span recorded: called when it closes, outside the table's lock.
    pub(super) fn end(mut self) {
        if let Some(invocation) = self.invocation.take() {
            (*invocation).end();
            return;
        }
        match self.sub {
            Some(Sub::Pending(pending)) => {
                self.trace.count_pending_span(false);
                self.trace.finish_pending(pending);
            }
            Some(Sub::Adopted(handle)) => close(&self.trace, handle),
            None => {}
        }
    }
}

/// Mixes a key into a hash: the Registry's ids are small slab indices, whose low bits alone would crowd buckets.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(26) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

type Shard = HashMap<Key, Recorded, BuildHasherDefault<KeyHasher>>;

const SHARDS: usize = 16;

/// The recorded spans of every layer, in shards chosen by the span's id (so that the spans of one id, across
/// layers, share one).
static TABLE: [Mutex<Shard>; SHARDS] = [const { Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) }; SHARDS];

fn shard(span: u64) -> MutexGuard<'static, Shard> {
    let at = (span.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60) as usize;
    TABLE[at % SHARDS].lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps `recorded` for the span `key`.
pub(super) fn insert(key: Key, recorded: Recorded) {
    if let Some(Sub::Pending(_)) = recorded.sub {
        recorded.trace.count_pending_span(true);
    }
    LIVE.fetch_add(1, Ordering::Relaxed);
    // An id is reused only after its span closed, which took its entry out.
    let stale = shard(key.1).insert(key, recorded);
    if let Some(stale) = stale {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        stale.end();
    }
}

/// Runs `f` on the span `key`, if it is recorded, under its shard's lock: `f` must not emit, log or record.
pub(super) fn with<R>(key: Key, f: impl FnOnce(&mut Recorded) -> R) -> Option<R> {
    shard(key.1).get_mut(&key).map(f)
}

/// Takes the span `key` out, when it closes.
pub(super) fn remove(key: Key) -> Option<Recorded> {
    let recorded = shard(key.1).remove(&key)?;
    LIVE.fetch_sub(1, Ordering::Relaxed);
    Some(recorded)
}

/// The trace of the span `span`, recorded by any layer: for a log line, whose formatter knows no layer.
pub(super) fn trace_id_of(span: u64) -> Option<TraceId> {
    shard(span).iter().find(|((_, id), _)| *id == span).map(|(_, r)| r.trace.trace_id())
}

/// Notes, when a span exits, that its subsegment `id` was adopted while it was entered: from the handle the slot
/// had, else from the arena.
pub(super) fn note_exit(key: Key, id: SegmentId, adopted: Option<Handle>) {
    with(key, |recorded| {
        if !matches!(recorded.sub, Some(Sub::Pending(_))) {
            return;
        }
        if let Some(handle) = adopted.or_else(|| recorded.trace.find(id)) {
            recorded.note_adopted(handle);
        }
    });
}

/// Puts every span of `trace` kept out of its arena in it: its handler waits or it ends, and what is open must be
/// there to be sent `in_progress`.
pub(crate) fn adopt_pending(trace: &Trace) {
    let serial = trace.serial();
    for shard in &TABLE {
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        for recorded in shard.values_mut().filter(|r| r.trace.serial() == serial) {
            recorded.adopted();
        }
    }
}
