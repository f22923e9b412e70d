//! The daemon's assembler: follows documents as they arrive, per trace, to tell which entity is complete and which
//! trace has gone quiet. It keeps the rule of [`crate::assemble::Tree`]: per entity the complete document replaces
//! the in-progress one, never the other way round, whatever order they arrive in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

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
    use super::*;
    use crate::assemble::Tree;
    use crate::assemble::tests::{TRACE, doc, shape};

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
