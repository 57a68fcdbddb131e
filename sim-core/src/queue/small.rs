//! [`SmallQueue`]: an unordered vector scanned for its earliest event while
//! few events are pending, a binary heap when many are.

use super::{Entry, EventQueue, Sequence};
use crate::Instant;
use std::collections::BinaryHeap;

/// Above this many pending events the queue becomes a heap.
const TO_HEAP: usize = 32;
/// Below this many it becomes a vector again (hysteresis, so a length that
/// hovers around one threshold does not convert back and forth).
const TO_SMALL: usize = 8;

/// The default event queue of [`crate::Engine`].
///
/// Same contract as every [`EventQueue`]: `(time, seq)` order, ties first
/// scheduled first (the tests of `queue/mod.rs` check it against a stable
/// sort for every implementation, across both representations).
///
/// Why: a simulation of a few CPUs has a handful of events pending (the
/// `default` scenario averages 6.4, at most 17), where a binary heap pays a
/// sift of unpredictable branches per pop and per push. Here, while at most
/// 32 (`TO_HEAP`) events are pending they sit in a vector in no order: `push`
/// appends, `pop` scans the keys for the smallest (a short loop) and swaps the last event into its place; `peek_time` reads the
/// position that scan keeps. Past that (a machine of hundreds of
/// CPUs with a shootdown's IPIs in flight) the events move to a
/// [`BinaryHeap`] (O(log n) per operation) until fewer than 8 (`TO_SMALL`)
/// are pending. Which representation holds the events never changes the
/// order they leave in: the unique `(time, seq)` key alone decides it.
pub struct SmallQueue<E> {
    /// Pending events, in no order, while `!large`.
    small: Vec<Entry<E>>,
    /// The position of the smallest key in `small` (0 when empty).
    min: usize,
    /// Pending events while `large`.
    heap: BinaryHeap<Entry<E>>,
    large: bool,
    seq: Sequence,
}

impl<E> SmallQueue<E> {
    /// An empty queue.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(TO_HEAP)
    }

    /// An empty queue with room for `capacity` pending events.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            small: Vec::with_capacity(capacity.min(TO_HEAP + 1)),
            min: 0,
            heap: BinaryHeap::with_capacity(capacity),
            large: false,
            seq: Sequence::default(),
        }
    }

    /// The position of the smallest key in `small` (0 when empty).
    #[inline]
    fn scan_min(&self) -> usize {
        let mut best = 0;
        let mut best_key = u128::MAX;
        for (i, e) in self.small.iter().enumerate() {
            let smaller = e.key < best_key;
            best = if smaller { i } else { best };
            best_key = if smaller { e.key } else { best_key };
        }
        best
    }

    /// Adds `entry`, its key already numbered.
    #[inline]
    fn push_entry(&mut self, entry: Entry<E>) {
        if self.large {
            self.heap.push(entry);
            return;
        }
        if self.small.get(self.min).is_none_or(|m| entry.key < m.key) {
            self.min = self.small.len();
        }
        self.small.push(entry);
        if self.small.len() > TO_HEAP {
            self.heap.extend(self.small.drain(..));
            self.min = 0;
            self.large = true;
        }
    }
}

impl<E> Default for SmallQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> for SmallQueue<E> {
    #[inline]
    fn reserve(&mut self) -> u64 {
        self.seq.take()
    }

    #[inline]
    fn push_reserved(&mut self, time: Instant, seq: u64, event: E) {
        debug_assert!(self.seq.issued(seq), "a reserved sequence number");
        self.push_entry(Entry::new(time, seq, event));
    }

    #[inline]
    fn pop(&mut self) -> Option<(Instant, E)> {
        if !self.large {
            if self.small.is_empty() {
                return None;
            }
            let e = self.small.swap_remove(self.min);
            self.min = self.scan_min();
            return Some((e.time(), e.event));
        }
        let e = self.heap.pop().expect("a large queue is not empty");
        if self.heap.len() < TO_SMALL {
            self.small.extend(self.heap.drain());
            self.min = self.scan_min();
            self.large = false;
        }
        Some((e.time(), e.event))
    }

    #[inline]
    fn peek_time(&self) -> Option<Instant> {
        if self.large {
            self.heap.peek().map(Entry::time)
        } else {
            self.small.get(self.min).map(Entry::time)
        }
    }

    fn len(&self) -> usize {
        if self.large {
            self.heap.len()
        } else {
            self.small.len()
        }
    }
}
