//! Earliest-deadline queue of a shard: which transaction's timer fires next.
//!
//! Entries are never removed early: a transaction whose deadline moved simply gets a new
//! entry, and the shard skips entries whose transaction is gone or no longer due.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Identifies a transaction within one shard.
pub(crate) type SlotId = u64;

/// Min-heap of (deadline, transaction) pairs.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, SlotId)>>,
}

impl Deadlines {
    /// Wakes `slot` at `at`.
    pub(crate) fn schedule(&mut self, at: Instant, slot: SlotId) {
        self.heap.push(Reverse((at, slot)));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Removes and returns one slot whose deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<SlotId> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse((_, s))| s),
            _ => None,
        }
    }

    /// Number of queued entries (including stale ones).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn due_slots_come_out_earliest_first_and_later_ones_wait() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        d.schedule(t0 + Duration::from_secs(3), 3);
        d.schedule(t0 + Duration::from_secs(1), 1);
        d.schedule(t0 + Duration::from_secs(2), 2);
        assert_eq!(d.next(), Some(t0 + Duration::from_secs(1)));
        let now = t0 + Duration::from_secs(2);
        assert_eq!(d.pop_due(now), Some(1));
        assert_eq!(d.pop_due(now), Some(2));
        assert_eq!(d.pop_due(now), None);
        assert_eq!(d.len(), 1);
        assert_eq!(d.next(), Some(t0 + Duration::from_secs(3)));
    }
}
